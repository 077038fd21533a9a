#!/bin/sh
# tests/tune_test.sh: `lrlab tune` on the synthetic data in $SYNTH_DIR
# (tests/run.sh makes it), tiny trials (256 images, batch 64, 4 epochs;
# rungs 1, 2, 4 with --eta 2): a bad space file is refused naming the file,
# line, value and what was expected; a grid tune finishes, its best trial's
# model.safetensors equals a straight `lrlab train` of the printed command
# (cmp: a promoted trial continues with exact resume); the epochs trained
# stay within --budget and equal the ASHA's account; a `tune` killed with
# kill -9 mid-trial, run again, ends in the same state as an uninterrupted
# one (no trial lost or run twice).
set -u
. tests/lib.sh
case "$LRLAB" in /*) ;; *) LRLAB=$(pwd)/$LRLAB ;; esac
: "${SYNTH_DIR:?SYNTH_DIR must name a synthetic CIFAR-10 directory (tests/run.sh sets it)}"
T=$tmp
F="--data $SYNTH_DIR --limit-train 256 --limit-test 128 --batch 64 --threads 1"

# ---- bad space files: exit 2, the message names file:line, the value and what is expected ----
bad_space() { # bad_space DESCRIPTION PATTERN LINES...
    d=$1 p=$2; shift 2
    printf '%s\n' "$@" >"$T/bad.tune"
    "$LRLAB" tune "$T/bad.tune" $F >"$T/out" 2>&1; rc=$?
    check "$d: exit $rc, expected 2: $(cat "$T/out")" [ $rc -eq 2 ]
    grep -q -- "$p" "$T/out"; check "$d: no '$p' in: $(cat "$T/out")" [ $? -eq 0 ]
}
bad_space "loguniform from 0" "bad.tune:2: --lr 'loguniform(0, 1)': expected 0 < a < b" \
    "defaults --epochs 4" "space --lr 'loguniform(0, 1)'"
bad_space "a fixed value" "bad.tune:2: --lr '0.1': expected a range: loguniform(a, b), uniform(a, b) or choice" \
    "defaults --epochs 4" "space --lr 0.1"
bad_space "one number" "bad.tune:3: --momentum 'uniform(0.9)': expected uniform(a, b) with two numbers" \
    "defaults --epochs 4" "" "space --momentum 'uniform(0.9)'"
bad_space "a bad schedule" "bad.tune:2: --sched" \
    "defaults --epochs 4" "space --sched \"choice('CosineAnnealingLR(T_max={epochs})', 'Bogus(x=1)')\""
bad_space "the epochs as a range" "bad.tune:2: --epochs: the epochs are what successive halving hands out" \
    "defaults --epochs 4" "space --epochs 'choice(2, 4)'"
bad_space "a fractional batch drawn" "bad.tune:2: --batch" "defaults --epochs 4" "space --batch 'uniform(32, 64)'"
bad_space "a run line" "bad.tune:2: run: a space file has no runs" "defaults --epochs 4" "run a --lr 0.1"
bad_space "no ranges" "bad.tune: no ranges" "defaults --epochs 4"
bad_space "an unknown flag" "bad.tune:1: unknown flag '--learning-rate'" "space --learning-rate 'uniform(0.1, 1)'"
bad_space "a lr above the settings' range" "bad.tune:1: --lr" "space --lr 'loguniform(0.1, 1e9)'"
printf 'space --lr "uniform(0.01, 0.1)"\n' >"$T/cont.tune"
"$LRLAB" tune "$T/cont.tune" $F >"$T/out" 2>&1; rc=$?
check "a continuous space without --trials or --budget: exit $rc: $(cat "$T/out")" \
    sh -c "[ $rc -eq 2 ] && grep -q 'give --trials N or --budget EPOCHS' '$T/out'"
"$LRLAB" tune "$T/cont.tune" $F --sampler grid >"$T/out" 2>&1; rc=$?
check "--sampler grid on a continuous range: exit $rc: $(cat "$T/out")" [ $rc -eq 2 ]

# ---- a grid of 2 lrs x 2 schedules, eta 2: rungs 1, 2, 4 epochs ----
cat >"$T/grid.tune" <<'EOF'
sweep tiny
defaults --epochs 4
space --lr 'choice(0.01, 0.05)'
space --sched "choice('CosineAnnealingLR(T_max={epochs})', 'OneCycleLR(max_lr={lr}, total_steps={total_steps})')"
EOF
"$LRLAB" tune "$T/grid.tune" $F --eta 2 --min-epochs 1 --dry-run >"$T/out" 2>&1
check "--dry-run: rungs 1, 2, 4: $(cat "$T/out")" grep -q "4 trials, rungs at 1, 2, 4 epochs" "$T/out"
check "--dry-run: {lr} and {total_steps} filled in: $(cat "$T/out")" \
    grep -q "t003: .*OneCycleLR(max_lr=0.05, total_steps=16)" "$T/out"
"$LRLAB" tune "$T/grid.tune" $F --eta 2 --min-epochs 1 --jobs 2 --out "$T/g" >"$T/g.out" 2>&1; rc=$?
check "grid tune: exit $rc: $(tail -n 5 "$T/g.out")" [ $rc -eq 0 ]
check "grid tune: no tune.md" [ -s "$T/g/tune.md" ]
check "grid tune: 4 trial directories" [ "$(ls -d "$T"/g/t00? | wc -l)" -eq 4 ]
check "grid tune: no full run" grep -q "full run |" "$T/g/tune.md"
# the best trial's command, run straight through with the trial's convolution algorithms
cmd=$(sed -n '/^```$/,/^```$/p' "$T/g/tune.md" | sed -n 2p)
best=$(sed -n 's/^best: \(t[0-9]*\),.*/\1/p' "$T/g/tune.md")
AC=$(sed -n 's/^algo_choices=//p' "$T/g/$best/config.txt")
check "grid tune: no best command: $(cat "$T/g/tune.md")" [ -n "$cmd" ] && [ -n "$best" ]
eval "\"\$LRLAB\" ${cmd#lrlab } ${AC:+--algo-choices $AC} --out \"\$T/straight\"" >"$T/out" 2>&1
check "straight run of the best command failed: $(tail -n 2 "$T/out")" [ $? -eq 0 ]
check "the promoted trial $best's model.safetensors differs from a straight run's" \
    cmp -s "$T/g/$best/model.safetensors" "$T/straight/model.safetensors"
check "the promoted trial went through rungs 1 and 2 (three starts in its log)" \
    [ "$(grep -c '^# lrlab tune' "$T/g/$best.log")" -eq 3 ]
# the compute: epochs in the trials' metrics.csv = ASHA's account, below 4 x 4
rows=$(cat "$T"/g/t*/metrics.csv | grep -vc '^epoch')
check "grid tune: $rows epochs trained, tune.md says otherwise: $(grep compute "$T/g/tune.md")" \
    grep -q "compute: $rows epochs trained (ASHA handed out $rows), against 16 for a full run" "$T/g/tune.md"
"$LRLAB" report "$T/g" >"$T/out" 2>&1
check "lrlab report reads the trials: $(head -3 "$T/out")" grep -q "t003" "$T/out"
# run again: everything on record, nothing started
"$LRLAB" tune "$T/grid.tune" $F --eta 2 --min-epochs 1 --jobs 2 --out "$T/g" >"$T/out" 2>&1; rc=$?
check "a finished tune again: exit $rc, something started: $(cat "$T/out")" \
    sh -c "[ $rc -eq 0 ] && ! grep -q '^start\|^promote' '$T/out'"
"$LRLAB" tune "$T/grid.tune" $F --eta 3 --min-epochs 1 --out "$T/g" >"$T/out" 2>&1; rc=$?
check "another tune's state: exit $rc: $(cat "$T/out")" sh -c "[ $rc -eq 1 ] && grep -q 'made by another tune' '$T/out'"

# ---- budget: a random sampler over a continuous lr, 6 epochs at most ----
cat >"$T/rand.tune" <<'EOF'
defaults --epochs 4 --sched 'CosineAnnealingLR(T_max={epochs})'
space --lr 'loguniform(0.005, 0.1)'
EOF
"$LRLAB" tune "$T/rand.tune" $F --eta 2 --min-epochs 1 --budget 6 --seed 3 --out "$T/b" >"$T/b.out" 2>&1; rc=$?
check "budget tune: exit $rc: $(tail -n 3 "$T/b.out")" [ $rc -eq 0 ]
rows=$(cat "$T"/b/t*/metrics.csv | grep -vc '^epoch')
check "budget 6: $rows epochs trained" [ "$rows" -le 6 ] && [ "$rows" -ge 5 ]
check "budget 6: tune.md's account: $(grep compute "$T/b/tune.md")" \
    grep -q "compute: $rows epochs trained (ASHA handed out $rows)" "$T/b/tune.md"
lrs=$(cat "$T"/b/t*/config.txt | sed -n 's/^lr=//p' | sort -u | wc -l)
check "budget: every trial its own lr ($lrs distinct)" [ "$lrs" -eq "$(ls -d "$T"/b/t??? | wc -l)" ]

# ---- kill -9 mid-trial, then the same command: the same end as an uninterrupted tune ----
G="$F --eta 2 --min-epochs 1 --jobs 1"
"$LRLAB" tune "$T/grid.tune" $G --out "$T/ref" >/dev/null 2>&1
"$LRLAB" tune "$T/grid.tune" $G --out "$T/k" >"$T/k.out" 2>&1 &
pid=$!
wait_until "[ -f '$T/k/tune.state' ] && [ \$(grep -c '^[0-9]' '$T/k/tune.state') -ge 2 ] && pgrep -P $pid >/dev/null"
children=$(pgrep -P $pid) # a trial training: the kill lands mid-trial
kill -9 $pid; wait $pid 2>/dev/null
for c in $children; do wait_until "! kill -0 $c 2>/dev/null"; done # SIGTERM from the kernel: they checkpoint
check "kill -9: the tune was not mid-trial" [ -n "$children" ]
check "kill -9: the tune finished before it" [ ! -f "$T/k/tune.md" ]
"$LRLAB" tune "$T/grid.tune" $G --out "$T/k" >"$T/k2.out" 2>&1; rc=$?
check "continued tune: exit $rc: $(tail -n 3 "$T/k2.out")" [ $rc -eq 0 ]
check "continued tune: its state differs from the uninterrupted one's: $(cat "$T/k/tune.state") vs $(cat "$T/ref/tune.state")" \
    cmp -s "$T/k/tune.state" "$T/ref/tune.state"
for d in "$T"/ref/t???; do
    n=$(basename "$d")
    cut -d, -f1-9 "$d/metrics.csv" >"$T/m1"; cut -d, -f1-9 "$T/k/$n/metrics.csv" >"$T/m2" 2>/dev/null
    check "continued tune: $n's metrics.csv differs" cmp -s "$T/m1" "$T/m2"
done
check "continued tune: a trial more or less" [ "$(ls -d "$T"/k/t??? | wc -l)" -eq "$(ls -d "$T"/ref/t??? | wc -l)" ]

summary tune_test
