#!/usr/bin/python3
"""tests/torch/transform_check.py: replays `lrlab data transform` in torchvision 0.14.

  transform_check.py FORMAT DATA_DIR LRLAB_OUTPUT EXPR ATOL

FORMAT cifar100 (DATA_DIR/train.bin) or idx (DATA_DIR/train-images-idx3-ubyte[.gz]).
Reads lrlab's output (per image: each step's random choices, then the values),
applies the same transforms with torchvision's functional API and the choices
lrlab drew (the crop offsets, flips, erase boxes, jitter order and factors),
the pipeline being EXPR evaluated with torchvision.transforms, and compares:
prints one line per image and 'transform_check: N passed, N failed'. ATOL 0
asks for the same float32 bits."""
import gzip
import os
import sys

import numpy as np
import torch
import torchvision.transforms as T
import torchvision.transforms as transforms  # noqa: F401 (the module prefixes --transform accepts)
import torchvision.transforms.functional as F
from torchvision.transforms import (ColorJitter, Compose, Normalize, RandomCrop, RandomErasing,  # noqa: F401
                                    RandomHorizontalFlip, RandomVerticalFlip, ToTensor)


def images(fmt, data):
    if fmt == "cifar100":
        raw = np.fromfile(os.path.join(data, "train.bin"), dtype=np.uint8).reshape(-1, 3074)
        return raw[:, 2:].reshape(-1, 3, 32, 32)
    path = os.path.join(data, "train-images-idx3-ubyte")
    opener = open
    if not os.path.exists(path):
        path, opener = path + ".gz", gzip.open
    with opener(path, "rb") as f:
        raw = f.read()
    n, h, w = np.frombuffer(raw[4:16], dtype=">u4")
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, 1, h, w)


def parse(path):
    out, cur = [], None
    for line in open(path):
        f = line.split()
        if f[0] == "image":
            cur = {"index": int(f[1]), "steps": []}
            out.append(cur)
        elif f[0] == "step":
            cur["steps"].append(f[1:])
        elif f[0] == "values":
            cur["values"] = np.array([float.fromhex(v) for v in f[1:]], dtype=np.float32)
    return out


def steps(expr):
    """The transform objects in order, with ToTensor / Normalize where lrlab implies them."""
    t = eval(expr)
    ts = list(t.transforms) if isinstance(t, Compose) else [t]
    return ts


def replay(img_u8, ts, recs):
    x = torch.from_numpy(img_u8.copy())  # uint8 CHW: before ToTensor, a PIL-equivalent image
    for rec in recs:
        kind = rec[0]
        applied = int(rec[2])
        i, j, h, w = (int(v) for v in rec[4:8])
        if kind == "to_tensor":
            x = x.float().div(255)  # ToTensor (lrlab's crops and flips commute with it)
            if ts and isinstance(ts[0], ToTensor):
                ts.pop(0)
            continue
        t = ts.pop(0) if ts and not (kind == "normalize" and not isinstance(ts[0], Normalize)) else None
        if kind == "crop":
            if t.padding:  # before ToTensor: a uint8 tensor padded with the integer fill, as PIL pads
                x = F.pad(x, t.padding, fill=t.fill, padding_mode=t.padding_mode)
            x = F.crop(x, i, j, h, w)
        elif kind == "hflip":
            x = F.hflip(x) if applied else x
        elif kind == "vflip":
            x = F.vflip(x) if applied else x
        elif kind == "erase":
            if applied:
                v = t.value
                v = torch.tensor(v if isinstance(v, (list, tuple)) else [v], dtype=torch.float32)[:, None, None]
                x = F.erase(x, i, j, h, w, v)
        elif kind == "jitter":
            order = [int(v) for v in rec[9:13]]
            fac = [None if v == "-" else float.fromhex(v) for v in rec[14:18]]
            for k in order:
                if fac[k] is None:
                    continue
                fn = [F.adjust_brightness, F.adjust_contrast, F.adjust_saturation, F.adjust_hue][k]
                x = fn(x, fac[k])
        elif kind == "normalize":
            mv = [float.fromhex(v) for v in rec[8:]]  # the data set's, when Normalize is implied
            x = F.normalize(x, t.mean, t.std) if isinstance(t, Normalize) else F.normalize(x, mv[0::2], mv[1::2])
    return x


def main():
    fmt, data, out, expr, atol = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
    imgs = images(fmt, data)
    passed = failed = 0
    for rec in parse(out):
        want = replay(imgs[rec["index"]], steps(expr), rec["steps"]).numpy().reshape(-1)
        got = rec["values"]
        diff = float(np.max(np.abs(want - got))) if want.shape == got.shape else float("inf")
        same = diff == 0 if atol == 0 else diff <= atol
        print("%s image %d: %s, max |lrlab - torchvision| %.3g" % ("ok  " if same else "FAIL", rec["index"],
                                                                   " ".join(s[0] for s in rec["steps"]), diff))
        passed, failed = passed + same, failed + (not same)
    print("transform_check: %d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed or not passed else 0)


main()
