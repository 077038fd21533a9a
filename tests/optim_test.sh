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

# ---- weight averaging: --lookahead and --ema (the numbers: test_optim's fixtures against PyTorch) ----
LA="k=3, alpha='1 - 0.95**5 * (step / total_steps)**3', buffers=True, final=True"
set -- $F --optim 'AdamW(lr=1e-3)' --lookahead "$LA" --ema 0.9 --algo-choices "$AC"
"$LRLAB" train "$@" --out "$T/avg-ref" >"$T/out" 2>&1
check "Lookahead and EMA: $(tail -n 2 "$T/out")" [ -s "$T/avg-ref/model_ema.safetensors" ]
check "metrics.csv has the EMA's columns: $(head -n 1 "$T/avg-ref/metrics.csv")" \
    grep -q '^epoch,lr,beta1,.*,images_per_s,.*test_loss_ema,test_acc_ema$' "$T/avg-ref/metrics.csv"
nf=$(head -n 1 "$T/avg-ref/metrics.csv" | awk -F, '{ print NF }')
check "every row has them: $(cat "$T/avg-ref/metrics.csv")" [ "$(awk -F, -v nf="$nf" 'NR > 1 && NF == nf && $nf != ""' "$T/avg-ref/metrics.csv" | wc -l)" -eq 2 ]
check "the log shows the EMA's accuracy" grep -q "\[EMA\] Loss: [0-9.]* | Acc: " "$T/out"
check "the first line names the averages: $(head -n 1 "$T/out")" grep -qF "AdamW(lr=0.001), lookahead $LA, ema 0.9, sched" "$T/out"
check "config.txt records both" grep -qxF "lookahead=$LA" "$T/avg-ref/config.txt"
check "config.txt records the decay" grep -qx "ema=0.9[0-9]*" "$T/avg-ref/config.txt"
"$LRLAB" report "$T/avg-ref" >"$T/report" 2>&1
check "report reads a metrics.csv with the EMA's columns and names the averages: $(tail -n 3 "$T/report")" \
    grep -qF "\`AdamW(lr=0.001)\`, Lookahead \`$LA\`, EMA 0.9" "$T/report"
for stop in 2 5 8; do  # mid-epoch before and after a synchronisation, and at the epoch's end
    "$LRLAB" train "$@" --out "$T/avg$stop" --stop-at-step $stop >"$T/out" 2>&1
    "$LRLAB" train --resume "$T/avg$stop" >"$T/out" 2>&1
    check "Lookahead + EMA stopped at step $stop and resumed: $(tail -n 2 "$T/out")" \
        cmp -s "$T/avg-ref/model.safetensors" "$T/avg$stop/model.safetensors"
    check "... and model_ema.safetensors is the uninterrupted run's" \
        cmp -s "$T/avg-ref/model_ema.safetensors" "$T/avg$stop/model_ema.safetensors"
done
for mode in "--ema 0.99" "--lookahead k=2,alpha=0.7"; do  # each alone
    name=$(echo "$mode" | tr -dc 'a-z0-9')
    "$LRLAB" train $F $mode --algo-choices "$AC" --out "$T/$name-ref" >"$T/out" 2>&1
    "$LRLAB" train $F $mode --algo-choices "$AC" --out "$T/$name" --stop-at-step 3 >"$T/out" 2>&1
    "$LRLAB" train --resume "$T/$name" >"$T/out" 2>&1
    for f in model.safetensors model_ema.safetensors; do
        [ -e "$T/$name-ref/$f" ] || continue
        check "$mode stopped at step 3 and resumed: $f differs" cmp -s "$T/$name-ref/$f" "$T/$name/$f"
    done
done
"$LRLAB" train $F --optim 'AdamW(lr=1e-3)' --algo-choices "$AC" --out "$T/avg-none" >/dev/null 2>&1
cmp -s "$T/avg-ref/model.safetensors" "$T/avg-none/model.safetensors"
check "Lookahead changes the weights" [ $? -ne 0 ]
check "no --ema, no model_ema.safetensors" [ ! -e "$T/avg-none/model_ema.safetensors" ]
if have_torch; then
    "$PY" - "$T/avg-ref/model.safetensors" "$T/avg-ref/model_ema.safetensors" >"$T/out" 2>&1 <<'PY'
import json, struct, sys
def names(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return [(k, v["dtype"], v["shape"]) for k, v in json.loads(f.read(n)).items() if k != "__metadata__"]
a, b = names(sys.argv[1]), names(sys.argv[2])
print("same" if a == b else "differ: %s / %s" % (a[:3], b[:3]))
PY
    check "model_ema.safetensors has model.safetensors' names, dtypes and shapes: $(cat "$T/out")" grep -qx same "$T/out"
else
    skip "optim_test: python3-torch not installed: model_ema.safetensors' names not compared"
fi
expect 2 "--lookahead: k must be a whole number of steps >= 1" train $F --lookahead 'k=0'
# k beyond the run: no synchronisation ever, and final=True would hand back the initial weights
expect 2 "k=9 is more than the run's 8 steps: the slow weights would never synchronise, and final=True would end the run with its initial weights (expected k <= 8)" train $F --lookahead 'k=9, final=True'
expect 2 "unknown name 'total' (the only variables here are 'step' and 'total_steps')" train $F --lookahead "alpha='step / total'"
expect 2 "--lookahead: alpha at step 8 of 8 is 1.5: expected a value in [0, 1]" train $F --lookahead "k=4, alpha='0.5 + step / 8'"
grep -q '^ \{13\}\^~\{15\}$' "$T/out"; check "the caret is under alpha's string: $(cat "$T/out")" [ $? -eq 0 ]
expect 2 "unknown argument 'alpah' (did you mean alpha?)" train $F --lookahead 'alpah=0.5'
expect 2 "--ema: 1.5 is out of range" train $F --ema 1.5
expect 2 "--ema 1: expected a decay below 1" train $F --ema 1

# ---- SWA: --swa-start, SWALR inside SequentialLR, update_bn (against torch's: tests/torch/swa_check.py) ----
S="--model resnet20 --data $SYNTH_DIR --limit-train 128 --limit-test 64 --batch 32 --epochs 3 --threads 1 --seed 3"
S="$S --no-augment --no-shuffle --swa-start 1"
SW="SequentialLR([ConstantLR(factor=1.0, total_iters=1), SWALR(swa_lr=0.005, anneal_epochs=1)], milestones=[1])"
"$LRLAB" train $S --sched "$SW" --out "$T/swa-ref" >"$T/out" 2>&1
check "SWA: $(tail -n 2 "$T/out")" [ -s "$T/swa-ref/model_swa.safetensors" ]
check "the log gives the SWA model's accuracy: $(tail -n 2 "$T/out")" \
    grep -q "^SWA: the average of 2 epochs, BatchNorm statistics from 4 batches (update_bn): \[Test\] Loss: " "$T/out"
check "SWALR anneals to swa_lr from epoch 1: $(cut -d, -f2 "$T/swa-ref/metrics.csv" | tr '\n' ' ')" \
    [ "$(cut -d, -f2 "$T/swa-ref/metrics.csv" | tr '\n' ' ')" = "lr 0.01 0.0050000000000000001 0.0050000000000000001 " ]
SAC=$(sed -n 's/^algo_choices=//p' "$T/swa-ref/config.txt")
"$LRLAB" train $S --sched "$SW" --algo-choices "$SAC" --out "$T/swa6" --stop-at-step 6 >"$T/out" 2>&1
"$LRLAB" train --resume "$T/swa6" >"$T/out" 2>&1
check "SWA stopped mid-epoch 1 and resumed: $(tail -n 2 "$T/out")" cmp -s "$T/swa-ref/model.safetensors" "$T/swa6/model.safetensors"
check "... and model_swa.safetensors is the uninterrupted run's" \
    cmp -s "$T/swa-ref/model_swa.safetensors" "$T/swa6/model_swa.safetensors"
rm "$T/swa6/model_swa.safetensors" "$T/swa6/model.safetensors"  # as a kill after the last checkpoint leaves it
"$LRLAB" train --resume "$T/swa6" >"$T/out" 2>&1
check "a finished run writes a missing model_swa.safetensors again, the same: $(tail -n 2 "$T/out")" \
    cmp -s "$T/swa-ref/model_swa.safetensors" "$T/swa6/model_swa.safetensors"
if have_torch; then
    "$PY" tests/torch/swa_check.py "$T/swa-ref" "$SYNTH_DIR" resnet20 128 32 >"$T/out" 2>&1
    check "update_bn as torch.optim.swa_utils.update_bn: $(grep -v '^swa_check:' "$T/out" | head -n 3)" \
        grep -q '^swa_check: [1-9][0-9]* passed, 0 failed' "$T/out"
else
    skip "optim_test: python3-torch not installed: SWA's update_bn not compared with PyTorch's"
fi
expect 2 "--swa-start 3: the run has 3 epochs (0..2): SWA would average nothing" train $S --swa-start 3
expect 2 "SWALR: anneal_epochs must be equal or greater than 0" train $S --sched 'SWALR(swa_lr=0.01, anneal_epochs=-1)'

# ---- kill -9 with every average at once (Lookahead, EMA, SWA) and a parameter group (no decay on
# BatchNorm and biases), then --resume: the same files ----
K="$S --epochs 4 --optim AdamW(lr=1e-3) --param-group @batchnorm|@bias:weight_decay=0 --lookahead k=3 --ema 0.9"
K="$K --sched SWALR(swa_lr=1e-4,anneal_epochs=2) --log-steps"
"$LRLAB" train $K --algo-choices "$SAC" --out "$T/all-ref" >"$T/out" 2>&1
check "every average at once: $(tail -n 2 "$T/out")" [ -s "$T/all-ref/model_swa.safetensors" ]
"$LRLAB" train $K --algo-choices "$SAC" --out "$T/all" >"$T/all.log" 2>&1 &
pid=$!
wait_until "[ -f '$T/all/checkpoint.safetensors' ] || ! kill -0 $pid 2>/dev/null"
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
"$LRLAB" train --resume "$T/all" >"$T/out" 2>&1
for f in model.safetensors model_ema.safetensors model_swa.safetensors steps.csv; do
    check "kill -9 and --resume with every average and a parameter group: $f differs from the uninterrupted run's" cmp -s "$T/all-ref/$f" "$T/all/$f"
done

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
