#!/bin/sh
# tests/max_steps_test.sh: --max-steps ends a run within its last epoch
# (airbench's 9.9 epochs: --epochs 10 --max-steps 476). Schedules and
# Lookahead see its total_steps, metrics.csv gets the partial epoch's row,
# and a run stopped mid-epoch, at its very last step, or killed after its
# last checkpoint resumes to the same bytes. Synthetic data in $SYNTH_DIR
# (tests/run.sh makes it): 256 images, batch 64, 4 steps per epoch.
set -u
. tests/lib.sh
case "$LRLAB" in /*) ;; *) LRLAB=$(pwd)/$LRLAB ;; esac
: "${SYNTH_DIR:?SYNTH_DIR must name a synthetic CIFAR-10 directory (tests/run.sh sets it)}"
T=$tmp
# 3 epochs of 4 steps, ended after step 10: epoch 2 has 2 steps. OneCycleLR
# with total_steps=10 covers exactly 10 steps; Lookahead's alpha is 1 only
# when its total_steps is 10 (outside [0, 1] otherwise, which is refused).
# The quotes in F are Python's, part of --lookahead's value.
# shellcheck disable=SC2089
F="--data $SYNTH_DIR --limit-train 256 --limit-test 128 --batch 64 --epochs 3 --max-steps 10 --threads 1 --log-steps
   --sched-unit step --sched OneCycleLR(max_lr=0.1,total_steps=10)
   --lookahead k=5,alpha='(20-total_steps)/10',final=True"

same_run() {
    check "$2: model.safetensors differs from $1's" cmp -s "$1/model.safetensors" "$2/model.safetensors"
    check "$2: steps.csv differs from $1's" cmp -s "$1/steps.csv" "$2/steps.csv"
    cut -d, -f1-9 "$1/metrics.csv" >"$T/m1"; cut -d, -f1-9 "$2/metrics.csv" >"$T/m2"
    check "$2: metrics.csv differs from $1's (timings aside)" cmp -s "$T/m1" "$T/m2"
}

# shellcheck disable=SC2086,SC2090
"$LRLAB" train $F --out "$T/ref" >"$T/out" 2>&1; rc=$?
check "reference run: exit $rc: $(tail -n 2 "$T/out")" [ $rc -eq 0 ]
check "metrics.csv: not 3 epoch rows (the last partial)" [ "$(lines "$T/ref/metrics.csv")" -eq 4 ]
check "steps.csv: not 10 steps" [ "$(lines "$T/ref/steps.csv")" -eq 11 ]
check "the partial epoch's row is not epoch 2" [ "$(tail -n 1 "$T/ref/metrics.csv" | cut -d, -f1)" = 2 ]
check "the last step is not step 9 of epoch 2" [ "$(tail -n 1 "$T/ref/steps.csv" | cut -d, -f1-2)" = "9,2" ]

# stopped mid-epoch 1, and at the run's last step (epoch 2, batch 2), then resumed
for s in 6 10; do
    # shellcheck disable=SC2086,SC2090
    "$LRLAB" train $F --out "$T/s$s" --stop-at-step $s >"$T/out" 2>&1
    "$LRLAB" train --resume "$T/s$s" >"$T/out" 2>&1; rc=$?
    check "--resume after --stop-at-step $s: exit $rc: $(tail -n 2 "$T/out")" [ $rc -eq 0 ]
    same_run "$T/ref" "$T/s$s"
done

# killed after the last checkpoint, before the weights: resume writes them only
cp -R "$T/ref" "$T/k"; rm "$T/k/model.safetensors"
"$LRLAB" train --resume "$T/k" >"$T/out" 2>&1; rc=$?
check "--resume of a finished run: exit $rc: $(tail -n 2 "$T/out")" [ $rc -eq 0 ]
grep -q "complete (3 epochs, 10 steps)" "$T/out"; check "no 'complete (3 epochs, 10 steps)': $(cat "$T/out")" [ $? -eq 0 ]
same_run "$T/ref" "$T/k"

# kill -9 mid-run, then resume
# shellcheck disable=SC2086,SC2090
"$LRLAB" train $F --out "$T/k9" >"$T/k9.log" 2>&1 &
pid=$!
wait_until "[ -f '$T/k9/checkpoint.safetensors' ]"
kill -9 $pid; wait $pid
"$LRLAB" train --resume "$T/k9" >"$T/out" 2>&1; rc=$?
check "--resume after kill -9: exit $rc: $(tail -n 2 "$T/out")" [ $rc -eq 0 ]
same_run "$T/ref" "$T/k9"

# more steps than the epochs hold: refused, naming the flag and the way out
# shellcheck disable=SC2086,SC2090
"$LRLAB" train $F --max-steps 13 --out "$T/bad" >"$T/out" 2>&1; rc=$?
check "--max-steps 13 of 12: exit $rc, expected 2" [ $rc -eq 2 ]
grep -q -- "--max-steps 13: more than the 12 steps of --epochs 3" "$T/out"
check "--max-steps 13: message: $(cat "$T/out")" [ $? -eq 0 ]

echo "max_steps_test: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
