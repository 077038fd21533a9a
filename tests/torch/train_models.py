#!/usr/bin/python3
"""train_models.py: lrlab's graph models trained against PyTorch's.

  train_models.py graphs LRLAB TEST_MODEL DATA WORK SEED COUNT
  train_models.py dropout TEST_MODEL WORK
  train_models.py recipes LRLAB DATA WORK
  train_models.py shipped LRLAB DATA WORK MODEL EPOCHS [ref|dnnl]

graphs: COUNT random graphs not shipped (residual adds, option-A and 1x1
projection shortcuts, strided, 1x1 and even-kernel `same` convolutions,
biases, BatchNorm with random eps/momentum/affine, relu/gelu, max and
average pooling with padding, global average pooling, scale, two linear
layers), each written as a description and built as a PyTorch module by
this script: one training-mode step compared through both executors
(models.compare), then trained by `lrlab train --init` (the module's
weights and buffers, num_batches_tracked I64) through oneDNN and by the
same loop in PyTorch 1.13: the first training images in file order, no
augmentation, no shuffling, SGD lr 0.02, momentum 0.9, weight decay 5e-4,
three epochs; training steps in train mode, the test pass in eval mode.
Compared: every epoch's lr, train and test loss and accuracy, the final
weights and the running statistics (num_batches_tracked exactly).

recipes: a small fixed graph (conv biases, BatchNorm, a linear bias)
trained as `graphs` trains, with label smoothing, reduction='sum',
clip_grad_norm_ (2-norm and inf-norm) and clip_grad_value_, SGD and AdamW
(RECIPES); metrics.csv's grad_norm (the epoch's mean of the norms before
clipping) is compared too, within 1e-3.

shipped: a shipped model (models.MODELS) trained as `graphs` trains, 256
images, batch 32, EPOCHS epochs, against its PyTorch module run in float64
and in float32 three ways (FP32_RUNS: NCHW with 2 threads and with 1,
channels_last); lrlab's distance from the float64 run must be within K_TWIN
times the largest of the float32 runs' distances (docs/models.md).

dropout: lrlab's dropout against PyTorch's: in training mode every output
is 0 or x * (1/(1-p) in float), as torch.nn.functional.dropout's, about p of
them 0, and the gradient passes through the same mask; in eval mode the
identity.

Tolerances (docs/models.md, "Agreement with PyTorch"): one step agrees to
float rounding (models.py). Training then repeats the step: a difference of
r (relative) in the weights after a step gives at most about r * (1 + lr *
|curvature|) after the next, and BatchNorm divides by a batch statistic, so
over the tens of steps here rounding (1e-7..1e-6 per step) grows to 1e-5..1e-4
of the update. Checked: each tensor's update (final - initial) within 2e-3
of its largest value, running means and variances within 2e-3 of their
largest, losses within 1e-3 (relative), accuracies within 1 image of the
split (a logit pair closer than the drift may flip), lr exactly.
Prints `NAME: N passed, N failed`.
"""
import copy
import fnmatch
import os
import random
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402  (the shipped models' modules, the safetensors helpers, the one-step check)

MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2023, 0.1994, 0.2010)
LR, MOMENTUM, WD = 0.02, 0.9, 5e-4
K_TWIN = 4.0  # lrlab may be this many times as far from float64 as the farthest PyTorch float32 run is
# The PyTorch float32 runs of `shipped` (torch_train's keywords): each is as legitimate a float32
# computation as another, and on a chaotic problem each lands elsewhere (docs/models.md)
FP32_RUNS = (("NCHW, 2 threads", {}), ("NCHW, 1 thread", dict(threads=1)),
             ("channels_last, 2 threads", dict(channels_last=True)))


class Counter:
    def __init__(self, label):
        self.label, self.passed, self.failed = label, 0, 0

    def check(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL %s: %s" % (self.label, what))

    def done(self, name):
        print("%s: %d passed, %d failed" % (name, self.passed, self.failed))
        sys.exit(1 if self.failed else 0)


def load_split(files, limit):
    labels, images = [], []
    for fn in files:
        raw = np.fromfile(fn, dtype=np.uint8).reshape(-1, 3073)
        labels.append(raw[:, 0].astype(np.int64))
        images.append(raw[:, 1:].reshape(-1, 3, 32, 32))
    x = torch.from_numpy(np.concatenate(images)[:limit].copy()).float().div(255)
    x = (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    return x, torch.from_numpy(np.concatenate(labels)[:limit].copy())


class Recipe:
    """How both programs train: lrlab's flags for the optimiser and the loss,
    and the same in PyTorch (make_opt(net), the loss of a batch, what runs
    between backward() and step(), sum: reduction='sum'). The default is
    SGD(lr=LR, momentum=MOMENTUM, weight_decay=WD) on the mean cross-entropy."""

    def __init__(self, flags=None, make_opt=None, loss=None, before_step=None, sum=False, make_sched=None,
                 step_unit=False, on_epoch=None, start=None, after_step=None):
        self.flags = flags if flags is not None else ["--lr", str(LR), "--momentum", str(MOMENTUM), "--weight-decay", str(WD)]
        self.make_opt = make_opt or (lambda net: torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WD))
        self.loss = loss or (lambda o, y: F.cross_entropy(o, y, reduction="sum" if sum else "mean"))
        self.before_step = before_step or (lambda net: None)
        self.sum = sum
        self.make_sched = make_sched  # (opt) -> a scheduler stepped after each epoch, or each step with step_unit
        self.step_unit = step_unit
        self.on_epoch = on_epoch or (lambda net, epoch: None)  # before each epoch: freezing
        self.start = start or (lambda net: None)  # after the optimiser is made: copies of the model, data-dependent init
        self.after_step = after_step or (lambda net, step: None)  # after step (the run's count) and its schedule step


def grad_norm(net, norm_type):
    """clip_grad_norm_'s total norm, without clipping"""
    return torch.nn.utils.clip_grad_norm_(net.parameters(), float("inf"), norm_type).item()


def torch_train(net, recipe, norm_type, xtr, ytr, xte, yte, batch, epochs, threads=2, channels_last=False):
    """The loop lrlab runs with --no-augment --no-shuffle: per-epoch (lr, train loss, train acc, test loss,
    test acc, mean grad norm) and the final state_dict. In net's dtype (float32, or float64 for the
    reference twin), with THREADS threads, in NCHW or channels_last."""
    torch.set_num_threads(threads)
    dt = next(net.parameters()).dtype
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    net.to(memory_format=fmt)
    xtr, xte = xtr.to(dt).contiguous(memory_format=fmt), xte.to(dt).contiguous(memory_format=fmt)
    opt = recipe.make_opt(net)
    sched = recipe.make_sched(opt) if recipe.make_sched else None
    recipe.start(net)
    rows, steps, done = [], len(ytr) // batch, 0  # drop_last
    for epoch in range(epochs):
        net.train()
        tl, tc, gn = 0.0, 0, 0.0
        recipe.on_epoch(net, epoch)
        lr_used = opt.param_groups[-1]["lr"]  # lrlab logs the default group's, the last
        for b in range(steps):
            xb, yb = xtr[b * batch:(b + 1) * batch], ytr[b * batch:(b + 1) * batch]
            opt.zero_grad(set_to_none=True)  # a frozen parameter (requires_grad=False) then has no gradient
            o = net(xb)
            loss = recipe.loss(o, yb)
            loss.backward()
            gn += grad_norm(net, norm_type)
            recipe.before_step(net)
            opt.step()
            if sched and recipe.step_unit:
                sched.step()
            done += 1
            recipe.after_step(net, done)
            tl += loss.item() / (batch if recipe.sum else 1)  # lrlab logs the per-image mean
            tc += (o.argmax(1) == yb).sum().item()
        net.eval()
        with torch.no_grad():
            o = net(xte)
            test_loss = F.cross_entropy(o, yte, reduction="sum").item() / len(yte)
            test_acc = 100.0 * (o.argmax(1) == yte).sum().item() / len(yte)
        if sched and not recipe.step_unit:
            sched.step()
        rows.append((lr_used, tl / steps, 100.0 * tc / (steps * batch), test_loss, test_acc, gn / steps))
    return rows, {k: v.detach().clone() for k, v in net.state_dict().items()}


def train_both(c, lrlab, data, work, net, model, backend, n_train, n_test, batch, epochs, recipe=None, norm_type=2.0,
               twin64=False):
    """Trains net in PyTorch and MODEL in lrlab from net's weights with recipe
    (Recipe()); checks (Counter c), also metrics.csv's grad_norm (the epoch's
    mean norm before clipping, of norm_type). twin64: the reference is a
    float64 copy of net, and each tolerance is K_TWIN times the largest
    distance from it of PyTorch's float32 runs (FP32_RUNS; the fixed
    tolerances as a floor); see the module's doc."""
    recipe = recipe or Recipe()
    init_state = {k: v.clone() for k, v in net.state_dict().items()}
    init = os.path.join(work, "init.safetensors")
    models.write_safetensors(init, init_state, int64=True)
    out = tempfile.mkdtemp(prefix="run-", dir=work)
    cmd = [lrlab, "train", "--model", model, "--data", data, "--out", out, "--init", init, "--backend", backend,
           "--limit-train", str(n_train), "--limit-test", str(n_test), "--batch", str(batch), "--epochs", str(epochs),
           "--no-augment", "--no-shuffle", "--conv-algo", "direct", "--threads", "2"] + recipe.flags
    run = subprocess.run(cmd, capture_output=True, text=True)
    c.check(run.returncode == 0, "lrlab train: exit %d: %s" % (run.returncode, run.stderr.strip()[-300:]))
    if run.returncode:
        return
    xtr, ytr = load_split([os.path.join(data, "data_batch_%d.bin" % i) for i in range(1, 6)], n_train)
    xte, yte = load_split([os.path.join(data, "test_batch.bin")], n_test)
    fresh = copy.deepcopy(net)
    rows32, want32 = torch_train(net, recipe, norm_type, xtr, ytr, xte, yte, batch, epochs)
    rows, want, runs32 = rows32, want32, [(rows32, want32)]
    if twin64:
        for _, kw in FP32_RUNS[1:]:
            runs32.append(torch_train(copy.deepcopy(fresh), recipe, norm_type, xtr, ytr, xte, yte, batch, epochs, **kw))
        rows, want = torch_train(copy.deepcopy(fresh).double(), recipe, norm_type, xtr, ytr, xte, yte, batch, epochs)
    k = K_TWIN if twin64 else 0.0

    got = {n: t for n, (t, _) in models.read_safetensors(os.path.join(out, "model.safetensors")).items()}
    params = dict(net.named_parameters())
    worst = 0.0
    for name, w in want.items():
        if name not in got:
            c.check(False, "%s missing from lrlab's model.safetensors" % name)
            continue
        if name.endswith("num_batches_tracked"):
            c.check(int(got[name]) == int(w), "%s: %d, PyTorch %d" % (name, int(got[name]), int(w)))
            continue
        # parameters: what training changed (final - initial); running statistics: the values
        base = init_state[name].double() if name in params else 0.0
        g, w = got[name].double() - base, w.double() - base
        scale = w.abs().max().item()
        err = (g - w).abs().max().item() / max(scale, 1e-30)
        spread = max((s32[name].double() - base - w).abs().max().item() for _, s32 in runs32)
        tol = max(2e-3, k * spread / max(scale, 1e-30))
        worst = max(worst, err)
        if scale == 0 and name in params:  # frozen (a parameter group): lrlab's must not move either
            c.check(g.abs().max().item() == 0, "%s: frozen in PyTorch, moved by %.3g in lrlab" % (name, g.abs().max().item()))
            continue
        c.check(scale > 0 and err <= tol, "%s: largest difference %.3g of %s %.3g (tolerance %.3g)" % (
            name, err, "the update" if name in params else "the value", scale, tol))
    print("%s %s: largest difference of a tensor (update or running statistic), relative: %.3g" % (model, backend, worst))
    lines = [line for line in open(os.path.join(out, "metrics.csv")).read().split("\n")[1:] if line]
    c.check(len(lines) == epochs, "metrics.csv has %d epochs, expected %d" % (len(lines), epochs))
    for epoch, line in enumerate(lines[:epochs]):
        f = line.split(",")
        got_row = (float(f[1]), float(f[3]), float(f[4]), float(f[5]), float(f[6]), float(f[11]))
        w = rows[epoch]
        c.check(got_row[0] == w[0], "epoch %d lr %r vs %r" % (epoch, got_row[0], w[0]))
        for i, what, tol in ((1, "train loss", 1e-3 * abs(w[1]) + 1e-6), (3, "test loss", 1e-3 * abs(w[3]) + 1e-6),
                             (2, "train acc", 100.0 / n_train + 1e-9), (4, "test acc", 100.0 / n_test + 1e-9),
                             (5, "grad_norm", 1e-3 * abs(w[5]))):
            spread = max(abs(r32[epoch][i] - w[i]) for r32, _ in runs32)
            tol = max(tol, k * spread + (tol if i in (2, 4) else 0))
            c.check(abs(got_row[i] - w[i]) <= tol, "epoch %d %s %r vs PyTorch %r (tolerance %.3g)" % (
                epoch, what, got_row[i], w[i], tol))
        print("epoch %d: lrlab train %.6f/%.2f%% test %.6f/%.2f%% grad_norm %.6g | torch train %.6f/%.2f%% test "
              "%.6f/%.2f%% grad_norm %.6g" % (epoch, got_row[1], got_row[2], got_row[3], got_row[4], got_row[5], w[1],
                                               w[2], w[3], w[4], w[5]))
        for (what, _), (r32, _) in zip(FP32_RUNS if twin64 else (), runs32):
            print("         torch float32 %s: train %.6f/%.2f%% test %.6f/%.2f%% grad_norm %.6g" % ((what,) + tuple(r32[epoch][1:])))


def cmd_shipped(lrlab, data, work, name, epochs, backend="dnnl"):
    """A shipped model trained EPOCHS epochs against its PyTorch module's float64 twin."""
    torch.set_num_threads(2)
    torch.manual_seed(0)
    c = Counter("shipped_" + name)
    train_both(c, lrlab, data, work, models.MODELS[name](), name, backend, 256, 128, 32, epochs, twin64=True)
    c.done("shipped_" + name)


# ---- random graphs ----

class Graph(nn.Module):
    """A module that runs a list of ops: (kind, name, inputs, args); every
    op's output is kept by index; modules with tensors are attributes named
    as lrlab's layers, so the state_dicts have the same names."""

    def __init__(self, ops):
        super().__init__()
        self.ops = ops
        for kind, name, _, a in ops:
            if kind == "conv":
                self.add_module(name, nn.Conv2d(a["in_c"], a["out"], a["k"], a["stride"],
                                                "same" if a["pad"] == "same" else a["pad"], bias=a["bias"]))
            elif kind == "batchnorm":
                self.add_module(name, nn.BatchNorm2d(a["c"], eps=a["eps"], momentum=a["momentum"], affine=a["affine"]))
            elif kind == "linear":
                self.add_module(name, nn.Linear(a["in_f"], a["out"], bias=a["bias"]))

    def forward(self, x):
        outs = []
        for kind, name, ins, a in self.ops:
            v = [x if i < 0 else outs[i] for i in ins]
            if kind in ("conv", "batchnorm", "linear"):
                y = getattr(self, name)(v[0])
            elif kind == "relu":
                y = F.relu(v[0])
            elif kind == "gelu":
                y = F.gelu(v[0])
            elif kind == "maxpool":
                y = F.max_pool2d(v[0], a["k"], a["stride"], a["pad"])
            elif kind == "avgpool":
                y = F.avg_pool2d(v[0], a["k"], a["stride"], a["pad"])
            elif kind == "global_avgpool":
                y = F.adaptive_avg_pool2d(v[0], 1)
            elif kind == "flatten":
                y = v[0].view(v[0].size(0), -1)
            elif kind == "add":
                y = v[0] + v[1]
            elif kind == "scale":
                y = v[0] * a["c"]
            elif kind == "shortcut":  # option A
                pad = (a["out"] - v[0].size(1)) // 2
                y = F.pad(v[0][:, :, ::a["stride"], ::a["stride"]], (0, 0, 0, 0, pad, pad), "constant", 0)
            outs.append(y)
        return outs[-1]


class Builder:
    """Writes a description and the op list of the same graph."""

    def __init__(self, rng):
        self.rng, self.lines, self.ops, self.shapes = rng, ["input 3 32 32"], [], []

    def shape(self, i):
        return (3, 32, 32) if i < 0 else self.shapes[i]

    def last(self):
        return len(self.ops) - 1

    def op(self, kind, ins, args, line, shape, tensors=False):
        i = len(self.ops)
        name = "%s%d" % (kind[:2], i) if tensors else "L%d" % i
        ins = [self.last()] if ins is None else ins
        ref = ",".join("input" if j < 0 else self.ops[j][1] for j in ins)
        line = line.replace("NAME ", name + " " if tensors else "")
        self.lines.append("%s in=%s%s" % (line, ref, "" if tensors else " name=" + name))
        self.ops.append((kind, name, ins, args))
        self.shapes.append(shape)
        return i

    def conv(self, out, k=3, stride=1, pad=None, src=None):
        c, h, w = self.shape(self.last() if src is None else src)
        bias = self.rng.random() < 0.5
        pad = (k - 1) // 2 if pad is None else pad
        p0, p1 = ((k - 1) // 2, k - 1 - (k - 1) // 2) if pad == "same" else (pad, pad)
        return self.op("conv", None if src is None else [src],
                       {"in_c": c, "out": out, "k": k, "stride": stride, "pad": pad, "bias": bias},
                       "conv NAME %d k=%d stride=%d pad=%s bias=%d" % (out, k, stride, pad, bias),
                       (out, (h + p0 + p1 - k) // stride + 1, (w + p0 + p1 - k) // stride + 1), True)

    def bn(self):
        c, h, w = self.shape(self.last())
        eps, mom, affine = self.rng.choice([1e-5, 1e-3, 1e-12]), self.rng.choice([0.1, 0.4, 0.9]), self.rng.random() < 0.8
        return self.op("batchnorm", None, {"c": c, "eps": eps, "momentum": mom, "affine": affine},
                       "batchnorm NAME eps=%r momentum=%r affine=%d" % (eps, mom, affine), (c, h, w), True)

    def act(self):
        kind = self.rng.choice(["relu", "gelu"])
        return self.op(kind, None, {}, kind, self.shape(self.last()))

    def pool(self):
        c, h, w = self.shape(self.last())
        kind, k = self.rng.choice(["maxpool", "avgpool"]), self.rng.choice([2, 3])
        stride, pad = self.rng.choice([1, 2]), self.rng.choice([0, 1])
        return self.op(kind, None, {"k": k, "stride": stride, "pad": pad}, "%s %d stride=%d pad=%d" % (kind, k, stride, pad),
                       (c, (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1))

    def add(self, a, b):
        return self.op("add", [a, b], {}, "add", self.shape(a))

    def block(self):
        """One random stage: a residual block, a subsampling block (a 1x1
        projection or option A), an even-kernel `same` conv, or a pooling."""
        x = self.last()
        c, h, w = self.shape(x)
        kind = self.rng.choice(["residual", "project", "option_a", "same", "pool"] if h >= 8 else ["residual", "same"])
        if kind == "residual":
            self.conv(c, k=self.rng.choice([1, 3]))
            self.bn()
            self.act()
            self.conv(c)
            self.add(x, self.last())
            self.act()
        elif kind in ("project", "option_a"):
            out = c + 2 * self.rng.choice([1, 2])
            self.conv(out, stride=2)
            self.bn()
            main = self.act()
            if kind == "project":
                self.conv(out, k=1, stride=2, src=x)
            else:
                self.op("shortcut", [x], {"out": out, "stride": 2}, "shortcut %d stride=2" % out, (out, (h + 1) // 2, (w + 1) // 2))
            self.add(main, self.last())
        elif kind == "same":
            self.conv(c, k=self.rng.choice([2, 4]), pad="same")
            self.act()
        else:
            self.pool()
        if self.rng.random() < 0.3:
            s = self.rng.choice([0.5, 1.5, 1 / 3])
            self.op("scale", None, {"c": s}, "scale %r" % s, self.shape(self.last()))

    def head(self, classes=10):
        c, h, w = self.shape(self.last())
        if self.rng.random() < 0.5:
            self.op("global_avgpool", None, {}, "global_avgpool", (c, 1, 1))
        elif h >= 2:
            k = h // 2
            self.op("avgpool", None, {"k": k, "stride": k, "pad": 0}, "avgpool %d" % k, (c, h // k, w // k))
        c, h, w = self.shape(self.last())
        self.op("flatten", None, {}, "flatten", (c * h * w, 1, 1))
        if self.rng.random() < 0.5:
            bias = self.rng.random() < 0.5
            self.op("linear", None, {"in_f": c * h * w, "out": 16, "bias": bias}, "linear NAME 16 bias=%d" % bias, (16, 1, 1), True)
            self.act()
        f = self.shape(self.last())[0]
        bias = self.rng.random() < 0.5
        self.op("linear", None, {"in_f": f, "out": classes, "bias": bias}, "linear NAME %d bias=%d" % (classes, bias),
                (classes, 1, 1), True)


def random_graph(seed):
    b = Builder(random.Random(seed))
    b.conv(b.rng.choice([4, 6, 8]), k=b.rng.choice([3, 5]), stride=b.rng.choice([1, 2]))
    b.bn()
    b.act()
    for _ in range(b.rng.randint(2, 4)):
        b.block()
    b.head()
    return "\n".join(b.lines) + "\n", b.ops


def cmd_graphs(lrlab, test_model, data, work, seed, count):
    torch.set_num_threads(2)
    c = Counter("graphs")
    for g in range(count):
        text, ops = random_graph(seed + g)
        path = os.path.join(work, "graph%d.model" % g)
        open(path, "w").write(text)
        print("graph %d (seed %d):\n%s" % (g, seed + g, text))
        for backend in ("ref", "dnnl"):
            torch.manual_seed(seed + g)
            p, f = models.compare(test_model, Graph(ops), path, work, backend, "graph %d" % g)
            c.passed, c.failed = c.passed + p, c.failed + f
        torch.manual_seed(seed + g)
        c.label = "graph %d training" % g
        train_both(c, lrlab, data, work, Graph(ops), path, "dnnl", 128, 64, 16, 3)
    c.done("graphs")


# ---- recipes: the loss and the gradient's way to the optimiser ----

def recipe_net():
    """A small fixed graph with a conv bias (not before a BatchNorm, which
    would leave it a gradient of rounding noise), BatchNorm and a linear
    bias: co0 (8, bias), relu, co2 (16, stride 2, no bias), ba3 (momentum=None:
    the cumulative average), relu, global average pooling, li7 (10, bias)."""
    b = Builder(random.Random(0))
    b.op("conv", None, {"in_c": 3, "out": 8, "k": 3, "stride": 2, "pad": 1, "bias": True},
         "conv NAME 8 k=3 stride=2 pad=1 bias=1", (8, 16, 16), True)
    b.op("relu", None, {}, "relu", (8, 16, 16))
    b.op("conv", None, {"in_c": 8, "out": 16, "k": 3, "stride": 2, "pad": 1, "bias": False},
         "conv NAME 16 k=3 stride=2 pad=1 bias=0", (16, 8, 8), True)
    b.op("batchnorm", None, {"c": 16, "eps": 1e-5, "momentum": None, "affine": True},
         "batchnorm NAME eps=1e-05 momentum=None", (16, 8, 8), True)
    b.op("relu", None, {}, "relu", (16, 8, 8))
    b.op("global_avgpool", None, {}, "global_avgpool", (16, 1, 1))
    b.op("flatten", None, {}, "flatten", (16, 1, 1))
    b.op("linear", None, {"in_f": 16, "out": 10, "bias": True}, "linear NAME 10 bias=1", (10, 1, 1), True)
    return "\n".join(b.lines) + "\n", b.ops


def clip_norm(max_norm, norm_type=2.0):
    return lambda net: torch.nn.utils.clip_grad_norm_(net.parameters(), max_norm, norm_type)


def clip_value(v):
    return lambda net: torch.nn.utils.clip_grad_value_(net.parameters(), v)


def adamw(net):
    return torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=0.05)


# (name, Recipe, norm type of the logged norm): the clippings act on most steps (the mean norms,
# printed, are about 0.85..1.25 in 2-norm, 24 in 2-norm with reduction='sum', 0.16 in inf-norm)
RECIPES = [
    ("label smoothing 0.1, clip_grad_norm_ 0.5",
     Recipe(flags=["--lr", str(LR), "--momentum", str(MOMENTUM), "--weight-decay", str(WD), "--label-smoothing", "0.1",
                   "--clip-grad-norm", "0.5"],
            loss=lambda o, y: F.cross_entropy(o, y, label_smoothing=0.1), before_step=clip_norm(0.5)), 2.0),
    ("reduction sum, clip_grad_value_ 0.02",
     Recipe(flags=["--lr", str(LR / 16), "--momentum", str(MOMENTUM), "--weight-decay", str(WD), "--loss-reduction", "sum",
                   "--clip-grad-value", "0.02"],
            make_opt=lambda net: torch.optim.SGD(net.parameters(), lr=LR / 16, momentum=MOMENTUM, weight_decay=WD),
            before_step=clip_value(0.02), sum=True), 2.0),
    ("AdamW, label smoothing 0.2, clip_grad_norm_ 0.1 of the inf-norm",
     Recipe(flags=["--optim", "AdamW(lr=3e-3, weight_decay=0.05)", "--label-smoothing", "0.2", "--clip-grad-norm", "0.1",
                   "--clip-norm-type", "inf"],
            make_opt=adamw, loss=lambda o, y: F.cross_entropy(o, y, label_smoothing=0.2),
            before_step=clip_norm(0.1, float("inf"))), float("inf")),
]


def select(net, selector):
    """lrlab's --param-group selector (docs/optimisers.md) over net's named parameters"""
    kinds = {"conv": nn.Conv2d, "linear": nn.Linear, "batchnorm": nn.BatchNorm2d}
    modules = dict(net.named_modules())
    out = []
    for name, p in net.named_parameters():
        mod, role = modules[name.rsplit(".", 1)[0]], name.rsplit(".", 1)[1]
        for term in (t.strip() for t in selector.split("|")):
            if term.startswith("@"):
                kind, _, want = term[1:].partition(".")
                ok = role == kind if kind in ("weight", "bias") else isinstance(mod, kinds[kind])
                if ok and (not want or want == role):
                    out.append(name)
                    break
            elif fnmatch.fnmatchcase(name, term):
                out.append(name)
                break
    return out


def groups_of(net, selectors):
    """PyTorch's param groups in lrlab's order: each selector's parameters not taken by an earlier one (with
    its options), then the rest"""
    params, taken, groups = dict(net.named_parameters()), set(), []
    for sel, opts in selectors:
        names = [n for n in select(net, sel) if n not in taken]
        taken.update(names)
        groups.append(dict(params=[params[n] for n in names], **opts))
    groups.append(dict(params=[p for n, p in params.items() if n not in taken]))
    return groups


def freeze(selector, until=None, start=None):
    """requires_grad=False on the selected parameters: always, for epochs < until, or from epoch start on"""
    def on_epoch(net, epoch):
        names = set(select(net, selector))
        frozen = (until is None or epoch < until) and (start is None or epoch >= start)
        for n, p in net.named_parameters():
            if n in names:
                p.requires_grad_(not frozen)
    return on_epoch


SGD_FLAGS = ["--lr", str(LR), "--momentum", str(MOMENTUM), "--weight-decay", str(WD)]
GROUP_RECIPES = [
    ("SGD groups: no decay on biases and BatchNorm, a frozen conv weight, the linear layer's own lr, StepLR",
     Recipe(flags=SGD_FLAGS + ["--param-group", "co2.weight: frozen", "--param-group", "@bias|@batchnorm: weight_decay=0",
                               "--param-group", "li7.*: lr=0.05", "--sched", "StepLR(step_size=1, gamma=0.5)"],
            make_opt=lambda net: torch.optim.SGD(groups_of(net, [("co2.weight", {}), ("@bias|@batchnorm", dict(weight_decay=0)),
                                                                 ("li7.*", dict(lr=0.05))]),
                                                 lr=LR, momentum=MOMENTUM, weight_decay=WD),
            make_sched=lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5),
            on_epoch=freeze("co2.weight")), 2.0),
    ("AdamW groups: no decay on biases and BatchNorm (lr x 4, own betas), the first conv's weight frozen from epoch 1 "
     "on, OneCycleLR with a max_lr per group cycling beta1, clip_grad_norm_ 0.5",
     Recipe(flags=["--optim", "AdamW(lr=1e-3, weight_decay=0.05)", "--clip-grad-norm", "0.5",
                   "--param-group", "@bias | @batchnorm.weight: weight_decay=0, lr_scale=4, betas=(0.8, 0.99)",
                   "--param-group", "co0.weight: frozen=from:1",
                   "--sched", "OneCycleLR(max_lr=[0.02, 0.004, 0.005], total_steps=16)", "--sched-unit", "step"],
            make_opt=lambda net: torch.optim.AdamW(groups_of(net, [("@bias|@batchnorm.weight", dict(weight_decay=0, lr=4e-3, betas=(0.8, 0.99))),
                                                                   ("co0.weight", {})]), lr=1e-3, weight_decay=0.05),
            make_sched=lambda opt: torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[0.02, 0.004, 0.005], total_steps=16),
            step_unit=True, on_epoch=freeze("co0.weight", start=1), before_step=clip_norm(0.5)), 2.0),
]


def cmd_recipes(lrlab, data, work):
    torch.set_num_threads(2)
    c = Counter("recipes")
    text, ops = recipe_net()
    path = os.path.join(work, "recipe.model")
    open(path, "w").write(text)
    for name, recipe, norm_type in RECIPES + GROUP_RECIPES:
        print("recipe: %s" % name)
        c.label = name
        torch.manual_seed(5)
        train_both(c, lrlab, data, work, Graph(ops), path, "dnnl", 128, 64, 16, 2, recipe, norm_type)
    c.done("recipes")


# ---- dropout ----

def run_model(test_model, text, work, x, backend, mode, tensors=None):
    """lrlab's logits of a description for input x (test_model --run) and
    its gradients, by name; tensors: the description's parameters."""
    path = os.path.join(work, "drop.model")
    open(path, "w").write(text)
    tensors = dict(tensors or {}, **{"input.x": x, "input.y": torch.zeros(x.size(0))})
    models.write_safetensors(os.path.join(work, "drop.safetensors"), tensors)
    run = subprocess.run([test_model, "--run", path, os.path.join(work, "drop.safetensors"), backend, mode],
                         capture_output=True, text=True)
    rows = {}
    for line in run.stdout.splitlines():
        f = line.split()
        if f[0] != "loss":
            rows[f[1]] = torch.tensor([float(v) for v in f[2:]], dtype=torch.float64)
    return run, rows


def cmd_dropout(test_model, work):
    c = Counter("dropout")
    torch.manual_seed(1)
    p = 0.3
    x = torch.randn(4, 4, 16, 16)
    n = x.numel()
    keep = torch.tensor(1.0, dtype=torch.float32) / torch.tensor(1 - p, dtype=torch.float32)  # PyTorch's noise value
    for backend in ("ref", "dnnl"):
        # the dropout layer's output as the logits
        run, rows = run_model(test_model, "input 4 16 16\nflatten\ndropout %r\n" % p, work, x, backend, "train")
        c.check(run.returncode == 0, "%s: test_model: %s" % (backend, run.stderr.strip()))
        if run.returncode:
            continue
        out = rows["-"].float()
        mask = out != 0
        xs = x.reshape(-1)
        c.check(torch.equal(out[mask], xs[mask] * keep),
                "%s: kept values are not x * %r (PyTorch's 1/(1-p) in float)" % (backend, keep.item()))
        dropped = n - int(mask.sum())
        sd = (n * p * (1 - p)) ** 0.5
        c.check(abs(dropped - n * p) < 5 * sd, "%s: %d of %d dropped, expected about %.0f" % (backend, dropped, n, n * p))
        # the gradient: a linear layer after it, the same mask (lrlab's stream is keyed by seed, step, layer)
        torch.manual_seed(2)
        lin = nn.Linear(n // 4, 10)
        run2, rows2 = run_model(test_model, "input 4 16 16\nflatten\ndropout %r\nlinear fc 10 bias=1\n" % p, work, x,
                                backend, "train", {"fc.weight": lin.weight.detach(), "fc.bias": lin.bias.detach()})
        c.check(run2.returncode == 0, "%s: test_model: %s" % (backend, run2.stderr.strip()))
        if run2.returncode:
            continue
        noise = mask.float().view(4, -1) * keep
        xd = x.view(4, -1) * noise
        logits = lin(xd)
        F.cross_entropy(logits, torch.zeros(4, dtype=torch.long)).backward()
        c.check(torch.allclose(rows2["-"].float(), logits.detach().view(-1), rtol=1e-5, atol=1e-6),
                "%s: logits after dropout differ from PyTorch's with the same mask" % backend)
        c.check(torch.allclose(rows2["fc.weight"].float(), lin.weight.grad.view(-1), rtol=1e-4, atol=1e-7),
                "%s: the gradient through dropout differs from PyTorch's with the same mask" % backend)
        # eval mode: the identity, as F.dropout(x, training=False)
        run3, rows3 = run_model(test_model, "input 4 16 16\nflatten\ndropout %r\n" % p, work, x, backend, "eval")
        c.check(run3.returncode == 0 and torch.equal(rows3["-"].float(), F.dropout(x, p, training=False).reshape(-1)),
                "%s: eval mode is not the identity" % backend)
    c.done("dropout")


def main():
    a = sys.argv[1:]
    if len(a) == 7 and a[0] == "graphs":
        cmd_graphs(a[1], a[2], a[3], a[4], int(a[5]), int(a[6]))
    elif len(a) in (6, 7) and a[0] == "shipped" and a[4] in models.MODELS and a[6:] in ([], ["ref"], ["dnnl"]):
        cmd_shipped(a[1], a[2], a[3], a[4], int(a[5]), *a[6:])
    elif len(a) == 4 and a[0] == "recipes":
        cmd_recipes(a[1], a[2], a[3])
    elif len(a) == 3 and a[0] == "dropout":
        cmd_dropout(a[1], a[2])
    print(__doc__)
    sys.exit(2)


if __name__ == "__main__":
    main()
