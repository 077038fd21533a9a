#!/bin/sh
# tests/airbench94_test.sh: experiments/airbench94.sweep's numbers against
# the source's (KellerJordan/cifar10-airbench, legacy/airbench94.py; its
# numbers and get_lr as tests/torch/airbench_steps.py writes them), as
# lrlab resolves them (`lrlab sweep airbench94 --dry-run` for 50,000
# training images, CIFAR-10's: {total_steps} = 476): its lr schedule, through
# `lrlab schedule`, equals PyTorch's LambdaLR with the source's get_lr at
# all 476 steps, bit for bit; its SGD lr and weight decays are the
# source's derived doubles. (tests/test_sweep.c checks the other settings;
# tests/airbench_steps_test.sh trains the recipe's first steps against
# PyTorch's.)
set -u
. tests/lib.sh
case "$LRLAB" in /*) ;; *) LRLAB=$(pwd)/$LRLAB ;; esac
T=$tmp
: "${SYNTH_DIR:?SYNTH_DIR must name a synthetic CIFAR-10 directory (tests/run.sh sets it)}"
"$LRLAB" sweep airbench94 --dry-run --data "$SYNTH_DIR" --limit-train 50000 --out "$T/sweep" >"$T/plan" 2>&1
check "lrlab sweep airbench94 --dry-run: $(tail -n 1 "$T/plan")" grep -q '^start *airbench94: ' "$T/plan"
sed -n 's/^start *airbench94: \(.*\) > [^ ]*$/\1/p' "$T/plan" >"$T/cmd"
# what every run would refuse is refused up front: 5 epochs hold 240 of the recipe's 476 steps
"$LRLAB" sweep airbench94 --dry-run --data "$SYNTH_DIR" --limit-train 50000 --epochs 5 --out "$T/sweep5" >"$T/plan5" 2>&1
rc=$?
check "sweep airbench94 --epochs 5 --dry-run: refused before any run (exit $rc): $(tail -n 1 "$T/plan5")" \
    sh -c "[ $rc -ne 0 ] && grep -q -- '--max-steps 476: more than the 240 steps of --epochs 5' '$T/plan5'"
value() { # value NAME: the value of the run's last --NAME (its command is shell-quoted)
    name=$1 v=
    eval "set -- $(cat "$T/cmd")"
    while [ $# -gt 1 ]; do
        if [ "$1" = "--$name" ]; then v=$2; fi
        shift
    done
    printf '%s' "$v"
}
sched=$(value sched)
case "$sched" in
"LambdaLR("*"floor(476 * 0.23)"*) ok ;;
*) bad "the run's --sched: '$sched', expected a LambdaLR with {total_steps} = 476" ;;
esac
lr=$(value optim | sed -n 's/^SGD(lr=\([0-9.e-]*\),.*/\1/p')
"$LRLAB" schedule --lr "$lr" --epochs 10 --steps-per-epoch 48 --sched-unit step --sched "$sched" >"$T/lr" 2>&1
check "lrlab schedule of the run's --sched: $(tail -n 1 "$T/lr")" [ $? -eq 0 ]
if ! "$PY" -c 'import torch' >/dev/null 2>&1; then
    skip "python3-torch not installed: the schedule is not compared with PyTorch"
else
    "$PY" - "$T/lr" "$T/cmd" >"$T/out" 2>&1 <<'PYEOF'
import re, shlex, sys
import torch
sys.path.insert(0, "tests/torch")
from airbench_steps import MOMENTUM, source_lr, source_numbers
lr, wd, lr_biases = source_numbers()
words = shlex.split(open(sys.argv[2]).read())
flags = [(words[i], words[i + 1]) for i in range(len(words) - 1) if words[i].startswith("--")]
optim = [v for k, v in flags if k == "--optim"][-1]
bias_group = [v for k, v in flags if k == "--param-group" and v.startswith("@batchnorm.bias:")][0]
want = {"lr": lr, "weight_decay": wd / lr, "bias weight_decay": wd / lr_biases}
got = {"lr": float(re.search(r"SGD\(lr=([0-9.e-]+)", optim)[1]),
       "weight_decay": float(re.search(r"weight_decay=([0-9.e-]+)\)", optim)[1]),
       "bias weight_decay": float(re.search(r"lr_scale=64, weight_decay=([0-9.e-]+)$", bias_group)[1])}
bad = [k for k in want if want[k] != got[k]]
T = 476
p = torch.nn.Parameter(torch.zeros(1))
opt = torch.optim.SGD([p], lr=lr, momentum=MOMENTUM, nesterov=True)
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: source_lr(step, T))
ref = []
for _ in range(T):
    ref.append(opt.param_groups[0]["lr"])
    opt.step()
    sched.step()
rows = [float(l.split()[1]) for l in open(sys.argv[1]) if l[:1].isdigit()][:T]
diff = [i for i in range(T) if i >= len(rows) or rows[i] != ref[i]]
print("numbers", "ok" if not bad else "differ: %s" % bad)
print("schedule", "ok" if not diff else "differs at steps %s" % diff[:5])
PYEOF
    check "the run's lr and weight decays are the source's: $(sed -n 1p "$T/out")" grep -qx "numbers ok" "$T/out"
    check "the run's LambdaLR equals the source's get_lr in PyTorch at 476 steps: $(tail -n 1 "$T/out")" grep -qx "schedule ok" "$T/out"
fi
summary airbench94_test
