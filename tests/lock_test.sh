#!/bin/sh
# tests/lock_test.sh: one trainer per run directory. While a run trains,
# `lrlab train --resume` on it is refused (exit 1, a clear message) and
# leaves it alone; after it ends, the lock is gone.
set -u
. tests/lib.sh
work=$tmp
"$LRLAB" train --data "$SYNTH_DIR" --limit-train 1024 --limit-test 128 --batch 64 --epochs 6 --threads 1 \
    --out "$work/r" >"$work/first.log" 2>&1 &
pid=$!
i=0; while [ ! -f "$work/r/config.txt" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
"$LRLAB" train --resume "$work/r" >"$work/second.log" 2>&1; rc=$?
if [ "$rc" -eq 1 ] && grep -q "another lrlab process is training" "$work/second.log"; then ok; else bad "second trainer: exit $rc: $(cat "$work/second.log")"; fi
wait "$pid"; rc=$?
if [ "$rc" -eq 0 ] && [ -f "$work/r/model.safetensors" ]; then ok; else bad "first trainer: exit $rc"; fi
"$LRLAB" train --resume "$work/r" >"$work/third.log" 2>&1; rc=$?
if [ "$rc" -eq 0 ] && grep -q "complete" "$work/third.log"; then ok; else bad "after the run: exit $rc"; fi
echo "lock_test: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
