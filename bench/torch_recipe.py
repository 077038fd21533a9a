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
# test_acc,seconds; lrlab's metrics.csv names), flushed as it goes.
import argparse
import os
import sys
import time

import torch
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
    ap.add_argument("--out", required=True, help="the CSV to write")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    use_pil = Image is not None
    train_tf = Compose([RandomCrop(32, padding=4), RandomHorizontalFlip(), ToTensor(), Normalize(MEAN, STD)])
    test_tf = Compose([ToTensor(), Normalize(MEAN, STD)])
    train_data = CIFAR10(args.data, True, train_tf, use_pil)
    test_data = CIFAR10(args.data, False, test_tf, use_pil)
    train_loader = torch.utils.data.DataLoader(train_data, batch_size=128, shuffle=True, drop_last=True)
    test_loader = torch.utils.data.DataLoader(test_data, batch_size=128, shuffle=False)
    net = MODELS[args.model]().to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=args.momentum,
                                weight_decay=args.weight_decay)
    sched = SCHEDS[args.sched](optimizer, args.epochs)
    criterion = nn.CrossEntropyLoss()
    with open(args.out, "w") as f:
        f.write("# torch %s, %s, %d threads, seed %d, lr %g momentum %g weight_decay %g sched %s, transforms %s\n" %
                (torch.__version__, args.model, torch.get_num_threads(), args.seed, args.lr, args.momentum,
                 args.weight_decay, args.sched, "pil" if use_pil else "numpy"))
        f.write("epoch,lr,train_loss,train_acc,test_loss,test_acc,seconds\n")
        for epoch in range(args.epochs):
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
