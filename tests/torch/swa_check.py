#!/usr/bin/python3
"""swa_check.py: lrlab's SWA model against torch.optim.swa_utils.update_bn.

  swa_check.py RUN_DIR DATA_DIR MODEL N_TRAIN BATCH

RUN_DIR is a finished `lrlab train --model MODEL --swa-start E --no-augment
--no-shuffle --limit-train N_TRAIN --batch BATCH` run. Its
model_swa.safetensors holds SWA's averaged weights and the BatchNorm
statistics lrlab's update_bn computed over the training images in file
order. Here the same weights go into PyTorch's module (tests/torch/models.py)
and torch.optim.swa_utils.update_bn runs over the same images in the same
batches: the running means and variances must agree to float rounding
(relative 2e-4 of each tensor's largest value: the forward passes through
the network sum in another order, as in models.py), num_batches_tracked
exactly, and the file must load with load_state_dict(strict=True).
Prints `swa_check: N passed, N failed`.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402  (the shipped models' modules, the safetensors reader)
import train_models  # noqa: E402  (load_split: the images as lrlab normalises them; Counter)


def main():
    run, data, model, n_train, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    c = train_models.Counter("swa_check")
    lrlab = models.read_safetensors(os.path.join(run, "model_swa.safetensors"))
    net = models.MODELS[model]()
    try:
        net.load_state_dict({k: t for k, (t, _) in lrlab.items()}, strict=True)
        c.check(True, "")
    except RuntimeError as e:
        c.check(False, "load_state_dict(strict=True): %s" % e)
        c.done("swa_check")
    files = [os.path.join(data, "data_batch_%d.bin" % i) for i in range(1, 6)]
    x, _ = train_models.load_split([f for f in files if os.path.exists(f)], n_train)
    loader = [(x[i:i + batch],) for i in range(0, n_train - batch + 1, batch)]  # drop_last, as lrlab's loader
    torch.optim.swa_utils.update_bn(loader, net)
    for name, t in net.state_dict().items():
        mine = lrlab[name][0]
        if name.endswith("num_batches_tracked"):
            c.check(int(mine) == int(t), "%s: lrlab %d, update_bn %d" % (name, int(mine), int(t)))
        elif "running_" in name:
            err = (mine - t).abs().max().item() / max(t.abs().max().item(), 1e-30)
            c.check(err <= 2e-4, "%s: relative difference %.3g from update_bn's" % (name, err))
    c.done("swa_check")


if __name__ == "__main__":
    main()
