#!/usr/bin/python3
# bench/torch_airbench94.py: Keller Jordan's airbench94 recipe
# (github.com/KellerJordan/cifar10-airbench, legacy/airbench94.py) for
# PyTorch 1.13 on the CPU in fp32, channels_last, reading the CIFAR-10
# binary files lrlab reads: the PyTorch reference of lrlab's airbench94 run
# (issue: a CIFAR-10 record on two CPU cores). Written from the source's
# facts; what differs from the source: fp32 on the CPU instead of fp16 on a
# GPU, the binary files instead of torchvision's download, seeds per run,
# and the patch covariance of the whitening init summed in double.
#
# The recipe: batch 1024, drop_last, 9.9 epochs counted in steps
# (ceil(48 * 9.9) = 476); the net of make_net() (2x2 whitening conv with
# bias, GELU, three conv groups 64/256/256, BatchNorm eps 1e-12 momentum 0.4
# with the weight frozen at 1, MaxPool2d(3), linear without bias, x 1/9);
# the whitening conv from the eigenvectors of the covariance of 2x2 patches
# of the first 5,000 training images (eps 5e-4), frozen, its bias trained
# for the first 3 epochs; dirac init of every other conv's first channels;
# label smoothing 0.2, loss summed over the batch; Nesterov SGD momentum
# 0.85 with two groups (BatchNorm biases at 64x the lr); the LambdaLR of
# the source (0.2 -> 1 over the first 23% of steps, then 1 -> 0.07);
# Lookahead every 5 steps with alpha 0.95^5 (step/total)^3 and the final
# copy; normalisation with the source's mean and std, random translation by
# up to 2 pixels with reflect padding, the alternating flip; TTA level 2.
#
#   bench/torch_airbench94.py --data DIR [--runs N] [--seed S] [--threads T]
#       [--epochs 9.9] [--out CSV] [--epochs-out CSV] [--limit-train N]
#       [--limit-test N] [--batch 1024]
#
# Prints one line per epoch (train loss and accuracy of the epoch's last
# batch, as the source; test accuracy) and per run the TTA test accuracy and
# the times: `time_seconds` is the source's (whitening init + training + the
# TTA pass; the per-epoch test passes excluded), `wall_seconds` everything.
# --out appends one CSV row per run; --epochs-out one row per epoch (the
# test accuracy in percent and both times so far, for a figure of accuracy
# against time). --limit-train/--limit-test keep the first N images in file
# order, as lrlab's flags of the same names; with --batch smaller than the
# recipe's 1024 (the weight decay scaled with it, as the source scales it),
# they make a small run for trying scripts.
import argparse
import os
import sys
import time
from math import ceil

import numpy as np

# libgomp's default spinning makes a 2-thread PyTorch crawl when other work
# holds the cores (BENCHMARKS.md, "how OpenMP threads wait": 45 images/s);
# lrlab's setting, read by libgomp when torch loads, changes no arithmetic.
os.environ.setdefault("GOMP_SPINCOUNT", "1000")
import torch  # noqa: E402
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "torch"))
from models import airbench94_net  # noqa: E402

HYP = dict(epochs=9.9, batch=1024, lr=11.5, momentum=0.85, weight_decay=0.0153, bias_scaler=64.0,
           label_smoothing=0.2, whiten_bias_epochs=3, translate=2, tta_level=2)
MEAN = torch.tensor((0.4914, 0.4822, 0.4465))
STD = torch.tensor((0.2470, 0.2435, 0.2616))


def read_cifar(root, train):
    files = ["data_batch_%d.bin" % i for i in range(1, 6)] if train else ["test_batch.bin"]
    recs = []
    for f in files:
        raw = np.fromfile(os.path.join(root, f), dtype=np.uint8)
        if raw.size != 10000 * 3073:
            raise SystemExit("torch_airbench94: %s: %d bytes, expected 30730000" % (os.path.join(root, f), raw.size))
        recs.append(raw.reshape(10000, 3073))
    recs = np.vstack(recs)
    images = torch.from_numpy(recs[:, 1:].reshape(-1, 3, 32, 32).copy()).float() / 255
    return images, torch.from_numpy(recs[:, 0].astype(np.int64))


def normalize(x):
    return (x - MEAN.view(1, 3, 1, 1)) / STD.view(1, 3, 1, 1)


def batch_flip_lr(x):
    mask = (torch.rand(len(x)) < 0.5).view(-1, 1, 1, 1)
    return torch.where(mask, x.flip(-1), x)


def batch_crop(padded, size):
    r = (padded.size(-1) - size) // 2
    shifts = torch.randint(-r, r + 1, size=(len(padded), 2))
    out = torch.empty((len(padded), 3, size, size), dtype=padded.dtype)
    for sy in range(-r, r + 1):
        for sx in range(-r, r + 1):
            m = (shifts[:, 0] == sy) & (shifts[:, 1] == sx)
            out[m] = padded[m, :, r + sy:r + sy + size, r + sx:r + sx + size]
    return out


class TrainLoader:
    """The source's CifarLoader for training: normalise, flip every image at
    random once (epoch 0), pad by 2 with reflect; each epoch a random
    translation of the padded set, the whole set flipped on odd epochs, and
    a new permutation; drop_last."""

    def __init__(self, images, labels, batch):
        self.labels, self.batch, self.epoch = labels, batch, 0
        self.norm = normalize(images)
        self.pad = None  # made at the first epoch, as the source (its random draws come after the net's init)

    def __len__(self):
        return len(self.labels) // self.batch

    def __iter__(self):
        if self.pad is None:
            self.pad = F.pad(batch_flip_lr(self.norm), (HYP["translate"],) * 4, "reflect")
        images = batch_crop(self.pad, 32)
        if self.epoch % 2 == 1:
            images = images.flip(-1)
        self.epoch += 1
        idx = torch.randperm(len(images))
        for i in range(len(self)):
            j = idx[i * self.batch:(i + 1) * self.batch]
            yield images[j].contiguous(memory_format=torch.channels_last), self.labels[j]


def make_net():
    """tests/torch/models.py's airbench94_net() (the source's make_net()) with
    the recipe's frozen tensors: the whitening conv's weight and every
    BatchNorm weight (fixed at 1), in channels_last."""
    net = airbench94_net()
    net[0].weight.requires_grad = False
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.requires_grad = False
    return net.to(memory_format=torch.channels_last)


def init_whitening(layer, x, eps=5e-4):
    c, (h, w) = x.shape[1], layer.weight.shape[2:]
    patches = x.unfold(2, h, 1).unfold(3, w, 1).transpose(1, 3).reshape(-1, c, h, w)
    # In double: a float sum over 4.8 million patches is off by ~1e-3 here,
    # which turns the smallest eigenvalues negative (below -eps) on this
    # JPEG-softened copy and the weights into NaN; the source sums in float.
    flat = patches.reshape(len(patches), -1).double()
    cov = (flat.T @ flat) / len(flat)
    evals, evecs = torch.linalg.eigh(cov, UPLO="U")
    evals, evecs = evals.flip(0).view(-1, 1, 1, 1), evecs.T.reshape(c * h * w, c, h, w).flip(0)
    scaled = evecs / torch.sqrt(evals + eps)
    layer.weight.data[:] = torch.cat((scaled, -scaled)).float()


def infer(net, images, tta):
    def mirror(x):
        return 0.5 * net(x) + 0.5 * net(x.flip(-1))

    def mirror_translate(x):
        p = F.pad(x, (1,) * 4, "reflect")
        shifted = torch.stack([mirror(p[:, :, 0:32, 0:32]), mirror(p[:, :, 2:34, 2:34])]).mean(0)
        return 0.5 * mirror(x) + 0.5 * shifted

    fn = [lambda x: net(x), mirror, mirror_translate][tta]
    net.eval()
    with torch.no_grad():
        return torch.cat([fn(x.contiguous(memory_format=torch.channels_last)) for x in images.split(2000)])


def evaluate(net, images, labels, tta):
    return (infer(net, images, tta).argmax(1) == labels).float().mean().item()


def run(train, test, seed, epochs, epochs_out):
    torch.manual_seed(seed)
    t_wall, spent = time.perf_counter(), 0.0
    batch, momentum = HYP["batch"], HYP["momentum"]
    kilostep = 1024 * (1 + 1 / (1 - momentum))
    lr = HYP["lr"] / kilostep
    wd = HYP["weight_decay"] * batch / kilostep
    lr_biases = lr * HYP["bias_scaler"]
    loss_fn = nn.CrossEntropyLoss(label_smoothing=HYP["label_smoothing"], reduction="none")
    loader = TrainLoader(train[0], train[1], batch)
    test_images = normalize(test[0])
    total = ceil(len(loader) * epochs)
    net = make_net()
    named = list(net.named_parameters())
    norm_biases = [p for k, p in named if "norm" in k and p.requires_grad]
    others = [p for k, p in named if "norm" not in k and p.requires_grad]
    opt = torch.optim.SGD([dict(params=norm_biases, lr=lr_biases, weight_decay=wd / lr_biases),
                           dict(params=others, lr=lr, weight_decay=wd / lr)], momentum=momentum, nesterov=True)

    def get_lr(step):
        warm = int(total * 0.23)
        if step < warm:
            f = step / warm
            return 0.2 * (1 - f) + 1.0 * f
        f = (step - warm) / (total - warm)
        return 1.0 * (1 - f) + 0.07 * f

    sched = torch.optim.lr_scheduler.LambdaLR(opt, get_lr)
    alpha = 0.95 ** 5 * (torch.arange(total + 1) / total) ** 3
    ema = {k: v.clone() for k, v in net.state_dict().items()}

    def lookahead(decay):
        for e, p in zip(ema.values(), net.state_dict().values()):
            if p.dtype in (torch.half, torch.float):
                e.lerp_(p, 1 - decay)
                p.copy_(e)

    t0 = time.perf_counter()
    init_whitening(net[0], loader.norm[:5000])  # the source whitens the normalised, unflipped images
    spent += time.perf_counter() - t0
    steps = 0
    for epoch in range(ceil(epochs)):
        net[0].bias.requires_grad = epoch < HYP["whiten_bias_epochs"]
        t0 = time.perf_counter()
        net.train()
        for x, y in loader:
            out = net(x)
            loss = loss_fn(out, y).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            steps += 1
            if steps % 5 == 0:
                lookahead(alpha[steps].item())
            if steps >= total:
                lookahead(1.0)
                break
        spent += time.perf_counter() - t0
        train_acc = (out.detach().argmax(1) == y).float().mean().item()
        test_acc = evaluate(net, test_images, test[1], 0)
        print("seed %d epoch %d train_loss %.4f train_acc %.4f test_acc %.4f time_seconds %.1f" %
              (seed, epoch, loss.item() / batch, train_acc, test_acc, spent), flush=True)
        if epochs_out:
            append_csv(epochs_out, "seed,epoch,test_acc,time_seconds,wall_seconds",
                       "%d,%d,%.2f,%.2f,%.2f" % (seed, epoch, 100 * test_acc, spent, time.perf_counter() - t_wall))
    t0 = time.perf_counter()
    tta_acc = evaluate(net, test_images, test[1], HYP["tta_level"])
    spent += time.perf_counter() - t0
    wall = time.perf_counter() - t_wall
    print("seed %d tta_test_acc %.4f test_acc %.4f time_seconds %.1f wall_seconds %.1f steps %d" %
          (seed, tta_acc, test_acc, spent, wall, steps), flush=True)
    return tta_acc, test_acc, spent, wall


def append_csv(path, header, row):
    new = not os.path.exists(path)
    with open(path, "a") as f:
        if new:
            f.write(header + "\n")
        f.write(row + "\n")


def limit(data, n):
    return data if n is None else (data[0][:n], data[1][:n])


def main():
    ap = argparse.ArgumentParser(description="airbench94's recipe in PyTorch 1.13 on the CPU, fp32")
    ap.add_argument("--data", required=True, help="CIFAR-10 binary files")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0, help="the first run's seed (then seed+1, ...)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=float, default=HYP["epochs"], help="9.9 (a smaller value for a smoke run)")
    ap.add_argument("--out", help="a CSV to append one row per run to")
    ap.add_argument("--epochs-out", help="a CSV to append one row per epoch to (test accuracy, times)")
    ap.add_argument("--limit-train", type=int, help="the first N training images only")
    ap.add_argument("--limit-test", type=int, help="the first N test images only")
    ap.add_argument("--batch", type=int, default=HYP["batch"], help="1024 (smaller only to try scripts)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for k in ("limit_train", "limit_test"):
        if getattr(args, k) is not None and getattr(args, k) < 1:
            ap.error("--%s %d: expected a number of images >= 1" % (k.replace("_", "-"), getattr(args, k)))
    if args.batch < 1:
        ap.error("--batch %d: expected a batch size >= 1" % args.batch)
    HYP["batch"] = args.batch
    train, test = limit(read_cifar(args.data, True), args.limit_train), limit(read_cifar(args.data, False), args.limit_test)
    if len(train[0]) < HYP["batch"]:
        ap.error("--limit-train %d: fewer training images than one batch (%d)" % (len(train[0]), HYP["batch"]))
    print("# torch %s, %d threads, fp32, channels_last" % (torch.__version__, torch.get_num_threads()))
    for r in range(args.runs):
        tta, acc, spent, wall = run(train, test, args.seed + r, args.epochs, args.epochs_out)
        if args.out:
            append_csv(args.out, "seed,tta_test_acc,test_acc,time_seconds,wall_seconds,threads,torch",
                       "%d,%.4f,%.4f,%.1f,%.1f,%d,%s" % (args.seed + r, tta, acc, spent, wall,
                                                       torch.get_num_threads(), torch.__version__))
    return 0


if __name__ == "__main__":
    sys.exit(main())
