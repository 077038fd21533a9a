#!/usr/bin/python3
"""airbench_steps.py: the first steps of experiments/airbench94.sweep in
lrlab against the training loop of its source (KellerJordan/cifar10-airbench,
legacy/airbench94.py, main()) in PyTorch 1.13.

  airbench_steps.py LRLAB DATA WORK COMMAND_FILE

COMMAND_FILE holds the sweep's run as `lrlab sweep airbench94 --dry-run`
prints it (shell-quoted) for --limit-train N_TRAIN --batch BATCH --epochs
EPOCHS --max-steps STEPS (below: 64 images, batch 32, 6 epochs of 2 steps,
12 steps, so that {total_steps} is 12); its recipe flags (--whiten, --optim,
--param-group, --label-smoothing, --loss-reduction, --sched-unit, --sched,
--lookahead) train models/airbench94-net from the initial weights of
models.airbench94_net() (--init), on the first training images in file order
without augmentation (the data set's normalisation; a deterministic loader,
so both see the same batches). PyTorch runs the source's loop on the same
module, with the numbers derived as the source derives them (not read from
the file):
  - Nesterov SGD, momentum 0.85, lr = 11.5 / kilostep_scale, weight decay
    wd / lr; the BatchNorm biases (the parameters named `norm`) at lr x 64
    with weight decay wd / (64 lr);
  - conv 0's weight and the BatchNorm weights frozen (requires_grad False),
    conv 0's bias trained in epochs 0..2 only;
  - CrossEntropyLoss(label_smoothing=0.2, reduction='none').sum();
  - LambdaLR(get_lr) stepped after every optimiser step;
  - LookaheadState(model) made BEFORE the whitening init (the source's order),
    then conv 0's weight set to lrlab's whitening (taken from a run with lr 0,
    so that an eigenvector's sign cannot differ); update(decay) after every
    5th step with the source's float32 table 0.95**5 * (step / total)**3, and
    update(1.0) after the last step.
Compared with train_models.train_both's checks: every epoch's lr exactly,
losses, accuracies and gradient norms, each parameter's update (final -
initial) within 2e-3 of its largest value, running statistics within 2e-3,
frozen parameters not moved (the BatchNorm weights). Seen: largest
difference 9.2e-4 of a tensor. That is PyTorch's own float32 noise:
BatchNorm on 32 images with eps 1e-12 and the 64x lr of its biases make 12
steps amplify rounding that much; against a float64 twin of the PyTorch run
(train_both's twin64, left out for the suite's time: 5x the CPU) lrlab's
largest distance is 1.13e-3 (4.norm2.running_mean) and PyTorch float32's is
1.13e-3 there too. With the Lookahead copy taken after the whitening init
(lrlab before this check) the differences were 0.004..0.08.
Prints `airbench_steps: N passed, N failed`.
"""
import os
import shlex
import subprocess
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402
import train_models as tm  # noqa: E402

N_TRAIN, N_TEST, BATCH, EPOCHS = 64, 32, 32, 6
TOTAL = N_TRAIN // BATCH * EPOCHS
RECIPE_FLAGS = ("--whiten", "--optim", "--param-group", "--label-smoothing", "--loss-reduction", "--sched-unit",
                "--sched", "--lookahead")


def recipe_flags(command_file):
    """The recipe's flags of the sweep's run, in order (--param-group repeats)."""
    words = shlex.split(open(command_file).read())
    flags = []
    for i, w in enumerate(words[:-1]):
        if w in RECIPE_FLAGS:
            flags += [w, words[i + 1]]
    return flags


def lrlab_whitening(lrlab, data, work, flags):
    """conv 0's weight after lrlab's --whiten, from a run that does not move it (lr 0, no weight decay)."""
    whiten = flags[flags.index("--whiten") + 1]
    out = os.path.join(work, "whiten")
    run = subprocess.run([lrlab, "train", "--model", "airbench94-net", "--data", data, "--out", out, "--whiten", whiten,
                          "--limit-train", str(N_TRAIN), "--limit-test", str(N_TEST), "--batch", str(BATCH),
                          "--epochs", "1", "--lr", "0", "--weight-decay", "0", "--no-augment", "--no-shuffle",
                          "--conv-algo", "direct", "--threads", "2"], capture_output=True, text=True)
    if run.returncode:
        return None, "lrlab train --whiten: exit %d: %s" % (run.returncode, run.stderr.strip()[-300:])
    return models.read_safetensors(os.path.join(out, "model.safetensors"))["0.weight"][0], None


class Lookahead:
    """The source's LookaheadState: a copy of the state_dict; update(decay) lerps every float tensor of it
    towards the model's by 1 - decay and copies it back into the model."""

    def __init__(self, net):
        self.slow = {k: v.clone() for k, v in net.state_dict().items()}

    def update(self, net, decay):
        for slow, fast in zip(self.slow.values(), net.state_dict().values()):
            if fast.dtype in (torch.half, torch.float, torch.double):
                slow.lerp_(fast, 1 - decay)
                fast.copy_(slow)


MOMENTUM = 0.85


def source_numbers():
    """lr, weight decay and the BatchNorm biases' lr as the source derives them from its hyp['opt']"""
    kilostep_scale = 1024 * (1 + 1 / (1 - MOMENTUM))
    lr = 11.5 / kilostep_scale
    return lr, 0.0153 * 1024 / kilostep_scale, lr * 64.0


def source_lr(step, total):
    """the source's get_lr for a run of total steps"""
    warmup_steps = int(total * 0.23)
    warmdown_steps = total - warmup_steps
    if step < warmup_steps:
        frac = step / warmup_steps
        return 0.2 * (1 - frac) + 1.0 * frac
    frac = (step - warmup_steps) / warmdown_steps
    return 1.0 * (1 - frac) + 0.07 * frac


def source_recipe(flags, whitened):
    lr, wd, lr_biases = source_numbers()
    alpha_schedule = 0.95**5 * (torch.arange(TOTAL + 1) / TOTAL)**3  # float32, as the source's
    state = {}

    def make_opt(net):  # the source's two groups; lrlab's order: its --param-group lines, then the rest
        return torch.optim.SGD(tm.groups_of(net, [("@batchnorm.bias", dict(lr=lr_biases, weight_decay=wd / lr_biases)),
                                                  ("@batchnorm.weight|0.weight", {}), ("0.bias", {})]),
                               lr=lr, weight_decay=wd / lr, momentum=MOMENTUM, nesterov=True)

    def start(net):
        state["lookahead"] = Lookahead(net)  # before the whitening init, as the source
        with torch.no_grad():
            net[0].weight.copy_(whitened)

    def after_step(net, step):
        if step % 5 == 0:
            state["lookahead"].update(net, decay=alpha_schedule[step].item())
        if step == TOTAL:
            state["lookahead"].update(net, decay=1.0)

    def on_epoch(net, epoch):
        tm.freeze("@batchnorm.weight|0.weight")(net, epoch)
        tm.freeze("0.bias", start=3)(net, epoch)

    return tm.Recipe(flags=flags, make_opt=make_opt, sum=True,
                     loss=lambda o, y: F.cross_entropy(o, y, label_smoothing=0.2, reduction="sum"),
                     make_sched=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda step: source_lr(step, TOTAL)),
                     step_unit=True,
                     on_epoch=on_epoch, start=start, after_step=after_step)


def main():
    if len(sys.argv) != 5:
        print(__doc__)
        sys.exit(2)
    lrlab, data, work, command_file = sys.argv[1:]
    torch.set_num_threads(2)
    c = tm.Counter("airbench_steps")
    flags = recipe_flags(command_file)
    missing = [f for f in RECIPE_FLAGS if f not in flags]
    c.check(not missing, "%s: no %s" % (command_file, " ".join(missing)))
    whitened, why = lrlab_whitening(lrlab, data, work, flags) if "--whiten" in flags else (None, "no --whiten")
    c.check(whitened is not None, why)
    if missing or whitened is None:
        c.done("airbench_steps")
    print("lrlab train flags: %s" % " ".join(shlex.quote(f) for f in flags))
    torch.manual_seed(0)
    tm.train_both(c, lrlab, data, work, models.airbench94_net(), "airbench94-net", "dnnl", N_TRAIN, N_TEST, BATCH,
                  EPOCHS, source_recipe(flags, whitened))
    c.done("airbench_steps")


if __name__ == "__main__":
    main()
