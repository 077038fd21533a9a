#!/bin/sh
# tests/sweep_test.sh: `lrlab sweep` end to end through $LRLAB on the
# synthetic CIFAR-10 files in $SYNTH_DIR: the seed sweep as a quick look
# (2 epochs, 512 images, every run complete with 2 metrics rows, schedules
# following --epochs), a second pass that skips everything, an interrupted
# sweep that resumes, --seeds, a diverging and a failing run, bad sweep files
# (exit 2 naming the line), and the sweep file found by name from another
# working directory. Run from the repository root; about two minutes on two
# cores. Prints "sweep_test: N passed, N failed".
set -u
. tests/lib.sh
rows() { # data rows of a metrics.csv (0 when missing)
    if [ -f "$1" ]; then echo $(( $(wc -l <"$1") - 1 )); else echo 0; fi
}

if [ ! -x "$LRLAB" ] || [ -z "${SYNTH_DIR:-}" ] || [ ! -f "$SYNTH_DIR/test_batch.bin" ]; then
    echo "sweep_test: needs \$LRLAB built and \$SYNTH_DIR with synthetic CIFAR-10 (run through tests/run.sh)"
    echo "sweep_test: 0 passed, 1 failed"
    exit 1
fi
case "$LRLAB" in /*) ;; *) LRLAB=$(pwd)/$LRLAB ;; esac

# ---- the seed sweep, quick look: every run completes with 2 epochs ----
out=$tmp/seed
"$LRLAB" sweep experiments/seed.sweep --epochs 2 --limit-train 512 --limit-test 256 --data "$SYNTH_DIR" \
    --out "$out" --jobs 2 >"$tmp/seed.out" 2>&1
rc=$?
check "seed sweep exits 0 (got $rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || cat "$tmp/seed.out"
n=0
for name in const-lr0.01 step-lr0.01 multistep-lr0.02 exp-lr0.04 warmup-step warmup-multistep warmup-exp \
            batch256 batch256-lr0.02 const-lr0.05 cosine-lr0.04 onecycle; do
    n=$((n + 1))
    check "$name: 2 rows in metrics.csv (got $(rows "$out/$name/metrics.csv"))" [ "$(rows "$out/$name/metrics.csv")" -eq 2 ]
    check "$name: model.safetensors" [ -f "$out/$name/model.safetensors" ]
    check "$name: a log and a summary line" grep -q "^done $name: final test" "$tmp/seed.out"
    check "$name: its log" [ -s "$out/$name.log" ]
done
check "12 runs" [ "$n" -eq 12 ]
check "T_max follows --epochs" grep -qx 'sched=CosineAnnealingLR(T_max=2)' "$out/cosine-lr0.04/config.txt"
check "total_steps follows --epochs and the batch count (2 x 4)" \
    grep -qx 'sched=OneCycleLR(max_lr=0.1, total_steps=8)' "$out/onecycle/config.txt"
check "onecycle steps per batch" grep -qx 'sched_unit=step' "$out/onecycle/config.txt"
check "--jobs 2: one thread each" grep -qx 'threads=1' "$out/exp-lr0.04/config.txt"
check "batch256 keeps its batch" grep -qx 'batch=256' "$out/batch256/config.txt"
check "warmup-exp: lr 0.001" grep -qx 'lr=0.001' "$out/warmup-exp/config.txt"
check "exit summary" grep -q '^sweep seed: 12 done, 0 skipped (complete), 0 failed, 0 diverged' "$tmp/seed.out"

# ---- a second pass skips everything and touches nothing ----
before=$(ls -l --time-style=full-iso "$out"/*/model.safetensors "$out"/*/metrics.csv | md5sum)
"$LRLAB" sweep experiments/seed.sweep --epochs 2 --limit-train 512 --limit-test 256 --data "$SYNTH_DIR" \
    --out "$out" >"$tmp/again.out" 2>&1
rc=$?
check "second pass exits 0 (got $rc)" [ "$rc" -eq 0 ]
check "12 skip lines" [ "$(grep -c '^skip .*(complete)' "$tmp/again.out")" -eq 12 ]
check "nothing started" sh -c "! grep -q '^start' '$tmp/again.out'"
after=$(ls -l --time-style=full-iso "$out"/*/model.safetensors "$out"/*/metrics.csv | md5sum)
check "files untouched by the second pass" [ "$before" = "$after" ]
"$LRLAB" sweep experiments/seed.sweep --epochs 3 --limit-train 512 --limit-test 256 --data "$SYNTH_DIR" \
    --out "$out" --only exp-lr0.04 >"$tmp/more.out" 2>&1
check "other settings on a complete run: skipped with a note" grep -q 'note: exp-lr0.04 was completed with other settings (epochs 2 -> 3)' "$tmp/more.out"

# ---- a tiny sweep for the rest ----
cat >"$tmp/tiny.sweep" <<'EOF'
# three small runs
sweep tiny
defaults --batch 64 --limit-train 256 --limit-test 128 --epochs 3
run a --lr 0.05
run b --lr 0.02 --sched 'CosineAnnealingLR(T_max={epochs})'
run c --lr 0.01 --no-augment
EOF
t=$tmp/tiny
"$LRLAB" sweep "$tmp/tiny.sweep" --data "$SYNTH_DIR" --out "$t" >"$tmp/int.out" 2>&1 &
pid=$!
i=0
while [ "$(rows "$t/a/metrics.csv")" -lt 1 ] && [ $i -lt 600 ]; do sleep 0.2; i=$((i + 1)); done
kill -INT "$pid"
wait "$pid"
rc=$?
check "interrupted sweep exits 130 (got $rc)" [ "$rc" -eq 130 ]
check "the run in progress stopped with a checkpoint" grep -q '^stopped a after [12] of 3 epochs (checkpoint written)' "$tmp/int.out"
check "no model.safetensors yet" [ ! -f "$t/a/model.safetensors" ]
check "b not started" [ ! -e "$t/b" ]
check "c not started" [ ! -e "$t/c" ]
first=$(sed -n 2p "$t/a/metrics.csv")
"$LRLAB" sweep "$tmp/tiny.sweep" --data "$SYNTH_DIR" --out "$t" >"$tmp/res.out" 2>&1
rc=$?
check "resumed sweep exits 0 (got $rc)" [ "$rc" -eq 0 ]
check "a resumed" grep -q '^resume a' "$tmp/res.out"
check "b started" grep -q '^start b' "$tmp/res.out"
check "a has 3 rows (got $(rows "$t/a/metrics.csv"))" [ "$(rows "$t/a/metrics.csv")" -eq 3 ]
check "a's first epoch kept, not redone" [ "$(sed -n 2p "$t/a/metrics.csv")" = "$first" ]
check "a's log has both sittings" [ "$(grep -c '^# lrlab sweep' "$t/a.log")" -eq 2 ]
for r in a b c; do check "$r complete" [ -f "$t/$r/model.safetensors" ]; done

# a partial run made by hand resumes too (its settings come from its config.txt)
rm -rf "$t/c"
"$LRLAB" train --out "$t/c" --batch 64 --limit-train 256 --limit-test 128 --epochs 1 --data "$SYNTH_DIR" \
    --no-augment --lr 0.01 >/dev/null 2>&1
rm -f "$t/c/model.safetensors"
"$LRLAB" sweep "$tmp/tiny.sweep" --data "$SYNTH_DIR" --out "$t" >"$tmp/part.out" 2>&1
check "partial run: skip a, b" [ "$(grep -c '^skip' "$tmp/part.out")" -eq 2 ]
check "partial run: resume c with a note" grep -q 'note: c resumes with the settings it started with' "$tmp/part.out"
check "partial run: c done with its own 1 epoch" [ "$(rows "$t/c/metrics.csv")" -eq 1 ]
check "partial run: c complete" [ -f "$t/c/model.safetensors" ]

# ---- --seeds: NAME-sSEED, one --seed each ----
"$LRLAB" sweep "$tmp/tiny.sweep" --data "$SYNTH_DIR" --out "$tmp/seeds" --seeds 2 --only a --epochs 1 \
    --jobs 2 >"$tmp/seeds.out" 2>&1
rc=$?
check "--seeds exits 0 (got $rc)" [ "$rc" -eq 0 ]
for r in a-s0 a-s1; do check "$r complete" [ -f "$tmp/seeds/$r/model.safetensors" ]; done
check "a-s1 has seed 1" grep -qx 'seed=1' "$tmp/seeds/a-s1/config.txt"
check "b not run (--only)" [ ! -e "$tmp/seeds/b-s0" ]
check "the seeds differ" sh -c "! cmp -s '$tmp/seeds/a-s0/metrics.csv' '$tmp/seeds/a-s1/metrics.csv'"

# ---- the live view on a terminal (script(1) gives one) ----
if command -v script >/dev/null 2>&1; then
    script -qc "'$LRLAB' sweep '$tmp/tiny.sweep' --data '$SYNTH_DIR' --out '$tmp/tty' --only a --epochs 2" \
        "$tmp/tty.typescript" >/dev/null 2>&1
    check "live view: a line per running run" grep -q 'a  *[0-2]/2 epochs done' "$tmp/tty.typescript"
    check "live view: the summary line" grep -q 'done a: final test' "$tmp/tty.typescript"
else
    skip "live view: no script(1) (apt-get install bsdutils)"
fi

# ---- a diverging and a failing run: the others still run ----
cat >"$tmp/bad.sweep" <<'EOF'
defaults --batch 64 --limit-train 256 --limit-test 128 --epochs 1
run boom --lr 100000
run fine --lr 0.01
EOF
"$LRLAB" sweep "$tmp/bad.sweep" --data "$SYNTH_DIR" --out "$tmp/bad" >"$tmp/bad.out" 2>&1
rc=$?
check "a diverged run: exit 3 (got $rc)" [ "$rc" -eq 3 ]
check "DIVERGED line" grep -q '^DIVERGED boom: .*diverged' "$tmp/bad.out"
check "the other run still ran" [ -f "$tmp/bad/fine/model.safetensors" ]
check "diverged named at the end" grep -q '^diverged: boom' "$tmp/bad.out"
mkdir -p "$tmp/bad/boom2"; echo x >"$tmp/bad/boom2/metrics.csv" # a started run without config.txt: fails
printf 'run boom2 --lr 0.01\nrun fine --lr 0.01\n' >"$tmp/bad2.sweep"
"$LRLAB" sweep "$tmp/bad2.sweep" --data "$SYNTH_DIR" --out "$tmp/bad" >"$tmp/bad2.out" 2>&1
rc=$?
check "a failed run: exit 1 (got $rc)" [ "$rc" -eq 1 ]
check "FAILED line with the child's message" grep -q '^FAILED boom2 (exit 2): lrlab train: ' "$tmp/bad2.out"
check "failed named at the end" grep -q '^failed: boom2' "$tmp/bad2.out"

# ---- bad sweep files and flags: exit 2, the line named, nothing run ----
bad_file() { # bad_file NAME CONTENT EXPECTED-MESSAGE-PART
    printf '%b' "$2" >"$tmp/$1.sweep"
    "$LRLAB" sweep "$tmp/$1.sweep" --data "$SYNTH_DIR" --out "$tmp/never" >"$tmp/$1.out" 2>&1
    rc=$?
    check "$1: exit 2 (got $rc)" [ "$rc" -eq 2 ]
    check "$1: message '$3' (got: $(head -c 300 "$tmp/$1.out"))" grep -qF "$3" "$tmp/$1.out"
    check "$1: nothing created" [ ! -e "$tmp/never" ]
}
bad_file unknown 'run a --lr 0.1\n# two\nrun b --learning-rate 0.1\n' "unknown.sweep:3: unknown flag '--learning-rate'"
bad_file value 'defaults --epochs 2\nrun a --lr abc\n' "value.sweep:2: --lr: 'abc' is not a finite number"
bad_file duplicate 'run a --lr 0.1\nrun b\nrun a --lr 0.2\n' "duplicate.sweep:3: run a: the name is already used on line 1"
bad_file empty '' "empty.sweep: no runs"
bad_file sched 'run a\nrun b --sched "StepLR(gamma=0.5)"\n' "sched.sweep:2: --sched: "
bad_file out 'run a --out x\n' "out.sweep:1: --out: a sweep puts each run in OUT/NAME"
"$LRLAB" sweep "$tmp/tiny.sweep" --lr abc --out "$tmp/never" >"$tmp/cl.out" 2>&1
rc=$?
check "a bad command-line value: exit 2 (got $rc)" [ "$rc" -eq 2 ]
check "names the flag" grep -qF "lrlab sweep: --lr: 'abc'" "$tmp/cl.out"
"$LRLAB" sweep "$tmp/tiny.sweep" --only a,zz --out "$tmp/never" >"$tmp/only.out" 2>&1
check "--only an unknown run: exit 2" [ $? -eq 2 ]
check "--only lists the runs" grep -q "no run 'zz'.*: a b c" "$tmp/only.out"
"$LRLAB" sweep "$tmp/tiny.sweep" --jobs 0 >/dev/null 2>&1
check "--jobs 0: exit 2" [ $? -eq 2 ]
"$LRLAB" sweep --help >"$tmp/help.out" 2>&1
check "--help exits 0" [ $? -eq 0 ]

# ---- found by name from another working directory (beside the executable) ----
mkdir -p "$tmp/elsewhere"
(cd "$tmp/elsewhere" && "$LRLAB" sweep seed --dry-run --epochs 2 --limit-train 512 --data "$SYNTH_DIR") >"$tmp/name.out" 2>&1
rc=$?
check "by name: exit 0 (got $rc)" [ "$rc" -eq 0 ]
check "by name: the seed sweep, 12 runs into runs/seed" grep -q '^sweep seed (.*experiments/seed.sweep): 12 runs into runs/seed' "$tmp/name.out"
check "by name: a command per run" [ "$(grep -c '^start  .*: lrlab train --out runs/seed/' "$tmp/name.out")" -eq 12 ]
check "by name: quoted schedule with its placeholder filled" \
    grep -qF "onecycle: lrlab train --out runs/seed/onecycle --epochs 30 --batch 128 --momentum 0.9 --weight-decay 5e-4 --sched-unit step --sched 'OneCycleLR(max_lr=0.1, total_steps=8)' --epochs 2 --limit-train 512 --data" "$tmp/name.out"
check "dry run creates nothing" [ ! -e "$tmp/elsewhere/runs" ]
(cd "$tmp/elsewhere" && "$LRLAB" sweep seed.sweep --dry-run --data "$SYNTH_DIR") >/dev/null 2>&1
check "by name with .sweep" [ $? -eq 0 ]
(cd "$tmp/elsewhere" && "$LRLAB" sweep seed --list --seeds 2 --only onecycle,const-lr0.01 --out o) >"$tmp/list.out" 2>&1
check "--list: run directories in the file's order" [ "$(cat "$tmp/list.out" | tr '\n' ' ')" = "o/const-lr0.01-s0 o/const-lr0.01-s1 o/onecycle-s0 o/onecycle-s1 " ]
(cd "$tmp/elsewhere" && "$LRLAB" sweep no-such-sweep) >"$tmp/none.out" 2>&1
check "an unknown name: exit 2" [ $? -eq 2 ]
check "an unknown name: says where it looked" grep -q "no sweep file 'no-such-sweep' (looked for" "$tmp/none.out"

echo "sweep_test: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
