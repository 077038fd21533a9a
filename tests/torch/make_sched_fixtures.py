#!/usr/bin/python3
"""Writes tests/fixtures/sched/*.txt: learning-rate tables computed by
PyTorch's own torch.optim.lr_scheduler classes (torch 1.13), for lrlab's
schedule tests (tests/test_sched.c, tests/sched_cli_test.sh), and
tests/fixtures/sgd/sgd.txt: torch.optim.SGD step by step, and
tests/fixtures/optim/optim.txt: every other optimiser lrlab has, step by
step, and tests/fixtures/optim/average.txt: the averages of the weights
(Lookahead, EMA, SWA) over an optimiser's steps (all for tests/test_optim.c).
tests/torch_fixtures_test.sh runs it into a scratch directory and compares.

Each case is an lrlab --sched expression. It is evaluated as a PyTorch script
would (build()): every class bound to one SGD optimiser (lr = base lr,
momentum as given), children first, in source order, all sharing the
optimiser. Quoted lr_lambda / scale_fn strings become Python lambdas.
GradualWarmupScheduler (not in torch) is SEMANTICS.md's piecewise contract
(class Warmup): the ramp, then its after_scheduler run alone in torch on a
fresh optimiser whose lr is b*m.

Output, per case: `case`, `expr E`, `lr B`, `momentum M`, `unit U`,
`steps N`, optionally `spe K` (steps per epoch in step unit), `metrics v0 v1
...` (one per epoch, fed to step() at the epoch's end) and `raises_at K`
(PyTorch raised on the step that would have made t = K), then N rows
`t lr momentum` with %.17g, then `end`.

Run from the repository root: /usr/bin/python3 tests/torch/make_sched_fixtures.py
"""
import ast
import math
import os
import sys
import warnings

import torch
from torch.optim import lr_scheduler

warnings.filterwarnings("ignore")


CLASSES = ["LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR",
           "ExponentialLR", "PolynomialLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts",
           "CyclicLR", "OneCycleLR", "ReduceLROnPlateau", "SequentialLR", "ChainedScheduler", "SWALR"]

MATH = {"min": min, "max": max, "cos": math.cos, "exp": math.exp, "log": math.log, "floor": math.floor}


def to_fn(text, var):
    code = compile(text, "<lr_lambda>", "eval")
    return lambda v: eval(code, dict(MATH), {var: v})


def new_opt(lr, momentum):
    p = torch.nn.Parameter(torch.zeros(1))
    return torch.optim.SGD([p], lr=lr, momentum=momentum)


class Warmup:
    """GradualWarmupScheduler as SEMANTICS.md defines it (the contract): b is
    the group's initial lr; t <= E: b (1 + (m - 1) t / E) for m > 1, b t / E
    for m == 1, b*m at t = E; t > E: S at t - E, S built alone on a fresh
    optimiser `own` whose lr is b*m. The momentum in use is own's (S's
    constructor may set it: CyclicLR, OneCycleLR). Duck-typed as a torch
    scheduler so that SequentialLR and ChainedScheduler can hold it."""

    def __init__(self, opt, m, E, make_after, momentum):
        self.optimizer, self.m, self.E = opt, m, E
        g = opt.param_groups[0]
        g.setdefault("initial_lr", g["lr"])
        self.b = g["initial_lr"]
        self.own = new_opt(self.b * m, g["momentum"])
        self.after = make_after(self.own) if make_after else None
        self.last_epoch = -1
        self._initial_step()

    def ramp(self, t):
        if t >= self.E:
            return self.b * self.m
        if self.m == 1:
            return self.b * t / self.E
        return self.b * (1 + (self.m - 1) * t / self.E)

    def _initial_step(self):
        self.step()

    def step(self, metrics=None):
        t = self.last_epoch + 1
        if t > self.E and self.after is not None:
            if isinstance(self.after, lr_scheduler.ReduceLROnPlateau):
                self.after.step(metrics)
            else:
                self.after.step()
        self.last_epoch = t
        own = self.own.param_groups[0]
        g = self.optimizer.param_groups[0]
        g["lr"] = own["lr"] if t > self.E and self.after is not None else self.ramp(t)
        g["momentum"] = own["momentum"]
        self._last_lr = [g["lr"]]

    def get_last_lr(self):
        return self._last_lr


def class_name(func):
    return func.attr if isinstance(func, ast.Attribute) else func.id


def build(node, opt):
    """Evaluates an lrlab --sched expression as a PyTorch script would: the
    arguments first, in source order (so children are built before their
    parent, on the same optimiser), every class bound to `opt`; quoted
    lr_lambda / scale_fn strings become Python lambdas; the optimizer
    argument is implied. GradualWarmupScheduler builds its after_scheduler on
    a fresh optimiser of its own."""
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [build(e, opt) for e in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if not isinstance(node, ast.Call) or class_name(node.func) not in CLASSES + ["GradualWarmupScheduler"]:
        return eval(compile(ast.Expression(node), "<arg>", "eval"), dict(MATH))
    name = class_name(node.func)
    args = list(node.args)
    if args and isinstance(args[0], ast.Name) and args[0].id not in MATH:
        args = args[1:]  # the optimizer
    kws = [k for k in node.keywords if k.arg != "optimizer"]
    if name == "GradualWarmupScheduler":
        named = dict(zip(["multiplier", "total_epoch", "after_scheduler"], args))
        named.update({k.arg: k.value for k in kws})
        after = named.get("after_scheduler")
        if after is not None and isinstance(after, ast.Constant) and after.value is None:
            after = None
        make_after = (lambda own: build(after, own)) if after is not None else None
        return Warmup(opt, build(named["multiplier"], opt), build(named["total_epoch"], opt), make_after, None)
    pos = [build(a, opt) for a in args]
    kw = {k.arg: build(k.value, opt) for k in kws}
    cls = getattr(lr_scheduler, name) if hasattr(lr_scheduler, name) else getattr(torch.optim.swa_utils, name)
    if cls in (lr_scheduler.LambdaLR, lr_scheduler.MultiplicativeLR):
        fn = lambda v: type(v)(to_fn(x, "epoch") if isinstance(x, str) else x for x in v) \
            if isinstance(v, (list, tuple)) else to_fn(v, "epoch") if isinstance(v, str) else v
        if pos:
            pos[0] = fn(pos[0])
        if "lr_lambda" in kw:
            kw["lr_lambda"] = fn(kw["lr_lambda"])
    if cls is lr_scheduler.CyclicLR and isinstance(kw.get("scale_fn"), str):
        kw["scale_fn"] = to_fn(kw["scale_fn"], "x")
    if cls is lr_scheduler.ChainedScheduler:
        return cls(*pos, **kw)
    return cls(opt, *pos, **kw)


def run_case(expr, lr, momentum, steps, metrics, extra, spe, unit):
    """Returns the rows and the t at which PyTorch raised (or None). A
    schedule with a metric steps once per epoch (spe rows) in step unit."""
    opt = new_opt(lr, momentum)
    sched = build(ast.parse(expr, mode="eval").body, opt)
    rows, raised = [], None
    g = opt.param_groups[0]
    per = spe if (metrics is not None and unit == "step") else 1
    for t in range(steps + extra):
        if t < steps:
            rows.append((t, g["lr"], g["momentum"]))
        if (t + 1) % per:
            continue
        try:
            if metrics is not None:
                k = (t + 1) // per - 1
                sched.step(metrics[k] if k < len(metrics) else 0.0)
            else:
                sched.step()
        except ValueError:
            raised = t + 1
            break
    return rows, raised


# (file, expr, lr, momentum, unit, steps, metrics or None, extra steps to find a raise)
CASES = [
    # SWALR (torch.optim.swa_utils): alone, both strategies, anneal_epochs 0 and 1, inside SequentialLR
    # (first and after a milestone, where its own step count goes on) and ChainedScheduler
    ("swalr", "SWALR(swa_lr=0.05)", 0.1, 0.9, "epoch", 15, None, 0),
    ("swalr", "SWALR(swa_lr=0.05, anneal_epochs=3, anneal_strategy='linear')", 0.1, 0.9, "epoch", 8, None, 0),
    ("swalr", "torch.optim.swa_utils.SWALR(optimizer, 0.2, 0, 'cos')", 0.1, 0.9, "epoch", 5, None, 0),
    ("swalr", "SWALR(swa_lr=[0.01], anneal_epochs=1)", 0.1, 0.9, "epoch", 5, None, 0),
    ("swalr", "SequentialLR([CosineAnnealingLR(T_max=6), SWALR(swa_lr=0.02, anneal_epochs=3)], milestones=[6])",
     0.1, 0.9, "epoch", 14, None, 0),
    ("swalr", "SequentialLR([LinearLR(start_factor=0.5, total_iters=3), SWALR(swa_lr=0.01, anneal_epochs=4, "
     "anneal_strategy='linear')], milestones=[5])", 0.1, 0.9, "epoch", 14, None, 0),
    ("swalr", "SequentialLR([SWALR(swa_lr=0.01, anneal_epochs=4), ExponentialLR(gamma=0.9)], milestones=[5])",
     0.1, 0.9, "epoch", 12, None, 0),
    ("swalr", "SequentialLR([StepLR(step_size=2, gamma=0.5), SWALR(swa_lr=0.05, anneal_epochs=2)], milestones=[10])",
     0.1, 0.9, "step", 30, None, 0, 3),
    ("swalr", "ChainedScheduler([SWALR(swa_lr=0.05, anneal_epochs=4), ExponentialLR(gamma=0.9)])", 0.1, 0.9,
     "epoch", 10, None, 0),
    # LambdaLR, MultiplicativeLR
    ("lambda", "LambdaLR(lr_lambda='0.95 ** epoch')", 0.1, 0.9, "epoch", 12, None, 0),
    ("lambda", "LambdaLR('min(1.0, (epoch + 1) / 5)')", 0.05, 0.9, "epoch", 10, None, 0),
    ("lambda", "LambdaLR(lr_lambda=lambda e: floor(e / 3) * 0.5 + exp(-0.1 * e) * cos(e))", 0.1, 0.9, "epoch", 12, None, 0),
    ("lambda", "LambdaLR(lr_lambda='-2 ** 2 + 5 + log(epoch + 2) - max(0.1, 1 - epoch / 10) + 2 ** -1 * 2 ** 3 ** 0.5')", 0.01, 0.9, "epoch", 8, None, 0),
    ("lambda", "MultiplicativeLR(lr_lambda='0.95')", 0.1, 0.9, "epoch", 12, None, 0),
    ("lambda", "MultiplicativeLR(lambda epoch: 1 - 0.01 * epoch)", 0.1, 0.9, "epoch", 12, None, 0),
    # StepLR, MultiStepLR: the seed's, and boundaries
    ("step", "StepLR(step_size=16, gamma=0.2)", 0.01, 0.9, "epoch", 30, None, 0),
    ("step", "StepLR(3, 0.5)", 0.1, 0.9, "epoch", 12, None, 0),
    ("step", "StepLR(step_size=1)", 1.0, 0.0, "epoch", 6, None, 0),
    ("step", "MultiStepLR(milestones=[10, 20], gamma=0.5)", 0.02, 0.9, "epoch", 30, None, 0),
    ("step", "MultiStepLR([3, 5, 5, 8], gamma=0.5)", 0.1, 0.9, "epoch", 12, None, 0),
    ("step", "MultiStepLR(milestones=[0, 2,], gamma=0.1)", 0.1, 0.9, "epoch", 5, None, 0),
    # ConstantLR, LinearLR, ExponentialLR, PolynomialLR
    ("linear", "ConstantLR()", 0.1, 0.9, "epoch", 8, None, 0),
    ("linear", "ConstantLR(factor=0.5, total_iters=3)", 0.1, 0.9, "epoch", 6, None, 0),
    ("linear", "LinearLR()", 0.1, 0.9, "epoch", 8, None, 0),
    ("linear", "LinearLR(start_factor=0.25, end_factor=0.5, total_iters=4)", 0.1, 0.9, "epoch", 8, None, 0),
    ("linear", "LinearLR(start_factor=1.0, end_factor=0.0, total_iters=4)", 0.1, 0.9, "epoch", 7, None, 0),
    ("linear", "ExponentialLR(gamma=0.885)", 0.04, 0.9, "epoch", 30, None, 0),
    ("linear", "ExponentialLR(0.9)", 0.1, 0.9, "epoch", 5, None, 0),
    ("linear", "PolynomialLR()", 0.001, 0.9, "epoch", 8, None, 0),
    ("linear", "PolynomialLR(total_iters=4, power=2.0)", 0.1, 0.9, "epoch", 7, None, 0),
    ("linear", "PolynomialLR(total_iters=6, power=0.5)", 0.1, 0.9, "epoch", 8, None, 0),
    # CosineAnnealingLR (beyond T_max it rises again), warm restarts
    ("cosine", "CosineAnnealingLR(T_max=5)", 0.1, 0.9, "epoch", 25, None, 0),
    ("cosine", "CosineAnnealingLR(T_max=10, eta_min=0.001)", 0.1, 0.9, "epoch", 45, None, 0),
    ("cosine", "CosineAnnealingLR(T_max=1)", 0.1, 0.9, "epoch", 6, None, 0),
    ("cosine", "CosineAnnealingLR(T_max=30)", 0.05, 0.9, "epoch", 30, None, 0),
    ("cosine", "CosineAnnealingWarmRestarts(T_0=3)", 0.1, 0.9, "epoch", 12, None, 0),
    ("cosine", "CosineAnnealingWarmRestarts(T_0=2, T_mult=2, eta_min=0.01)", 0.1, 0.9, "epoch", 20, None, 0),
    ("cosine", "CosineAnnealingWarmRestarts(1)", 0.1, 0.9, "epoch", 4, None, 0),
    # CyclicLR (momentum cycles with it)
    ("cyclic", "CyclicLR(base_lr=0.01, max_lr=0.1, step_size_up=4)", 0.05, 0.9, "step", 20, None, 0),
    ("cyclic", "CyclicLR(0.001, 0.01, step_size_up=3, step_size_down=2, mode='triangular2')", 0.05, 0.9, "step", 24, None, 0),
    ("cyclic", "CyclicLR(base_lr=0.01, max_lr=0.1, step_size_up=3, mode='exp_range', gamma=0.9)", 0.05, 0.9, "step", 20, None, 0),
    ("cyclic", "CyclicLR(base_lr=0.01, max_lr=0.1, step_size_up=2, cycle_momentum=False)", 0.05, 0.9, "step", 10, None, 0),
    ("cyclic", "CyclicLR(base_lr=[0.01], max_lr=0.1, step_size_up=2, scale_fn='1 / (x + 1)', scale_mode='iterations', base_momentum=0.85, max_momentum=0.95)", 0.05, 0.9, "step", 10, None, 0),
    ("cyclic", "CyclicLR(base_lr=0.01, max_lr=0.1, step_size_up=2, scale_fn=lambda c: 0.5 ** c)", 0.05, 0.9, "step", 12, None, 0),
    # OneCycleLR: t = 0..total_steps, then PyTorch raises
    ("onecycle", "OneCycleLR(max_lr=0.1, total_steps=20)", 0.05, 0.9, "step", 21, None, 3),
    ("onecycle", "OneCycleLR(max_lr=0.1, total_steps=10, anneal_strategy='linear')", 0.05, 0.9, "step", 11, None, 3),
    ("onecycle", "OneCycleLR(max_lr=0.2, total_steps=20, three_phase=True)", 0.05, 0.9, "step", 21, None, 3),
    ("onecycle", "OneCycleLR(max_lr=0.1, epochs=4, steps_per_epoch=5, pct_start=0.25, div_factor=10, final_div_factor=100)", 0.05, 0.9, "step", 21, None, 3),
    ("onecycle", "OneCycleLR(0.1, 12, cycle_momentum=False)", 0.05, 0.9, "step", 13, None, 3),
    ("onecycle", "OneCycleLR(max_lr=0.1, total_steps=15, base_momentum=0.8, max_momentum=0.9, anneal_strategy='linear', three_phase=True)", 0.05, 0.9, "step", 16, None, 3),
    # ReduceLROnPlateau with metric sequences
    ("plateau", "ReduceLROnPlateau()", 0.1, 0.9, "epoch", 30,
     [1.0, 0.9, 0.8] + [0.8] * 27, 0),
    ("plateau", "ReduceLROnPlateau(patience=2, cooldown=1, factor=0.5)", 0.1, 0.9, "epoch", 20,
     [1.0, 0.9, 0.95, 0.93, 0.91, 0.92, 0.95, 0.85, 0.86, 0.87, 0.88, 0.89, 0.9, 0.7, 0.71, 0.72, 0.73, 0.74, 0.75, 0.76], 0),
    ("plateau", "ReduceLROnPlateau(mode='max', threshold_mode='abs', threshold=0.1, patience=1)", 0.1, 0.9, "epoch", 14,
     [0.5, 0.55, 0.58, 0.7, 0.75, 0.79, 0.9, 0.95, 0.99, 1.0, 1.05, 1.2, 1.2, 1.2], 0),
    ("plateau", "ReduceLROnPlateau(factor=0.5, patience=0, min_lr=0.02)", 0.1, 0.9, "epoch", 8,
     [1, 2, 3, 4, 5, 6, 7, 8], 0),
    ("plateau", "ReduceLROnPlateau(factor=0.5, patience=0, eps=0.03)", 0.1, 0.9, "epoch", 8,
     [1, 2, 3, 4, 5, 6, 7, 8], 0),
    ("plateau", "ReduceLROnPlateau('max', 0.5, 1, 0.01, 'rel', 0, 0.0, 1e-8)", 0.1, 0.9, "epoch", 10,
     [0.1, 0.2, 0.201, 0.2015, 0.3, 0.3, 0.3, 0.31, 0.4, 0.4], 0),
    # SequentialLR, including its 1.13 quirks
    ("sequential", "SequentialLR(schedulers=[ConstantLR(factor=0.1, total_iters=2), ExponentialLR(gamma=0.9)], milestones=[2])", 1.0, 0.9, "epoch", 8, None, 0),
    ("sequential", "SequentialLR([LinearLR(start_factor=0.1, total_iters=3), CosineAnnealingLR(T_max=6)], [3])", 0.1, 0.9, "epoch", 14, None, 0),
    ("sequential", "SequentialLR([LinearLR(0.25, total_iters=2), StepLR(2, 0.5), ExponentialLR(0.8)], milestones=[3, 7])", 0.1, 0.9, "epoch", 12, None, 0),
    ("sequential", "SequentialLR([ConstantLR(factor=0.5, total_iters=2), MultiStepLR(milestones=[0, 2, 4])], [3])", 0.1, 0.9, "epoch", 10, None, 0),
    ("sequential", "SequentialLR([StepLR(step_size=2, gamma=0.5), CyclicLR(base_lr=0.01, max_lr=0.1, step_size_up=2)], [4])", 0.1, 0.9, "epoch", 10, None, 0),
    ("sequential", "SequentialLR([LinearLR(total_iters=2), OneCycleLR(max_lr=0.2, total_steps=6)], [3])", 0.1, 0.9, "epoch", 10, None, 2),
    ("sequential", "SequentialLR([LinearLR(total_iters=2), CosineAnnealingWarmRestarts(T_0=3)], [2])", 0.1, 0.9, "epoch", 10, None, 0),
    ("sequential", "SequentialLR([ExponentialLR(0.5), MultiplicativeLR('0.9'), LambdaLR('1 / (epoch + 1)')], [2, 5])", 0.1, 0.9, "epoch", 10, None, 0),
    ("sequential", "SequentialLR([SequentialLR([ConstantLR(0.5, 2), ExponentialLR(0.9)], [3]), StepLR(2)], [6])", 0.1, 0.9, "epoch", 10, None, 0),
    ("sequential", "SequentialLR([CosineAnnealingLR(T_max=4), PolynomialLR(total_iters=3)], [4])", 0.1, 0.9, "epoch", 9, None, 0),
    # ChainedScheduler
    ("chained", "ChainedScheduler([ConstantLR(factor=0.1, total_iters=2), ExponentialLR(gamma=0.9)])", 1.0, 0.9, "epoch", 8, None, 0),
    ("chained", "ChainedScheduler([StepLR(3, 0.5), CosineAnnealingLR(T_max=10)])", 0.1, 0.9, "epoch", 14, None, 0),
    ("chained", "ChainedScheduler([LinearLR(total_iters=3), SequentialLR([ConstantLR(0.5, 2), ExponentialLR(0.9)], [3])])", 0.1, 0.9, "epoch", 10, None, 0),
    ("chained", "ChainedScheduler([ExponentialLR(0.95), ChainedScheduler([StepLR(2), MultiplicativeLR('0.99')])])", 0.1, 0.9, "epoch", 8, None, 0),
    # GradualWarmupScheduler, intended meaning: the seed's three, and more
    ("warmup", "GradualWarmupScheduler(multiplier=40, total_epoch=5, after_scheduler=StepLR(step_size=10, gamma=0.2))", 0.001, 0.9, "epoch", 30, None, 0),
    ("warmup", "GradualWarmupScheduler(multiplier=40, total_epoch=5, after_scheduler=MultiStepLR(milestones=[5, 10, 15, 20, 25], gamma=0.5))", 0.001, 0.9, "epoch", 30, None, 0),
    ("warmup", "GradualWarmupScheduler(multiplier=40, total_epoch=5, after_scheduler=ExponentialLR(gamma=0.885))", 0.001, 0.9, "epoch", 30, None, 0),
    ("warmup", "GradualWarmupScheduler(multiplier=10, total_epoch=3)", 0.01, 0.9, "epoch", 8, None, 0),
    ("warmup", "GradualWarmupScheduler(8, 4, CosineAnnealingLR(T_max=6))", 0.01, 0.9, "epoch", 14, None, 0),
    ("warmup", "GradualWarmupScheduler(multiplier=1, total_epoch=4, after_scheduler=StepLR(step_size=3, gamma=0.5))", 0.1, 0.9, "epoch", 12, None, 0),
    ("warmup", "GradualWarmupScheduler(multiplier=1, total_epoch=3, after_scheduler=ExponentialLR(0.9))", 0.1, 0.9, "epoch", 8, None, 0),
    ("warmup", "GradualWarmupScheduler(multiplier=1, total_epoch=5)", 0.1, 0.9, "epoch", 8, None, 0),
]


def C(file, expr, lr=0.1, mom=0.9, steps=12, metrics=None, extra=0, unit="epoch", spe=1):
    return (file, expr, lr, mom, unit, steps, metrics, extra, spe)


# Every class with non-default arguments and at its edges.
EDGE = [
    C("edge", "LambdaLR(lr_lambda=lambda epoch: 0.5)", steps=5),
    C("edge", "LambdaLR(lr_lambda=('1 / (epoch + 1)',))", steps=6),
    C("edge", "LambdaLR(['0.9 ** epoch'], last_epoch=-1, verbose=False)", steps=6),
    C("edge", "LambdaLR('max(0.1, 1 - epoch / 8) * (1 + 0.5 * cos(epoch))')", 0.05, steps=12),
    C("edge", "LambdaLR(lambda e: exp(-e / 4) + floor(e / 5) * 1e-3)", 0.3, steps=12),
    C("edge", "MultiplicativeLR('1')", steps=5),
    C("edge", "MultiplicativeLR(lr_lambda=lambda epoch: 0.8)", steps=1),
    C("edge", "MultiplicativeLR(lr_lambda='0.9 + 0.01 * epoch', verbose=False)", steps=10),
    C("edge", "MultiplicativeLR((lambda e: 1.05,))", steps=8),
    C("edge", "StepLR(step_size=1, gamma=1)", steps=5),
    C("edge", "StepLR(step_size=1, gamma=0.5)", 1.0, steps=10),
    C("edge", "StepLR(step_size=4, gamma=2.0)", 0.001, steps=13),
    C("edge", "StepLR(2, gamma=1e-3)", steps=7),
    C("edge", "StepLR(optimizer, 5, 0.5, -1, False)", steps=12),
    C("edge", "StepLR(step_size=1_0, gamma=0.5)", steps=22),
    C("edge", "MultiStepLR(milestones=(2, 4), gamma=0.5)", steps=7),
    C("edge", "MultiStepLR([6, 2, 4])", steps=8),
    C("edge", "MultiStepLR([3, 3, 3], gamma=0.5)", steps=6),
    C("edge", "MultiStepLR((5,), 0.2)", steps=8),
    C("edge", "MultiStepLR([], 0.2)", steps=4),
    C("edge", "MultiStepLR(milestones=[1, 2, 3, 4], gamma=1)", steps=6),
    C("edge", "MultiStepLR([0], gamma=0.5)", steps=3),
    C("edge", "MultiStepLR(milestones=[10, 5, 5, 1], gamma=0.7)", steps=13),
    C("edge", "ConstantLR(factor=1.0, total_iters=3)", steps=5),
    C("edge", "ConstantLR(factor=0.25, total_iters=1)", steps=4),
    C("edge", "ConstantLR(0.1, 10)", steps=13),
    C("edge", "ConstantLR(factor=1e-3, total_iters=2)", steps=5),
    C("edge", "LinearLR(start_factor=1.0, end_factor=1.0, total_iters=3)", steps=5),
    C("edge", "LinearLR(start_factor=0.5, end_factor=0.25, total_iters=1)", steps=4),
    C("edge", "LinearLR(0.001, 1.0, 10)", steps=13),
    C("edge", "LinearLR(start_factor=1 / 3, end_factor=2 / 3, total_iters=7)", steps=10),
    C("edge", "LinearLR(0.2, 0.0, 5)", steps=8),
    C("edge", "ExponentialLR(gamma=1.0)", steps=5),
    C("edge", "ExponentialLR(1.1)", 0.01, steps=10),
    C("edge", "ExponentialLR(gamma=0.5)", 1.0, steps=30),
    C("edge", "ExponentialLR(0.99)", steps=60),
    C("edge", "PolynomialLR(total_iters=1)", steps=4),
    C("edge", "PolynomialLR(total_iters=10, power=3.0)", steps=13),
    C("edge", "PolynomialLR(4, 0.0)", steps=6),
    C("edge", "PolynomialLR(total_iters=8, power=1.5)", 0.05, steps=10),
    C("edge", "CosineAnnealingLR(T_max=1, eta_min=0.01)", steps=7),
    C("edge", "CosineAnnealingLR(T_max=2)", steps=9),
    C("edge", "CosineAnnealingLR(T_max=7, eta_min=0.05)", steps=30),
    C("edge", "CosineAnnealingLR(3, 0.1)", steps=10),
    C("edge", "CosineAnnealingLR(T_max=100, eta_min=1e-5)", 0.1, steps=40),
    C("edge", "CosineAnnealingWarmRestarts(T_0=1, T_mult=2)", steps=20),
    C("edge", "CosineAnnealingWarmRestarts(T_0=5, T_mult=1, eta_min=0.02)", steps=16),
    C("edge", "CosineAnnealingWarmRestarts(2, 3, 1e-3)", steps=30),
    C("edge", "CosineAnnealingWarmRestarts(T_0=4, eta_min=0.1)", steps=10),
    C("edge", "CosineAnnealingWarmRestarts(T_0=10, T_mult=2)", 0.05, steps=40),
]

CYCLIC = [
    C("cyclic2", "CyclicLR(base_lr=0.001, max_lr=0.1, step_size_up=5, mode='triangular')", unit="step", steps=25),
    C("cyclic2", "CyclicLR(0.001, 0.1, step_size_up=5, step_size_down=1, mode='triangular2')", unit="step", steps=30),
    C("cyclic2", "CyclicLR(0.001, 0.1, step_size_up=1, mode='triangular2')", unit="step", steps=12),
    C("cyclic2", "CyclicLR(0.001, 0.1, step_size_up=4, mode='exp_range', gamma=0.95)", unit="step", steps=30),
    C("cyclic2", "CyclicLR(0.001, 0.1, step_size_up=4, step_size_down=2, mode='exp_range', gamma=0.8, base_momentum=0.7, max_momentum=0.95)", unit="step", steps=24),
    C("cyclic2", "CyclicLR(0.01, 0.1, step_size_up=3, step_size_down=0)", unit="step", steps=10),
    C("cyclic2", "CyclicLR(0.01, 0.1, step_size_up=2.5)", unit="step", steps=14),
    C("cyclic2", "CyclicLR(0.01, 0.1, step_size_up=3, scale_fn='0.8 ** x')", unit="step", steps=20),
    C("cyclic2", "CyclicLR(0.01, 0.1, step_size_up=3, scale_fn='0.99 ** x', scale_mode='iterations')", unit="step", steps=20),
    C("cyclic2", "CyclicLR(0.01, 0.1, step_size_up=2, mode='exp_range', scale_fn=lambda x: 1 / x)", unit="step", steps=14),
    C("cyclic2", "CyclicLR(0.1, 0.01, step_size_up=3)", unit="step", steps=12),
    C("cyclic2", "CyclicLR(0.05, 0.05, step_size_up=2)", unit="step", steps=6),
    C("cyclic2", "CyclicLR((0.01,), (0.1,), step_size_up=3, base_momentum=(0.8,), max_momentum=[0.9])", unit="step", steps=12),
    C("cyclic2", "CyclicLR(0.01, 0.1, 3, 5, 'triangular2', 1.0, None, 'cycle', True, 0.85, 0.95)", unit="step", steps=24),
    C("cyclic2", "CyclicLR(0.01, 0.1, step_size_up=4, cycle_momentum=True, base_momentum=0.9, max_momentum=0.0)", 0.05, 0.0, unit="step", steps=16),
    C("cyclic2", "CyclicLR(base_lr=1e-4, max_lr=1e-2, step_size_up=6, mode='exp_range', gamma=0.99994)", unit="step", steps=30),
    C("cyclic2", "CyclicLR(0.001, 0.1, step_size_up=4)", 0.05, 0.9, unit="step", spe=4, steps=24),
    C("cyclic2", "CyclicLR(0.001, 0.1, step_size_up=2, mode='triangular2')", 0.05, 0.9, steps=12),
]

ONECYCLE = [
    C("onecycle2", "OneCycleLR(max_lr=0.1, total_steps=10, three_phase=True, anneal_strategy='linear')", unit="step", steps=11, extra=2),
    C("onecycle2", "OneCycleLR(max_lr=0.1, total_steps=30, pct_start=0.5)", unit="step", steps=31, extra=2),
    C("onecycle2", "OneCycleLR(max_lr=0.1, total_steps=30, pct_start=0.9, anneal_strategy='linear')", unit="step", steps=31, extra=2),
    C("onecycle2", "OneCycleLR(max_lr=0.1, total_steps=20, pct_start=0.95)", unit="step", steps=20),
    C("onecycle2", "OneCycleLR(max_lr=1.0, total_steps=25, div_factor=5.0, final_div_factor=2.0)", unit="step", steps=26, extra=2),
    C("onecycle2", "OneCycleLR(max_lr=(0.3,), total_steps=16, base_momentum=0.5, max_momentum=0.99)", unit="step", steps=17, extra=2),
    C("onecycle2", "OneCycleLR(max_lr=0.2, epochs=3, steps_per_epoch=7, three_phase=True)", unit="step", steps=21),
    C("onecycle2", "OneCycleLR(max_lr=0.2, epochs=5, steps_per_epoch=4)", unit="step", spe=4, steps=20),
    C("onecycle2", "OneCycleLR(max_lr=0.2, total_steps=12, cycle_momentum=False, three_phase=True)", unit="step", steps=12),
    C("onecycle2", "OneCycleLR(0.1, 40, None, None, 0.25, 'cos', True, 0.8, 0.9, 10.0, 100.0, False)", unit="step", steps=40),
    C("onecycle2", "OneCycleLR(max_lr=0.1, total_steps=20, base_momentum=0.9, max_momentum=0.0)", 0.05, 0.0, unit="step", steps=20),
    C("onecycle2", "OneCycleLR(max_lr=0.1, total_steps=20, anneal_strategy='linear', base_momentum=0.9, max_momentum=0.0, three_phase=True)", 0.05, 0.0, unit="step", steps=20),
    C("onecycle2", "OneCycleLR(max_lr=0.1, total_steps=2_0)", unit="step", steps=20),
    C("onecycle2", "OneCycleLR(max_lr=0.05, total_steps=30)", steps=30),
]

PLATEAU_METRICS = [1.0, 0.9, 0.95, 0.96, 0.97, 0.98, 0.85, 0.86, 0.84, 0.841, 0.842, 0.843, 0.844, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8]
PLATEAU = [
    C("plateau2", "ReduceLROnPlateau(patience=1)", steps=20, metrics=PLATEAU_METRICS),
    C("plateau2", "ReduceLROnPlateau(patience=0, factor=0.5, cooldown=2)", steps=20, metrics=PLATEAU_METRICS),
    C("plateau2", "ReduceLROnPlateau(patience=1, threshold=0.05)", steps=20, metrics=PLATEAU_METRICS),
    C("plateau2", "ReduceLROnPlateau(patience=1, threshold=0.05, threshold_mode='abs')", steps=20, metrics=PLATEAU_METRICS),
    C("plateau2", "ReduceLROnPlateau(patience=1, threshold=0.0)", steps=20, metrics=PLATEAU_METRICS),
    C("plateau2", "ReduceLROnPlateau(patience=0, factor=0.1, min_lr=0.005)", steps=20, metrics=PLATEAU_METRICS),
    C("plateau2", "ReduceLROnPlateau(patience=0, factor=0.9, eps=0.02)", steps=20, metrics=PLATEAU_METRICS),
    C("plateau2", "ReduceLROnPlateau(patience=0, factor=0.0)", steps=8, metrics=PLATEAU_METRICS),
    C("plateau2", "ReduceLROnPlateau(mode='max', patience=1)", steps=20, metrics=PLATEAU_METRICS),
    C("plateau2", "ReduceLROnPlateau(mode='max', patience=0, threshold_mode='abs', threshold=0.01, cooldown=1)", steps=20, metrics=PLATEAU_METRICS),
    C("plateau2", "ReduceLROnPlateau(mode='max', factor=0.5, patience=2, min_lr=(0.02,))", steps=20, metrics=[0.1 * i for i in range(5)] + [0.4] * 15),
    C("plateau2", "ReduceLROnPlateau(patience=2, cooldown=3, factor=0.3, threshold=1e-3)", steps=20, metrics=[1.0 / (1 + i % 4) for i in range(20)]),
    C("plateau2", "ReduceLROnPlateau(patience=0)", steps=8, metrics=[-1.0, -2.0, -2.0, -1.5, -3.0, -3.0, -3.0, -3.0]),
    C("plateau2", "ReduceLROnPlateau(mode='max', threshold_mode='rel', threshold=0.1, patience=0)", steps=8, metrics=[-1.0, -0.95, -0.5, -0.49, -0.6, 0.0, 0.0, 0.0]),
    C("plateau2", "ReduceLROnPlateau(patience=1, factor=0.5)", unit="step", spe=3, steps=24, metrics=[1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5]),
]

SEQCHAIN = [
    C("seqchain", "SequentialLR((LinearLR(0.1, total_iters=2), ExponentialLR(0.9)), milestones=(2,))", steps=8),
    C("seqchain", "SequentialLR([ConstantLR(0.5, 3), StepLR(1, 0.5)], [1])", steps=6),
    C("seqchain", "SequentialLR([StepLR(3, 0.5), MultiStepLR([1, 3], 0.1)], [4])", steps=10),
    C("seqchain", "SequentialLR([LinearLR(0.5, total_iters=4), PolynomialLR(4, 2.0)], [2])", steps=9),
    C("seqchain", "SequentialLR([ExponentialLR(0.9), CosineAnnealingLR(4, 0.01), ConstantLR(0.5, 2)], [3, 6])", steps=12),
    C("seqchain", "SequentialLR([CosineAnnealingWarmRestarts(2), StepLR(2)], [5])", steps=10),
    C("seqchain", "SequentialLR([CyclicLR(0.01, 0.1, step_size_up=2), ExponentialLR(0.8)], [5])", steps=10),
    C("seqchain", "SequentialLR([LambdaLR('0.5'), MultiplicativeLR('0.8')], [3])", steps=8),
    C("seqchain", "SequentialLR([ConstantLR(0.1, 1), LinearLR(0.5, 1.0, 3), CosineAnnealingLR(5)], [1, 4])", steps=12),
    C("seqchain", "SequentialLR([OneCycleLR(max_lr=0.3, total_steps=8), ExponentialLR(0.5)], [6])", steps=12),
    C("seqchain", "SequentialLR([SequentialLR([LinearLR(0.5, total_iters=2), ConstantLR(0.5, 2)], [2]), ExponentialLR(0.9)], [5])", steps=10),
    C("seqchain", "SequentialLR([GradualWarmupScheduler(4, 3), CosineAnnealingLR(T_max=5)], [4])", 0.01, steps=12),
    C("seqchain", "SequentialLR([GradualWarmupScheduler(1, 2, StepLR(2)), ExponentialLR(0.9)], [5])", steps=10),
    C("seqchain", "ChainedScheduler((StepLR(2, 0.5), ExponentialLR(0.9)))", steps=8),
    C("seqchain", "ChainedScheduler([ConstantLR(0.5, 3), LinearLR(0.5, 1.0, 4), CosineAnnealingLR(6)])", steps=12),
    C("seqchain", "ChainedScheduler([CyclicLR(0.01, 0.1, step_size_up=3), ExponentialLR(0.95)])", steps=12),
    C("seqchain", "ChainedScheduler([ExponentialLR(0.9), OneCycleLR(max_lr=0.1, total_steps=10)])", steps=11, extra=2),
    C("seqchain", "ChainedScheduler([MultiStepLR((2, 4)), PolynomialLR(6, 0.5)])", steps=8),
    C("seqchain", "ChainedScheduler([CosineAnnealingWarmRestarts(3, 2), StepLR(4, 0.5)])", steps=16),
    C("seqchain", "ChainedScheduler([GradualWarmupScheduler(4, 3, ExponentialLR(0.9)), StepLR(4, 0.5)])", 0.01, steps=12),
    C("seqchain", "ChainedScheduler([SequentialLR([ConstantLR(0.5, 2), ExponentialLR(0.9)], [3]), MultiplicativeLR('0.95')])", steps=10),
    C("seqchain", "ChainedScheduler([LambdaLR('1 / (1 + epoch)'), ConstantLR(0.5, 2)])", steps=8),
]

# GradualWarmupScheduler with every after_scheduler, m > 1 and m == 1, in
# epoch and step units: SEMANTICS.md's piecewise definition, S run alone on
# a fresh optimiser whose lr is b*m.
AFTERS = [
    ("LambdaLR('0.5')", 8, None),
    ("LambdaLR(lr_lambda=lambda e: 0.9 ** e)", 8, None),
    ("MultiplicativeLR('0.9')", 8, None),
    ("MultiplicativeLR(lambda e: 1 - 0.05 * e)", 8, None),
    ("StepLR(step_size=3, gamma=0.5)", 9, None),
    ("MultiStepLR(milestones=(1, 4), gamma=0.3)", 8, None),
    ("ConstantLR(factor=0.5, total_iters=3)", 6, None),
    ("LinearLR(start_factor=0.5, end_factor=0.1, total_iters=4)", 6, None),
    ("ExponentialLR(gamma=0.8)", 8, None),
    ("PolynomialLR(total_iters=5, power=2.0)", 7, None),
    ("CosineAnnealingLR(T_max=6, eta_min=0.001)", 9, None),
    ("CosineAnnealingWarmRestarts(T_0=3, T_mult=2, eta_min=0.001)", 12, None),
    ("CyclicLR(base_lr=0.01, max_lr=0.2, step_size_up=3)", 10, None),
    ("CyclicLR(0.01, 0.2, step_size_up=2, mode='exp_range', gamma=0.9, base_momentum=0.75, max_momentum=0.95)", 10, None),
    ("OneCycleLR(max_lr=0.5, total_steps=12)", 12, None),
    ("OneCycleLR(max_lr=0.5, total_steps=10, anneal_strategy='linear', three_phase=True)", 10, None),
    ("ReduceLROnPlateau(patience=1, factor=0.5)", 10, "plateau"),
    ("SequentialLR([ConstantLR(0.5, 2), ExponentialLR(0.9)], [3])", 8, None),
    ("ChainedScheduler([StepLR(2, 0.5), ExponentialLR(0.95)])", 8, None),
    ("GradualWarmupScheduler(2, 2, StepLR(3, 0.5))", 10, None),
]
WARMUP = []
for after, n_after, kind in AFTERS:
    for m, E, lr in ((4, 3, 0.01), (1, 2, 0.1)):
        metrics = None
        if kind == "plateau":
            metrics = [1.0] * E + [0.9, 0.95, 0.96, 0.8, 0.81, 0.82, 0.83, 0.84, 0.85, 0.86]
        expr = "GradualWarmupScheduler(multiplier=%s, total_epoch=%d, after_scheduler=%s)" % (m, E, after)
        WARMUP.append(C("warmup_after", expr, lr, 0.9, steps=E + 1 + n_after, metrics=metrics))
        if kind is None:
            # step unit: E counts optimiser steps, 3 of them an epoch
            WARMUP.append(C("warmup_step", expr, lr, 0.9, unit="step", spe=3, steps=3 * ((E + n_after) // 3)))
WARMUP += [
    C("warmup_after", "GradualWarmupScheduler(multiplier=2.5, total_epoch=7, after_scheduler=None)", steps=10),
    C("warmup_after", "GradualWarmupScheduler(1.0, 1)", steps=3),
    C("warmup_after", "GradualWarmupScheduler(multiplier=40, total_epoch=5, after_scheduler=LambdaLR('0.5'))", 0.001, steps=10),
    C("warmup_after", "GradualWarmupScheduler(3, 1, ExponentialLR(0.5))", steps=6),
    C("warmup_after", "GradualWarmupScheduler(10, 4, OneCycleLR(max_lr=0.2, total_steps=8, div_factor=5.0))", 0.01, steps=13, extra=2),
    C("warmup_after", "GradualWarmupScheduler(multiplier=8, total_epoch=2, after_scheduler=CyclicLR(0.001, 0.1, step_size_up=2, cycle_momentum=False))", 0.01, steps=10),
    C("warmup_after", "GradualWarmupScheduler(multiplier=2, total_epoch=3, after_scheduler=ReduceLROnPlateau(mode='max', patience=0, cooldown=1))", steps=12,
      metrics=[0.0] * 3 + [0.5, 0.6, 0.6, 0.6, 0.6, 0.7, 0.7, 0.7, 0.7]),
]

LITERALS = [
    C("literals", "StepLR(step_size=0x3, gamma=0.5)", steps=8),
    C("literals", "StepLR(3, 05e-1)", steps=8),
    C("literals", "StepLR(step_size=3, gamma=00.5 + 00 * 2)", steps=8),
    C("literals", "MultiStepLR(milestones=(0b10, 0o4), gamma=0_0.5)", steps=6),
    C("literals", "ExponentialLR(gamma=0e1 + 1_0.0e-1 - 0.1)", steps=5),
    C("literals", "ExponentialLR(gamma=03.5e-1 + 0.6)", steps=5),
    C("literals", "LinearLR(start_factor=.5, end_factor=1., total_iters=1_0)", steps=12),
    C("literals", "CosineAnnealingLR(T_max=2_0, eta_min=1_0e-4)", steps=10),
    C("literals", "MultiStepLR((), gamma=0.5)", steps=3),
    C("literals", "MultiStepLR(milestones=(2, 4,), gamma=0.5)", steps=6),
    C("literals", "SequentialLR(schedulers=(ConstantLR(0.5, 2),), milestones=())", steps=4),
]

CASES += EDGE + CYCLIC + ONECYCLE + PLATEAU + SEQCHAIN + WARMUP + LITERALS



# torch.optim.SGD against lrlab's sgd_step, the schedule setting lr and
# momentum before each step: (name, sched, lr, momentum, dampening,
# weight_decay, nesterov, steps). 37 parameters: not a multiple of a vector.
SGD_CASES = [
    ("plain", "", 0.1, 0.9, 0.0, 5e-4, False, 6),
    ("no momentum", "", 0.05, 0.0, 0.0, 0.0, False, 4),
    ("no momentum, dampening", "", 0.05, 0.0, 0.5, 1e-3, False, 4),
    ("dampening", "", 0.1, 0.9, 0.5, 5e-4, False, 6),
    ("dampening 0.1", "", 0.1, 0.8, 0.1, 0.0, False, 6),
    ("nesterov", "", 0.1, 0.9, 0.0, 1e-3, True, 6),
    ("weight decay 0.1", "", 0.02, 0.5, 0.0, 0.1, False, 5),
    ("StepLR", "StepLR(2, 0.5)", 0.1, 0.9, 0.0, 5e-4, False, 7),
    ("CyclicLR momentum from 0, dampening", "CyclicLR(0.01, 0.1, step_size_up=3, base_momentum=0.9, max_momentum=0.0)", 0.1, 0.9, 0.3, 5e-4, False, 9),
    ("OneCycleLR momentum from 0, dampening", "OneCycleLR(max_lr=0.1, total_steps=10, base_momentum=0.9, max_momentum=0.0)", 0.1, 0.9, 0.5, 0.0, False, 10),
    ("OneCycleLR momentum from 0, nesterov", "OneCycleLR(max_lr=0.1, total_steps=10, base_momentum=0.9, max_momentum=0.0)", 0.1, 0.9, 0.0, 5e-4, True, 10),
    ("OneCycleLR cycled momentum, nesterov", "OneCycleLR(max_lr=0.1, total_steps=8, three_phase=True)", 0.1, 0.9, 0.0, 5e-4, True, 8),
    ("CyclicLR exp_range, dampening", "CyclicLR(0.001, 0.1, step_size_up=2, mode='exp_range', gamma=0.9)", 0.1, 0.9, 0.2, 1e-4, False, 8),
    ("warmup then OneCycleLR", "GradualWarmupScheduler(4, 2, OneCycleLR(max_lr=0.2, total_steps=6, base_momentum=0.9, max_momentum=0.0))", 0.01, 0.9, 0.4, 5e-4, False, 8),
]
SGD_N = 37


def record_steps(p, opt, sched, steps, gen):
    """steps optimiser steps on p, gradients scaled by 0.1, 1, 10 in turn:
    the lines g<t> (the gradient) and p<t> (p after the step), then `end`."""
    lines = []
    for t in range(steps):
        scale = 10.0 ** (t % 3 - 1)
        g = torch.randn(SGD_N, generator=gen) * scale
        p.grad = g.clone()
        opt.step()
        if sched is not None:
            sched.step()
        lines.append("g%d %s" % (t, " ".join("%.9g" % v for v in g.tolist())))
        lines.append("p%d %s" % (t, " ".join("%.9g" % v for v in p.detach().tolist())))
    return lines + ["end"]


def make_sgd(out_dir):
    lines = []
    gen = torch.Generator().manual_seed(7)
    for name, expr, lr, mom, damp, wd, nesterov, steps in SGD_CASES:
        p = torch.nn.Parameter(torch.rand(SGD_N, generator=gen) * 2 - 1)
        opt = torch.optim.SGD([p], lr=lr, momentum=mom, dampening=damp, weight_decay=wd, nesterov=nesterov)
        sched = build(ast.parse(expr, mode="eval").body, opt) if expr else None
        lines += ["case", "name " + name, "sched " + expr, "lr %.17g" % lr, "momentum %.17g" % mom,
                  "dampening %.17g" % damp, "weight_decay %.17g" % wd, "nesterov %d" % nesterov,
                  "n %d" % SGD_N, "steps %d" % steps,
                  "init " + " ".join("%.9g" % v for v in p.detach().tolist())]
        lines += record_steps(p, opt, sched, steps, gen)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "sgd.txt"), "w") as f:
        f.write("# lrlab SGD fixtures: made by tests/torch/make_sched_fixtures.py with torch %s\n" % torch.__version__)
        f.write("\n".join(lines) + "\n")
    return len(SGD_CASES)


# Every torch.optim optimiser lrlab has, step by step from the same weights
# and gradients: (name, lrlab --optim expression (also PyTorch's call, the
# params implied), lrlab --sched expression or "", steps). 37 parameters.
# Written to tests/fixtures/optim/optim.txt in sgd.txt's format, with the
# line `optim EXPR` in place of SGD's settings (tests/test_optim.c).
OPTIM_CASES = [
    ("SGD maximize", "SGD(lr=0.05, momentum=0.9, weight_decay=1e-3, maximize=True)", "", 6),
    ("Adam", "Adam(lr=0.01)", "", 8),
    ("Adam weight decay", "Adam(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)", "", 8),
    ("Adam amsgrad maximize", "Adam(lr=0.01, amsgrad=True, maximize=True)", "", 8),
    ("Adam StepLR", "Adam(lr=0.02, weight_decay=1e-2)", "StepLR(step_size=2, gamma=0.5)", 8),
    ("AdamW", "AdamW(lr=0.01)", "", 8),
    ("AdamW no decay", "AdamW(lr=0.01, weight_decay=0)", "", 6),
    ("AdamW amsgrad", "AdamW(lr=0.01, weight_decay=0.1, amsgrad=True)", "", 8),
    ("AdamW CosineAnnealingLR", "AdamW(lr=0.01, weight_decay=0.05)", "CosineAnnealingLR(T_max=6, eta_min=1e-4)", 8),
    ("RMSprop", "RMSprop(lr=0.01)", "", 8),
    ("RMSprop weight decay", "RMSprop(lr=0.01, alpha=0.9, weight_decay=0.1)", "", 8),
    ("RMSprop centered momentum", "RMSprop(lr=0.01, momentum=0.9, centered=True)", "", 8),
    ("RMSprop momentum maximize", "RMSprop(lr=0.01, momentum=0.5, weight_decay=1e-2, maximize=True)", "", 6),
    ("RMSprop ExponentialLR", "RMSprop(lr=0.01, centered=True)", "ExponentialLR(gamma=0.8)", 8),
    ("Adagrad", "Adagrad(lr=0.1)", "", 8),
    ("Adagrad weight decay", "Adagrad(lr=0.1, lr_decay=0.1, weight_decay=0.1, initial_accumulator_value=0.5)", "", 8),
    ("Adagrad MultiStepLR", "Adagrad(lr=0.1, eps=1e-6)", "MultiStepLR(milestones=[2, 5], gamma=0.3)", 8),
    ("Adadelta", "Adadelta()", "", 8),
    ("Adadelta weight decay", "Adadelta(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1, maximize=True)", "", 8),
    ("Adadelta StepLR", "Adadelta(lr=2.0)", "StepLR(step_size=3, gamma=0.5)", 8),
    ("Adamax", "Adamax(lr=0.02)", "", 8),
    ("Adamax weight decay", "Adamax(lr=0.02, betas=(0.8, 0.9), weight_decay=0.1, maximize=True)", "", 8),
    ("Adamax LinearLR", "Adamax(lr=0.02)", "LinearLR(start_factor=0.25, total_iters=4)", 8),
    ("NAdam", "NAdam(lr=0.01)", "", 8),
    ("NAdam weight decay", "NAdam(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1, momentum_decay=0.01)", "", 8),
    ("NAdam StepLR", "NAdam(lr=0.01)", "StepLR(step_size=2, gamma=0.7)", 8),
    ("RAdam", "RAdam(lr=0.01)", "", 10),
    ("RAdam weight decay", "RAdam(lr=0.01, betas=(0.9, 0.9), weight_decay=0.1)", "", 10),
    ("RAdam CosineAnnealingLR", "RAdam(lr=0.01, betas=(0.8, 0.95))", "CosineAnnealingLR(T_max=8)", 10),
    ("ASGD", "ASGD(lr=0.05)", "", 8),
    ("ASGD averaging", "ASGD(lr=0.05, lambd=0.01, alpha=0.5, t0=3, weight_decay=0.1, maximize=True)", "", 8),
    ("ASGD StepLR", "ASGD(lr=0.05, t0=2)", "StepLR(step_size=2, gamma=0.5)", 8),
    ("Rprop", "Rprop(lr=0.01)", "", 8),
    ("Rprop etas", "Rprop(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.1), maximize=True)", "", 10),
    ("Rprop StepLR (lr only at the start)", "Rprop(lr=0.01)", "StepLR(step_size=2, gamma=0.5)", 8),
    # cyclic schedules: OneCycleLR cycles betas[0] of the Adam family, momentum of SGD and RMSprop;
    # CyclicLR (1.13) cycles momentum only
    ("Adam OneCycleLR cycling beta1", "Adam(lr=0.01)", "OneCycleLR(max_lr=0.05, total_steps=10)", 10),
    ("AdamW OneCycleLR cycling beta1", "AdamW(lr=0.01, weight_decay=0.1)",
     "OneCycleLR(max_lr=0.05, total_steps=10, base_momentum=0.8, max_momentum=0.9)", 10),
    ("Adamax OneCycleLR three phases", "Adamax(lr=0.02)", "OneCycleLR(max_lr=0.05, total_steps=10, three_phase=True)", 10),
    ("NAdam OneCycleLR cycling beta1", "NAdam(lr=0.01)", "OneCycleLR(max_lr=0.03, total_steps=10, anneal_strategy='linear')", 10),
    ("RAdam OneCycleLR cycling beta1", "RAdam(lr=0.01)", "OneCycleLR(max_lr=0.03, total_steps=10)", 10),
    ("Adam CyclicLR without momentum", "Adam(lr=0.01)", "CyclicLR(0.001, 0.01, step_size_up=3, cycle_momentum=False)", 8),
    ("Adagrad OneCycleLR without momentum", "Adagrad(lr=0.1)", "OneCycleLR(max_lr=0.2, total_steps=8, cycle_momentum=False)", 8),
    ("RMSprop CyclicLR cycling momentum", "RMSprop(lr=0.01, momentum=0.9)", "CyclicLR(0.001, 0.01, step_size_up=3)", 9),
    ("RMSprop OneCycleLR cycling momentum", "RMSprop(lr=0.01, momentum=0.9, centered=True)",
     "OneCycleLR(max_lr=0.02, total_steps=10)", 10),
]


def make_optimiser(expr, params):
    call = ast.parse(expr, mode="eval").body
    cls = getattr(torch.optim, class_name(call.func))
    kw = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    return cls(params, *[ast.literal_eval(a) for a in call.args], **kw)


def make_optim(out_dir):
    lines = []
    gen = torch.Generator().manual_seed(11)
    for name, expr, sched_expr, steps in OPTIM_CASES:
        p = torch.nn.Parameter(torch.rand(SGD_N, generator=gen) * 2 - 1)
        opt = make_optimiser(expr, [p])
        sched = build(ast.parse(sched_expr, mode="eval").body, opt) if sched_expr else None
        lines += ["case", "name " + name, "optim " + expr, "sched " + sched_expr, "n %d" % SGD_N,
                  "steps %d" % steps, "init " + " ".join("%.9g" % v for v in p.detach().tolist())]
        lines += record_steps(p, opt, sched, steps, gen)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "optim.txt"), "w") as f:
        f.write("# lrlab optimiser fixtures: made by tests/torch/make_sched_fixtures.py with torch %s\n"
                % torch.__version__)
        f.write("\n".join(lines) + "\n")
    return len(OPTIM_CASES)


# The averages of the weights over an optimiser's steps, each a reference
# written here as its source computes it: (name, lrlab --optim, averaging
# spec as tests/test_optim.c reads it, steps). The spec is one of
#   lookahead ARGS  lrlab's --lookahead: every k steps slow.lerp_(fast, alpha)
#                   and fast = slow (airbench94's LookaheadState.update with
#                   decay = 1 - alpha); final=True: the closing update(decay=1.0)
#                   after the last step;
#   ema DECAY       timm's ModelEmaV2.update: ema = decay * ema + (1 - decay) * w,
#                   after every step;
#   swa EVERY       torch.optim.swa_utils.AveragedModel.update_parameters after
#                   every EVERY-th step (an "epoch" of EVERY steps).
# Per step: g<t> the gradient, q<t> the weights after the optimiser's step,
# p<t> after the averaging (Lookahead moves them), a<t> the average.
AVERAGE_CASES = [
    ("Lookahead SGD k=3 alpha=0.5", "SGD(lr=0.05, momentum=0.9)", "lookahead k=3, alpha=0.5", 10),
    ("Lookahead Adam k=2 alpha=0.8", "Adam(lr=0.01)", "lookahead k=2, alpha=0.8", 9),
    ("Lookahead AdamW k=5 alpha=0.3", "AdamW(lr=0.01, weight_decay=0.1)", "lookahead k=5, alpha=0.3", 12),
    ("Lookahead airbench94 alpha", "SGD(lr=0.05, momentum=0.85, nesterov=True)",
     "lookahead k=2, alpha='1 - 0.95**5 * (step / total_steps)**3', final=True", 11),
    ("Lookahead k=1 alpha=1", "RMSprop(lr=0.01)", "lookahead k=1, alpha=1", 5),
    ("EMA 0.9 SGD", "SGD(lr=0.05, momentum=0.9)", "ema 0.9", 10),
    ("EMA 0.999 Adam", "Adam(lr=0.01)", "ema 0.999", 10),
    ("EMA 0.5 AdamW", "AdamW(lr=0.01)", "ema 0.5", 8),
    ("SWA every step", "SGD(lr=0.05, momentum=0.9)", "swa 1", 10),
    ("SWA every 3 steps", "Adam(lr=0.01)", "swa 3", 12),
]


class LookaheadRef:
    """Lookahead's slow weights as airbench94's LookaheadState keeps them
    (legacy/airbench94.py): a copy at the start, then every k steps
    slow.lerp_(fast, alpha) and fast.copy_(slow)."""

    def __init__(self, params):
        self.slow = [p.detach().clone() for p in params]

    def update(self, params, alpha):
        for s, p in zip(self.slow, params):
            s.lerp_(p.detach(), alpha)
            p.detach().copy_(s)


def lookahead_args(text):
    call = ast.parse("f(%s)" % text, mode="eval").body
    kw = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    alpha = kw.get("alpha", 0.5)
    fn = (lambda step, total: eval(alpha, {"step": step, "total_steps": total})) if isinstance(alpha, str) \
        else (lambda step, total: alpha)
    return kw.get("k", 5), fn, kw.get("final", False)


def make_average(out_dir):
    lines = []
    gen = torch.Generator().manual_seed(13)
    for name, expr, spec, steps in AVERAGE_CASES:
        module = torch.nn.Module()
        module.w = torch.nn.Parameter(torch.rand(SGD_N, generator=gen) * 2 - 1)
        p = module.w
        opt = make_optimiser(expr, [p])
        kind, arg = spec.split(" ", 1)
        if kind == "lookahead":
            la, (k, alpha, final) = LookaheadRef([p]), lookahead_args(arg)
            average = la.slow[0]
        elif kind == "ema":
            decay = float(arg)
            ema = torch.nn.Module()
            ema.w = torch.nn.Parameter(p.detach().clone())
            average = ema.w
        else:
            every = int(arg)
            swa = torch.optim.swa_utils.AveragedModel(module)
            average = swa.module.w
        lines += ["case", "name " + name, "optim " + expr, "sched ", "average " + spec, "n %d" % SGD_N,
                  "steps %d" % steps, "init " + " ".join("%.9g" % v for v in p.detach().tolist())]
        for t in range(steps):
            g = torch.randn(SGD_N, generator=gen) * 10.0 ** (t % 3 - 1)
            p.grad = g.clone()
            opt.step()
            q = p.detach().clone()
            done = t + 1
            with torch.no_grad():
                if kind == "lookahead":
                    if done % k == 0:
                        la.update([p], alpha(done, steps))
                    if final and done == steps:
                        la.update([p], 0.0)
                elif kind == "ema":  # timm ModelEmaV2._update over the state_dict
                    for ema_v, model_v in zip(ema.state_dict().values(), module.state_dict().values()):
                        ema_v.copy_(decay * ema_v + (1. - decay) * model_v)
                elif done % every == 0:
                    swa.update_parameters(module)
            for tag, v in (("g", g), ("q", q), ("p", p.detach()), ("a", average.detach())):
                lines.append("%s%d %s" % (tag, t, " ".join("%.9g" % x for x in v.tolist())))
        lines.append("end")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "average.txt"), "w") as f:
        f.write("# lrlab weight-averaging fixtures: made by tests/torch/make_sched_fixtures.py with torch %s\n"
                % torch.__version__)
        f.write("\n".join(lines) + "\n")
    return len(AVERAGE_CASES)


def main():
    """Writes into tests/fixtures (or the directory given as the argument,
    for tests/torch_fixtures_test.sh to compare with the committed ones)."""
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join("tests", "fixtures")
    out = os.path.join(root, "sched")
    os.makedirs(out, exist_ok=True)
    files = {}
    for case in CASES:
        name, expr, lr, mom, unit, steps, metrics, extra = case[:8]
        spe = case[8] if len(case) > 8 else 1
        rows, raised = run_case(expr, lr, mom, steps, metrics, extra, spe, unit)
        lines = ["case", "expr " + expr, "lr %.17g" % lr, "momentum %.17g" % mom, "unit " + unit,
                 "steps %d" % steps]
        if spe != 1:
            lines.append("spe %d" % spe)
        if metrics is not None:
            lines.append("metrics " + " ".join("%.17g" % v for v in metrics))
        if raised is not None:
            lines.append("raises_at %d" % raised)
        for t, v, m in rows:
            lines.append("%d %.17g %.17g" % (t, v, m))
        lines.append("end")
        files.setdefault(name, []).extend(lines)
    for name, lines in files.items():
        with open(os.path.join(out, name + ".txt"), "w") as f:
            f.write("# lrlab schedule fixtures: made by tests/torch/make_sched_fixtures.py with torch %s\n"
                    % torch.__version__)
            f.write("\n".join(lines) + "\n")
    n_sgd = make_sgd(os.path.join(root, "sgd"))
    n_optim = make_optim(os.path.join(root, "optim"))
    n_average = make_average(os.path.join(root, "optim"))
    print("wrote %d schedule cases into %d files under %s, %d SGD cases, %d optimiser cases, %d averaging cases"
          % (len(CASES), len(files), out, n_sgd, n_optim, n_average))


if __name__ == "__main__":
    sys.exit(main())
