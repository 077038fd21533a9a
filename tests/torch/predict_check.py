#!/usr/bin/python3
"""tests/torch/predict_check.py: `lrlab predict`'s probabilities against PyTorch.

  predict_check.py WEIGHTS C CLASSES MEAN,..,STD,.. H,W LRLAB_OUTPUT IMG...

The net is tests/predict_test.sh's small model (conv c1 8, relu, maxpool 2,
flatten, linear fc CLASSES; no biases) with lrlab's weights; each image as
torchvision reads it (PIL convert("RGB") or "L" for C 1, resize((W, H),
BILINEAR) when its size differs, ToTensor, Normalize), softmax of the logits.
Checks each image's listed classes and probabilities (to 1e-6) and prints
'predict_check: N passed, N failed'."""
import sys

import numpy as np
import torch
import torch.nn as nn
import torchvision.transforms.functional as F
from PIL import Image

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from models import read_safetensors  # noqa: E402


def main():
    weights, c, classes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    norm = [float(v) for v in sys.argv[4].split(",")]
    h, w = (int(v) for v in sys.argv[5].split(","))
    out, imgs = sys.argv[6], sys.argv[7:]
    st = read_safetensors(weights)
    net = nn.Sequential(nn.Conv2d(c, 8, 3, padding=1, bias=False), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(8 * (h // 2) * (w // 2), classes, bias=False))
    net[0].weight.data = st["c1.weight"][0]
    net[4].weight.data = st["fc.weight"][0]
    net.eval()
    got, cur = {}, None
    for line in open(out):
        if not line.startswith(" "):
            cur = line.split(":")[0]
            got[cur] = []
        else:
            f = line.split()
            got[cur].append((int(f[0]), float(f[-1])))
    passed = failed = 0
    for path in imgs:
        im = Image.open(path).convert("RGB" if c == 3 else "L")
        if im.size != (w, h):
            im = im.resize((w, h), Image.BILINEAR)
        x = F.normalize(F.to_tensor(im), norm[:len(norm) // 2], norm[len(norm) // 2:])
        with torch.no_grad():
            p = torch.softmax(net(x.unsqueeze(0)), 1)[0].double().numpy()
        rows = got.get(path, [])
        ok = len(rows) == min(5, classes) and all(abs(p[k] - q) <= 1e-6 for k, q in rows)
        top = list(np.argsort(-p, kind="stable")[:len(rows)])
        ok = ok and [k for k, _ in rows][:1] == top[:1]
        print("%s %s: lrlab %s, torch %s" % ("ok  " if ok else "FAIL", path, rows[:2],
                                             [(int(k), round(float(p[k]), 6)) for k in top[:2]]))
        passed, failed = passed + ok, failed + (not ok)
    print("predict_check: %d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed or not passed else 0)


main()
