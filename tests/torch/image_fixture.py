"""tests/torch/image_fixture.py: writes small PNG and JPEG files of every
kind lrlab's folder loader reads (RGB, greyscale, palette, RGBA, LA, 16-bit,
1-bit PNG; colour and greyscale JPEG) into tests/fixtures/images/, and
tests/fixtures/images/expected.txt: for each file, the bytes PIL gives for
Image.open(f).convert("RGB") (torchvision's ImageFolder loader) and for
that image .resize((3, 7), Image.BILINEAR) and .resize((9, 2), ...)
(torchvision's Resize((7, 3)) on a PIL image), as hex, row-major HWC.
tests/test_data.c decodes and resizes the same files and compares byte for
byte. Run from the repository root with python3-pil installed (an
argument: another output directory; tests/data_formats_test.sh checks that
the committed files are what this script writes)."""
import os
import random
import sys

from PIL import Image

OUT = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/images"
W, H = 6, 5
SIZES = [(3, 7), (9, 2)]  # (width, height) for PIL's resize


def rgb_pixels(rng):
    return [(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(W * H)]


def main():
    rng = random.Random(5)
    os.makedirs(OUT, exist_ok=True)
    files = []
    im = Image.new("RGB", (W, H)); im.putdata(rgb_pixels(rng)); im.save(f"{OUT}/rgb.png"); files.append("rgb.png")
    g = Image.new("L", (W, H)); g.putdata([rng.randrange(256) for _ in range(W * H)]); g.save(f"{OUT}/gray.png")
    files.append("gray.png")
    p = Image.new("P", (W, H)); p.putpalette([rng.randrange(256) for _ in range(3 * 16)] + [0] * (3 * 240))
    p.putdata([rng.randrange(16) for _ in range(W * H)]); p.save(f"{OUT}/palette.png"); files.append("palette.png")
    a = Image.new("RGBA", (W, H)); a.putdata([c + (rng.randrange(256),) for c in rgb_pixels(rng)])
    a.save(f"{OUT}/rgba.png"); files.append("rgba.png")
    la = Image.new("LA", (W, H)); la.putdata([(rng.randrange(256), rng.randrange(256)) for _ in range(W * H)])
    la.save(f"{OUT}/la.png"); files.append("la.png")
    b = Image.new("1", (W, H)); b.putdata([rng.randrange(2) * 255 for _ in range(W * H)]); b.save(f"{OUT}/bits.png")
    files.append("bits.png")
    j = Image.new("RGB", (W, H)); j.putdata(rgb_pixels(rng)); j.save(f"{OUT}/rgb.jpg", quality=85); files.append("rgb.jpg")
    gj = Image.new("L", (W, H)); gj.putdata([rng.randrange(256) for _ in range(W * H)]); gj.save(f"{OUT}/gray.jpg", quality=85)
    files.append("gray.jpg")
    with open(f"{OUT}/expected.txt", "w") as f:
        f.write("# made by tests/torch/image_fixture.py: FILE W H HEX (PIL convert('RGB'), then resizes)\n")
        for name in files:
            img = Image.open(f"{OUT}/{name}").convert("RGB")
            for out in [img] + [img.resize(s, Image.BILINEAR) for s in SIZES]:
                f.write(f"{name} {out.width} {out.height} {out.tobytes().hex()}\n")


if __name__ == "__main__":
    main()
