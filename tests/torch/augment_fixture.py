#!/usr/bin/python3
"""tests/torch/augment_fixture.py: writes tests/torch/augment_fixture.txt, the
float32 numbers PyTorch computes for the seed's training transform, which
tests/test_data.c compares bit for bit with augment_image/augment_value.

torchvision is not needed: the script performs torchvision's own operations
(torchvision/transforms/functional.py, transforms.py) with torch:
  RandomCrop(32, padding=4): pad 4 zero pixels on each side of the uint8
      image, then crop 32x32 at (top=dy, left=dx)
  RandomHorizontalFlip: reverse the columns of the cropped image
  to_tensor: img.to(torch.float32).div(255)
  normalize: mean/std = torch.as_tensor(..., dtype=float32).view(-1, 1, 1);
             tensor.sub_(mean).div_(std)
Values are written as the hex bit patterns of the float32 numbers (exact).
Usage: /usr/bin/python3 tests/torch/augment_fixture.py [OUT]  (default: stdout)
"""
import sys

import torch

MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2023, 0.1994, 0.2010)
IMAGES = ((1, 6, 1), (8, 0, 0))  # (dy, dx, flip)


def normalize(x_uint8):
    t = x_uint8.to(torch.float32).div(255)
    mean = torch.as_tensor(MEAN, dtype=torch.float32).view(-1, 1, 1)
    std = torch.as_tensor(STD, dtype=torch.float32).view(-1, 1, 1)
    return t.sub_(mean).div_(std)


def transform(img, dy, dx, flip):
    padded = torch.nn.functional.pad(img, (4, 4, 4, 4), mode="constant", value=0)
    crop = padded[:, dy:dy + 32, dx:dx + 32]
    if flip:
        crop = crop.flip(-1)
    return normalize(crop.contiguous())


def words(t):
    bits = t.contiguous().view(-1).view(torch.int32).tolist()
    return ["%08x" % (b & 0xFFFFFFFF) for b in bits]


def emit(out, header, ws):
    out.write(header + "\n")
    for i in range(0, len(ws), 8):
        out.write(" ".join(ws[i:i + 8]) + "\n")


def main():
    out = open(sys.argv[1], "w") if len(sys.argv) > 1 else sys.stdout
    out.write("# made by tests/torch/augment_fixture.py (torch %s); float32 bit patterns\n"
              % torch.__version__.split("+")[0])
    # table: channel c, byte v -> normalised value, 3 x 256
    values = torch.arange(256, dtype=torch.uint8).view(1, 1, 256).expand(3, 1, 256).contiguous()
    emit(out, "table 768", words(normalize(values)))
    # the test image: byte (i * 37 + 11) % 256 at flat CHW index i
    img = ((torch.arange(3072, dtype=torch.int64) * 37 + 11) % 256).to(torch.uint8).view(3, 32, 32)
    for dy, dx, flip in IMAGES:
        emit(out, "image %d %d %d 3072" % (dy, dx, flip), words(transform(img, dy, dx, flip)))
    if out is not sys.stdout:
        out.close()


if __name__ == "__main__":
    main()
