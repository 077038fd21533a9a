#!/usr/bin/python3
"""train_equiv.py: lrlab's training against PyTorch's, step for step.

  train_equiv.py LRLAB DATA_DIR WORK_DIR BACKEND

Builds the seed's VGG in PyTorch (torch.manual_seed(0) init), writes its
weights as init.safetensors, runs `lrlab train --init` and the same loop in
PyTorch on the same images (first 256 training / 128 test images in file
order (96/64 with batch 32 for the slow reference backend), no shuffle,
no augmentation, batch 64, lr 0.05, 2 epochs, SGD momentum 0.9,
weight decay 5e-4, nesterov off, StepLR(step_size=1, gamma=0.5)), then
compares the final weights tensor by tensor and the per-epoch metrics; then
(BACKEND dnnl) the same with --lookahead k=3 and --ema 0.9 against the reference
Lookahead and ModelEmaV2's update in the PyTorch loop (model.safetensors,
model_ema.safetensors, the EMA's test loss and accuracy per epoch).
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_sched_fixtures import LookaheadRef  # noqa: E402  (the Lookahead reference the fixtures use)

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


def torch_train(net, split, batch, epochs, lr, lookahead_k=0, ema_decay=0.0):
    """The PyTorch loop: SGD(momentum 0.9, weight decay 5e-4), StepLR(1, 0.5),
    batches in file order; with lookahead_k, Lookahead as make_sched_fixtures.py's
    LookaheadRef (airbench94's update, alpha 0.5) every lookahead_k steps; with
    ema_decay, timm's ModelEmaV2 update after every step (buffers copied: the
    VGG has none). Returns the epochs' rows (lr, train loss, train acc, test
    loss, test acc[, EMA test loss, EMA test acc]) and the EMA's state_dict."""
    xtr, ytr, xte, yte = split
    n_train, n_test = len(xtr), len(xte)
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    crit = nn.CrossEntropyLoss()
    la = LookaheadRef(list(net.parameters())) if lookahead_k else None
    ema = {k: v.clone() for k, v in net.state_dict().items()}
    rows, step = [], 0

    def test(state):
        with torch.no_grad():
            saved = {k: v.clone() for k, v in net.state_dict().items()}
            net.load_state_dict(state)
            o = net(xte)
            net.load_state_dict(saved)
        return F.cross_entropy(o, yte, reduction="sum").item() / n_test, 100.0 * (o.argmax(1) == yte).sum().item() / n_test

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
            step += 1
            with torch.no_grad():
                if la and step % lookahead_k == 0:
                    la.update(list(net.parameters()), 0.5)
                if ema_decay:
                    for k, v in net.state_dict().items():
                        ema[k].copy_(ema_decay * ema[k] + (1. - ema_decay) * v)
            tl += loss.item()
            tc += (o.argmax(1) == yb).sum().item()
        row = (lr_used, tl / (n_train // batch), 100.0 * tc / (n_train // batch * batch)) + test(net.state_dict())
        rows.append(row + (test(ema) if ema_decay else ()))
        sched.step()
    return rows, ema


def main():
    lrlab, data, work, backend = sys.argv[1:5]
    torch.manual_seed(0)
    torch.set_num_threads(2)
    net = VGG()
    init_state = {k: v.clone() for k, v in net.state_dict().items()}
    os.makedirs(work, exist_ok=True)
    init = os.path.join(work, "init.safetensors")
    st_write(init, net.state_dict())
    # the reference kernels are slow: fewer images for them
    batch, epochs, n_train, n_test, lr = (64, 2, 256, 128, 0.05) if backend == "dnnl" else (32, 2, 96, 64, 0.05)
    xtr, ytr = load_split([os.path.join(data, "data_batch_%d.bin" % i) for i in range(1, 6)], n_train)
    xte, yte = load_split([os.path.join(data, "test_batch.bin")], n_test)
    passed = failed = 0

    def check(ok, what):
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
            print("FAIL", what)

    # plain SGD, then (oneDNN only: the wiring does not depend on the backend) the same with Lookahead (k=3)
    # and an EMA (0.9)
    variants = [("", [], 0, 0.0)]
    if backend == "dnnl":
        variants.append(("lookahead+ema ", ["--lookahead", "k=3", "--ema", "0.9"], 3, 0.9))
    for label, extra, k, decay in variants:
        out = os.path.join(work, "run-" + backend + ("-avg" if extra else ""))
        cmd = [lrlab, "train", "--data", data, "--out", out, "--init", init, "--backend", backend,
               "--limit-train", str(n_train), "--limit-test", str(n_test), "--batch", str(batch),
               "--epochs", str(epochs), "--no-augment", "--no-shuffle", "--lr", str(lr),
               "--sched", "StepLR(step_size=1, gamma=0.5)", "--conv-algo", "direct"] + extra
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        net.load_state_dict(init_state)
        rows, ema = torch_train(net, (xtr, ytr, xte, yte), batch, epochs, lr, k, decay)
        files = [("model.safetensors", net.state_dict())] + ([("model_ema.safetensors", ema)] if decay else [])
        for fname, state in files:
            got = st_read(os.path.join(out, fname))
            for name, want in state.items():
                # compare what training changed: final - initial weights
                g, w = got[name] - init_state[name], want - init_state[name]
                err = (g - w).abs().max().item()
                scale = w.abs().max().item()
                check(scale > 0 and err <= 2e-3 * scale,
                      "%s%s %s: update max |lrlab - torch| = %.3g (update scale %.3g)" % (label, fname, name, err, scale))
                print("%s%s %s: update scale %.3g, max difference %.3g" % (label, fname, name, scale, err))
        lines = open(os.path.join(out, "metrics.csv")).read().split("\n")[1:]
        for epoch, line in enumerate(l for l in lines if l):
            f = line.split(",")
            lr_l, trl, tra, tel, tea = float(f[1]), float(f[3]), float(f[4]), float(f[5]), float(f[6])
            w = rows[epoch]
            check(abs(lr_l - w[0]) <= 1e-12 * w[0], "%sepoch %d lr %r vs %r" % (label, epoch, lr_l, w[0]))
            check(abs(trl - w[1]) <= 1e-4 * abs(w[1]) + 1e-5, "%sepoch %d train loss %r vs %r" % (label, epoch, trl, w[1]))
            check(abs(tel - w[3]) <= 1e-4 * abs(w[3]) + 1e-5, "%sepoch %d test loss %r vs %r" % (label, epoch, tel, w[3]))
            check(abs(tra - w[2]) <= 100.0 / n_train + 1e-9, "%sepoch %d train acc %r vs %r" % (label, epoch, tra, w[2]))
            check(abs(tea - w[4]) <= 100.0 / n_test + 1e-9, "%sepoch %d test acc %r vs %r" % (label, epoch, tea, w[4]))
            if decay:  # test_loss_ema, test_acc_ema
                el, ea = float(f[11]), float(f[12])
                check(abs(el - w[5]) <= 1e-4 * abs(w[5]) + 1e-5, "%sepoch %d EMA test loss %r vs %r" % (label, epoch, el, w[5]))
                check(abs(ea - w[6]) <= 100.0 / n_test + 1e-9, "%sepoch %d EMA test acc %r vs %r" % (label, epoch, ea, w[6]))
            print("%sepoch %d: lrlab lr %.6g train %.6f/%.2f%% test %.6f/%.2f%% | torch lr %.6g train %.6f/%.2f%% test "
                  "%.6f/%.2f%%" % ((label, epoch, lr_l, trl, tra, tel, tea) + w[:5]))
    print("train_equiv_%s: %d passed, %d failed" % (backend, passed, failed))
    sys.exit(1 if failed else 0)


main()
