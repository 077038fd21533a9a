#!/bin/sh
# bench/airbench94.sh [--data DIR] [--seeds N] [--torch-seeds M] [--threads T]
#                     [--out DIR] [--quick] [--continue]
# Issue 13's measurement in one command: the airbench94 recipe run by lrlab
# (`lrlab sweep airbench94 --seeds N`, one run at a time with --task-id, so
# each is timed on its own) and by PyTorch 1.13 (bench/torch_airbench94.py,
# one process per seed) on the same data files, alternating (lrlab seed 0,
# PyTorch seed 0, PyTorch seed 1, lrlab seed 1, ...: the order flips each
# round), then writes into DIR:
#   results.md   per run: TTA and plain test accuracy, wall time of the
#                process, the timed region (init, training, TTA: the source's
#                timer), training time; per program: mean +- sd; the ratios
#                of the mean times; where the wall time goes; each session's
#                start, commit and load average before and after
#   accuracy-time.png   test accuracy after each epoch, then with TTA,
#                against wall-clock seconds, every run of both (gnuplot)
#   lrlab/       the sweep's run directories and logs
#   torch/       runs.csv, epochs.csv (bench/torch_airbench94.py's --out,
#                --epochs-out) and one log per seed
# --continue: DIR holds an earlier measurement of this script (stopped, or
# run with fewer seeds): the runs it finished are kept, the missing ones run
# (e.g. --torch-seeds 2 after a session that ran 1), and results.md and the
# figure cover all of them, with each session's start and load average. A
# run that was interrupted halfway is refused (its wall time would be wrong):
# the message names what to remove to run it again.
# --quick: 384 training and 100 test images, batch 128, 2 epochs of 3 steps
# (the schedule's warm-up needs floor(0.23 x steps) >= 1), 2 lrlab
# seeds and 1 PyTorch seed unless given: for trying the script; its numbers
# mean nothing. The full run takes hours on 2 busy cores: stop other heavy
# jobs first (the load average is recorded, nothing else is touched).
# A benchmark, not a test: no number here passes or fails anything.
set -u
cd "$(dirname "$0")/.." || exit 1

data=data/cifar-10-batches-bin; seeds=""; tseeds=""; threads=2; out=""; quick=0; cont=0
usage() { echo "usage: bench/airbench94.sh [--data DIR] [--seeds N] [--torch-seeds M] [--threads T] [--out DIR] [--quick] [--continue]"; }
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1; shift ;;
        --continue) cont=1; shift ;;
        --data|--seeds|--torch-seeds|--threads|--out)
            [ $# -ge 2 ] || { echo "bench/airbench94.sh: $1: missing value" >&2; usage >&2; exit 2; }
            case "$1" in --data) data=$2 ;; --seeds) seeds=$2 ;; --torch-seeds) tseeds=$2 ;;
                         --threads) threads=$2 ;; --out) out=$2 ;; esac
            shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench/airbench94.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
if [ $quick = 1 ]; then : "${seeds:=2}" "${tseeds:=1}"; else : "${seeds:=5}" "${tseeds:=2}"; fi
for v in "seeds=$seeds" "torch-seeds=$tseeds" "threads=$threads"; do
    case "${v#*=}" in ''|*[!0-9]*) echo "bench/airbench94.sh: --${v%%=*} '${v#*=}': expected a whole number" >&2; exit 2 ;; esac
done
for v in "seeds=$seeds" "threads=$threads"; do
    [ "${v#*=}" -ge 1 ] || { echo "bench/airbench94.sh: --${v%%=*} 0: expected a whole number >= 1" >&2; exit 2; }
done
for f in data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin data_batch_5.bin test_batch.bin; do
    [ -f "$data/$f" ] || { echo "bench/airbench94.sh: --data $data: no $f (expected CIFAR-10's binary files; make data)" >&2; exit 2; }
done
if [ $cont = 1 ]; then
    [ -n "$out" ] || { echo "bench/airbench94.sh: --continue needs --out DIR (the earlier measurement)" >&2; exit 2; }
    { [ -d "$out/lrlab" ] && [ -d "$out/torch" ]; } ||
        { echo "bench/airbench94.sh: --continue --out $out: no earlier measurement there (expected its lrlab/ and torch/)" >&2; exit 2; }
fi
out=${out:-runs/airbench94-bench-$(date +%Y%m%d-%H%M%S)}
if [ $cont = 0 ] && [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ]; then
    echo "bench/airbench94.sh: --out $out: not empty (expected a new directory: each measurement its own, or --continue)" >&2; exit 2
fi
mkdir -p "$out/torch" || exit 1
LRLAB=build/lrlab
PY=${PYTHON:-/usr/bin/python3}
torch=1
if ! "$PY" -c 'import torch' >/dev/null 2>&1; then
    torch=0; tseeds=0; echo "bench: PyTorch is not importable by $PY: lrlab alone (PyTorch not measured)"
fi
echo "bench: building (make)"
make >"$out/make.log" 2>&1 || { cat "$out/make.log"; echo "bench: make failed" >&2; exit 1; }

# The quick version: the same recipe on a sliver of the data (lrlab's
# --max-steps is PyTorch's ceil(steps per epoch x epochs); 5 steps at least,
# or the warm-up of 0.23 x steps has none and the schedule divides by 0).
L=""; TL=""
if [ $quick = 1 ]; then
    L="--limit-train 384 --limit-test 100 --batch 128 --epochs 2 --max-steps 6"
    TL="--limit-train 384 --limit-test 100 --batch 128 --epochs 2"
fi
now() { date +%s.%N; }

# wall_of PROGRAM K: the wall time of PROGRAM's seed K, or nothing (not run, or interrupted)
wall_of() { [ -f "$out/$1/wall.txt" ] && awk -v k="$2" '$1 == k {print $2}' "$out/$1/wall.txt"; }
# done_run PROGRAM K: true when PROGRAM's seed K has its wall time (finished)
done_run() { [ -n "$(wall_of "$1" "$2")" ]; }
# lrlab_run K: the sweep's K-th run (seed K), timed
lrlab_run() {
    if done_run lrlab "$1"; then echo "bench: lrlab seed $1: done earlier"; return; fi
    # shellcheck disable=SC2086
    d=$("$LRLAB" sweep airbench94 --seeds "$seeds" --data "$data" $L --out "$out/lrlab" --list | sed -n "$(($1 + 1))p")
    if [ -n "$d" ] && [ -e "$d" ]; then
        echo "bench/airbench94.sh: lrlab seed $1 was interrupted ($d exists but $out/lrlab/wall.txt has no time for it): remove $d to run it again" >&2
        exit 1
    fi
    echo "bench: lrlab seed $1"
    ran=1
    t0=$(now)
    # shellcheck disable=SC2086
    "$LRLAB" sweep airbench94 --seeds "$seeds" --task-id "$1" --data "$data" --threads "$threads" $L \
        --out "$out/lrlab" >>"$out/lrlab/sweep.log" 2>&1 || { echo "bench: lrlab seed $1 failed: see $out/lrlab/" >&2; exit 1; }
    echo "$1 $(echo "$t0 $(now)" | awk '{printf "%.1f", $2 - $1}')" >>"$out/lrlab/wall.txt"
}
# torch_run S: bench/torch_airbench94.py with seed S, timed
torch_run() {
    if done_run torch "$1"; then echo "bench: PyTorch seed $1: done earlier"; return; fi
    if [ -e "$out/torch/seed$1.log" ]; then
        echo "bench/airbench94.sh: PyTorch seed $1 was interrupted ($out/torch/seed$1.log exists but $out/torch/wall.txt has no time for it): remove the log and seed $1's rows of $out/torch/epochs.csv to run it again" >&2
        exit 1
    fi
    echo "bench: PyTorch seed $1"
    ran=1
    t0=$(now)
    # shellcheck disable=SC2086
    "$PY" bench/torch_airbench94.py --data "$data" --runs 1 --seed "$1" --threads "$threads" $TL \
        --out "$out/torch/runs.csv" --epochs-out "$out/torch/epochs.csv" >"$out/torch/seed$1.log" 2>&1 ||
        { echo "bench: PyTorch seed $1 failed: see $out/torch/seed$1.log" >&2; exit 1; }
    echo "$1 $(echo "$t0 $(now)" | awk '{printf "%.1f", $2 - $1}')" >>"$out/torch/wall.txt"
}

mkdir -p "$out/lrlab"
ran=0 # this session ran something (else it is not a session of the measurement)
load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
i=0
while [ $i -lt "$seeds" ] || [ $i -lt "$tseeds" ]; do
    if [ $((i % 2)) = 0 ]; then
        [ $i -lt "$seeds" ] && lrlab_run $i
        [ $i -lt "$tseeds" ] && torch_run $i
    else
        [ $i -lt "$tseeds" ] && torch_run $i
        [ $i -lt "$seeds" ] && lrlab_run $i
    fi
    i=$((i + 1))
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
[ $ran = 0 ] || echo "$started|$load_before|$load_after|$(git describe --always --dirty 2>/dev/null)" >>"$out/sessions.txt"

# ---- per run: one line "PROGRAM SEED TTA ACC WALL TRAIN TIMED TESTS TTATIME" (accuracies in %) ----
# TIMED is the source's timed region (init, training, TTA: the test pass
# after every epoch left out). PyTorch's is its time_seconds. lrlab's is its
# wall time less its per-epoch test passes: an epoch's pass is the epoch's
# seconds less its step seconds (seen / images_per_s; seen from the log's
# "[Train] ... (correct/seen)"); the last epoch's extra also holds the TTA
# pass, so its test pass is taken as the mean of the others'. lrlab's keeps
# process start and data reading, which PyTorch's leaves out. TRAIN is the
# step seconds (lrlab) or PyTorch's time_seconds after its last epoch
# (whitening and the training loops); TESTS the per-epoch test passes
# (PyTorch's: each epoch's wall seconds less its time_seconds); TTATIME the
# TTA pass. WALL less the three is the rest: process start, data, whitening
# (lrlab's), checkpoints, waits.
# run_awk: the start of an awk program reading a run's "$d.log" FS=,
# "$d/metrics.csv": seen[epoch] = the images the epoch trained on (the log's
# "[Train] ... (correct/seen)"), c[name] = metrics.csv's column numbers
run_awk='FNR == NR {if ($0 ~ /^epoch [0-9]+: \[Train\]/) {e = $2 + 0; t = $0; sub(/^[^(]*\(/, "", t); sub(/\).*/, "", t)
                                                split(t, a, "/"); seen[e] = a[2]}
              next}
         FNR == 1 {for (i = 1; i <= NF; i++) c[$i] = i; next}'
: >"$out/runs.txt"
# shellcheck disable=SC2086
runs=$("$LRLAB" sweep airbench94 --seeds "$seeds" --data "$data" $L --out "$out/lrlab" --list)
k=0
for d in $runs; do
    wall=$(wall_of lrlab $k)
    k=$((k + 1))
    [ -n "$wall" ] || continue # not run (yet)
    awk -v s=$((k - 1)) -v wall="$wall" \
        "$run_awk"'
         {e = $c["epoch"]; step = seen[e] / $c["images_per_s"]; train += step; extra[n++] = $c["seconds"] - step
          acc = $c["test_acc"]; tta = $c["tta_test_acc"]}
         END {for (i = 0; i < n - 1; i++) evals += extra[i]
              last = n > 1 ? evals / (n - 1) : 0
              evals += last
              printf "lrlab %d %.2f %.2f %.1f %.1f %.1f %.1f %.1f\n", s, tta, acc, wall, train, wall - evals, evals,
                     extra[n - 1] - last}' \
        "$d.log" FS=, "$d/metrics.csv" >>"$out/runs.txt"
done
if [ "$torch" = 1 ] && [ -f "$out/torch/runs.csv" ]; then
    awk -F, 'FNR == 1 {f++} f == 1 {wall[$1] = $2; next}
             f == 2 {if (FNR > 1) {tests[$1] += ($5 - w[$1]) - ($4 - train[$1]); train[$1] = $4; w[$1] = $5}; next}
             FNR > 1 {printf "PyTorch %d %.2f %.2f %.1f %.1f %.1f %.1f %.1f\n", $1, 100 * $2, 100 * $3, wall[$1], train[$1],
                             $4, tests[$1], $4 - train[$1]}' \
        FS=' ' "$out/torch/wall.txt" FS=, "$out/torch/epochs.csv" "$out/torch/runs.csv" >>"$out/runs.txt"
fi

# ---- results.md ----
# stats PROGRAM COLUMN: "mean +- sd" of one column over the program's runs
stats() {
    awk -v p="$1" -v c="$2" '$1 == p {n++; s += $c; q += $c * $c}
        END {if (!n) {print "-"; exit} m = s / n; v = n > 1 ? (q - n * m * m) / (n - 1) : 0; if (v < 0) v = 0
             printf (n > 1 ? "%.2f ± %.2f" : "%.2f"), m, sqrt(v)}' "$out/runs.txt"
}
mean() { awk -v p="$1" -v c="$2" '$1 == p {n++; s += $c} END {if (n) printf "%.4f", s / n}' "$out/runs.txt"; }
# ratio COLUMN: PyTorch's mean over lrlab's
ratio() { awk -v l="$(mean lrlab "$1")" -v t="$(mean PyTorch "$1")" 'BEGIN {if (l > 0 && t > 0) printf "%.2fx", t / l; else print "-"}'; }
minutes() { awk -v w="$(mean "$1" "$2")" 'BEGIN {printf "%.1f", w / 60}'; }
{
    echo "# airbench94: lrlab against PyTorch $([ "$torch" = 1 ] && "$PY" -c 'import torch; print(torch.__version__)')"
    echo
    [ $quick = 1 ] && { echo "**--quick: a sliver of the data, 6 steps of 128 images: these numbers mean nothing.**"; echo; }
    echo "\`bench/airbench94.sh --seeds $seeds --torch-seeds $tseeds --threads $threads$([ $quick = 1 ] && echo ' --quick')\`,"
    echo "this report: lrlab $(git describe --always --dirty 2>/dev/null);"
    echo "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) cores; $threads threads each."
    awk -F'|' '{printf "Started %s%s; load average (1, 5, 15 min) before: %s; after: %s.\n", $1,
                       $4 == "" ? "" : " (lrlab " $4 ")", $2, $3}' "$out/sessions.txt"
    echo
    echo "Wall = the whole process (data reading, whitening init, training, the test pass"
    echo "after every epoch, TTA). Timed = the source's timed region (whitening init,"
    echo "training, TTA; the per-epoch test passes left out): PyTorch's time_seconds, and"
    echo "lrlab's wall less its per-epoch test passes (each the epoch's seconds less its"
    echo "steps' seconds in metrics.csv; the last epoch's as the mean of the others), so"
    echo "lrlab's keeps process start and data reading. Training = lrlab's step seconds;"
    echo "PyTorch's whitening and training loops."
    echo
    echo "| program | seed | TTA test acc % | test acc % | wall s | timed s | training s |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    awk '{printf "| %s | %d | %.2f | %.2f | %.1f | %.1f | %.1f |\n", $1, $2, $3, $4, $5, $7, $6}' "$out/runs.txt"
    echo
    echo "| program | runs | TTA test acc % | test acc % | wall s | wall min | timed s | timed min |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    for p in lrlab PyTorch; do
        n=$(awk -v p=$p '$1 == p' "$out/runs.txt" | wc -l)
        [ "$n" -gt 0 ] || continue
        echo "| $p | $n | $(stats $p 3) | $(stats $p 4) | $(stats $p 5) | $(minutes $p 5) | $(stats $p 7) | $(minutes $p 7) |"
    done
    echo
    echo "Mean time, PyTorch / lrlab: wall $(ratio 5), timed $(ratio 7)."
    echo
    echo "Where the wall time goes (mean seconds per run):"
    echo
    echo "| program | training | test pass after each epoch | TTA | the rest (start, data, checkpoints) |"
    echo "|---|---:|---:|---:|---:|"
    for p in lrlab PyTorch; do
        awk -v p=$p '$1 == p {n++; w += $5; t += $6; e += $8; a += $9}
            END {if (n) printf "| %s | %.1f | %.1f | %.1f | %.1f |\n", p, t / n, e / n, a / n, (w - t - e - a) / n}' "$out/runs.txt"
    done
    [ "$torch" = 1 ] || echo "PyTorch not measured (not importable by $PY)."
    echo
    echo "![test accuracy against wall-clock time](accuracy-time.png)"
} >"$out/results.md"

# ---- the figure: test accuracy after each epoch, then with TTA, against wall-clock seconds ----
# x = seconds since the process started: lrlab's epochs end at its wall time
# less the seconds of the epochs after them (metrics.csv); PyTorch's at
# epochs.csv's wall_seconds plus what its process spent before run() began
# (wall.txt less runs.csv's wall_seconds). The last point of each run is its
# TTA accuracy at the process's end.
if command -v gnuplot >/dev/null 2>&1; then
    k=0
    for d in $runs; do
        wall=$(wall_of lrlab $k)
        k=$((k + 1))
        [ -n "$wall" ] || continue
        awk -v wall="$wall" "$run_awk"'
             {i = n++; secs[i] = $c["seconds"]; acc[i] = $c["test_acc"]; all += $c["seconds"]; tta = $c["tta_test_acc"]}
             END {x = wall - all; for (i = 0; i < n; i++) {x += secs[i]; print x, acc[i]}; if (tta != "") print wall, tta}' \
            "$d.log" FS=, "$d/metrics.csv" >"$out/lrlab-$k.dat"
    done
    [ -f "$out/torch/epochs.csv" ] &&
        awk -F, 'FNR == 1 {f++} f == 1 {wall[$1] = $2; next} f == 2 {if (FNR > 1) {off[$1] = wall[$1] - $5; tta[$1] = 100 * $2}; next}
                 FNR > 1 && ($1 in off) {print off[$1] + $5, $3 > (dir "/torch-" $1 ".dat")}
                 END {for (s in tta) print wall[s], tta[s] > (dir "/torch-" s ".dat")}' \
            dir="$out" FS=' ' "$out/torch/wall.txt" FS=, "$out/torch/runs.csv" "$out/torch/epochs.csv"
    # one line per run, one legend entry per program (the first run's)
    plots=""
    for p in "lrlab lrlab #1f77b4 7" "torch PyTorch #d62728 5"; do
        # shellcheck disable=SC2086
        set -- $p; title="$2 ($(awk -v p="$2" '$1 == p' "$out/runs.txt" | wc -l) runs)"
        for f in "$out/$1"-*.dat; do
            [ -f "$f" ] || continue
            plots="$plots${plots:+, }'$f' with linespoints lc rgb '$3' pt $4 ps 0.6 $([ -n "$title" ] && echo "title '$title'" || echo notitle)"
            title=""
        done
    done
    gnuplot >"$out/gnuplot.log" 2>&1 <<GP || echo "bench: gnuplot failed: see $out/gnuplot.log" >&2
set terminal pngcairo size 900,560 font ',10' noenhanced
set output '$out/accuracy-time.png'
set title 'airbench94 on CIFAR-10: lrlab and PyTorch $([ "$torch" = 1 ] && "$PY" -c 'import torch; print(torch.__version__)'), $threads thread(s) each'
set xlabel 'seconds since the process started (wall clock)'
set ylabel 'test accuracy (%): after each epoch, then with TTA'
set key bottom right
set grid
plot $plots
GP
    rm -f "$out"/lrlab-*.dat "$out"/torch-*.dat
else
    echo "bench: gnuplot not found: no figure (apt-get install gnuplot-nox)"
    echo "(no figure: gnuplot was not installed)" >>"$out/results.md"
fi
cat "$out/results.md"
echo "bench: results in $out/results.md"
