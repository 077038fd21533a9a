#!/usr/bin/python3
"""bench/torch_fashion.py: models/vgg-fashion on Fashion-MNIST, lrlab against
PyTorch, epoch by epoch.

  torch_fashion.py LRLAB DATA_DIR WORK_DIR [--epochs 10] [--limit-train N]
                   [--limit-test N] [--threads 2] [--lr 0.01]

DATA_DIR holds the IDX files (Debian's dataset-fashion-mnist:
/usr/share/datasets/fashion-mnist). Builds the network in PyTorch
(torch.manual_seed(0) init), writes its weights as init.safetensors, runs
`lrlab train --dataset idx --init` and the same loop in PyTorch on the same
images: file order, no augmentation, no shuffling, batch 128 with
drop_last, SGD lr 0.01 momentum 0.9 weight decay 5e-4, constant lr,
Normalize((0.2860,), (0.3530,)) (Fashion-MNIST's own statistics: `lrlab data
stats --dataset idx`). Prints both programs' per-epoch metrics side by side
and the final test accuracies; exits 1 when the final test accuracies differ
by more than 0.5 points. A benchmark of the whole recipe (about an hour on
two cores for 10 epochs of both), not a test: tests/torch_train_test.sh
checks step-for-step equality on a few batches."""
import argparse
import gzip
import json
import os
import struct
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN, STD = 0.2860, 0.3530


class VGG28(nn.Module):  # models/vgg-fashion
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1, bias=False)
        self.conv2_1 = nn.Conv2d(32, 64, 3, padding=1, bias=False)
        self.conv2_2 = nn.Conv2d(64, 64, 3, padding=1, bias=False)
        self.conv3_1 = nn.Conv2d(64, 128, 3, padding=1, bias=False)
        self.conv3_2 = nn.Conv2d(128, 128, 3, padding=1, bias=False)
        self.conv3_3 = nn.Conv2d(128, 128, 3, padding=1, bias=False)
        self.fc1 = nn.Linear(1152, 128, bias=False)
        self.fc2 = nn.Linear(128, 10, bias=False)

    def forward(self, x):
        out = F.max_pool2d(F.relu(self.conv1(x)), 2)
        out = F.relu(self.conv2_1(out))
        out = F.max_pool2d(F.relu(self.conv2_2(out)), 2)
        out = F.relu(self.conv3_1(out))
        out = F.relu(self.conv3_2(out))
        out = F.max_pool2d(F.relu(self.conv3_3(out)), 2)
        out = out.view(out.size(0), -1)
        return self.fc2(F.relu(self.fc1(out)))


def st_write(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        b = t.detach().contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path, opener = path + ".gz", gzip.open
    with opener(path, "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = struct.unpack(">" + "I" * dims, raw[4:4 + 4 * dims])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(data, prefix, limit):
    x = torch.from_numpy(idx(os.path.join(data, prefix + "-images-idx3-ubyte")).copy())
    y = torch.from_numpy(idx(os.path.join(data, prefix + "-labels-idx1-ubyte")).astype(np.int64))
    if limit:
        x, y = x[:limit], y[:limit]
    x = x.unsqueeze(1).float().div(255)  # ToTensor, then Normalize in float32 as torchvision
    x = (x - torch.tensor([MEAN]).view(1, 1, 1, 1)) / torch.tensor([STD]).view(1, 1, 1, 1)
    return x, y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("lrlab")
    ap.add_argument("data")
    ap.add_argument("work")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--limit-train", type=int, default=0)
    ap.add_argument("--limit-test", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lr", type=float, default=0.01)
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    net = VGG28()
    os.makedirs(a.work, exist_ok=True)
    init = os.path.join(a.work, "init.safetensors")
    st_write(init, net.state_dict())
    out = os.path.join(a.work, "lrlab-run")
    batch = 128
    cmd = [a.lrlab, "train", "--dataset", "idx", "--data", a.data, "--model", "vgg-fashion", "--out", out,
           "--init", init, "--normalize", "%g,%g" % (MEAN, STD), "--batch", str(batch), "--epochs", str(a.epochs),
           "--no-augment", "--no-shuffle", "--lr", str(a.lr), "--threads", str(a.threads)]
    if a.limit_train:
        cmd += ["--limit-train", str(a.limit_train)]
    if a.limit_test:
        cmd += ["--limit-test", str(a.limit_test)]
    t0 = time.time()
    if not os.path.exists(os.path.join(out, "model.safetensors")):
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    t_lrlab = time.time() - t0

    xtr, ytr = load(a.data, "train", a.limit_train)
    xte, yte = load(a.data, "t10k", a.limit_test)
    n_train, n_test = len(ytr), len(yte)
    opt = torch.optim.SGD(net.parameters(), lr=a.lr, momentum=0.9, weight_decay=5e-4)
    crit = nn.CrossEntropyLoss()
    rows = []
    t0 = time.time()
    for epoch in range(a.epochs):
        net.train()
        tl, tc, nb = 0.0, 0, n_train // batch
        for b in range(nb):  # drop_last, file order
            xb, yb = xtr[b * batch:(b + 1) * batch], ytr[b * batch:(b + 1) * batch]
            opt.zero_grad()
            o = net(xb)
            loss = crit(o, yb)
            loss.backward()
            opt.step()
            tl += loss.item()
            tc += (o.argmax(1) == yb).sum().item()
        net.eval()
        with torch.no_grad():
            sl, sc = 0.0, 0
            for b in range(0, n_test, batch):
                o = net(xte[b:b + batch])
                sl += F.cross_entropy(o, yte[b:b + batch], reduction="sum").item()
                sc += (o.argmax(1) == yte[b:b + batch]).sum().item()
        rows.append((tl / nb, 100.0 * tc / (nb * batch), sl / n_test, 100.0 * sc / n_test))
        print("torch epoch %d: train %.6f/%.2f%% test %.6f/%.2f%%" % ((epoch,) + rows[-1]), flush=True)
    t_torch = time.time() - t0
    lines = [l for l in open(os.path.join(out, "metrics.csv")).read().split("\n")[1:] if l]
    print("\n| epoch | lrlab train loss | torch train loss | lrlab train acc | torch train acc | lrlab test loss | "
          "torch test loss | lrlab test acc | torch test acc |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    last = None
    for epoch, line in enumerate(lines):
        f = line.split(",")
        got = (float(f[3]), float(f[4]), float(f[5]), float(f[6]))
        w = rows[epoch]
        print("| %d | %.5f | %.5f | %.2f | %.2f | %.5f | %.5f | %.2f | %.2f |"
              % (epoch, got[0], w[0], got[1], w[1], got[2], w[2], got[3], w[3]))
        last = (got[3], w[3])
    print("\nfinal test accuracy: lrlab %.2f%%, torch %.2f%%, difference %.2f points (lrlab %.0f s, torch %.0f s)"
          % (last[0], last[1], last[0] - last[1], t_lrlab, t_torch))
    sys.exit(0 if abs(last[0] - last[1]) <= 0.5 else 1)


main()
