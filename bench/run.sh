#!/bin/sh
# bench/run.sh [--quick] [--reps N] [--threads N] [--data DIR] [--out FILE]:
# the one command that measures lrlab and PyTorch 1.13 side by side on this
# machine, back to back in one run, and writes BENCHMARKS.md (or FILE).
#   1. builds (make);
#   2. training step and forward pass on synthetic data: `lrlab bench` with
#      fp32 auto, fp32 direct, bf16 (2 threads) and fp32 auto (1 thread),
#      against bench/torch_step.py with 2 and 1 threads;
#   3. the training step of each model of $MODELS (vgg-seed, resnet20,
#      airbench94-net: those in models/) against bench/torch_step.py with the
#      same module in NCHW and in channels_last; the ratio's denominator is
#      the faster of the two;
#   4. one epoch of the seed's pipeline (augmentation, training, test pass) on
#      the real CIFAR-10 files: `lrlab train --epochs 1` against
#      bench/torch_seed_epoch.py, with each process's peak resident memory.
# Each measurement runs --reps times (2; 1 with --quick), the order of lrlab
# and PyTorch alternating from one repetition to the next, and the best is
# kept (highest images/s, fewest seconds). --quick also shortens everything:
# 5 timed steps, and 20 batches of the epoch scaled up to a full epoch (the
# output says so). Without PyTorch for /usr/bin/python3 (or $PYTHON) only
# lrlab's numbers are printed, marked "PyTorch not measured"; without the
# data files the epoch rows are skipped.
# This is a benchmark, not a test: no number here passes or fails anything.
# It does not touch other processes; pause other heavy jobs yourself first.
set -u
cd "$(dirname "$0")/.." || exit 1

quick=0; reps=""; threads=2; data=data/cifar-10-batches-bin; out=BENCHMARKS.md
usage() { echo "usage: bench/run.sh [--quick] [--reps N] [--threads N] [--data DIR] [--out FILE]"; }
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1; shift ;;
        --reps|--threads|--data|--out)
            [ $# -ge 2 ] || { echo "bench/run.sh: $1: missing value" >&2; usage >&2; exit 2; }
            case "$1" in --reps) reps=$2 ;; --threads) threads=$2 ;; --data) data=$2 ;; --out) out=$2 ;; esac
            shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench/run.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
if [ -z "$reps" ]; then if [ $quick = 1 ]; then reps=1; else reps=2; fi; fi
for v in "reps=$reps" "threads=$threads"; do
    case "${v#*=}" in ''|*[!0-9]*|0) echo "bench/run.sh: --${v%%=*} '${v#*=}': expected a whole number >= 1" >&2; exit 2 ;; esac
done

if [ $quick = 1 ]; then iters=5; warmup=2; limit_batches=20; else iters=20; warmup=3; limit_batches=0; fi
# the models compared with their PyTorch modules (tests/torch/), those shipped in models/
models=""
for m in ${MODELS:-vgg-seed resnet20 airbench94-net}; do
    if [ -f "models/$m" ]; then models="$models $m"; else echo "bench: no models/$m: not compared"; fi
done
LRLAB=build/lrlab
PY=${PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "bench: building (make)"
if ! make >"$tmp/make.log" 2>&1; then cat "$tmp/make.log"; echo "bench: make failed" >&2; exit 1; fi

torch=0; torch_version=""
if "$PY" -c 'import torch' >/dev/null 2>&1; then
    torch=1; torch_version=$("$PY" -c 'import torch; print(torch.__version__)')
else
    echo "bench: PyTorch is not importable by $PY: measuring lrlab alone (PyTorch not measured)"
fi
epoch=0
if [ -f "$data/data_batch_1.bin" ] && [ -f "$data/test_batch.bin" ]; then epoch=1; else
    echo "bench: no CIFAR-10 files in $data (make data): the epoch is not measured"
fi

# peak RSS and wall time of a command: /usr/bin/time when present, else the
# kernel's high-water mark VmHWM read from /proc while the command runs
timed() { # timed OUT_TIME CMD...: runs CMD, writes "rss_kb wall_s" to OUT_TIME
    tf=$1; shift
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f '%M %e' -o "$tf" "$@"; return $?
    fi
    t0=$(date +%s.%N); "$@" & pid=$!; hwm=0
    while kill -0 $pid 2>/dev/null; do
        h=$(awk '/^VmHWM:/ { print $2 }' /proc/$pid/status 2>/dev/null); [ -n "$h" ] && hwm=$h
        sleep 0.2
    done
    wait $pid; rc=$?
    echo "$hwm $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')" >"$tf"
    return $rc
}

# value of key K on lines starting with word P ("" = any line) of FILE
val() { awk -v p="$2" -v k="$3" '(p == "" || $1 == p) { for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) v = substr($i, length(k) + 2) } END { print v }' "$1"; }

# best over the repetitions of LABEL: best LABEL PREFIX KEY max|min
best() {
    for f in "$tmp/$1".r*; do [ -f "$f" ] && val "$f" "$2" "$3"; done |
        awk -v m="$4" 'NF && $1 != "" { if (b == "" || (m == "max" ? $1 > b : $1 < b)) b = $1 } END { print b }'
}

# run LABEL REP CMD...: output kept in $tmp/LABEL.rREP; the command is
# recorded once for BENCHMARKS.md (with the temporary directory as $TMP)
run() {
    rl=$1; rr=$2; shift 2
    [ "$rr" = 1 ] && echo "$*" | sed "s|$tmp|\$TMP|g" >>"$tmp/commands"
    printf 'bench: %-12s rep %d: ' "$rl" "$rr"
    if "$@" >"$tmp/$rl.r$rr" 2>&1; then
        { grep -E '^(train_step|epoch_seconds)' "$tmp/$rl.r$rr" || tail -n 1 "$tmp/$rl.r$rr"; } | head -n 1 | cut -c1-100
    else
        echo "FAILED:"; tail -n 5 "$tmp/$rl.r$rr"; mv "$tmp/$rl.r$rr" "$tmp/$rl.failed$rr"
    fi
}

steps_pass() { # one repetition of the step measurements; $2 = 1: PyTorch first
    rep=$1
    if [ "$2" = 1 ] && [ $torch = 1 ]; then
        run pt_t "$rep" "$PY" bench/torch_step.py --threads "$threads" --iters "$iters" --warmup "$warmup"
        run pt_1 "$rep" "$PY" bench/torch_step.py --threads 1 --iters "$iters" --warmup "$warmup"
    fi
    run lr_auto "$rep" "$LRLAB" bench --threads "$threads" --conv-algo auto --precision fp32 --iters "$iters" --warmup "$warmup"
    run lr_direct "$rep" "$LRLAB" bench --threads "$threads" --conv-algo direct --precision fp32 --iters "$iters" --warmup "$warmup"
    run lr_bf16 "$rep" "$LRLAB" bench --threads "$threads" --conv-algo auto --precision bf16 --iters "$iters" --warmup "$warmup"
    run lr_1 "$rep" "$LRLAB" bench --threads 1 --conv-algo auto --precision fp32 --iters "$iters" --warmup "$warmup"
    if [ "$2" = 0 ] && [ $torch = 1 ]; then
        run pt_t "$rep" "$PY" bench/torch_step.py --threads "$threads" --iters "$iters" --warmup "$warmup"
        run pt_1 "$rep" "$PY" bench/torch_step.py --threads 1 --iters "$iters" --warmup "$warmup"
    fi
    for m in $models; do models_pass "$rep" "$2" "$m"; done
}

# the model comparison: lrlab's step (fp32, auto algorithm; vgg-seed's is
# lr_auto above) and PyTorch's in NCHW (vgg-seed's is pt_t) and channels_last
models_pass() { # models_pass REP TORCH_FIRST MODEL
    rep=$1; m=$3
    torch_cl() { [ $torch = 1 ] && run "pt_cl_$m" "$rep" "$PY" bench/torch_step.py --model "$m" --memory-format channels_last \
        --threads "$threads" --iters "$iters" --warmup "$warmup"; }
    torch_nchw() { [ $torch = 1 ] && [ "$m" != vgg-seed ] && run "pt_nchw_$m" "$rep" "$PY" bench/torch_step.py --model "$m" \
        --threads "$threads" --iters "$iters" --warmup "$warmup"; }
    [ "$2" = 1 ] && { torch_nchw; torch_cl; }
    [ "$m" != vgg-seed ] && run "lr_$m" "$rep" "$LRLAB" bench --model "$m" --threads "$threads" --conv-algo auto \
        --precision fp32 --iters "$iters" --warmup "$warmup"
    [ "$2" = 0 ] && { torch_nchw; torch_cl; }
    return 0
}

# one epoch of lrlab: the time is metrics.csv's `seconds` (training pass and
# test pass, wall clock), scaled up when only a fraction ran
lr_epoch() {
    rep=$1; dir="$tmp/run$1"
    set -- "$LRLAB" train --epochs 1 --threads "$threads" --data "$data" --out "$dir"
    if [ $limit_batches -gt 0 ]; then
        lt=$((limit_batches * 128)); lte=$(( (10000 * limit_batches + 389) / 390 ))
        set -- "$@" --limit-train $lt --limit-test $lte
    fi
    run lr_epoch_log "$rep" timed "$tmp/lr_epoch.time$rep" "$@"
    if [ -f "$dir/metrics.csv" ] && [ -f "$tmp/lr_epoch.time$rep" ]; then
        tail -n 1 "$dir/metrics.csv" | awk -F, -v lt="${lt:-0}" -v t="$(cat "$tmp/lr_epoch.time$rep")" '{
            s = (lt > 0) ? $10 * 49920 / lt : $10; split(t, a, " ")
            printf "total_seconds=%.2f images_per_s=%s test_acc=%s\nrss_mb=%.1f wall_s=%s\n", s, $11, $7, a[1] / 1024, a[2] }' \
            >"$tmp/lr_epoch.r$rep"
    fi
    rm -rf "$dir"
}
pt_epoch() {
    rep=$1
    set -- "$PY" bench/torch_seed_epoch.py --threads "$threads" --data "$data"
    [ $limit_batches -gt 0 ] && set -- "$@" --limit $limit_batches
    run pt_epoch "$rep" timed "$tmp/pt_epoch.time$rep" "$@"
    if [ -f "$tmp/pt_epoch.r$rep" ] && [ -f "$tmp/pt_epoch.time$rep" ]; then
        awk '{ printf "rss_mb=%.1f wall_s=%s\n", $1 / 1024, $2 }' "$tmp/pt_epoch.time$rep" >>"$tmp/pt_epoch.r$rep"
    fi
}

# other tasks running at this moment: procs_running of /proc/stat sampled ten
# times over a second, minus the one reading it (the load average lags by minutes)
others() {
    for _ in 1 2 3 4 5 6 7 8 9 10; do awk '/^procs_running/ { print $2 }' /proc/stat 2>/dev/null; sleep 0.1; done |
        awk '{ s += $1; n++ } END { if (n) printf "%.1f", s / n - 1; else printf "?" }'
}
load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null); others_before=$(others)
start=$(date -u '+%Y-%m-%d %H:%M UTC')
r=1
while [ "$r" -le "$reps" ]; do
    steps_pass $r $(( (r + 1) % 2 ))   # rep 1: lrlab first, rep 2: PyTorch first, ...
    r=$((r + 1))
done
if [ $epoch = 1 ]; then
    r=1
    while [ "$r" -le "$reps" ]; do
        if [ $((r % 2)) = 1 ] || [ $torch = 0 ]; then lr_epoch $r; [ $torch = 1 ] && pt_epoch $r
        else pt_epoch $r; lr_epoch $r; fi
        r=$((r + 1))
    done
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null); others_after=$(others)

# ---- the report ----
na="-"
fmt() { [ -n "$1" ] && printf '%.0f' "$1" || printf '%s' "$na"; }
fmt1() { [ -n "$1" ] && printf '%.1f' "$1" || printf '%s' "$na"; }
ratio() { # ratio A B: A/B as "2.31x"
    if [ -n "$1" ] && [ -n "$2" ]; then awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else printf "-" }'
    else printf '%s' "$na"; fi
}
pct() { [ -n "$1" ] && awk -v g="$1" -v p="$2" 'BEGIN { printf "%.0f (%.0f%%)", g, 100 * g / p }' || printf '%s' "$na"; }
peak_t=$(awk -v t="$threads" 'BEGIN { printf "%.0f", 115 * t }')   # ~115 GFLOP/s fp32 FMA per core (../shared/docs/PERFORMANCE.md)

ips() { best "$1" "$2" images_per_s max; }
gf() { # GFLOP/s of the run with the best images/s
    b=$(ips "$1" "$2"); for f in "$tmp/$1".r*; do [ -f "$f" ] && [ "$(val "$f" "$2" images_per_s)" = "$b" ] && { val "$f" "$2" gflops; return; }; done
}
row() { # row TITLE LR_LABEL PT_LABEL PREFIX PEAK
    a=$(ips "$2" "$4"); b=""; [ -n "$3" ] && b=$(ips "$3" "$4")
    printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$(fmt "$a")" "$(pct "$(gf "$2" "$4")" "$5")" \
        "$(fmt "$b")" "$( [ -n "$3" ] && pct "$(gf "$3" "$4")" "$5" || printf -)" "$(ratio "$a" "$b")"
}
algos=$(for f in "$tmp"/lr_auto.r*; do [ -f "$f" ] && sed -n -E 's/.*algorithms (.*), precision.*/\1/p' "$f"; done | head -n 1)
algos_bf16=$(for f in "$tmp"/lr_bf16.r*; do [ -f "$f" ] && sed -n -E 's/.*algorithms (.*), precision.*/\1/p' "$f"; done | head -n 1)
s1=$(ips lr_1 train_step); s2=$(ips lr_auto train_step); p1=$(ips pt_1 train_step); p2=$(ips pt_t train_step)
le=$(best lr_epoch "" total_seconds min); pe=$(best pt_epoch "" total_seconds min)
lrss=$(best lr_epoch "" rss_mb max); prss=$(best pt_epoch "" rss_mb max)
lwall=$(best lr_epoch "" wall_s min); pwall=$(best pt_epoch "" wall_s min)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
dnnl=$(dpkg-query -W -f='${Version}' libdnnl-dev 2>/dev/null || echo unknown)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain --untracked-files=no -- src include models Makefile 2>/dev/null | head -n 1)
[ -n "$dirty" ] && commit="$commit + uncommitted changes"
if [ $quick = 1 ]; then
    mode="QUICK: $iters timed steps after $warmup warm-up steps; the epoch is $limit_batches batches (and the same fraction of the test set) scaled up to a full epoch; peak memory is that of the shortened run. Not the numbers to quote."
else
    mode="full: $iters timed steps after $warmup warm-up steps; one whole epoch (49,920 training + 10,000 test images)."
fi

{
echo "# Benchmarks: lrlab against PyTorch, side by side"
echo
echo "Written by \`bench/run.sh$( [ $quick = 1 ] && printf ' --quick')\` on $start. What each number means: [bench/README.md](bench/README.md)."
echo "Every ratio in the tables this script writes (down to the hand-written sections) comes from"
echo "this one run: the machine is shared and absolute numbers vary by 20-30% from run to run"
echo "(../shared/docs/PERFORMANCE.md). The hand-written sections say when and how theirs were measured."
echo
echo "## The machine and the programs"
echo "- CPU: $cpu, $(nproc) cores. The project's machine (../shared/docs/PERFORMANCE.md): AMD EPYC Zen 4, AVX-512 with BF16 and VNNI; fp32 FMA peak measured with a 512-bit FMA loop ~116 GFLOP/s per core, ~230 GFLOP/s on 2 cores; bf16 dot products double that."
if [ $torch = 1 ]; then pt_desc="PyTorch $torch_version (Debian python3-torch, oneDNN 2.6.3 inside)"; else pt_desc="PyTorch not measured: $PY cannot import torch (Debian package python3-torch)"; fi
echo "- lrlab $commit, oneDNN $dnnl (Debian libdnnl-dev); $pt_desc."
echo "- Other tasks running (mean over 1 s) before: $others_before, after: $others_after; load average (1, 5, 15 min) before: $load_before, after: $load_after.$(awk -v a="$others_before" -v b="$others_after" 'BEGIN { if (a + 0 >= 0.5 || b + 0 >= 0.5) printf " Other jobs were running: the absolute numbers are disturbed, the ratios less so." }')"
echo "- Mode: $mode"
echo "- Each measurement ran $reps time(s), lrlab and PyTorch alternating in order; the best is kept."
echo
echo "## Training step and forward pass (synthetic data in memory, batch 128, the seed's VGG)"
echo
echo "images/s: higher is better. GFLOP/s: direct-convolution FLOP count / time (Winograd does fewer real FLOPs), with the share of the ${peak_t}-GFLOP/s fp32 FMA peak of $threads cores (1 thread: ~115). Ratio: lrlab images/s / PyTorch images/s."
echo
echo "| measurement | lrlab images/s | lrlab GFLOP/s (% of peak) | PyTorch images/s | PyTorch GFLOP/s (% of peak) | lrlab / PyTorch |"
echo "|---|---|---|---|---|---|"
row "training step, fp32, auto algorithm, $threads threads" lr_auto pt_t train_step "$peak_t"
row "training step, fp32, direct only, $threads threads" lr_direct pt_t train_step "$peak_t"
row "training step, bf16, auto algorithm, $threads threads" lr_bf16 pt_t train_step "$peak_t"
row "training step, fp32, auto algorithm, 1 thread" lr_1 pt_1 train_step 115
row "forward only, fp32, auto algorithm, $threads threads" lr_auto pt_t forward "$peak_t"
row "forward only, bf16, auto algorithm, $threads threads" lr_bf16 pt_t forward "$peak_t"
row "forward only, fp32, auto algorithm, 1 thread" lr_1 pt_1 forward 115
printf '| thread scaling of the training step, 1 -> %s threads | %s | | %s | | |\n' "$threads" "$(ratio "$s2" "$s1")" "$(ratio "$p2" "$p1")"
printf '| peak resident memory of the step benchmark (MB) | %s | | %s | | %s |\n' \
    "$(fmt "$(best lr_auto "" peak_rss_mb max)")" "$(fmt "$(best pt_t "" peak_rss_mb max)")" \
    "$(ratio "$(best lr_auto "" peak_rss_mb max)" "$(best pt_t "" peak_rss_mb max)")"
echo
echo "Per-layer algorithm choice (conv1..conv3_3, passes forward/backward-data/backward-weights; d = direct, w = Winograd): fp32 \`${algos:-?}\`, bf16 \`${algos_bf16:-?}\`."
echo
echo "## The training step of each network, against PyTorch in both memory formats"
echo
echo "Synthetic data, batch 128, $threads threads, fp32; lrlab with the per-layer algorithm choice (\`lrlab bench --model M\`), PyTorch with the same module (\`bench/torch_step.py --model M\`, modules of tests/torch/) in NCHW and in channels_last (\`--memory-format channels_last\`: the model and the input converted). images/s: higher is better. The ratio divides lrlab's images/s by the FASTER of PyTorch's two."
echo
echo "| network | lrlab images/s | PyTorch NCHW | PyTorch channels_last | lrlab / faster PyTorch |"
echo "|---|---|---|---|---|"
for m in $models; do
    if [ "$m" = vgg-seed ]; then a=$(ips lr_auto train_step); b=$(ips pt_t train_step)
    else a=$(ips "lr_$m" train_step); b=$(ips "pt_nchw_$m" train_step); fi
    c=$(ips "pt_cl_$m" train_step)
    f=$(awk -v b="$b" -v c="$c" 'BEGIN { if (b == "" && c == "") print ""; else if (b == "" || c + 0 > b + 0) print c; else print b }')
    printf '| %s | %s | %s | %s | %s |\n' "$m" "$(fmt "$a")" "$(fmt "$b")" "$(fmt "$c")" "$(ratio "$a" "$f")"
done
echo
echo "## One epoch of the seed's pipeline (real CIFAR-10, augmentation, training, test pass)"
echo
if [ $epoch = 1 ]; then
    echo "Seconds: the training pass over 49,920 augmented images plus the test pass over 10,000, wall clock, start-up excluded (lrlab: metrics.csv \`seconds\`; PyTorch: the seed's loops timed). Speed-up: PyTorch seconds / lrlab seconds. Memory: peak resident set of the whole process (/usr/bin/time), ratio lrlab / PyTorch."
    echo
    echo "| measurement | lrlab | PyTorch (the seed's program) | ratio |"
    echo "|---|---|---|---|"
    printf '| epoch: training + test pass (s) | %s | %s | %s faster |\n' "$(fmt1 "$le")" "$(fmt1 "$pe")" "$(ratio "$pe" "$le")"
    printf '| of which PyTorch test pass / waiting for its DataLoader (s) | | %s / %s | |\n' \
        "$(fmt1 "$(best pt_epoch "" test_seconds min)")" "$(fmt1 "$(best pt_epoch "" load_seconds min)")"
    printf '| whole process incl. start-up (data load, algorithm timing) (s) | %s | %s | %s faster |\n' \
        "$(fmt1 "$lwall")" "$(fmt1 "$pwall")" "$(ratio "$pwall" "$lwall")"
    printf '| peak resident memory while training (MB) | %s | %s | %s |\n' "$(fmt "$lrss")" "$(fmt "$prss")" "$(ratio "$lrss" "$prss")"
    [ $quick = 1 ] && echo && echo "QUICK mode: the epoch times are $limit_batches batches scaled up; the whole-process times and the memory are those of the shortened runs, not scaled (lrlab then loads only the images it uses)."
else
    echo "Not measured: no CIFAR-10 binary files in \`$data\` (\`make data\`)."
fi
echo
echo "## The exact commands"
echo
echo "Run from the repository root, after \`make\`; \$TMP is a temporary directory. Peak memory and process time come from \`/usr/bin/time -f '%M %e'\` around the epoch commands."
echo
echo '```'
echo "bench/run.sh$( [ $quick = 1 ] && printf ' --quick')$( [ "$reps" != 2 ] && [ $quick = 0 ] && printf ' --reps %s' "$reps")"
sed 's|^timed [^ ]* ||' "$tmp/commands"
echo '```'
# the hand-written sections (other scripts' measurements, analyses) follow a
# marker line and are kept as they are
mark='<!-- Hand-written sections from here on: bench/run.sh keeps them as they are. -->'
if [ -f "$out" ] && grep -qF "$mark" "$out"; then echo; sed -n "\|^$mark|,\$p" "$out"; fi
} >"$tmp/report.md"

sed -n '/^## Training step/,$p' "$tmp/report.md" | sed '/^## The exact commands/,$d'
cp "$tmp/report.md" "$out" && echo "bench: wrote $out"
