#!/bin/sh
# bench/mpi_scaling.sh [--reps N] [--models "M1 M2"] [--batch B] [--steps S]:
# data-parallel throughput on this machine (issue 14, part 5): the training
# step of each model at global batch B (128) in three configurations,
#   1 rank   one process, 1 thread
#   2 thr    one process, 2 threads
#   2 ranks  `mpirun -np 2 --oversubscribe --bind-to none`, 1 thread per rank
#   2 ranks, yield  the same with `--mca mpi_yield_when_idle 1` (a rank
#            waiting in a collective yields its core instead of polling)
# each `lrlab train` on synthetic data (S steps per epoch, 2 epochs; the
# second epoch's images/s, which times the steps only: forward, backward,
# the sum over ranks and the optimiser step, no data loading, no test pass).
# Every repetition runs all configurations back to back, their order
# reversed from one repetition to the next, and records the 1-minute load
# average before each run. Prints, per model, the median images/s and step
# time of each configuration, the median of the per-repetition ratios (runs
# of one repetition are minutes apart at most), and the median load.
# The machine is shared: run it under `nice -n 10`; the ratios are what to
# read, the absolute numbers move with the load. A benchmark, not a test.
set -u
cd "$(dirname "$0")/.." || exit 1

reps=5; models="vgg-seed resnet20"; batch=128; steps=10
usage() { echo "usage: bench/mpi_scaling.sh [--reps N] [--models \"M1 M2\"] [--batch B] [--steps S]"; }
while [ $# -gt 0 ]; do
    case "$1" in
        --reps|--models|--batch|--steps)
            [ $# -ge 2 ] || { echo "bench/mpi_scaling.sh: $1: missing value" >&2; usage >&2; exit 2; }
            case "$1" in --reps) reps=$2 ;; --models) models=$2 ;; --batch) batch=$2 ;; --steps) steps=$2 ;; esac
            shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench/mpi_scaling.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
LRLAB=${LRLAB:-build/lrlab}
command -v mpirun >/dev/null 2>&1 || { echo "bench/mpi_scaling.sh: needs mpirun (apt-get install openmpi-bin libopenmpi-dev)" >&2; exit 1; }
[ -x "$LRLAB" ] && [ -x build/tools/synth_cifar ] || { echo "bench/mpi_scaling.sh: build first (make)" >&2; exit 1; }
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
build/tools/synth_cifar "$tmp/synth" 42 >/dev/null || exit 1
export LRLAB_CACHE_DIR="$tmp/cache" # the convolution algorithms: decided once per shape, by the warm-up runs

# run MODEL CONFIG: one run; prints "images/s load"
run() {
    load=$(cut -d' ' -f1 /proc/loadavg)
    set -- "$1" "$2" --data "$tmp/synth" --model "$1" --batch "$batch" --limit-train $((batch * steps)) \
        --limit-test "$batch" --epochs 2 --out "$tmp/r"
    rm -rf "$tmp/r"
    case "$2" in
        1rank) shift 2; "$LRLAB" train "$@" --threads 1 ;;
        2thr) shift 2; "$LRLAB" train "$@" --threads 2 ;;
        2ranks) shift 2; mpirun --oversubscribe --bind-to none -np 2 "$LRLAB" train "$@" --threads 1 ;;
        2ranksy) shift 2; mpirun --oversubscribe --bind-to none --mca mpi_yield_when_idle 1 -np 2 \
            "$LRLAB" train "$@" --threads 1 ;;
    esac >"$tmp/out" 2>&1 || { cat "$tmp/out" >&2; echo "bench/mpi_scaling.sh: $1 $2 failed" >&2; exit 1; }
    echo "$(awk -F, 'NR == 3 { print $11 }' "$tmp/r/metrics.csv") $load"
}

configs="1rank 2thr 2ranks 2ranksy"
echo "# bench/mpi_scaling.sh: batch $batch, $steps steps per epoch, $reps repetitions, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
for m in $models; do
    for c in $configs; do run "$m" "$c" >/dev/null; done # warm-up: the algorithm choice per shape
    : >"$tmp/$m.txt"
    r=1
    while [ $r -le "$reps" ]; do
        order=$configs
        [ $((r % 2)) -eq 0 ] && order=$(echo "$configs" | tr ' ' '\n' | tac | tr '\n' ' ')
        line="$r"
        for c in $order; do line="$line $c $(run "$m" "$c")" || exit 1; done
        echo "$m rep $line"
        echo "$line" >>"$tmp/$m.txt"
        r=$((r + 1))
    done
done
echo
echo "| model | 1 rank, 1 thread | 1 process, 2 threads | 2 ranks, 1 thread each | 2 ranks, yield | 2 ranks / 1 rank | 2 ranks / 2 threads | 2 ranks yield / 2 threads | load (1 min) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for m in $models; do
    # per repetition: the images/s of each config, their ratios, the mean load
    awk -v m="$m" -v b="$batch" '
        function med(a, n,   i, j, t) { for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
                                      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
        { for (i = 2; i < NF; i += 3) { v[$i] = $(i + 1); l += $(i + 2); nl++ }
          n++; one[n] = v["1rank"]; two[n] = v["2thr"]; rk[n] = v["2ranks"]; ry[n] = v["2ranksy"]
          r1[n] = v["2ranks"] / v["1rank"]; r2[n] = v["2ranks"] / v["2thr"]; r3[n] = v["2ranksy"] / v["2thr"]
          ld[n] = l / nl; l = nl = 0 }
        END { a = med(one, n); t = med(two, n); k = med(rk, n); y = med(ry, n)
              printf "| %s | %.0f img/s (%.0f ms/step) | %.0f (%.0f ms) | %.0f (%.0f ms) | %.0f (%.0f ms) | %.2fx | %.2fx | %.2fx | %.1f |\n",
                     m, a, 1000 * b / a, t, 1000 * b / t, k, 1000 * b / k, y, 1000 * b / y,
                     med(r1, n), med(r2, n), med(r3, n), med(ld, n) }' "$tmp/$m.txt"
done
echo
echo "(medians over the repetitions; the ratios are medians of each repetition's own ratios)"
