#!/usr/bin/python3
# bench/torch_seed_epoch.py: one epoch of the seed's PyTorch program on the
# real CIFAR-10 files, timed: the training pass (the seed's per-image
# transforms in a DataLoader with batch 128, shuffle, drop_last, num_workers=0,
# then SGD momentum 0.9 weight decay 5e-4) and the test pass after it. Prints
#   epoch_seconds=<train pass> test_seconds=<test pass> total_seconds=<sum>
#     load_seconds=<the part of the train pass spent waiting for the loader>
#   train_images=<n> test_images=<n> scaled=<0|1> transforms=<pil|numpy>
#   peak_rss_mb=<n>
# --limit N stops the training pass after N batches and the test pass after
# the same fraction of the test set, and scales both times up to the full
# epoch (49,920 training and 10,000 test images); scaled=1 says so.
#
# torchvision is not packaged in Debian 12, so its four transforms and its
# CIFAR10 dataset are rewritten here the way torchvision 0.14 (the release of
# torch 1.13) runs them, so that they cost what they cost in the seed: per
# image, in Python, on a PIL image (torchvision/transforms/transforms.py,
# functional.py, functional_pil.py; torchvision/datasets/cifar.py). Without
# PIL (python3-pil) a numpy version of the same steps runs instead and the
# output says transforms=numpy. It is a benchmark, not a test: it checks no
# numbers (the accuracy it prints is one epoch's, for a sanity look only).
import argparse
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

try:
    from PIL import Image, ImageOps
except ImportError:  # the numpy transforms below stand in
    Image = None

from torch_step import VGG

MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2023, 0.1994, 0.2010)


# --- torchvision.datasets.CIFAR10, reading the binary files ------------------
class CIFAR10(torch.utils.data.Dataset):
    """Holds the images as torchvision does: one uint8 array (N, 32, 32, 3),
    a transposed (non-contiguous) view of the CHW records, and a list of int
    labels; __getitem__ makes a PIL image and applies the transform."""

    def __init__(self, root, train, transform, use_pil):
        files = ["data_batch_%d.bin" % i for i in range(1, 6)] if train else ["test_batch.bin"]
        recs = []
        for f in files:
            path = os.path.join(root, f)
            raw = np.fromfile(path, dtype=np.uint8)
            if raw.size != 10000 * 3073:
                raise SystemExit("torch_seed_epoch: %s: %d bytes, expected 30730000 (10000 records of 3073)"
                                 % (path, raw.size))
            recs.append(raw.reshape(10000, 3073))
        recs = np.vstack(recs)
        self.targets = [int(t) for t in recs[:, 0]]
        self.data = recs[:, 1:].reshape(-1, 3, 32, 32).transpose((0, 2, 3, 1))  # HWC, as torchvision
        self.transform = transform
        self.use_pil = use_pil

    def __getitem__(self, index):
        img, target = self.data[index], self.targets[index]
        if self.use_pil:
            img = Image.fromarray(img)
        if self.transform is not None:
            img = self.transform(img)
        return img, target

    def __len__(self):
        return len(self.data)


# --- torchvision.transforms: Compose, RandomCrop, RandomHorizontalFlip,
# ToTensor, Normalize (the PIL path, and a numpy twin of each) -------------
class Compose:
    def __init__(self, transforms):
        self.transforms = transforms

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img


class RandomCrop(nn.Module):
    def __init__(self, size, padding):
        super().__init__()
        self.size = (size, size)
        self.padding = padding

    def forward(self, img):
        p = self.padding
        if Image is not None and isinstance(img, Image.Image):
            img = ImageOps.expand(img, border=p, fill=(0, 0, 0))  # F_pil.pad, constant mode
            w, h = img.size
        else:
            img = np.pad(img, ((p, p), (p, p), (0, 0)), mode="constant")
            h, w = img.shape[0], img.shape[1]
        th, tw = self.size
        i = torch.randint(0, h - th + 1, size=(1,)).item()  # RandomCrop.get_params
        j = torch.randint(0, w - tw + 1, size=(1,)).item()
        if Image is not None and isinstance(img, Image.Image):
            return img.crop((j, i, j + tw, i + th))  # F_pil.crop
        return img[i:i + th, j:j + tw]


class RandomHorizontalFlip(nn.Module):
    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def forward(self, img):
        if torch.rand(1) < self.p:
            if Image is not None and isinstance(img, Image.Image):
                return img.transpose(Image.FLIP_LEFT_RIGHT)  # F_pil.hflip
            return img[:, ::-1]
        return img


class ToTensor:
    def __call__(self, pic):
        if Image is not None and isinstance(pic, Image.Image):
            img = torch.from_numpy(np.array(pic, np.uint8, copy=True))
            img = img.view(pic.size[1], pic.size[0], len(pic.getbands()))
        else:
            img = torch.from_numpy(np.array(pic, np.uint8, copy=True))
        img = img.permute((2, 0, 1)).contiguous()  # HWC -> CHW
        return img.to(dtype=torch.get_default_dtype()).div(255)


class Normalize(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.mean, self.std = mean, std

    def forward(self, tensor):
        tensor = tensor.clone()  # inplace=False
        mean = torch.as_tensor(self.mean, dtype=tensor.dtype, device=tensor.device)
        std = torch.as_tensor(self.std, dtype=tensor.dtype, device=tensor.device)
        if (std == 0).any():
            raise ValueError("std evaluated to zero")
        tensor.sub_(mean.view(-1, 1, 1)).div_(std.view(-1, 1, 1))
        return tensor


def main():
    ap = argparse.ArgumentParser(description="one epoch of the seed's PyTorch program, timed")
    ap.add_argument("--data", default="data/cifar-10-batches-bin", help="CIFAR-10 binary files")
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads (0: torch's default)")
    ap.add_argument("--limit", type=int, default=0, help="training batches to run (0: the whole epoch), times scaled")
    ap.add_argument("--transforms", choices=["auto", "pil", "numpy"], default="auto")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.threads < 0 or args.limit < 0:
        ap.error("--threads and --limit take a number >= 0")
    use_pil = args.transforms == "pil" or (args.transforms == "auto" and Image is not None)
    if use_pil and Image is None:
        ap.error("--transforms pil: PIL is not installed (Debian package python3-pil)")
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    train_transform = Compose([RandomCrop(32, padding=4), RandomHorizontalFlip(), ToTensor(), Normalize(MEAN, STD)])
    test_transform = Compose([ToTensor(), Normalize(MEAN, STD)])
    train_data = CIFAR10(args.data, True, train_transform, use_pil)
    test_data = CIFAR10(args.data, False, test_transform, use_pil)

    net = VGG()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    criterion = nn.CrossEntropyLoss()
    batch_size = 128
    train_loader = torch.utils.data.DataLoader(train_data, batch_size=batch_size, shuffle=True, drop_last=True)
    test_loader = torch.utils.data.DataLoader(test_data, batch_size=batch_size, shuffle=False, drop_last=False)
    full_train = len(train_loader) * batch_size
    full_test = len(test_data)
    test_limit = 0
    if args.limit:
        args.limit = min(args.limit, len(train_loader))
        test_limit = -(-full_test * args.limit // len(train_loader))  # same fraction, rounded up

    # the seed's training loop
    net.train()
    train_loss, correct, total = 0.0, 0, 0
    load_seconds = 0.0  # time spent waiting for the DataLoader (transforms, collate)
    t0 = t_end = time.perf_counter()
    for batch_idx, (inputs, targets) in enumerate(train_loader):
        load_seconds += time.perf_counter() - t_end
        optimizer.zero_grad()
        outputs = net(inputs)
        loss = criterion(outputs, targets)
        loss.backward()
        optimizer.step()
        train_loss += loss.item()
        _, predicted = outputs.max(1)
        total += targets.size(0)
        correct += predicted.eq(targets).sum().item()
        t_end = time.perf_counter()
        if args.limit and batch_idx + 1 >= args.limit:
            break
    train_batches = batch_idx + 1
    train_seconds = time.perf_counter() - t0
    train_images = total

    # the seed's test()
    net.eval()
    test_loss, tcorrect, ttotal = 0.0, 0, 0
    t0 = time.perf_counter()
    with torch.no_grad():
        for batch_idx, (inputs, targets) in enumerate(test_loader):
            outputs = net(inputs)
            loss = criterion(outputs, targets)
            test_loss += loss.item()
            _, predicted = outputs.max(1)
            ttotal += targets.size(0)
            tcorrect += predicted.eq(targets).sum().item()
            if test_limit and ttotal >= test_limit:
                break
    test_seconds = time.perf_counter() - t0

    epoch_seconds = train_seconds * full_train / train_images
    test_seconds = test_seconds * full_test / ttotal
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("# torch_seed_epoch: torch %s, %d threads, train loss %.3f acc %.2f%%, test acc %.2f%%" %
          (torch.__version__, torch.get_num_threads(), train_loss / train_batches,
           100.0 * correct / total, 100.0 * tcorrect / ttotal))
    print("epoch_seconds=%.2f test_seconds=%.2f total_seconds=%.2f load_seconds=%.2f" %
          (epoch_seconds, test_seconds, epoch_seconds + test_seconds, load_seconds * full_train / train_images))
    print("train_images=%d test_images=%d scaled=%d transforms=%s" %
          (train_images, ttotal, 1 if args.limit else 0, "pil" if use_pil else "numpy"))
    print("peak_rss_mb=%.1f" % peak)
    return 0


if __name__ == "__main__":
    sys.exit(main())
