#!/usr/bin/python3
# bench/torch_step.py: the PyTorch side of `lrlab bench`. Times the seed's
# training step (zero_grad, forward, cross-entropy, backward, SGD momentum 0.9
# weight decay 5e-4) and the forward pass alone, on synthetic tensors already
# in memory (no data loading, no augmentation), with PyTorch 1.13 on the CPU.
# Prints the same key=value lines as `lrlab bench`, so bench/run.sh reads both
# the same way:
#   train_step images_per_s=<n> ms_per_step=<n> best_ms=<n> gflops=<n>
#   forward images_per_s=<n> ms_per_batch=<n> gflops=<n>
#   peak_rss_mb=<n>
# GFLOP/s counts what lrlab counts: 2 FLOP per multiply-add of a direct
# convolution or linear layer, three passes per training step except for the
# first layer (no gradient with respect to the input image).
# It is not a test and checks no numbers; the seed's whole program with its
# data pipeline is bench/torch_seed_epoch.py.
import argparse
import os
import resource
import sys
import time

# How OpenMP threads wait: lrlab's (src/cli/main.c), so that both programs
# lose the same on a busy machine (BENCHMARKS.md "On a busy machine"), as
# the other torch scripts here do; --gomp-default keeps libgomp's own, and
# a GOMP_SPINCOUNT or OMP_WAIT_POLICY of the caller's is left alone.
# libgomp reads it when torch loads it, so before the import.
if "--gomp-default" not in sys.argv and "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "1000")

import torch
import torch.nn as nn
import torch.nn.functional as F


class VGG(nn.Module):
    """The seed's model, as the blog post writes it (but reshape for view)."""

    def __init__(self):
        super(VGG, self).__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, 1, 1, bias=False)
        self.conv2_1 = nn.Conv2d(32, 64, 3, 1, 1, bias=False)
        self.conv2_2 = nn.Conv2d(64, 64, 3, 1, 1, bias=False)
        self.conv3_1 = nn.Conv2d(64, 128, 3, 1, 1, bias=False)
        self.conv3_2 = nn.Conv2d(128, 128, 3, 1, 1, bias=False)
        self.conv3_3 = nn.Conv2d(128, 128, 3, 1, 1, bias=False)
        self.fc1 = nn.Linear(2048, 128, bias=False)
        self.fc2 = nn.Linear(128, 10, bias=False)

    def forward(self, x):
        out = F.relu(self.conv1(x))
        out = F.max_pool2d(out, 2)
        out = F.relu(self.conv2_1(out))
        out = F.relu(self.conv2_2(out))
        out = F.max_pool2d(out, 2)
        out = F.relu(self.conv3_1(out))
        out = F.relu(self.conv3_2(out))
        out = F.relu(self.conv3_3(out))
        out = F.max_pool2d(out, 2)
        out = out.reshape(out.size(0), -1)  # the seed's view; reshape also takes channels_last (a copy there)
        out = F.relu(self.fc1(out))
        out = self.fc2(out)
        return out


def make_model(name):
    """The seed's VGG, or a shipped model's module from tests/torch/."""
    if name == "vgg-seed":
        return VGG()
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "torch"))
    import models
    if name in models.MODELS:
        return models.MODELS[name]()
    sys.exit("torch_step.py: --model '%s': expected vgg-seed or one of %s" % (name, ", ".join(sorted(models.MODELS))))


def forward_macs(net):
    """Multiply-adds per image of each layer with weights, in order
    (weights x output pixels), found by running one image through."""
    macs = []

    def hook(mod, inp, out):
        pixels = out.shape[2] * out.shape[3] if out.dim() == 4 else 1
        macs.append(mod.weight.numel() * pixels)

    hooks = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        net(torch.zeros(1, 3, 32, 32))
    for h in hooks:
        h.remove()
    return macs


def positive_int(s):
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError("'%s' is not an integer" % s)
    if v < 1:
        raise argparse.ArgumentTypeError("'%s' must be at least 1" % s)
    return v


def main():
    ap = argparse.ArgumentParser(description="PyTorch training-step and forward images/s of a model")
    ap.add_argument("--model", default="vgg-seed", help="vgg-seed (the seed's VGG) or a module of tests/torch/models.py")
    ap.add_argument("--memory-format", choices=["nchw", "channels_last"], default="nchw",
                    help="the layout of the input and the weights (channels_last: torch.channels_last)")
    ap.add_argument("--threads", type=positive_int, default=None, help="intra-op threads (default: torch's)")
    ap.add_argument("--gomp-default", action="store_true",
                    help="libgomp's own wait policy, not lrlab's GOMP_SPINCOUNT=1000")
    ap.add_argument("--batch", type=positive_int, default=128)
    ap.add_argument("--iters", type=positive_int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    args = ap.parse_args()
    if args.warmup < 0:
        ap.error("--warmup: '%d' must be 0 or more" % args.warmup)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    net = make_model(args.model)
    macs = forward_macs(net)
    fwd_flop = 2.0 * sum(macs)
    step_flop = 2.0 * (2 * macs[0] + 3 * sum(macs[1:]))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    criterion = nn.CrossEntropyLoss()
    x = torch.rand(args.batch, 3, 32, 32) * 2 - 1
    y = torch.randint(0, 10, (args.batch,))
    if args.memory_format == "channels_last":
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)

    net.train()
    times = []
    for it in range(args.warmup + args.iters):
        t0 = time.perf_counter()
        optimizer.zero_grad()
        outputs = net(x)
        loss = criterion(outputs, y)
        loss.backward()
        optimizer.step()
        loss.item()  # the seed reads the loss every step
        if it >= args.warmup:
            times.append(time.perf_counter() - t0)
    step = sum(times) / len(times)

    net.eval()
    ftimes = []
    with torch.no_grad():
        for it in range(args.warmup + args.iters):
            t0 = time.perf_counter()
            net(x)
            if it >= args.warmup:
                ftimes.append(time.perf_counter() - t0)
    fwd = sum(ftimes) / len(ftimes)

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    print("# torch_step: model %s, torch %s, batch %d, %d threads, memory format %s, mkldnn %s, "
          "GOMP_SPINCOUNT=%s" % (args.model, torch.__version__, args.batch, torch.get_num_threads(),
                                 args.memory_format, torch.backends.mkldnn.is_available(),
                                 os.environ.get("GOMP_SPINCOUNT", "(unset)")))
    print("train_step images_per_s=%.1f ms_per_step=%.2f best_ms=%.2f gflops=%.1f" %
          (args.batch / step, step * 1e3, min(times) * 1e3, step_flop * args.batch / step / 1e9))
    print("forward images_per_s=%.1f ms_per_batch=%.2f gflops=%.1f" %
          (args.batch / fwd, fwd * 1e3, fwd_flop * args.batch / fwd / 1e9))
    print("peak_rss_mb=%.1f" % peak)
    return 0


if __name__ == "__main__":
    sys.exit(main())
