#!/bin/sh
# tests/tools_test.sh: `lrlab report`, `lrlab plot`, `lrlab eval` and
# `lrlab find-lr` through the CLI ($LRLAB) on hand-made run directories and
# on the synthetic CIFAR-10 files in $SYNTH_DIR (a small model keeps it
# quick): report's exact rows (final, best and its epoch, last-5 mean,
# mean ± std of a -s0/-s1 group, the status column: finished, stopped,
# failed, diverged, running), its errors naming
# file:line; a PyTorch log in the seed's format as a row and a line; plot's
# PNG and SVG, the message without gnuplot, a bad
# extension; eval's per-class lines and a confusion matrix summing to the
# test count, equal to the run's own test loss; find-lr's suggestion inside
# [1e-4, 1], its CSV and plot, refused flags.
# Run from the repository root; prints "tools_test: N passed, N failed".
set -u
. tests/lib.sh
has() { grep -qF -- "$2" "$1"; } # has FILE TEXT

if [ ! -x "$LRLAB" ]; then
    echo "tools_test: $LRLAB is not built"
    echo "tools_test: 0 passed, 1 failed"
    exit 1
fi

# ---- report on hand-made runs ----
H=epoch,lr,momentum,train_loss,train_acc,test_loss,test_acc,val_loss,val_acc,seconds,images_per_s
sw=$tmp/sweep
mkdir -p "$sw/a-s0" "$sw/a-s1" "$sw/b" "$sw/c"
printf 'lr=0.05\nsched=StepLR(step_size=2)\nepochs=3\n' >"$sw/a-s0/config.txt"
cp "$sw/a-s0/config.txt" "$sw/a-s1/config.txt"
printf 'lr=0.01\nepochs=3\n' >"$sw/b/config.txt"
cp "$sw/b/config.txt" "$sw/c/config.txt"
printf '%s\n0,0.05,0.9,2,20,1.9,30,,,10,1\n1,0.05,0.9,1.5,40,1.5,50,,,10,1\n2,0.005,0.9,1.2,60,1.3,48,,,10,1\n' "$H" >"$sw/a-s0/metrics.csv"
printf '%s\n0,0.05,0.9,2,22,1.9,32,,,12,1\n1,0.05,0.9,1.5,42,1.5,50,,,12,1\n2,0.005,0.9,1.2,62,1.3,52,,,12,1\n' "$H" >"$sw/a-s1/metrics.csv"
printf '%s\n0,0.01,0.9,2,20,1.9,30,,,100,1\n' "$H" >"$sw/b/metrics.csv"
: >"$sw/a-s0/model.safetensors"; : >"$sw/a-s1/model.safetensors"; : >"$sw/b/checkpoint.safetensors"
if "$LRLAB" report "$sw" >"$tmp/report" 2>"$tmp/err"; then ok; else bad "report exit $?: $(cat "$tmp/err")"; fi
# a-s0: final 48, best 50 @1, last-5 mean 42.67; a-s1: final 52, best 52 @2, mean 44.67
check "report: seed group row" has "$tmp/report" \
    '| a (2 seeds) | `StepLR(step_size=2)`, lr 0.05 | finished | 3 | 50.00 ± 2.83 | 51.00 ± 1.41 (1, 2) | 43.67 ± 1.41 | 61.00 ± 1.41 | 33.0 s ± 4.2 s |'
check "report: stopped run row" has "$tmp/report" '| b | constant, lr 0.01 | stopped 1/3 | 1 | 30.00 | 30.00 (0) | 30.00 | 20.00 | 1m40s |'
check "report: run without metrics or checkpoint" has "$tmp/report" '| c | constant, lr 0.01 | failed | 0 | - | - | - | - | - |'
check "report: header" has "$tmp/report" '| run | schedule | status | epochs | final test acc | best test acc (epoch) | last-5 mean test acc | final train acc | time |'
"$LRLAB" report "$sw/b" "$sw/a-s1" --sort final >"$tmp/sorted" 2>&1
check "report --sort final: best first" sh -c "sed -n 3p '$tmp/sorted' | grep -q '^| a-s1 |'"
"$LRLAB" report "$sw" -o "$tmp/report.md" >/dev/null 2>&1
check "report -o writes the same table" cmp -s "$tmp/report" "$tmp/report.md"
# a run with a validation set adds a column
mkdir -p "$tmp/val/v"
printf '%s\n0,0.01,0.9,2,20,1.9,30,2.1,25.5,5,1\n' "$H" >"$tmp/val/v/metrics.csv"
"$LRLAB" report "$tmp/val" >"$tmp/valreport" 2>&1
check "report: val column" has "$tmp/valreport" '| final train acc | final val acc | time |'
check "report: val value" has "$tmp/valreport" '| v | constant, lr 0.01 | failed | 1 | 30.00 | 30.00 (0) | 30.00 | 20.00 | 25.50 | 5.0 s |'
# errors
mkdir -p "$tmp/badrun" "$tmp/notrun"
printf '%s\n0,0.01,0.9,2,x,1.9,30,,,1,1\n' "$H" >"$tmp/badrun/metrics.csv"
"$LRLAB" report "$tmp/badrun" >/dev/null 2>"$tmp/err"; rc=$?
check "report: bad metrics.csv exits 1 ($rc)" [ "$rc" -eq 1 ]
check "report: bad metrics.csv names file:line" has "$tmp/err" "badrun/metrics.csv:2: field 5 (train_acc) is 'x', expected a number"
"$LRLAB" report "$tmp/notrun" >/dev/null 2>"$tmp/err"; rc=$?
check "report: not a run dir ($rc)" sh -c "[ $rc -eq 1 ] && grep -q 'not a run directory' '$tmp/err'"
"$LRLAB" report "$sw" --sort size >/dev/null 2>"$tmp/err"; rc=$?
check "report: bad --sort is a usage error ($rc)" [ "$rc" -eq 2 ]

# ---- a PyTorch log in the seed's format beside lrlab's runs ----
cat >"$tmp/torch_run.log" <<'LOG'
Files already downloaded and verified
epoch 0:[Train] Loss: 2.208 | Acc: 15.954% (7964/49920) 83.7s [Test] Loss: 1.581 | Acc: 26.020% (2602/10000) lr=0.0100
epoch 1:[Train] Loss: 1.828 | Acc: 31.987% (15968/49920) 78.4s [Test] Loss: 1.313 | Acc: 38.200% (3820/10000) lr=0.0100
LOG
if "$LRLAB" report "$sw/b" "$tmp/torch_run.log" >"$tmp/logreport" 2>"$tmp/err"; then ok; else bad "report log: $(cat "$tmp/err")"; fi
check "report: a log file is a row" has "$tmp/logreport" '| torch_run | (seed-format log), lr 0.01 | finished | 2 | 38.20 | 38.20 (1) | 32.11 | 31.99 | 2m42s |'
sed 's/Loss: 1.828/Loss: nan/' "$tmp/torch_run.log" >"$tmp/torch_nan.log"
"$LRLAB" report "$tmp/torch_nan.log" >"$tmp/logreport" 2>"$tmp/err"
check "report: a log whose loss turned NaN is diverged" has "$tmp/logreport" '| torch_nan | (seed-format log), lr 0.01 | diverged | 2 |'
# a run whose trainer holds DIR/.lock (a POSIX record lock, as lrlab train takes it) is running
if command -v python3 >/dev/null 2>&1; then
    mkdir -p "$tmp/live/r"; cp "$sw/b/config.txt" "$sw/b/metrics.csv" "$tmp/live/r/"
    python3 -c 'import fcntl, os, sys, time
fd = os.open(sys.argv[1] + "/.lock", os.O_RDWR | os.O_CREAT)
fcntl.lockf(fd, fcntl.LOCK_EX)
open(sys.argv[1] + "/ready", "w").close()
time.sleep(600)' "$tmp/live/r" &
    holder=$!
    while [ ! -e "$tmp/live/r/ready" ] && kill -0 $holder 2>/dev/null; do sleep 0.1; done
    "$LRLAB" report "$tmp/live/r" >"$tmp/livereport" 2>&1
    kill $holder; wait $holder 2>/dev/null
    check "report: a locked run is running" has "$tmp/livereport" '| r | constant, lr 0.01 | running 1/3 | 1 |'
    "$LRLAB" report "$tmp/live/r" >"$tmp/livereport" 2>&1
    check "report: the lock released, it is failed (no checkpoint)" has "$tmp/livereport" '| r | constant, lr 0.01 | failed | 1 |'
else
    echo "NOTE tools_test: no python3: the running status is not tested"
fi
printf 'epoch 0:[Train] Loss: 2.2 | Acc: 15%% (1/2) [Test] Loss: 1.5 lr=0.1\n' >"$tmp/bad.log"
"$LRLAB" report "$tmp/bad.log" >/dev/null 2>"$tmp/err"; rc=$?
check "report: bad log exits 1 ($rc)" [ "$rc" -eq 1 ]
check "report: bad log names file:line and what was expected" has "$tmp/err" "bad.log:1: expected | at 'lr=0.1'"

# ---- plot ----
if "$LRLAB" plot "$sw" -o "$tmp/curves.png" --title "test" >"$tmp/out" 2>"$tmp/err"; then ok; else bad "plot png: $(cat "$tmp/err")"; fi
check "plot: PNG signature" sh -c "[ -s '$tmp/curves.png' ] && head -c 8 '$tmp/curves.png' | od -An -c | tr -d ' \n' | grep -q '211PNG\\\\r\\\\n032\\\\n'"
check "plot: run without metrics is left out" has "$tmp/err" "c: no metrics yet, left out"
if "$LRLAB" plot "$sw/a-s0" "$sw/b" "$tmp/torch_run.log" -o "$tmp/curves.svg" >"$tmp/out" 2>"$tmp/err"; then ok; else bad "plot svg: $(cat "$tmp/err")"; fi
check "plot: SVG" sh -c "[ -s '$tmp/curves.svg' ] && grep -q '<svg' '$tmp/curves.svg'"
check "plot: the log is a line labelled by its name" sh -c "grep -q '(3 lines)' '$tmp/out' && grep -q 'torch_run' '$tmp/curves.svg'"
check "plot: no temporary file left" sh -c "! ls '$tmp' | grep -q tmp"
mkdir "$tmp/emptypath"
PATH="$tmp/emptypath" "$LRLAB" plot "$sw" -o "$tmp/x.png" >/dev/null 2>"$tmp/err"; rc=$?
check "plot without gnuplot: non-zero ($rc) and the message" sh -c "[ $rc -ne 0 ] && grep -q 'gnuplot not found: apt-get install gnuplot-nox' '$tmp/err'"
check "plot without gnuplot: no file" [ ! -e "$tmp/x.png" ]
"$LRLAB" plot "$sw" -o "$tmp/x.pdf" >/dev/null 2>"$tmp/err"; rc=$?
check "plot: .pdf is a usage error ($rc)" sh -c "[ $rc -eq 2 ] && grep -q 'png or .svg' '$tmp/err'"

# ---- eval and find-lr on synthetic data, with a small model ----
if [ -z "${SYNTH_DIR:-}" ] || [ ! -f "$SYNTH_DIR/test_batch.bin" ]; then
    skip "tools_test: no \$SYNTH_DIR with synthetic CIFAR-10: eval and find-lr not tested"
    echo "tools_test: $pass passed, $fail failed"
    [ "$fail" -eq 0 ]; exit
fi
printf 'input 3 32 32\nconv c1 8\nrelu\nmaxpool 4\nconv c2 16\nrelu\nmaxpool 4\nflatten\nlinear fc 10\n' >"$tmp/tiny"
if "$LRLAB" train --data "$SYNTH_DIR" --model "$tmp/tiny" --limit-train 256 --limit-test 200 --batch 64 --epochs 1 \
    --threads 2 --out "$tmp/run" >"$tmp/train.out" 2>&1; then ok; else bad "train: $(tail -n 2 "$tmp/train.out")"; fi
# no --model: taken from run/config.txt beside the weights
if "$LRLAB" eval --model-file "$tmp/run/model.safetensors" --data "$SYNTH_DIR" --limit-test 200 --batch 64 \
    --threads 2 >"$tmp/eval" 2>"$tmp/err"; then ok; else bad "eval: $(cat "$tmp/err")"; fi
check "eval: 10 per-class lines with names" sh -c "[ \$(grep -cE '^  [0-9] [a-z]+ +[0-9.]+%  \\([0-9]+/[0-9]+\\)$' '$tmp/eval') -eq 10 ]"
check "eval: airplane and truck named" sh -c "grep -q '^  0 airplane' '$tmp/eval' && grep -q '^  9 truck' '$tmp/eval'"
sum=$(awk '/^confusion matrix/ { on = 1; next } on && /^  [0-9] / { for (i = 3; i <= NF; i++) s += $i; rows++ } END { print rows "x" s }' "$tmp/eval")
check "eval: confusion matrix 10 rows summing to 200 (got $sum)" [ "$sum" = "10x200" ]
want=$(tail -n 1 "$tmp/run/metrics.csv" | cut -d, -f6)
check "eval: test loss equals the run's ($want)" grep -q "^test_loss=$want " "$tmp/eval"
"$LRLAB" eval --data "$SYNTH_DIR" >/dev/null 2>"$tmp/err"; rc=$?
check "eval: --model-file required ($rc)" [ "$rc" -eq 2 ]
"$LRLAB" eval --model-file "$tmp/run/model.safetensors" --data "$SYNTH_DIR" --epochs 3 >/dev/null 2>"$tmp/err"; rc=$?
check "eval: a training-only flag is refused ($rc)" [ "$rc" -eq 2 ]

if "$LRLAB" find-lr --data "$SYNTH_DIR" --model "$tmp/tiny" --limit-train 512 --batch 32 --steps 40 --start-lr 1e-5 \
    --threads 2 -o "$tmp/lr.csv" --plot "$tmp/lr.png" >"$tmp/flr" 2>"$tmp/err"; then ok; else bad "find-lr: $(cat "$tmp/err")"; fi
lr=$(sed -n 's/^suggested_lr=//p' "$tmp/flr")
check "find-lr: suggested_lr=$lr inside [1e-4, 1]" awk -v x="$lr" 'BEGIN { exit !(x != "" && x >= 1e-4 && x <= 1) }'
check "find-lr: min_loss_lr_div10 printed" grep -qE '^min_loss_lr_div10=[0-9.e+-]+$' "$tmp/flr"
check "find-lr: CSV header and rows" sh -c "head -n 1 '$tmp/lr.csv' | grep -qx 'step,lr,loss,smoothed_loss' && [ \$(wc -l <'$tmp/lr.csv') -ge 10 ]"
check "find-lr: CSV's first lr is --start-lr" sh -c "sed -n 2p '$tmp/lr.csv' | grep -q '^0,1e-05,'"
"$LRLAB" find-lr --data "$SYNTH_DIR" --model "$tmp/tiny" --limit-train 256 --batch 32 --steps 8 --threads 1 \
    --out "$tmp/flr-out/a/b" >/dev/null 2>"$tmp/err"
check "find-lr --out: missing parents made, as train's: $(cat "$tmp/err")" [ -s "$tmp/flr-out/a/b/lr_find.csv" ]
: >"$tmp/flr-file"
"$LRLAB" find-lr --data "$SYNTH_DIR" --model "$tmp/tiny" --steps 8 --out "$tmp/flr-file/x" >/dev/null 2>"$tmp/err"; rc=$?
check "find-lr --out under a file: exit 1, the flag and path named ($rc)" sh -c "[ $rc -eq 1 ] && grep -q -- '--out $tmp/flr-file/x' '$tmp/err'"
check "find-lr: PNG" sh -c "[ -s '$tmp/lr.png' ] && head -c 4 '$tmp/lr.png' | od -An -c | tr -d ' \n' | grep -q '211PNG'"
"$LRLAB" find-lr --data "$SYNTH_DIR" --lr 0.1 >/dev/null 2>"$tmp/err"; rc=$?
check "find-lr: --lr refused ($rc)" sh -c "[ $rc -eq 2 ] && grep -q 'does not apply' '$tmp/err'"
"$LRLAB" find-lr --data "$SYNTH_DIR" --start-lr 1 --end-lr 0.1 >/dev/null 2>"$tmp/err"; rc=$?
check "find-lr: --end-lr below --start-lr ($rc)" [ "$rc" -eq 2 ]

# a run that diverges records it; report's status says so; a finished one says finished
"$LRLAB" train --data "$SYNTH_DIR" --model "$tmp/tiny" --limit-train 256 --limit-test 200 --batch 64 --epochs 2 \
    --threads 2 --lr 1000 --out "$tmp/runs/div" >/dev/null 2>&1; rc=$?
check "train --lr 1000 diverges (exit $rc, expected 3)" [ "$rc" -eq 3 ]
check "a diverged run keeps the message in diverged.txt" grep -q 'training diverged at epoch' "$tmp/runs/div/diverged.txt"
cp -r "$tmp/run" "$tmp/runs/fine"
"$LRLAB" report "$tmp/runs" >"$tmp/statusreport" 2>&1
check "report: diverged status" has "$tmp/statusreport" '| div | constant, lr 1000 | diverged '
check "report: finished status" has "$tmp/statusreport" '| fine | constant, lr 0.01 | finished | 1 |'
touch "$tmp/runs/div/checkpoint.safetensors" # as a resume that got further, then stopped, leaves it
"$LRLAB" report "$tmp/runs/div" >"$tmp/statusreport" 2>&1
check "report: a checkpoint newer than diverged.txt is stopped" has "$tmp/statusreport" '| div | constant, lr 1000 | stopped '

echo "tools_test: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
