#!/bin/sh
# tests/loss_clip_test.sh: --label-smoothing, --loss-reduction,
# --clip-grad-norm, --clip-norm-type and --clip-grad-value end to end on the
# synthetic data: bad values refused (exit 2, the flag and the value named),
# both clippings at once refused, config.txt records them, metrics.csv and
# steps.csv log grad_norm, --resume mid-epoch is bit-identical (weights and
# metrics, grad_norm included), sweep files and find-lr take them, and each
# changes the training. The numbers are compared with PyTorch's in
# tests/torch/train_models.py (recipes).
set -u
. tests/lib.sh
: "${SYNTH_DIR:?SYNTH_DIR must name a synthetic CIFAR-10 directory (tests/run.sh sets it)}"
T=$tmp
F="--data $SYNTH_DIR --limit-train 128 --limit-test 64 --batch 32 --epochs 2 --threads 1 --seed 3"

# ---- refused values: exit 2, the flag and the value ----
expect 2 "--label-smoothing: 1.5 is out of range" train $F --label-smoothing 1.5
expect 2 "--loss-reduction 'avg': expected one of mean|sum" train $F --loss-reduction avg
expect 2 "--clip-grad-norm: -1 is out of range" train $F --clip-grad-norm -1
expect 2 "--clip-norm-type '3': expected one of 2|inf" train $F --clip-norm-type 3
expect 2 "--clip-grad-value: 'x' is not a finite number" train $F --clip-grad-value x
expect 2 "--clip-grad-norm 1 and --clip-grad-value 0.5: give one clipping" train $F --clip-grad-norm 1 --clip-grad-value 0.5 --out "$T/both"
check "a refused run made a run directory" [ ! -e "$T/both" ]

# ---- a run: config.txt, metrics.csv's and steps.csv's grad_norm; resume mid-epoch ----
R="$F --label-smoothing 0.1 --clip-grad-norm 0.5 --clip-norm-type inf --log-steps"
"$LRLAB" train $R --out "$T/ref" >"$T/out" 2>&1
check "the run failed: $(tail -n 3 "$T/out")" [ -s "$T/ref/model.safetensors" ]
for kv in label_smoothing=0.10000000000000001 clip_grad_norm=0.5 clip_norm_type=inf loss_reduction=mean clip_grad_value=0; do
    check "config.txt records $kv" grep -qx "$kv" "$T/ref/config.txt"
done
check "metrics.csv ends in grad_norm: $(head -n 1 "$T/ref/metrics.csv")" grep -q '^epoch,lr,.*,images_per_s,grad_norm$' "$T/ref/metrics.csv"
check "steps.csv logs grad_norm: $(head -n 1 "$T/ref/steps.csv")" grep -qx 'step,epoch,lr,momentum,loss,grad_norm' "$T/ref/steps.csv"
check "grad_norm is positive in every row: $(cut -d, -f12 "$T/ref/metrics.csv" | tr '\n' ' ')" \
    awk -F, 'NR > 1 && !($12 > 0) { exit 1 }' "$T/ref/metrics.csv"
# the epoch's grad_norm is the mean of its steps' (4 a epoch)
want=$(awk -F, 'NR > 1 && NR <= 5 { s += $6 } END { printf "%.5g", s / 4 }' "$T/ref/steps.csv")
got=$(awk -F, 'NR == 2 { printf "%.5g", $12 }' "$T/ref/metrics.csv")
check "epoch 0's grad_norm $got is the mean of its steps' $want" [ "$got" = "$want" ]
"$LRLAB" train $R --out "$T/res" --stop-at-step 3 >"$T/out" 2>&1
"$LRLAB" train --resume "$T/res" >"$T/out" 2>&1
check "--resume failed: $(tail -n 3 "$T/out")" [ -s "$T/res/model.safetensors" ]
check "the resumed model.safetensors differs from the uninterrupted run's" cmp -s "$T/ref/model.safetensors" "$T/res/model.safetensors"
cut -d, -f1-9,12 "$T/ref/metrics.csv" >"$T/m1"; cut -d, -f1-9,12 "$T/res/metrics.csv" >"$T/m2"
check "the resumed metrics.csv differs (grad_norm included): $(diff "$T/m1" "$T/m2" | tr '\n' '|')" cmp -s "$T/m1" "$T/m2"
check "the resumed steps.csv differs" cmp -s "$T/ref/steps.csv" "$T/res/steps.csv"

# ---- each flag changes the training ----
"$LRLAB" train $F --epochs 1 --out "$T/plain" >"$T/out" 2>&1
i=0
for flags in "--label-smoothing 0.1" "--loss-reduction sum" "--clip-grad-norm 0.01" "--clip-grad-value 1e-4"; do
    i=$((i + 1))
    "$LRLAB" train $F --epochs 1 $flags --out "$T/f$i" >"$T/out" 2>&1
    check "$flags: the run failed: $(tail -n 2 "$T/out")" [ -s "$T/f$i/model.safetensors" ]
    if cmp -s "$T/plain/model.safetensors" "$T/f$i/model.safetensors"; then bad "$flags changes nothing"; else ok; fi
done

# ---- sweep files and find-lr take them ----
cat >"$T/s.sweep" <<SWEEP
defaults $F --epochs 1
run clip --clip-grad-value 0.01 --label-smoothing 0.05
run bad --label-smoothing 2
SWEEP
expect 2 "--label-smoothing: 2 is out of range" sweep "$T/s.sweep" --out "$T/sw"
printf 'defaults %s --epochs 1\nrun clip --clip-grad-value 0.01 --loss-reduction sum\n' "$F" >"$T/s2.sweep"
"$LRLAB" sweep "$T/s2.sweep" --out "$T/sw2" >"$T/out" 2>&1
check "a sweep with clipping: $(tail -n 2 "$T/out")" grep -qx "clip_grad_value=0.01" "$T/sw2/clip/config.txt"
L="--data $SYNTH_DIR --limit-train 128 --batch 32 --threads 1"
"$LRLAB" find-lr $L --steps 8 --label-smoothing 0.1 --clip-grad-norm 1 >"$T/out" 2>&1
check "find-lr with label smoothing and clipping: $(tail -n 2 "$T/out")" grep -q "suggested_lr=" "$T/out"
expect 2 "give one clipping" find-lr $L --clip-grad-norm 1 --clip-grad-value 1

summary loss_clip_test
