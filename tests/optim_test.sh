#!/bin/sh
# tests/optim_test.sh: `lrlab train --optim` end to end, on the synthetic
# data in $SYNTH_DIR (tests/run.sh makes it): every optimiser trains and
# `--resume` after --stop-at-step mid-epoch ends with a model.safetensors
# byte-identical to an uninterrupted run's (the optimiser's whole state is in
# the checkpoint); config.txt records the optimiser in full and the lr in
# use; bad expressions and mixed flags are usage errors (exit 2) with
# PyTorch's message and a caret; report shows the optimiser; OneCycleLR
# cycles AdamW's beta1, which metrics.csv and steps.csv log as `beta1`;
# cyclic schedules that PyTorch refuses (CyclicLR on Adam, cycle_momentum on
# Adagrad) are refused. The numbers of
# each step are tests/test_optim.c's (against PyTorch).
set -u
. tests/lib.sh
: "${SYNTH_DIR:?SYNTH_DIR must name a synthetic CIFAR-10 directory (tests/run.sh sets it)}"
T=$tmp
F="--data $SYNTH_DIR --limit-train 128 --limit-test 64 --batch 32 --epochs 2 --threads 1 --seed 3"

# ---- every optimiser: an uninterrupted run, and one stopped mid-epoch 0 and resumed ----
# (the reference run's algorithm choice pins the others'; step-unit schedules exercise the state per step)
AC=
for o in "SGD(lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)" "Adam(lr=1e-3, amsgrad=True)" \
         "AdamW(lr=1e-3)" "RMSprop(lr=1e-3, momentum=0.9, centered=True)" "Adagrad(lr=0.01, lr_decay=0.01)" \
         "Adadelta()" "Adamax()" "NAdam()" "RAdam()" "ASGD(lr=0.01, t0=2)" "Rprop(lr=1e-3)"; do
    name=${o%%(*}
    set -- $F --optim "$o" --sched "StepLR(step_size=3, gamma=0.5)" --sched-unit step
    [ -n "$AC" ] && set -- "$@" --algo-choices "$AC"
    "$LRLAB" train "$@" --out "$T/$name-ref" >"$T/out" 2>&1
    check "$name: the reference run failed: $(tail -n 3 "$T/out")" [ $? -eq 0 ]
    [ -z "$AC" ] && AC=$(sed -n 's/^algo_choices=//p' "$T/$name-ref/config.txt")
    "$LRLAB" train "$@" --out "$T/$name" --stop-at-step 3 >"$T/out" 2>&1
    check "$name: --stop-at-step 3 failed: $(tail -n 3 "$T/out")" [ $? -eq 0 ]
    "$LRLAB" train --resume "$T/$name" >"$T/out" 2>&1
    check "$name: --resume failed: $(tail -n 3 "$T/out")" [ $? -eq 0 ]
    check "$name: the resumed model.safetensors differs from the uninterrupted run's" \
        cmp -s "$T/$name-ref/model.safetensors" "$T/$name/model.safetensors"
    check "$name: config.txt does not record the optimiser" grep -q "^optim=$name(lr=" "$T/$name/config.txt"
done
check "Adam: config.txt records every argument" grep -qxF \
    "optim=Adam(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0, amsgrad=True, maximize=False)" "$T/Adam/config.txt"
check "NAdam: the lr in use is PyTorch's default" grep -q "^lr=0.002" "$T/NAdam/config.txt"
check "the training log names the optimiser: $(head -n 1 "$T/out")" grep -q "Rprop(lr=0.001), sched StepLR" "$T/out"
"$LRLAB" report "$T/Adam" "$T/SGD" >"$T/report" 2>&1
check "report shows the optimiser: $(cat "$T/report")" grep -qF 'Adam(lr=0.001, amsgrad=True)' "$T/report"

# ---- the lr: --optim's, else --lr, else PyTorch's default; both: refused unless equal ----
"$LRLAB" train $F --epochs 1 --optim 'Adam()' --lr 0.003 --out "$T/lr1" >"$T/out" 2>&1
check "--lr applies to an --optim without lr=" grep -q "^optim=Adam(lr=0.003, " "$T/lr1/config.txt"
"$LRLAB" train $F --epochs 1 --optim 'Adam(lr=0.003)' --lr 0.003 --out "$T/lr2" >"$T/out" 2>&1
check "the same lr in both is accepted: $(tail -n 2 "$T/out")" [ -s "$T/lr2/model.safetensors" ]
expect 2 "the lr is given twice" train $F --optim 'Adam(lr=0.1)' --lr 0.01
expect 2 "--momentum is SGD's shorthand: with --optim, give momentum= inside the expression" train $F --optim 'SGD(lr=0.1)' --momentum 0.9
expect 2 "--weight-decay is SGD's shorthand" train $F --optim 'AdamW()' --weight-decay 0.1
expect 2 "--nesterov is SGD's shorthand" train $F --optim 'SGD(momentum=0.9)' --nesterov

# ---- refused expressions: PyTorch's messages, a caret, exit 2, no run directory ----
expect 2 "optim: Adam: Invalid beta parameter at index 0: 1.5 (PyTorch's ValueError)" train $F --optim 'Adam(betas=(1.5, 0.9))' --out "$T/bad"
check "a refused --optim made a run directory" [ ! -e "$T/bad" ]
grep -q '^              ^~~$' "$T/out"; check "the caret is under betas[0]: $(cat "$T/out")" [ $? -eq 0 ]
expect 2 "SGD: Nesterov momentum requires a momentum and zero dampening" train $F --optim 'SGD(nesterov=True)'
expect 2 "unknown optimiser 'Adma' (did you mean Adam?)" train $F --optim 'Adma(lr=0.1)'
expect 2 "LBFGS is not supported" train $F --optim 'LBFGS()'
L="--data $SYNTH_DIR --limit-train 128 --batch 32 --threads 1"
expect 2 "Invalid learning rate: -0.1" find-lr $L --optim 'Adam(lr=-0.1)'

# ---- cyclic schedules: OneCycleLR cycles Adam's betas[0], logged as beta1; what PyTorch refuses ----
"$LRLAB" train $F --optim 'AdamW(lr=1e-3)' --sched 'OneCycleLR(max_lr=0.01, total_steps=8)' --sched-unit step \
    --log-steps --out "$T/cyc" >"$T/out" 2>&1
check "AdamW with OneCycleLR: $(tail -n 2 "$T/out")" [ -s "$T/cyc/model.safetensors" ]
check "metrics.csv names the cycled key beta1: $(head -n 1 "$T/cyc/metrics.csv")" \
    grep -q '^epoch,lr,beta1,train_loss' "$T/cyc/metrics.csv"
check "steps.csv names it too: $(head -n 1 "$T/cyc/steps.csv")" grep -qx 'step,epoch,lr,beta1,loss,grad_norm' "$T/cyc/steps.csv"
check "beta1 starts at max_momentum 0.95" grep -q '^0,0,[0-9.e-]*,0.94999999999999996,' "$T/cyc/steps.csv"
check "beta1 moves every step: $(cut -d, -f4 "$T/cyc/steps.csv" | tr '\n' ' ')" \
    [ "$(sed 1d "$T/cyc/steps.csv" | cut -d, -f4 | sort -u | wc -l)" -ge 5 ]
"$LRLAB" report "$T/cyc" >"$T/report" 2>&1
check "report reads a beta1 metrics.csv: $(tail -n 3 "$T/report")" grep -q 'AdamW(lr=0.001)' "$T/report"
expect 2 "CyclicLR: optimizer must support momentum with \`cycle_momentum\` option enabled" \
    train $F --optim 'Adam()' --sched 'CyclicLR(0.001, 0.01, step_size_up=2)'
expect 2 "optimizer must support momentum with \`cycle_momentum\` option enabled" \
    train $F --optim 'Adagrad()' --sched 'OneCycleLR(max_lr=0.1, total_steps=8)' --sched-unit step
"$LRLAB" train $F --epochs 1 --optim 'Adagrad()' --sched 'OneCycleLR(max_lr=0.1, total_steps=4, cycle_momentum=False)' \
    --sched-unit step --out "$T/cyc2" >"$T/out" 2>&1
check "Adagrad with OneCycleLR(cycle_momentum=False): $(tail -n 2 "$T/out")" [ -s "$T/cyc2/model.safetensors" ]

# ---- find-lr and sweep take it too ----
"$LRLAB" find-lr $L --optim 'AdamW(weight_decay=0.1)' --steps 8 >"$T/out" 2>&1
check "find-lr with --optim: $(tail -n 2 "$T/out")" grep -q "AdamW(lr=" "$T/out"
cat >"$T/s.sweep" <<SWEEP
defaults $F
run adam --optim 'Adam(lr=1e-3)' --epochs 1
run bad --optim 'Adam(eps=-1)'
SWEEP
expect 2 "Invalid epsilon value: -1.0" sweep "$T/s.sweep" --out "$T/sw"

summary optim_test
