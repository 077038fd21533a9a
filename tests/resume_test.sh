#!/bin/sh
# tests/resume_test.sh: a run survives kill -9, SIGINT, --stop-at-step, a kill
# during a checkpoint write, a full disk and divergence, and `lrlab train
# --resume` then ends with a model.safetensors byte-identical (cmp) to an
# uninterrupted run's, the same steps.csv, and the same metrics.csv except its
# timing columns. Tiny runs on the synthetic data in $SYNTH_DIR (tests/run.sh
# makes it): 256 training images, batch 64, 4 steps per epoch, 4 epochs.
# Not a test of the numbers themselves (torch_train_test.sh does that).
set -u
. tests/lib.sh
case "$LRLAB" in /*) ;; *) LRLAB=$(pwd)/$LRLAB ;; esac
: "${SYNTH_DIR:?SYNTH_DIR must name a synthetic CIFAR-10 directory (tests/run.sh sets it)}"
T=$tmp
F="--data $SYNTH_DIR --limit-train 256 --limit-test 128 --batch 64 --epochs 4 --threads 1"


# same_run REF DIR: the resumed run equals the uninterrupted one.
same_run() {
    check "$2: model.safetensors differs from $1's" cmp -s "$1/model.safetensors" "$2/model.safetensors"
    if [ -f "$1/steps.csv" ]; then
        check "$2: steps.csv differs from $1's" cmp -s "$1/steps.csv" "$2/steps.csv"
    fi
    cut -d, -f1-9 "$1/metrics.csv" >"$T/m1"; cut -d, -f1-9 "$2/metrics.csv" >"$T/m2"
    check "$2: metrics.csv differs from $1's (timings aside)" cmp -s "$T/m1" "$T/m2"
    check "$2: a temporary file is left" [ -z "$(ls "$2" | grep '\.tmp$')" ]
}

# resume DIR [EXPECTED_STATUS]: runs --resume, checks the status (default 0).
resume() {
    "$LRLAB" train --resume "$1" >"$T/out" 2>&1; rc=$?
    check "--resume $1: exit $rc, expected ${2:-0}: $(tail -n 2 "$T/out")" [ $rc -eq "${2:-0}" ]
}

# ---- the reference: one uninterrupted run (its algorithm choice pins the rest) ----
"$LRLAB" train $F --log-steps --out "$T/ref" >"$T/out" 2>&1
check "reference run failed: $(cat "$T/out")" [ $? -eq 0 ]
AC=$(sed -n 's/^algo_choices=//p' "$T/ref/config.txt")
G="$F --log-steps"
[ -n "$AC" ] && G="$G --algo-choices $AC"
check "reference: no model.safetensors" [ -s "$T/ref/model.safetensors" ]
check "reference: metrics.csv has not 5 lines" [ "$(lines "$T/ref/metrics.csv")" -eq 5 ]
check "reference: steps.csv has not 17 lines" [ "$(lines "$T/ref/steps.csv")" -eq 17 ]

# ---- kill -9 right after epoch 0's checkpoint ----
"$LRLAB" train $G --out "$T/k0" >"$T/k0.log" 2>&1 &
pid=$!
wait_until "[ -f '$T/k0/checkpoint.safetensors' ]"
kill -9 $pid; wait $pid; rc=$?
check "kill -9: exit $rc, expected 137 (the run ended before the kill?)" [ $rc -eq 137 ]
check "kill -9 left no checkpoint" [ -f "$T/k0/checkpoint.safetensors" ]
check "after kill -9 the run is not complete" [ ! -f "$T/k0/model.safetensors" ]
resume "$T/k0"
grep -q "(resumed)" "$T/out"; check "--resume does not say it resumed" [ $? -eq 0 ]
same_run "$T/ref" "$T/k0"

# ---- --stop-at-step mid-epoch (checkpoint after step 6 = epoch 1, batch 2), then resume ----
"$LRLAB" train $G --out "$T/s6" --stop-at-step 6 >"$T/out" 2>&1; rc=$?
check "--stop-at-step: exit $rc, expected 0" [ $rc -eq 0 ]
grep -q "stopped at epoch 1, batch 2 (step 6)" "$T/out"
check "--stop-at-step 6: no 'stopped at epoch 1, batch 2 (step 6)': $(cat "$T/out")" [ $? -eq 0 ]
check "--stop-at-step 6: steps.csv has not 7 lines" [ "$(lines "$T/s6/steps.csv")" -eq 7 ]
cp -R "$T/s6" "$T/s6copy"
resume "$T/s6"
same_run "$T/ref" "$T/s6"

# ---- --stop-at-epoch 1, then 3 (resumed), then the rest: epoch 0's and 2's
#      evaluations are in metrics.csv (lrlab tune's rungs), the end the same;
#      --stop-at-epoch at or below the epochs done stops at once ----
"$LRLAB" train $G --out "$T/se" --stop-at-epoch 1 >"$T/out" 2>&1; rc=$?
check "--stop-at-epoch 1: exit $rc, expected 0: $(tail -n 1 "$T/out")" [ $rc -eq 0 ]
check "--stop-at-epoch 1: metrics.csv has not 2 lines" [ "$(lines "$T/se/metrics.csv")" -eq 2 ]
check "--stop-at-epoch 1: model.safetensors written" [ ! -f "$T/se/model.safetensors" ]
"$LRLAB" train --resume "$T/se" --stop-at-epoch 3 >"$T/out" 2>&1; rc=$?
check "--resume --stop-at-epoch 3: exit $rc: $(tail -n 1 "$T/out")" [ $rc -eq 0 ]
check "--stop-at-epoch 3: metrics.csv has not 4 lines" [ "$(lines "$T/se/metrics.csv")" -eq 4 ]
cp "$T/se/checkpoint.safetensors" "$T/se.ck"
"$LRLAB" train --resume "$T/se" --stop-at-epoch 2 >"$T/out" 2>&1; rc=$?
check "--stop-at-epoch 2 after 3 epochs: exit $rc, a step taken or a row added" \
    sh -c "[ $rc -eq 0 ] && [ $(lines "$T/se/metrics.csv") -eq 4 ] && cmp -s '$T/se.ck' '$T/se/checkpoint.safetensors'"
resume "$T/se"
same_run "$T/ref" "$T/se"

# ---- kill -9 mid-epoch: resume the mid-epoch checkpoint and kill it once
#      epoch 1 is done and epoch 2 under way, then resume again ----
"$LRLAB" train --resume "$T/s6copy" >"$T/km.log" 2>&1 &
pid=$!
wait_until "[ \$(lines '$T/s6copy/metrics.csv') -ge 3 ]"
sleep 0.2
kill -9 $pid; wait $pid; rc=$?
check "kill -9 mid-epoch: exit $rc, expected 137" [ $rc -eq 137 ]
resume "$T/s6copy"
same_run "$T/ref" "$T/s6copy"

# ---- SIGINT mid-epoch: checkpoint after the current step, exit 130 ----
"$LRLAB" train $G --out "$T/int" >"$T/int.log" 2>&1 &
pid=$!
wait_until "[ -f '$T/int/checkpoint.safetensors' ]"
sleep 0.2
kill -INT $pid; wait $pid; rc=$?
check "SIGINT: exit $rc, expected 130: $(tail -n 1 "$T/int.log")" [ $rc -eq 130 ]
grep -q "stopped at epoch .*lrlab train --resume" "$T/int.log"
check "SIGINT: no 'stopped at epoch ... --resume' message" [ $? -eq 0 ]
resume "$T/int"
same_run "$T/ref" "$T/int"

# ---- SIGTERM: the same, exit 130 (lrlab sweep counts 130 as stopped) ----
"$LRLAB" train $G --out "$T/term" >"$T/term.log" 2>&1 &
pid=$!
wait_until "[ -f '$T/term/checkpoint.safetensors' ]"
kill -TERM $pid; wait $pid; rc=$?
check "SIGTERM: exit $rc, expected 130" [ $rc -eq 130 ]
resume "$T/term"
same_run "$T/ref" "$T/term"

# ---- a kill during the checkpoint write, simulated: what it leaves behind
#      (a truncated checkpoint.safetensors.tmp; steps.csv already holding rows
#      past the checkpoint; metrics.csv already holding a row past it) ----
"$LRLAB" train $G --out "$T/tmp" --stop-at-step 6 >/dev/null 2>&1
head -c 4000 "$T/tmp/checkpoint.safetensors" >"$T/tmp/checkpoint.safetensors.tmp"
head -c 100 /dev/urandom >"$T/tmp/metrics.csv.tmp"
sed -n '8,12p' "$T/ref/steps.csv" | sed 's/,[^,]*$/,99/' >>"$T/tmp/steps.csv"
echo "1,0.01,0.9,9,9,9,9,,,1,1" >>"$T/tmp/metrics.csv"
resume "$T/tmp"
same_run "$T/ref" "$T/tmp"

# ---- a kill after the last checkpoint, before model.safetensors ----
cp -R "$T/ref" "$T/nomodel"; rm "$T/nomodel/model.safetensors"
resume "$T/nomodel"
check "resume of a complete run without its weights: model.safetensors differs" \
    cmp -s "$T/ref/model.safetensors" "$T/nomodel/model.safetensors"

# ---- resume of a run without a checkpoint: it starts from the beginning ----
mkdir "$T/fresh"; cp "$T/ref/config.txt" "$T/fresh/"
resume "$T/fresh"
same_run "$T/ref" "$T/fresh"

# ---- resume of a finished run: says so, exit 0, changes nothing ----
cp -R "$T/ref" "$T/done"
resume "$T/done"
grep -q "complete" "$T/out"; check "resume of a finished run does not say it is complete" [ $? -eq 0 ]
check "resume of a finished run changed the checkpoint" cmp -s "$T/ref/checkpoint.safetensors" "$T/done/checkpoint.safetensors"
check "resume of a finished run changed the weights" cmp -s "$T/ref/model.safetensors" "$T/done/model.safetensors"

# ---- --out on a non-empty directory: refused with a hint, nothing touched ----
cp -R "$T/s6copy" "$T/busy"
"$LRLAB" train $G --out "$T/busy" >"$T/out" 2>&1; rc=$?
check "--out on a non-empty dir: exit $rc, expected non-zero" [ $rc -ne 0 ]
grep -q -- "--resume" "$T/out"; check "--out on a non-empty dir: no hint to --resume: $(cat "$T/out")" [ $? -eq 0 ]
check "--out on a non-empty dir: its checkpoint was touched" cmp -s "$T/s6copy/checkpoint.safetensors" "$T/busy/checkpoint.safetensors"
check "--out on a non-empty dir: its metrics were touched" cmp -s "$T/s6copy/metrics.csv" "$T/busy/metrics.csv"
"$LRLAB" train --resume "$T/busy" --lr 0.1 >"$T/out" 2>&1; rc=$?
check "--resume with a setting flag: exit $rc, expected 2" [ $rc -eq 2 ]
"$LRLAB" train --resume "$T/nowhere" >"$T/out" 2>&1; rc=$?
check "--resume of a missing dir: exit $rc, expected 2" [ $rc -eq 2 ]
mkdir "$T/notarun"
"$LRLAB" train --resume "$T/notarun" >"$T/out" 2>&1; rc=$?
check "--resume of a dir without config.txt: exit $rc, expected 2" [ $rc -eq 2 ]
grep -q "config.txt" "$T/out"; check "--resume without config.txt: message does not name it" [ $? -eq 0 ]

# ---- a step-mode schedule (its state moves every step), stopped mid-epoch twice ----
S="--sched OneCycleLR(max_lr=0.05,total_steps=16) --sched-unit step"
"$LRLAB" train $G $S --out "$T/sref" >/dev/null 2>&1
check "step-mode reference failed" [ -s "$T/sref/model.safetensors" ]
"$LRLAB" train $G $S --out "$T/sstep" --stop-at-step 5 >/dev/null 2>&1
"$LRLAB" train --resume "$T/sstep" --stop-at-step 10 >/dev/null 2>&1
resume "$T/sstep"
same_run "$T/sref" "$T/sstep"

# ---- ReduceLROnPlateau (bad-epoch counter, best value) with a validation set,
#      killed after epoch 1 (one bad epoch counted), and in step mode ----
P="--sched ReduceLROnPlateau(mode='max',patience=1,factor=0.5) --val 64 --monitor val_loss"
"$LRLAB" train $G $P --out "$T/pref" >/dev/null 2>&1
check "plateau reference failed" [ -s "$T/pref/model.safetensors" ]
check "plateau reference: the lr never dropped (the test needs it to)" \
    [ "$(cut -d, -f2 "$T/pref/metrics.csv" | sort -u | wc -l)" -gt 2 ]
"$LRLAB" train $G $P --out "$T/plat" --stop-at-step 8 >/dev/null 2>&1
resume "$T/plat"
same_run "$T/pref" "$T/plat"
"$LRLAB" train $G $P --sched-unit step --out "$T/psref" >/dev/null 2>&1
"$LRLAB" train $G $P --sched-unit step --out "$T/pstep" --stop-at-step 7 >/dev/null 2>&1
resume "$T/pstep"
same_run "$T/psref" "$T/pstep"

# ---- a full disk at the checkpoint: the previous checkpoint stays whole ----
if [ -w /dev/full ]; then
    "$LRLAB" train $G --out "$T/full" --stop-at-step 6 >/dev/null 2>&1
    cp "$T/full/checkpoint.safetensors" "$T/full.ckpt"
    ln -s /dev/full "$T/full/checkpoint.safetensors.tmp"
    "$LRLAB" train --resume "$T/full" >"$T/out" 2>&1; rc=$?
    check "full disk at the checkpoint: exit $rc, expected 1" [ $rc -eq 1 ]
    grep -q "checkpoint.safetensors.*No space left" "$T/out"
    check "full disk: message does not name the checkpoint and the cause: $(cat "$T/out")" [ $? -eq 0 ]
    check "full disk: the previous checkpoint changed" cmp -s "$T/full.ckpt" "$T/full/checkpoint.safetensors"
    rm -f "$T/full/checkpoint.safetensors.tmp"
    resume "$T/full"
    same_run "$T/ref" "$T/full"
else
    echo "NOTE: no writable /dev/full: the full-disk case is skipped"
fi
# a checkpoint that cannot be written at all (its temporary name is a directory)
"$LRLAB" train $G --out "$T/nowrite" --stop-at-step 6 >/dev/null 2>&1
cp "$T/nowrite/checkpoint.safetensors" "$T/nowrite.ckpt"
mkdir "$T/nowrite/checkpoint.safetensors.tmp"
"$LRLAB" train --resume "$T/nowrite" >"$T/out" 2>&1; rc=$?
check "unwritable checkpoint: exit $rc, expected 1" [ $rc -eq 1 ]
check "unwritable checkpoint: the previous checkpoint changed" cmp -s "$T/nowrite.ckpt" "$T/nowrite/checkpoint.safetensors"
rmdir "$T/nowrite/checkpoint.safetensors.tmp"
resume "$T/nowrite"
same_run "$T/ref" "$T/nowrite"

# ---- divergence: --lr 100 ----
# in epoch 0: exit 3, a message with epoch, step and lr; no checkpoint, nothing half-written
"$LRLAB" train $F --lr 100 --out "$T/div0" >"$T/out" 2>&1; rc=$?
check "--lr 100: exit $rc, expected 3" [ $rc -eq 3 ]
grep -q "diverged at epoch 0, step [0-9]* .*at lr 100" "$T/out"
check "--lr 100: message lacks epoch, step or lr: $(cat "$T/out")" [ $? -eq 0 ]
check "--lr 100 in epoch 0: a checkpoint exists" [ ! -f "$T/div0/checkpoint.safetensors" ]
check "--lr 100 in epoch 0: no config.txt" [ -s "$T/div0/config.txt" ]
check "--lr 100 in epoch 0: a temporary file is left" [ -z "$(ls "$T/div0" | grep '\.tmp$')" ]
# later (epoch 0 at 100 * 1e-4, then 100): the checkpoint of the last finished
# epoch stays, loads, and diverges again the same way
D="--lr 100 --sched ConstantLR(factor=0.0001,total_iters=1)"
"$LRLAB" train $G $D --out "$T/div1" >"$T/out" 2>&1; rc=$?
check "--lr 100 from epoch 1: exit $rc, expected 3" [ $rc -eq 3 ]
msg1=$(grep diverged "$T/out")
e=$(echo "$msg1" | sed -n 's/.*diverged at epoch \([0-9]*\), step [0-9]* .*at lr 100; .*/\1/p')
check "--lr 100 from epoch 1: message lacks epoch, step or lr: $msg1" [ -n "$e" ]
e=${e:-0}
check "--lr 100 from epoch 1: diverged in epoch 0" [ "$e" -ge 1 ]
echo "$msg1" | grep -q "checkpoint.safetensors after epoch $((e - 1)) is kept"
check "--lr 100 from epoch 1: message does not name the kept checkpoint: $msg1" [ $? -eq 0 ]
check "--lr 100 from epoch 1: no checkpoint kept" [ -f "$T/div1/checkpoint.safetensors" ]
check "--lr 100 from epoch 1: metrics.csv has not the $e epochs done" [ "$(lines "$T/div1/metrics.csv")" -eq $((e + 1)) ]
cp "$T/div1/checkpoint.safetensors" "$T/div1.ckpt"
resume "$T/div1" 3
check "resume of a diverged run: another message" [ "$(grep diverged "$T/out")" = "$msg1" ]
check "resume of a diverged run changed the checkpoint" cmp -s "$T/div1.ckpt" "$T/div1/checkpoint.safetensors"

echo "resume_test: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
