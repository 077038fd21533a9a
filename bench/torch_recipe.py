#!/usr/bin/python3
# bench/torch_recipe.py: a whole training run in PyTorch 1.13 on the real
# CIFAR-10 files, the reference that lrlab's accuracy claims are measured
# against (README, "ResNet-20 against PyTorch"). The seed's loop: its
# augmentation (RandomCrop(32, padding=4), RandomHorizontalFlip, Normalize
# with the seed's constants; bench/torch_seed_epoch.py's rewrite of
# torchvision 0.14), batch 128 with shuffle and drop_last, SGD with momentum
# and weight decay, cross-entropy, the lr stepped once per epoch, a test pass
# after every epoch in eval mode (net.train() again before the next epoch).
# The model is a module of tests/torch/models.py (resnet20, ...), in
# channels_last (PyTorch's faster layout here; same arithmetic).
#
#   bench/torch_recipe.py --data DIR --model resnet20 --epochs 30 --lr 0.1 \
#       --sched cosine --out metrics.csv
#
# Writes one CSV row per epoch (epoch,lr,train_loss,train_acc,test_loss,
# test_acc,seconds; lrlab's metrics.csv names), flushed as it goes, and after
# every epoch OUT.ckpt (model, optimiser, scheduler, torch's RNG state), from
# which the same command continues a stopped run (a long reference outlives a
# session; the continued run draws the same shuffles and crops). Beside the
# CSV, OUT's name with .log: the same epochs as console lines in the seed's
# format, which `lrlab plot` draws as a dashed comparison line (rewritten
# from the CSV after every epoch, and by running the finished command again).
import argparse
import os
import sys
import time

# libgomp's default spinning makes a 2-thread PyTorch crawl when other work
# holds the cores (BENCHMARKS.md, "how OpenMP threads wait": 45 images/s);
# lrlab's setting, read by libgomp when torch loads, changes no arithmetic.
os.environ.setdefault("GOMP_SPINCOUNT", "1000")
import torch  # noqa: E402
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "torch"))
from models import MODELS  # noqa: E402
from torch_seed_epoch import (CIFAR10, MEAN, STD, Compose, Normalize, RandomCrop,  # noqa: E402
                              RandomHorizontalFlip, ToTensor, Image)

SCHEDS = {
    "cosine": lambda opt, epochs: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs),
    "none": lambda opt, epochs: torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 1.0),
}


def run_pass(net, loader, criterion, optimizer=None):
    loss_sum, correct, total = 0.0, 0, 0
    for inputs, targets in loader:
        inputs = inputs.contiguous(memory_format=torch.channels_last)
        if optimizer:
            optimizer.zero_grad()
            outputs = net(inputs)
            loss = criterion(outputs, targets)
            loss.backward()
            optimizer.step()
        else:
            with torch.no_grad():
                outputs = net(inputs)
                loss = criterion(outputs, targets)
        loss_sum += loss.item() * targets.size(0)
        correct += outputs.max(1)[1].eq(targets).sum().item()
        total += targets.size(0)
    return loss_sum / total, 100.0 * correct / total


def write_seed_log(csv_path, n_train, n_test):
    """The CSV's epochs as the seed's console lines (what lrlab plot reads): OUT.log."""
    lines = []
    for row in open(csv_path):
        if not row[0].isdigit():
            continue
        e, lr, tl, ta, sl, sa, sec = row.strip().split(",")
        tc, sc = round(float(ta) * n_train / 100), round(float(sa) * n_test / 100)
        lines.append("epoch %s:[Train] Loss: %.3f | Acc: %.3f%% (%d/%d) %.1fs [Test] Loss: %.3f | Acc: %.3f%% "
                     "(%d/%d) lr=%.4f\n" % (e, float(tl), float(ta), tc, n_train, float(sec), float(sl), float(sa),
                                            sc, n_test, float(lr)))
    log = os.path.splitext(csv_path)[0] + ".log"
    with open(log + ".tmp", "w") as f:
        f.writelines(lines)
    os.replace(log + ".tmp", log)


def main():
    ap = argparse.ArgumentParser(description="a whole PyTorch training run, the accuracy reference")
    ap.add_argument("--data", required=True, help="CIFAR-10 binary files (data_batch_1.bin ... test_batch.bin)")
    ap.add_argument("--model", default="resnet20", choices=sorted(MODELS))
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--weight-decay", type=float, default=5e-4)
    ap.add_argument("--sched", default="cosine", choices=sorted(SCHEDS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit-train", type=int, default=0, help="the first N training images only (a smoke test)")
    ap.add_argument("--limit-test", type=int, default=0, help="the first N test images only")
    ap.add_argument("--out", required=True, help="the CSV to write")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    use_pil = Image is not None
    train_tf = Compose([RandomCrop(32, padding=4), RandomHorizontalFlip(), ToTensor(), Normalize(MEAN, STD)])
    test_tf = Compose([ToTensor(), Normalize(MEAN, STD)])
    train_data = CIFAR10(args.data, True, train_tf, use_pil)
    test_data = CIFAR10(args.data, False, test_tf, use_pil)
    if args.limit_train:
        train_data = torch.utils.data.Subset(train_data, range(args.limit_train))
    if args.limit_test:
        test_data = torch.utils.data.Subset(test_data, range(args.limit_test))
    train_loader = torch.utils.data.DataLoader(train_data, batch_size=128, shuffle=True, drop_last=True)
    test_loader = torch.utils.data.DataLoader(test_data, batch_size=128, shuffle=False)
    net = MODELS[args.model]().to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=args.momentum,
                                weight_decay=args.weight_decay)
    sched = SCHEDS[args.sched](optimizer, args.epochs)
    criterion = nn.CrossEntropyLoss()
    ckpt, start = args.out + ".ckpt", 0
    if os.path.exists(ckpt):
        state = torch.load(ckpt)
        net.load_state_dict(state["net"])
        optimizer.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["sched"])
        torch.set_rng_state(state["rng"])
        start = state["epoch"] + 1
        with open(args.out) as f:  # the rows of the epochs the checkpoint holds
            rows = [r for r in f if not r[0].isdigit() or int(r.split(",")[0]) < start]
        with open(args.out, "w") as f:
            f.writelines(rows)
    with open(args.out, "a" if start else "w") as f:
        if not start:
            f.write("# torch %s, %s, %d threads, seed %d, lr %g momentum %g weight_decay %g sched %s, transforms %s\n" %
                    (torch.__version__, args.model, torch.get_num_threads(), args.seed, args.lr, args.momentum,
                     args.weight_decay, args.sched, "pil" if use_pil else "numpy"))
            f.write("epoch,lr,train_loss,train_acc,test_loss,test_acc,seconds\n")
        for epoch in range(start, args.epochs):
            t0 = time.perf_counter()
            lr = optimizer.param_groups[0]["lr"]
            net.train()
            train_loss, train_acc = run_pass(net, train_loader, criterion, optimizer)
            net.eval()
            test_loss, test_acc = run_pass(net, test_loader, criterion)
            sched.step()
            f.write("%d,%.17g,%.6f,%.4f,%.6f,%.4f,%.1f\n" % (epoch, lr, train_loss, train_acc, test_loss, test_acc,
                                                            time.perf_counter() - t0))
            f.flush()
            torch.save({"net": net.state_dict(), "optimizer": optimizer.state_dict(), "sched": sched.state_dict(),
                        "rng": torch.get_rng_state(), "epoch": epoch}, ckpt + ".tmp")
            os.replace(ckpt + ".tmp", ckpt)
            write_seed_log(args.out, len(train_loader) * 128, len(test_data))
    write_seed_log(args.out, len(train_loader) * 128, len(test_data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
