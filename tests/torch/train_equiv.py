#!/usr/bin/python3
"""train_equiv.py: lrlab's training against PyTorch's, step for step.

  train_equiv.py LRLAB DATA_DIR WORK_DIR BACKEND

Builds the seed's VGG in PyTorch (torch.manual_seed(0) init), writes its
weights as init.safetensors, runs `lrlab train --init` and the same loop in
PyTorch on the same images (first 256 training / 128 test images in file
order (96/64 with batch 32 for the slow reference backend), no shuffle,
no augmentation, batch 64, lr 0.05, 2 epochs, SGD momentum 0.9,
weight decay 5e-4, nesterov off, StepLR(step_size=1, gamma=0.5)), then
compares the final weights tensor by tensor and the per-epoch metrics.
Prints `train_equiv_BACKEND: N passed, N failed` (tests/run.sh's format).
Augmentation and shuffling are compared separately (test_data, the
augment fixture); here they are off so that both programs see the same
batches.
"""
import json
import os
import struct
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2023, 0.1994, 0.2010)


class VGG(nn.Module):  # the seed's model, verbatim in structure
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, padding=1, bias=False)
        self.conv2_1 = nn.Conv2d(32, 64, 3, padding=1, bias=False)
        self.conv2_2 = nn.Conv2d(64, 64, 3, padding=1, bias=False)
        self.conv3_1 = nn.Conv2d(64, 128, 3, padding=1, bias=False)
        self.conv3_2 = nn.Conv2d(128, 128, 3, padding=1, bias=False)
        self.conv3_3 = nn.Conv2d(128, 128, 3, padding=1, bias=False)
        self.fc1 = nn.Linear(2048, 128, bias=False)
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


def st_read(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[8 + n + a:8 + n + b], dtype="<f4").reshape(e["shape"]).copy())
    return out


def load_split(files, limit):
    labels, images = [], []
    for fn in files:
        raw = np.fromfile(fn, dtype=np.uint8).reshape(-1, 3073)
        labels.append(raw[:, 0].astype(np.int64))
        images.append(raw[:, 1:].reshape(-1, 3, 32, 32))
    x = torch.from_numpy(np.concatenate(images)[:limit].copy())
    y = torch.from_numpy(np.concatenate(labels)[:limit].copy())
    # ToTensor then Normalize, in float32 as torchvision does
    x = x.float().div(255)
    x = (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    return x, y


def main():
    lrlab, data, work, backend = sys.argv[1:5]
    torch.manual_seed(0)
    torch.set_num_threads(2)
    net = VGG()
    init_state = {k: v.clone() for k, v in net.state_dict().items()}
    os.makedirs(work, exist_ok=True)
    init = os.path.join(work, "init.safetensors")
    st_write(init, net.state_dict())
    out = os.path.join(work, "run-" + backend)
    # the reference kernels are slow: fewer images for them
    batch, epochs, n_train, n_test, lr = (64, 2, 256, 128, 0.05) if backend == "dnnl" else (32, 2, 96, 64, 0.05)
    cmd = [lrlab, "train", "--data", data, "--out", out, "--init", init, "--backend", backend,
           "--limit-train", str(n_train), "--limit-test", str(n_test), "--batch", str(batch),
           "--epochs", str(epochs), "--no-augment", "--no-shuffle", "--lr", str(lr),
           "--sched", "StepLR(step_size=1, gamma=0.5)", "--conv-algo", "direct"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)

    xtr, ytr = load_split([os.path.join(data, "data_batch_%d.bin" % i) for i in range(1, 6)], n_train)
    xte, yte = load_split([os.path.join(data, "test_batch.bin")], n_test)
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    crit = nn.CrossEntropyLoss()
    rows = []
    for epoch in range(epochs):
        lr_used = opt.param_groups[0]["lr"]
        tl, tc = 0.0, 0
        for b in range(n_train // batch):  # drop_last
            xb, yb = xtr[b * batch:(b + 1) * batch], ytr[b * batch:(b + 1) * batch]
            opt.zero_grad()
            o = net(xb)
            loss = crit(o, yb)
            loss.backward()
            opt.step()
            tl += loss.item()
            tc += (o.argmax(1) == yb).sum().item()
        with torch.no_grad():
            o = net(xte)
            test_loss = F.cross_entropy(o, yte, reduction="sum").item() / n_test
            test_acc = 100.0 * (o.argmax(1) == yte).sum().item() / n_test
        rows.append((lr_used, tl / (n_train // batch), 100.0 * tc / (n_train // batch * batch), test_loss, test_acc))
        sched.step()

    passed = failed = 0

    def check(ok, what):
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
            print("FAIL", what)

    got = st_read(os.path.join(out, "model.safetensors"))
    for name, want in net.state_dict().items():
        # compare what training changed: final - initial weights
        g, w = got[name] - init_state[name], want - init_state[name]
        err = (g - w).abs().max().item()
        scale = w.abs().max().item()
        check(scale > 0 and err <= 2e-3 * scale, "%s: update max |lrlab - torch| = %.3g (update scale %.3g)" % (name, err, scale))
        print("%s: update scale %.3g, max difference %.3g" % (name, scale, err))
    lines = open(os.path.join(out, "metrics.csv")).read().split("\n")[1:]
    for epoch, line in enumerate(l for l in lines if l):
        f = line.split(",")
        lr_l, trl, tra, tel, tea = float(f[1]), float(f[3]), float(f[4]), float(f[5]), float(f[6])
        w = rows[epoch]
        check(abs(lr_l - w[0]) <= 1e-12 * w[0], "epoch %d lr %r vs %r" % (epoch, lr_l, w[0]))
        check(abs(trl - w[1]) <= 1e-4 * abs(w[1]) + 1e-5, "epoch %d train loss %r vs %r" % (epoch, trl, w[1]))
        check(abs(tel - w[3]) <= 1e-4 * abs(w[3]) + 1e-5, "epoch %d test loss %r vs %r" % (epoch, tel, w[3]))
        check(abs(tra - w[2]) <= 100.0 / n_train + 1e-9, "epoch %d train acc %r vs %r" % (epoch, tra, w[2]))
        check(abs(tea - w[4]) <= 100.0 / n_test + 1e-9, "epoch %d test acc %r vs %r" % (epoch, tea, w[4]))
        print("epoch %d: lrlab lr %.6g train %.6f/%.2f%% test %.6f/%.2f%% | torch lr %.6g train %.6f/%.2f%% test %.6f/%.2f%%"
              % ((epoch, lr_l, trl, tra, tel, tea) + w))
    print("train_equiv_%s: %d passed, %d failed" % (backend, passed, failed))
    sys.exit(1 if failed else 0)


main()
