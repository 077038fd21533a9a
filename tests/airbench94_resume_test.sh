#!/bin/sh
# tests/airbench94_resume_test.sh: issue 13's "the run is bit-identical for
# the same seed and threads, and resumes bit-identically after kill -9", for
# every setting of experiments/airbench94.sweep at once (whitening init, the
# frozen and `from:3` parameter groups, Lookahead with its final copy, the
# summed label-smoothed loss, AlternatingFlip + translate, --max-steps, TTA
# level 2). The settings come from the file itself, through `lrlab sweep
# --dry-run`, made small on the synthetic data in $SYNTH_DIR (tests/run.sh
# makes it): 256 images, batch 32, 8 steps an epoch, 5 epochs ended after
# step 36 (a partial last epoch, as the recipe's 9.9), so the whitening bias
# unfreezes at step 24 and Lookahead syncs at steps 5, 10, ..., 35.
# Runs compared: model.safetensors and steps.csv byte for byte, metrics.csv
# without its timing columns (seconds, images_per_s).
set -u
. tests/lib.sh
case "$LRLAB" in /*) ;; *) LRLAB=$(pwd)/$LRLAB ;; esac
: "${SYNTH_DIR:?SYNTH_DIR must name a synthetic CIFAR-10 directory (tests/run.sh sets it)}"
T=$tmp
SMALL="--data $SYNTH_DIR --limit-train 256 --limit-test 128 --batch 32 --epochs 5 --max-steps 36 --log-steps"

# ---- the reference: the sweep itself (what `make airbench94` runs), one thread ----
"$LRLAB" sweep airbench94 $SMALL --threads 1 --out "$T/sw" >"$T/out" 2>&1; rc=$?
check "lrlab sweep airbench94: exit $rc: $(tail -n 3 "$T/out"; tail -n 3 "$T/sw/airbench94.log")" [ $rc -eq 0 ]
REF=$T/sw/airbench94
check "reference: metrics.csv has not 5 epoch rows" [ "$(lines "$REF/metrics.csv")" -eq 6 ]
check "reference: steps.csv has not 36 steps" [ "$(lines "$REF/steps.csv")" -eq 37 ]
check "reference: no tta_test_acc in the last row" [ -n "$(tail -n 1 "$REF/metrics.csv" | cut -d, -f15)" ]
AC=$(sed -n 's/^algo_choices=//p' "$REF/config.txt")

# The same settings as one `lrlab train` command (its flags, shell-quoted).
"$LRLAB" sweep airbench94 $SMALL --out "$T/dry" --dry-run >"$T/dry.txt" 2>&1
FLAGS=$(sed -n 's/^start  airbench94: lrlab train --out [^ ]* \(.*\) > [^ ]*$/\1/p' "$T/dry.txt")
check "sweep --dry-run: no 'start  airbench94: lrlab train ...' line: $(cat "$T/dry.txt")" [ -n "$FLAGS" ]
for f in --whiten "0.bias: frozen=from:3" "frozen=True" --lookahead "final=True" "label-smoothing 0.2" \
    "loss-reduction sum" AlternatingFlip "padding_mode=" "tta 2" "max-steps 36"; do
    case "$FLAGS" in *"$f"*) ok ;; *) bad "the train command lacks '$f': $FLAGS" ;; esac
done
# train DIR THREADS [FLAGS...]: the recipe's run into DIR (algorithm choice
# pinned); `start DIR THREADS` runs it in the background as $pid.
cmd() { echo "\"\$LRLAB\" train --out '$1' $FLAGS --threads $2 ${AC:+--algo-choices $AC}"; }
train() { c=$(cmd "$1" "$2"); shift 2; eval "$c \"\$@\""; }
start() { eval "exec $(cmd "$1" "$2")" >"$1.log" 2>&1 & pid=$!; }

# same_run REF DIR: DIR's files equal REF's (timings aside)
same_run() {
    check "$2: model.safetensors differs from $1's" cmp -s "$1/model.safetensors" "$2/model.safetensors"
    check "$2: steps.csv differs from $1's" cmp -s "$1/steps.csv" "$2/steps.csv"
    cut -d, -f1-9,12- "$1/metrics.csv" >"$T/m1"; cut -d, -f1-9,12- "$2/metrics.csv" >"$T/m2"
    check "$2: metrics.csv differs from $1's (timings aside): $(diff "$T/m1" "$T/m2" | head -n 4 | tr '\n' '|')" cmp -s "$T/m1" "$T/m2"
}

# ---- straight through again, as `lrlab train`: the same bytes ----
train "$T/again" 1 >"$T/out" 2>&1; rc=$?
check "train with the sweep's flags: exit $rc: $(tail -n 2 "$T/out")" [ $rc -eq 0 ]
same_run "$REF" "$T/again"

# ---- stopped at step 27 (epoch 3 batch 3: after the unfreeze, between
#      Lookahead syncs), then resumed ----
train "$T/s27" 1 --stop-at-step 27 >"$T/out" 2>&1; rc=$?
check "--stop-at-step 27: exit $rc: $(tail -n 2 "$T/out")" [ $rc -eq 0 ]
grep -q "stopped at epoch 3, batch 3 (step 27)" "$T/out"
check "--stop-at-step 27: no 'stopped at epoch 3, batch 3 (step 27)': $(tail -n 2 "$T/out")" [ $? -eq 0 ]
cp -R "$T/s27" "$T/k33"
"$LRLAB" train --resume "$T/s27" >"$T/out" 2>&1; rc=$?
check "--resume after --stop-at-step 27: exit $rc: $(tail -n 2 "$T/out")" [ $rc -eq 0 ]
same_run "$REF" "$T/s27"

# kill9 DIR STEPS: kills DIR's run (the background $pid) with SIGKILL once
# steps.csv holds STEPS steps, then resumes it.
kill9() {
    wait_until "[ \$(lines '$1/steps.csv') -gt $2 ] || ! kill -0 $pid 2>/dev/null"
    kill -9 $pid 2>/dev/null; wait $pid; rc=$?
    check "kill -9 after step $2: exit $rc, expected 137 (the run ended before the kill?)" [ $rc -eq 137 ]
    check "kill -9 after step $2: the run left its weights" [ ! -f "$1/model.safetensors" ]
    "$LRLAB" train --resume "$1" >"$T/out" 2>&1; rc=$?
    check "--resume after kill -9: exit $rc: $(tail -n 2 "$T/out")" [ $rc -eq 0 ]
    grep -q "(resumed)" "$T/out"; check "--resume after kill -9 does not say it resumed" [ $? -eq 0 ]
}

# ---- kill -9 in epoch 3 (after step 26: its checkpoint is epoch 2's end), then resume ----
start "$T/k26" 1
kill9 "$T/k26" 26
same_run "$REF" "$T/k26"

# ---- the mid-epoch checkpoint of step 27 resumed, killed in epoch 4
#      (after step 33, past the sync at 30), resumed again ----
"$LRLAB" train --resume "$T/k33" >"$T/k33.log" 2>&1 &
pid=$!
kill9 "$T/k33" 33
same_run "$REF" "$T/k33"

# ---- two threads: two runs, the same bytes ----
train "$T/t2a" 2 >"$T/out" 2>&1; rc=$?
check "--threads 2: exit $rc: $(tail -n 2 "$T/out")" [ $rc -eq 0 ]
train "$T/t2b" 2 >"$T/out" 2>&1
same_run "$T/t2a" "$T/t2b"
summary airbench94_resume_test
