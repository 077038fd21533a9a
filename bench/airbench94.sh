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
#                process, training time; per program: mean +- sd; the ratio
#                of the mean wall times; the load average before and after
#   accuracy-time.png   test accuracy after each epoch against training
#                seconds so far, every run of both (gnuplot)
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

# done_run PROGRAM K: true when PROGRAM's seed K has its wall time (finished)
done_run() { [ -f "$out/$1/wall.txt" ] && awk -v k="$2" '$1 == k {f = 1} END {exit !f}' "$out/$1/wall.txt"; }
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
    t0=$(now)
    # shellcheck disable=SC2086
    "$PY" bench/torch_airbench94.py --data "$data" --runs 1 --seed "$1" --threads "$threads" $TL \
        --out "$out/torch/runs.csv" --epochs-out "$out/torch/epochs.csv" >"$out/torch/seed$1.log" 2>&1 ||
        { echo "bench: PyTorch seed $1 failed: see $out/torch/seed$1.log" >&2; exit 1; }
    echo "$1 $(echo "$t0 $(now)" | awk '{printf "%.1f", $2 - $1}')" >>"$out/torch/wall.txt"
}

mkdir -p "$out/lrlab"
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
echo "$started|$load_before|$load_after" >>"$out/sessions.txt"

# ---- per run: one line "PROGRAM SEED TTA ACC WALL TRAIN" (accuracies in %) ----
: >"$out/runs.txt"
# shellcheck disable=SC2086
runs=$("$LRLAB" sweep airbench94 --seeds "$seeds" --data "$data" $L --out "$out/lrlab" --list)
k=0
for d in $runs; do
    # metrics.csv's columns by name; tta_test_acc is in the last row
    awk -F, -v s=$k -v wall="$(awk -v k=$k '$1 == k {print $2}' "$out/lrlab/wall.txt")" \
        'NR == 1 {for (i = 1; i <= NF; i++) c[$i] = i; next}
         {train += $c["seconds"]; acc = $c["test_acc"]; tta = $c["tta_test_acc"]}
         END {printf "lrlab %d %.2f %.2f %.1f %.1f\n", s, tta, acc, wall, train}' "$d/metrics.csv" >>"$out/runs.txt"
    k=$((k + 1))
done
if [ "$torch" = 1 ] && [ -f "$out/torch/runs.csv" ]; then
    awk -F, 'NR == FNR {wall[$1] = $2; next} FNR > 1 {printf "PyTorch %d %.2f %.2f %.1f %.1f\n", $1, 100 * $2, 100 * $3, wall[$1], $4}' \
        FS=' ' "$out/torch/wall.txt" FS=, "$out/torch/runs.csv" >>"$out/runs.txt"
fi

# ---- results.md ----
# stats PROGRAM COLUMN: "mean +- sd" of one column over the program's runs
stats() {
    awk -v p="$1" -v c="$2" '$1 == p {n++; s += $c; q += $c * $c}
        END {if (!n) {print "-"; exit} m = s / n; v = n > 1 ? (q - n * m * m) / (n - 1) : 0; if (v < 0) v = 0
             printf (n > 1 ? "%.2f ± %.2f" : "%.2f"), m, sqrt(v)}' "$out/runs.txt"
}
mean() { awk -v p="$1" -v c="$2" '$1 == p {n++; s += $c} END {if (n) printf "%.4f", s / n}' "$out/runs.txt"; }
lw=$(mean lrlab 5); tw=$(mean PyTorch 5)
ratio=$(awk -v l="$lw" -v t="$tw" 'BEGIN {if (l > 0 && t > 0) printf "%.2fx", t / l; else print "-"}')
{
    echo "# airbench94: lrlab against PyTorch $([ "$torch" = 1 ] && "$PY" -c 'import torch; print(torch.__version__)')"
    echo
    [ $quick = 1 ] && { echo "**--quick: a sliver of the data, 6 steps of 128 images: these numbers mean nothing.**"; echo; }
    echo "\`bench/airbench94.sh --seeds $seeds --torch-seeds $tseeds --threads $threads$([ $quick = 1 ] && echo ' --quick')\`,"
    echo "lrlab $(git describe --always --dirty 2>/dev/null);"
    echo "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) cores; $threads threads each."
    awk -F'|' '{printf "Started %s; load average (1, 5, 15 min) before: %s; after: %s.\n", $1, $2, $3}' "$out/sessions.txt"
    echo
    echo "Wall = the whole process (data reading, whitening init, training, the test pass"
    echo "after every epoch, TTA); training = the training seconds of lrlab's metrics.csv"
    echo "(summed over epochs) and PyTorch's time_seconds (whitening init + training + TTA)."
    echo
    echo "| program | seed | TTA test acc % | test acc % | wall s | training s |"
    echo "|---|---:|---:|---:|---:|---:|"
    awk '{printf "| %s | %d | %.2f | %.2f | %.1f | %.1f |\n", $1, $2, $3, $4, $5, $6}' "$out/runs.txt"
    echo
    echo "| program | runs | TTA test acc % | test acc % | wall s | wall min |"
    echo "|---|---:|---:|---:|---:|---:|"
    for p in lrlab PyTorch; do
        n=$(awk -v p=$p '$1 == p' "$out/runs.txt" | wc -l)
        [ "$n" -gt 0 ] || continue
        echo "| $p | $n | $(stats $p 3) | $(stats $p 4) | $(stats $p 5) | $(awk -v w="$(mean $p 5)" 'BEGIN {printf "%.1f", w / 60}') |"
    done
    echo
    echo "Mean wall time, PyTorch / lrlab: $ratio."
    [ "$torch" = 1 ] || echo "PyTorch not measured (not importable by $PY)."
    echo
    echo "![test accuracy against training time](accuracy-time.png)"
} >"$out/results.md"

# ---- the figure: test accuracy after each epoch against training seconds so far ----
if command -v gnuplot >/dev/null 2>&1; then
    k=0
    for d in $runs; do
        awk -F, 'NR == 1 {for (i = 1; i <= NF; i++) c[$i] = i; next} {t += $c["seconds"]; print t, $c["test_acc"]}' \
            "$d/metrics.csv" >"$out/lrlab-$k.dat"
        k=$((k + 1))
    done
    [ -f "$out/torch/epochs.csv" ] &&
        awk -F, 'NR > 1 {print $4, $3 > (dir "/torch-" $1 ".dat")}' dir="$out" "$out/torch/epochs.csv"
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
set xlabel 'training seconds so far (per-epoch test passes excluded)'
set ylabel 'test accuracy after the epoch (%)'
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
