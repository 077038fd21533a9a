#!/usr/bin/python3
"""tests/torch/tta_check.py: `lrlab eval --tta` against airbench94's infer()
(KellerJordan/cifar10-airbench, legacy/airbench94.py: infer_basic,
infer_mirror, infer_mirror_translate), written from its formulas.

  tta_check.py WEIGHTS TEST_BATCH.bin N MEAN,..,STD,.. LEVEL LRLAB_EVAL_OUTPUT

The net is tests/tta_test.sh's small model (conv c1 8 with bias, relu,
maxpool 2, flatten, linear fc 10) with lrlab's weights; the first N images
of a CIFAR-10 binary file, x / 255 normalised. Checks lrlab's correct count
(exactly) and mean loss (relative 1e-5) of the level's combined logits:
level 0 its test_acc line, 1 and 2 its tta_test_acc line.
Prints 'tta_check: N passed, N failed'."""
import re
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from models import read_safetensors  # noqa: E402


def infer(net, x, level):
    def mirror(v):
        return 0.5 * net(v) + 0.5 * net(v.flip(-1))
    if level == 0:
        return net(x)
    logits = mirror(x)
    if level == 1:
        return logits
    padded = F.pad(x, (1,) * 4, "reflect")
    h, w = x.shape[-2:]
    views = [padded[:, :, 0:h, 0:w], padded[:, :, 2:h + 2, 2:w + 2]]
    translate = torch.stack([mirror(v) for v in views]).mean(0)
    return 0.5 * logits + 0.5 * translate


def main():
    weights, data, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    norm = [float(v) for v in sys.argv[4].split(",")]
    level, out = int(sys.argv[5]), open(sys.argv[6]).read()
    raw = np.fromfile(data, dtype=np.uint8).reshape(-1, 3073)[:n]
    y = torch.tensor(raw[:, 0].astype(np.int64))
    x = torch.tensor(raw[:, 1:].reshape(n, 3, 32, 32).astype(np.float32)) / 255
    x = (x - torch.tensor(norm[:3]).view(1, 3, 1, 1)) / torch.tensor(norm[3:]).view(1, 3, 1, 1)
    st = read_safetensors(weights)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(8 * 16 * 16, 10, bias=False))
    net[0].weight.data, net[0].bias.data = st["c1.weight"][0], st["c1.bias"][0]
    net[4].weight.data = st["fc.weight"][0]
    net.eval()
    with torch.no_grad():
        logits = infer(net, x, level)
    correct = int((logits.argmax(1) == y).sum())
    loss = float(F.cross_entropy(logits.double(), y, reduction="sum")) / n
    key = "tta_test" if level else "test"
    m = re.search(r"^%s_loss=([0-9.]+) %s_acc=[0-9.]+%% \((\d+)/(\d+)\)" % (key, key), out, re.M) if not level else \
        re.search(r"^tta_test_acc=[0-9.]+% \((\d+)/(\d+)\) tta_test_loss=([0-9.]+) \(--tta (\d)\)", out, re.M)
    passed = failed = 0
    if not m:
        print("FAIL: no %s line in lrlab's output:\n%s" % (key, out))
        failed += 1
    else:
        got_loss, got_correct, got_n = (float(m[1]), int(m[2]), int(m[3])) if not level else \
            (float(m[3]), int(m[1]), int(m[2]))
        for ok, what in [(got_n == n, "images %d, expected %d" % (got_n, n)),
                         (got_correct == correct, "level %d: %d correct, PyTorch %d" % (level, got_correct, correct)),
                         (abs(got_loss - loss) <= 1e-5 * max(1.0, loss) + 1e-6,
                          "level %d: loss %.6f, PyTorch %.6f" % (level, got_loss, loss))]:
            if ok:
                passed += 1
            else:
                failed += 1
                print("FAIL: " + what)
    print("tta_check: %d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


main()
