#!/bin/sh
# tests/shipped_models_test.sh: every model in models/ works with the
# commands that take one: `lrlab summary --model M` ends in the model's
# parameter count (the figures of docs/models.md), and `lrlab bench --model
# M` runs a training step (a tiny batch and one iteration: the command, not
# its speed). The longest algorithm choice (resnet110's 109 convolutions)
# is kept whole in config.txt: given with --algo-choices and read back by
# --resume.
set -u
. tests/lib.sh
: "${SYNTH_DIR:?SYNTH_DIR must name a synthetic CIFAR-10 directory (tests/run.sh sets it)}"
T=$tmp
# every shipped model and its parameter count (docs/models.md)
for entry in vgg-seed:688,224 resnet20:269,722 resnet32:464,154 resnet56:853,018 resnet110:1,727,962 \
    airbench94-net:1,972,792 resnet18:11,173,962 vgg11-bn:9,231,114 vgg-fashion:572,960; do
    m=${entry%:*} want=${entry#*:}
    "$LRLAB" summary --model "$m" >"$T/summary.out" 2>&1
    check "summary --model $m ends in 'Total params: $want' (exit $?): $(grep Total "$T/summary.out")" \
        sh -c "tail -n 1 '$T/summary.out' | grep -qx 'Total params: $want'"
    "$LRLAB" bench --model "$m" --batch 2 --iters 1 --warmup 0 --threads 1 --conv-algo direct >"$T/bench.out" 2>&1
    check "bench --model $m runs a training step (exit $?): $(tail -n 1 "$T/bench.out")" \
        grep -q "^train_step images_per_s=" "$T/bench.out"
done
n=$(ls models | wc -l)
check "every file in models/ is in this test's list ($n files)" [ "$n" -eq 9 ]

# resnet110's choice: 109 convolutions, 3 letters each and commas (436
# characters; the first has no backward-data pass: '-')
F="--model resnet110 --data $SYNTH_DIR --limit-train 4 --limit-test 2 --batch 2 --epochs 1 --no-augment --threads 1"
choice=$(awk 'BEGIN { printf "d-d"; for (i = 1; i < 109; i++) printf ",ddd" }')
"$LRLAB" train $F --algo-choices "$choice" --out "$T/r110" --stop-at-step 1 >"$T/r110.out" 2>&1
check "train resnet110 --algo-choices (436 characters), stopped at step 1 (exit $?): $(tail -n 1 "$T/r110.out")" \
    grep -qx "algo_choices=$choice" "$T/r110/config.txt"
"$LRLAB" train --resume "$T/r110" >"$T/resume.out" 2>&1
check "--resume reads the whole choice back (exit $?): $(tail -n 1 "$T/resume.out")" [ -f "$T/r110/model.safetensors" ]
summary shipped_models_test
