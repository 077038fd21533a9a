#!/usr/bin/python3
"""Writes tests/fixtures/sched/*.txt: learning-rate tables computed by
PyTorch's own torch.optim.lr_scheduler classes (torch 1.13), for lrlab's
schedule tests (tests/test_sched.c, tests/sched_cli_test.sh).

Each case is an lrlab --sched expression. It is evaluated as Python with every
class bound to one SGD optimiser (lr = base lr, momentum as given), the way a
PyTorch script builds them: children first, in source order, all sharing the
optimiser. Quoted lr_lambda / scale_fn strings become Python lambdas.
GradualWarmupScheduler (not in torch) gets the intended meaning of
SEMANTICS.md: SequentialLR([LinearLR(1/m, 1, E), S], [E]) on base b*m for
m > 1 (checked to start at b), and by hand for m == 1 (b*t/E, then S on base b).

Output, per case: `case`, `expr E`, `lr B`, `momentum M`, `unit U`,
`steps N`, optionally `metrics v0 v1 ...` (fed to step() after row t) and
`raises_at K` (PyTorch raised on the step that would have made t = K), then N
rows `t lr momentum` with %.17g, then `end`.

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

OUT = os.path.join("tests", "fixtures", "sched")

CLASSES = ["LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR",
           "ExponentialLR", "PolynomialLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts",
           "CyclicLR", "OneCycleLR", "ReduceLROnPlateau", "SequentialLR", "ChainedScheduler"]

MATH = {"min": min, "max": max, "cos": math.cos, "exp": math.exp, "log": math.log, "floor": math.floor}


def to_fn(text, var):
    code = compile(text, "<lr_lambda>", "eval")
    return lambda v: eval(code, dict(MATH), {var: v})


def namespace(opt):
    ns = dict(MATH)

    def bind(cls):
        def make(*args, **kw):
            args = list(args)
            if cls in (lr_scheduler.LambdaLR, lr_scheduler.MultiplicativeLR):
                if args and isinstance(args[0], str):
                    args[0] = to_fn(args[0], "epoch")
                if isinstance(kw.get("lr_lambda"), str):
                    kw["lr_lambda"] = to_fn(kw["lr_lambda"], "epoch")
            if cls is lr_scheduler.CyclicLR and isinstance(kw.get("scale_fn"), str):
                kw["scale_fn"] = to_fn(kw["scale_fn"], "x")
            if cls is lr_scheduler.ChainedScheduler:
                return cls(*args, **kw)
            return cls(opt, *args, **kw)
        return make

    for name in CLASSES:
        ns[name] = bind(getattr(lr_scheduler, name))
    return ns


def new_opt(lr, momentum):
    p = torch.nn.Parameter(torch.zeros(1))
    return torch.optim.SGD([p], lr=lr, momentum=momentum)


def literal(node):
    return ast.literal_eval(ast.unparse(node))


def run_case(expr, lr, momentum, steps, metrics, extra):
    """Returns the rows and the t at which PyTorch raised (or None)."""
    tree = ast.parse(expr, mode="eval").body
    if isinstance(tree, ast.Call) and tree.func.id == "GradualWarmupScheduler":
        return run_warmup(tree, lr, momentum, steps, extra)
    opt = new_opt(lr, momentum)
    sched = eval(compile(expr, "<expr>", "eval"), namespace(opt))
    rows, raised = [], None
    g = opt.param_groups[0]
    for t in range(steps + extra):
        if t < steps:
            rows.append((t, g["lr"], g["momentum"]))
        try:
            if metrics is not None:
                sched.step(metrics[t] if t < len(metrics) else 0.0)
            else:
                sched.step()
        except ValueError:
            raised = t + 1
            break
    return rows, raised


def run_warmup(call, lr, momentum, steps, extra):
    names = ["multiplier", "total_epoch", "after_scheduler"]
    args = dict(zip(names, call.args))
    args.update({k.arg: k.value for k in call.keywords})
    m = float(literal(args["multiplier"]))
    E = int(literal(args["total_epoch"]))
    after = args.get("after_scheduler")
    if after is not None and isinstance(after, ast.Constant) and after.value is None:
        after = None
    rows = []
    if m > 1:
        opt = new_opt(lr * m, momentum)
        lin = lr_scheduler.LinearLR(opt, start_factor=1 / m, end_factor=1.0, total_iters=E)
        if after is not None:
            S = eval(compile(ast.unparse(after), "<after>", "eval"), namespace(opt))
            sched = lr_scheduler.SequentialLR(opt, [lin, S], milestones=[E])
        else:
            sched = lin
        g = opt.param_groups[0]
        assert abs(g["lr"] - lr) <= 1e-15 * lr, (g["lr"], lr)
        for t in range(steps):
            rows.append((t, g["lr"], g["momentum"]))
            sched.step()
        return rows, None
    # m == 1, by hand: b*t/E up to E, then S from t = E on a fresh optimiser at base b
    seq = None
    for t in range(steps):
        if t < E:
            rows.append((t, lr * t / E, momentum))
            continue
        if seq is None:
            opt = new_opt(lr, momentum)
            if after is not None:
                seq = eval(compile(ast.unparse(after), "<after>", "eval"), namespace(opt))
            g = opt.param_groups[0]
        else:
            if after is not None:
                seq.step()
        rows.append((t, g["lr"], g["momentum"]))
    return rows, None


# (file, expr, lr, momentum, unit, steps, metrics or None, extra steps to find a raise)
CASES = [
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



def main():
    os.makedirs(OUT, exist_ok=True)
    files = {}
    for name, expr, lr, mom, unit, steps, metrics, extra in CASES:
        rows, raised = run_case(expr, lr, mom, steps, metrics, extra)
        lines = ["case", "expr " + expr, "lr %.17g" % lr, "momentum %.17g" % mom, "unit " + unit,
                 "steps %d" % steps]
        if metrics is not None:
            lines.append("metrics " + " ".join("%.17g" % v for v in metrics))
        if raised is not None:
            lines.append("raises_at %d" % raised)
        for t, v, m in rows:
            lines.append("%d %.17g %.17g" % (t, v, m))
        lines.append("end")
        files.setdefault(name, []).extend(lines)
    for name, lines in files.items():
        with open(os.path.join(OUT, name + ".txt"), "w") as f:
            f.write("# lrlab schedule fixtures: made by tests/torch/make_sched_fixtures.py with torch %s\n"
                    % torch.__version__)
            f.write("\n".join(lines) + "\n")
    print("wrote %d cases into %d files under %s" % (len(CASES), len(files), OUT))


if __name__ == "__main__":
    sys.exit(main())
