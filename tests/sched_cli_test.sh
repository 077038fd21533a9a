#!/bin/sh
# tests/sched_cli_test.sh: `lrlab schedule` through the CLI ($LRLAB): every
# PyTorch fixture case of tests/fixtures/sched (relative error < 1e-9, the
# momentum column where the schedule cycles it), the seed's warmup, step mode,
# --metrics, errors (message with a caret, exit 2, never a crash) and --plot.
# Run from the repository root; prints "sched_cli_test: N passed, N failed".
set -u
FIXTURES=${SCHED_FIXTURES:-tests/fixtures/sched}
. tests/lib.sh

if [ ! -x "$LRLAB" ]; then
    echo "sched_cli_test: $LRLAB is not built"
    echo "sched_cli_test: 0 passed, 1 failed"
    exit 1
fi

# ---- every fixture case: split the files into one directory per case ----
n=0
for f in "$FIXTURES"/*.txt; do
    awk -v dir="$tmp" -v base="$(basename "$f" .txt)" '
        /^case$/ { n++; d = dir "/" base "_" n; system("mkdir -p " d); next }
        /^end$/ { close(d "/rows"); close(d "/head"); next }
        /^#/ { next }
        /^[0-9]/ { print > (d "/rows"); next }
        { print > (d "/head") }' "$f"
done
for d in "$tmp"/*_*; do
    [ -d "$d" ] || continue
    n=$((n + 1))
    expr=$(sed -n 's/^expr //p' "$d/head")
    lr=$(sed -n 's/^lr //p' "$d/head")
    mom=$(sed -n 's/^momentum //p' "$d/head")
    steps=$(sed -n 's/^steps //p' "$d/head")
    spe=$(sed -n 's/^spe //p' "$d/head")
    metrics=$(sed -n 's/^metrics //p' "$d/head" | tr ' ' ',')
    rows=$steps
    set -- --lr "$lr" --epochs "$rows" --momentum "$mom" --sched "$expr"
    [ -n "$spe" ] && set -- --lr "$lr" --epochs $((steps / spe)) --sched-unit step --steps-per-epoch "$spe" --momentum "$mom" --sched "$expr"
    [ -n "$metrics" ] && set -- "$@" --metrics "$metrics"
    "$LRLAB" schedule "$@" >"$d/out" 2>"$d/err"
    rc=$?
    if [ "$rc" -ne 0 ]; then
        bad "$expr: exit status $rc ($(head -n 1 "$d/err"))"
        continue
    fi
    # the momentum column is printed only where the schedule cycles it
    if awk -v n="$rows" 'NR == FNR { lr[$1] = $2; m[$1] = $3; next }
            function far(a, b) { d = a - b; if (d < 0) d = -d; if (b < 0) b = -b; return d > 1e-9 * b + 1e-300 }
            { rows++; if (!($1 in lr)) { print "t=" $1 " not in the fixture"; bad = 1; next }
              if (far($2, lr[$1])) { print "t=" $1 " lr " $2 " want " lr[$1]; bad = 1 }
              if (NF == 3 && far($3, m[$1])) { print "t=" $1 " momentum " $3 " want " m[$1]; bad = 1 } }
            END { if (rows != n) { print rows " lines, want " n; bad = 1 } exit bad }' "$d/rows" "$d/out" >"$d/diff"; then
        ok
    else
        bad "$expr differs from PyTorch: $(head -n 3 "$d/diff" | tr '\n' ';')"
    fi
done
[ "$n" -ge 60 ] && ok || bad "only $n fixture cases found in $FIXTURES"

# the momentum column appears with --momentum where momentum cycles, not elsewhere
cols() { "$LRLAB" schedule "$@" | awk 'NR == 1 { print NF }'; }
check "OneCycleLR --momentum has 3 columns" [ "$(cols --lr 0.1 --epochs 3 --momentum 0.9 --sched 'OneCycleLR(max_lr=0.1, total_steps=5)')" = 3 ]
check "OneCycleLR without --momentum has 2 columns" [ "$(cols --lr 0.1 --epochs 3 --sched 'OneCycleLR(max_lr=0.1, total_steps=5)')" = 2 ]
check "StepLR --momentum has 2 columns" [ "$(cols --lr 0.1 --epochs 3 --momentum 0.9 --sched 'StepLR(2)')" = 2 ]
check "constant lr by default" [ "$("$LRLAB" schedule --lr 0.01 --epochs 4 | awk '{ printf "%s;", $0 }')" = "0 0.01;1 0.01;2 0.01;3 0.01;" ]

# ---- the seed's warmup, by its numbers ----
"$LRLAB" schedule --lr 0.001 --epochs 30 \
    --sched 'GradualWarmupScheduler(multiplier=40, total_epoch=5, after_scheduler=ExponentialLR(gamma=0.885))' >"$tmp/seed"
check "seed warmup: 0.001, 0.0088, ..., 0.04 at 5, then 0.04*0.885^(e-5)" awk '
    { want = $1 <= 5 ? 0.001 * (1 + 39 * $1 / 5) : 0.04 * 0.885 ^ ($1 - 5)
      d = $2 - want; if (d < 0) d = -d; if (d > 1e-12 * want) { print "epoch " $1 ": " $2 " want " want; bad = 1 } }
    END { exit bad || NR != 30 }' "$tmp/seed"

# ---- step mode ----
"$LRLAB" schedule --lr 0.1 --epochs 2 --sched-unit step --steps-per-epoch 5 --sched 'OneCycleLR(max_lr=0.1, epochs=2, steps_per_epoch=5)' >"$tmp/step" 2>"$tmp/err"
check "step mode: one line per step" [ "$(wc -l <"$tmp/step")" -eq 10 ]
"$LRLAB" schedule --lr 0.1 --epochs 3 --sched-unit step --steps-per-epoch 2 --sched 'ReduceLROnPlateau(patience=0)' --metrics 1,2,3 >"$tmp/plat"
check "step mode: ReduceLROnPlateau steps once per epoch" [ "$(awk '{ printf "%s;", $2 }' "$tmp/plat")" = "0.10000000000000001;0.10000000000000001;0.10000000000000001;0.10000000000000001;0.010000000000000002;0.010000000000000002;" ]

# ---- errors: one message with a caret, exit 2, nothing on stdout ----
expect_usage() { # expect_usage WANT_IN_STDERR ARGS...
    want=$1; shift
    "$LRLAB" schedule "$@" >"$tmp/o" 2>"$tmp/e"
    rc=$?
    if [ "$rc" -eq 2 ] && [ ! -s "$tmp/o" ] && grep -qF -- "$want" "$tmp/e"; then ok; else
        bad "schedule $*: exit $rc, stderr: $(head -n 3 "$tmp/e" | tr '\n' ';')"; fi
}
expect_usage "unknown scheduler 'StepLr' (did you mean StepLR?)" --lr 0.1 --epochs 3 --sched 'StepLr(step_size=3)'
"$LRLAB" schedule --lr 0.1 --epochs 3 --sched 'StepLr(step_size=3)' 2>"$tmp/e"
check "the caret sits under the name" [ "$(sed -n 3p "$tmp/e")" = "  ^~~~~~" ]
check "the expression is quoted" [ "$(sed -n 2p "$tmp/e")" = "  StepLr(step_size=3)" ]
expect_usage "gamma must be > 0" --lr 0.1 --epochs 3 --sched 'StepLR(step_size=3, gamma=0)'
expect_usage "milestones must be >= 0" --lr 0.1 --epochs 3 --sched 'MultiStepLR([5, -3])'
expect_usage "argument 'gamma' given twice" --lr 0.1 --epochs 3 --sched 'StepLR(3, 0.5, gamma=0.1)'
expect_usage "missing required argument 'T_max'" --lr 0.1 --epochs 3 --sched 'CosineAnnealingLR()'
expect_usage "Tried to step 7 times. The specified number of total steps is 5" --lr 0.1 --epochs 10 --sched 'OneCycleLR(max_lr=0.1, total_steps=5)'
# lrlab schedule prints lr(0..N-1) of N epochs: N - 1 steps (a training run takes N: hostile_test.sh)
expect_usage "the schedule cannot cover the run: printing lr(0..9) steps it 9 times (10 epochs), but step 6 fails" --lr 0.1 --epochs 10 --sched 'OneCycleLR(max_lr=0.1, total_steps=5)'
expect_usage "printing lr(0..11) steps it 11 times (3 epochs of 4 steps, --sched-unit step)" --lr 0.1 --epochs 3 --sched-unit step --steps-per-epoch 4 --sched 'OneCycleLR(max_lr=0.1, epochs=2, steps_per_epoch=4)'
if "$LRLAB" schedule --lr 0.1 --epochs 6 --sched 'OneCycleLR(max_lr=0.1, total_steps=5)' >"$tmp/o" 2>"$tmp/e" &&
    [ "$(wc -l <"$tmp/o")" -eq 6 ] && [ ! -s "$tmp/e" ]; then ok; else bad "OneCycleLR(total_steps=5): lrlab schedule prints lr(0..5), all PyTorch computes"; fi
"$LRLAB" schedule --lr 0.1 --epochs 30 --sched 'OneCycleLR(max_lr=0.1, epochs=30, steps_per_epoch=390)' >"$tmp/o" 2>"$tmp/e"
check "a per-step OneCycleLR in epoch unit: a warning that suggests --sched-unit step" grep -q "warning: OneCycleLR: total_steps=11700 .*--sched-unit step" "$tmp/e"
"$LRLAB" schedule --lr 0.1 --epochs 30 --sched 'CyclicLR(0.01, 0.1)' >"$tmp/o" 2>"$tmp/e"
check "CyclicLR's default step_size_up in epoch unit: a warning" grep -q "warning: CyclicLR: step_size_up=2000 .*--sched-unit step" "$tmp/e"
"$LRLAB" schedule --lr 0.1 --epochs 30 --sched 'CyclicLR(0.01, 0.1, step_size_up=4)' >"$tmp/o" 2>"$tmp/e"
check "a per-epoch CyclicLR: no warning" [ ! -s "$tmp/e" ]
expect_usage "leading zeros in decimal integer literals are not permitted" --lr 0.1 --epochs 3 --sched 'StepLR(step_size=03)'
expect_usage "milestones: expected a list or tuple of ints, got float 2.5 at element 1" --lr 0.1 --epochs 3 --sched 'MultiStepLR(milestones=(2, 2.5))'
expect_usage "needs a metric" --lr 0.1 --epochs 3 --sched 'ReduceLROnPlateau()'
expect_usage "--metrics has 1 values" --lr 0.1 --epochs 4 --sched 'ReduceLROnPlateau()' --metrics 1
expect_usage "--metrics" --lr 0.1 --epochs 3 --sched 'ReduceLROnPlateau()' --metrics 1,x
expect_usage "--lr is required" --epochs 3
expect_usage "--epochs" --lr 0.1 --epochs 0
expect_usage "--lr" --lr abc --epochs 3
expect_usage "unknown flag '--bogus'" --lr 0.1 --epochs 3 --bogus
expect_usage "--sched-unit must be epoch or step" --lr 0.1 --epochs 3 --sched-unit batch
expect_usage "--sched: missing value" --lr 0.1 --epochs 3 --sched
# odd inputs: an error, never a crash
for x in '(' ')' 'StepLR(' 'StepLR(3,,)' "LambdaLR('epoch' ** 2)" 'StepLR(3)(4)' '[[[[' "LambdaLR(lr_lambda='exp(exp(exp(epoch)))')" 'SequentialLR([StepLR(2)]*3, [1])'; do
    "$LRLAB" schedule --lr 0.1 --epochs 5 --sched "$x" >/dev/null 2>&1
    rc=$?
    check "odd input '$x' gives exit 2 (got $rc)" [ "$rc" -eq 2 ]
done
"$LRLAB" schedule --help >"$tmp/h"
check "--help exits 0 and shows the flags" grep -q -- "--steps-per-epoch" "$tmp/h"

# ---- --plot ----
if command -v gnuplot >/dev/null 2>&1; then
    "$LRLAB" schedule --lr 0.1 --epochs 20 --momentum 0.9 --sched "CyclicLR(0.01, 0.1, step_size_up=4)" --plot "$tmp/p.png" >/dev/null 2>"$tmp/e"
    check "--plot writes a PNG ($(head -n 1 "$tmp/e"))" [ "$(head -c 4 "$tmp/p.png" 2>/dev/null | od -An -c | tr -d ' ')" = '211PNG' ]
else
    skip "--plot: gnuplot is not installed (apt-get install gnuplot-nox)"
fi
PATH=/nonexistent "$LRLAB" schedule --lr 0.1 --epochs 3 --plot "$tmp/q.png" >/dev/null 2>"$tmp/e"
rc=$?
if [ "$rc" -eq 1 ] && grep -q "gnuplot" "$tmp/e"; then ok; else bad "--plot without gnuplot: exit $rc"; fi

echo "sched_cli_test: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
