#!/bin/sh
# tests/mpi_test.sh: lrlab past one process, through $LRLAB on the synthetic
# CIFAR-10 files in $SYNTH_DIR, with Open MPI's mpirun (2 ranks, one thread
# each, --oversubscribe --bind-to none; as root with --allow-run-as-root):
# sweeps dealt out to 2 ranks (4 runs, all complete, each once), --count and
# --task-id (a Slurm array task runs exactly one run); data-parallel
# training: 1 rank byte-identical to one process, 2 and 4 ranks against it
# (metrics and weights within the tolerance of docs/distributed.md: 4 times
# the distance of two one-process runs that differ only in summation
# order), two 2-rank runs byte-identical; a BatchNorm graph with --sync-bn on
# 1, 2 and 4 ranks against one process the same way, per-rank statistics not;
# a rank killed with kill -9 ends the job with a non-zero exit and a message
# within 60 s, and --resume then ends byte-identical to an uninterrupted
# 2-rank run. Every mpirun is under `timeout`, so no check can hang.
# Without mpirun, or with an lrlab built without MPI: SKIP (a failure under
# CI, whose .ci/run installs Open MPI). Prints "mpi_test: N passed, N failed".
set -u
. tests/lib.sh

if [ ! -x "$LRLAB" ] || [ -z "${SYNTH_DIR:-}" ] || [ ! -f "$SYNTH_DIR/test_batch.bin" ]; then
    echo "mpi_test: needs \$LRLAB built and \$SYNTH_DIR with synthetic CIFAR-10 (run through tests/run.sh)"
    echo "mpi_test: 0 passed, 1 failed"
    exit 1
fi
case "$LRLAB" in /*) ;; *) LRLAB=$(pwd)/$LRLAB ;; esac
if ! command -v mpirun >/dev/null 2>&1; then
    skip "mpirun not found (Open MPI: apt-get install openmpi-bin libopenmpi-dev)"
    summary mpi_test
    exit
fi
# N ranks of a command, never longer than $2 seconds. Under AddressSanitizer
# (make asan) without leak reports: Open MPI unloads its plugins before
# LeakSanitizer runs, so their allocations at exit can be neither attributed
# nor suppressed (ASan's checks of every access stay on).
mpirun_n() {
    n=$1 secs=$2; shift 2
    ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
        timeout -k 5 "$secs" mpirun --allow-run-as-root --oversubscribe --bind-to none -np "$n" "$@"
}

# ---- a sweep of 4 runs dealt out to 2 ranks ----
cat >"$tmp/four.sweep" <<'EOS'
sweep four
defaults --batch 64 --limit-train 256 --limit-test 128 --epochs 1 --threads 1
run a --lr 0.05
run b --lr 0.02
run c --lr 0.01
run d --lr 0.03
EOS
check "--count: 4 runs" [ "$("$LRLAB" sweep "$tmp/four.sweep" --count)" = 4 ]
check "--count --seeds 3: 12" [ "$("$LRLAB" sweep "$tmp/four.sweep" --count --seeds 3)" = 12 ]
mpirun_n 2 300 "$LRLAB" sweep "$tmp/four.sweep" --data "$SYNTH_DIR" --out "$tmp/s4" >"$tmp/s4.out" 2>&1
rc=$?
check "2-rank sweep exits 0 (got $rc)" [ "$rc" -eq 0 ]
for r in a b c d; do
    check "run $r complete" [ -f "$tmp/s4/$r/model.safetensors" ]
    check "run $r started once" [ "$(grep -c "start $r " "$tmp/s4.out")" -eq 1 ]
done
check "rank 0 ran a and c" sh -c "grep -q '^rank 0/2: done a:' '$tmp/s4.out' && grep -q '^rank 0/2: done c:' '$tmp/s4.out'"
check "rank 1 ran b and d" sh -c "grep -q '^rank 1/2: done b:' '$tmp/s4.out' && grep -q '^rank 1/2: done d:' '$tmp/s4.out'"
check "each rank's summary" [ "$(grep -c '^rank [01]/2: sweep four: 2 done' "$tmp/s4.out")" -eq 2 ]
[ "$rc" -eq 0 ] || cat "$tmp/s4.out"
mpirun_n 2 120 "$LRLAB" sweep "$tmp/four.sweep" --data "$SYNTH_DIR" --out "$tmp/s4" >"$tmp/again.out" 2>&1
check "second 2-rank pass: all 4 skipped" [ "$(grep -c '^rank [01]/2: skip .*(complete)' "$tmp/again.out")" -eq 4 ]
check "--list under mpirun lists all 4 on each rank" \
    [ "$(mpirun_n 2 60 "$LRLAB" sweep "$tmp/four.sweep" --out "$tmp/s4" --list 2>&1 | sort -u | wc -l)" -eq 4 ]

# ---- --task-id: a Slurm array task runs exactly one run ----
"$LRLAB" sweep "$tmp/four.sweep" --data "$SYNTH_DIR" --out "$tmp/t" --task-id 2 >"$tmp/t.out" 2>&1
rc=$?
check "--task-id 2 exits 0 (got $rc)" [ "$rc" -eq 0 ]
check "--task-id 2 ran c" [ -f "$tmp/t/c/model.safetensors" ]
check "--task-id 2 ran nothing else" [ "$(ls "$tmp/t" | tr '\n' ' ')" = "c c.log " ]
check "--task-id 2 --list: c" [ "$("$LRLAB" sweep "$tmp/four.sweep" --out "$tmp/t" --task-id 2 --list)" = "$tmp/t/c" ]
"$LRLAB" sweep "$tmp/four.sweep" --data "$SYNTH_DIR" --out "$tmp/t" --task-id 4 >"$tmp/t4.out" 2>&1
rc=$?
check "--task-id 4 of 4 runs: exit 2 (got $rc)" [ "$rc" -eq 2 ]
check "--task-id 4: says the range" grep -q -- '--task-id 4: .* has 4 runs (expected 0..3' "$tmp/t4.out"
mpirun_n 2 60 "$LRLAB" sweep "$tmp/four.sweep" --data "$SYNTH_DIR" --out "$tmp/t" --task-id 1 >"$tmp/t2.out" 2>&1
rc=$?
check "--task-id under 2 ranks: refused (got $rc)" [ "$rc" -ne 0 ]
check "--task-id under 2 ranks: says why" grep -q 'each rank would run the same run' "$tmp/t2.out"

# ---- data-parallel training: N = 1, 2 and 4 ranks against one process ----
# The tolerance (docs/distributed.md, "Equivalence"): measured on the spot as
# the distance between two one-process runs that differ only in the order of
# float sums (1 and 2 threads: oneDNN splits the batch's sums over threads),
# with the convolution algorithms fixed (direct) on every side. An N-rank run
# must be within 4 times that distance (and 64 float32 ulps, should the pair
# agree exactly): weights per tensor (max |a-b| / max |a|), the train loss
# per epoch (plus its last printed digit), accuracies (plus one image).
YARD=4 FLOOR=3.8e-6
rel_diff() { "$PY" tests/tools/weights_diff.py "$1/model.safetensors" "$2/model.safetensors" | sed -n 's/.*max_rel=\([^ ]*\).*/\1/p'; }
metrics_diff() { # the largest |difference| of train loss, and of the accuracies, over the epochs
    awk -F, 'NR == FNR { if (FNR > 1) { l[$1] = $4; a[$1] = $5; t[$1] = $7 } next }
        FNR > 1 { n++; d = $4 - l[$1]; if (d < 0) d = -d; if (d > dl) dl = d
                  d = $5 - a[$1]; if (d < 0) d = -d; if (d > da) da = d
                  d = $7 - t[$1]; if (d < 0) d = -d; if (d > da) da = d }
        END { if (n != e) print "rows", n; else printf "%.9g %.9g\n", dl, da }' e="$3" "$1/metrics.csv" "$2/metrics.csv"
}
# equivalent NAME ONE PAIR RUN EPOCHS: RUN against the one-process run ONE,
# within $YARD times the distance between ONE and PAIR (its other thread count)
equivalent() {
    rel=$(rel_diff "$2" "$4"); yard=$(rel_diff "$2" "$3")
    set -- "$1" "$(metrics_diff "$2" "$4" "$5")" "$(metrics_diff "$2" "$3" "$5")" "$rel" "$yard"
    echo "NOTE $1 vs one process: weights max_rel=$4 (1 vs 2 threads: $5); train loss, accuracy diff: $2 ($3)"
    check "$1: weights within $YARD x the thread pair's distance ($4 vs $5)" \
        awk -v r="$4" -v y="$5" -v k=$YARD -v f=$FLOOR 'BEGIN { exit !(r != "" && y != "" && r + 0 <= k * (y > f ? y : f)) }'
    check "$1: per-epoch metrics within $YARD x the thread pair's ($2 vs $3)" \
        awk -v m="$2" -v y="$3" -v k=$YARD 'BEGIN { split(m, a, " "); split(y, b, " ")
            exit !(a[1] != "rows" && b[1] != "rows" && a[1] <= k * b[1] + 2e-6 && a[2] <= k * b[2] + 100 / 256 + 1e-9) }'
}
F="--data $SYNTH_DIR --limit-train 512 --limit-test 256 --batch 64 --threads 1 --lr 0.02 --conv-algo direct"
mpirun_n 2 300 "$LRLAB" train $F --epochs 2 --out "$tmp/d2" >"$tmp/d2.out" 2>&1
rc=$?
if grep -q 'built without MPI' "$tmp/d2.out"; then
    skip "lrlab built without MPI (libopenmpi-dev missing at build time; make MPI=1)"
    summary mpi_test
    exit
fi
check "2-rank train exits 0 (got $rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || cat "$tmp/d2.out"
check "2-rank train: one log (rank 0 alone prints)" [ "$(grep -c '^epoch 1:' "$tmp/d2.out")" -eq 1 ]
check "config.txt says ranks=2" grep -qx 'ranks=2' "$tmp/d2/config.txt"
"$LRLAB" train $F --epochs 2 --out "$tmp/d1" >"$tmp/d1.out" 2>&1
check "one-process train exits 0" [ $? -eq 0 ]
check "config.txt says ranks=1" grep -qx 'ranks=1' "$tmp/d1/config.txt"
"$LRLAB" train $F --threads 2 --epochs 2 --out "$tmp/d1t2" >/dev/null 2>&1
check "one process, 2 threads exits 0" [ $? -eq 0 ]
mpirun_n 1 300 "$LRLAB" train $F --epochs 2 --out "$tmp/dm1" >/dev/null 2>&1
check "1 rank under mpirun: byte-identical to one process" cmp -s "$tmp/d1/model.safetensors" "$tmp/dm1/model.safetensors"
mpirun_n 4 300 "$LRLAB" train $F --epochs 2 --out "$tmp/d4" >"$tmp/d4.out" 2>&1
rc=$?
check "4-rank train exits 0 (got $rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || cat "$tmp/d4.out"
check "config.txt says ranks=4" grep -qx 'ranks=4' "$tmp/d4/config.txt"
if "$PY" -c 'import numpy' 2>/dev/null; then
    equivalent "vgg-seed, 2 ranks" "$tmp/d1" "$tmp/d1t2" "$tmp/d2" 2
    equivalent "vgg-seed, 4 ranks" "$tmp/d1" "$tmp/d1t2" "$tmp/d4" 2
else
    skip "python3-numpy missing: weights of N ranks vs one process not compared"
fi
mpirun_n 2 300 "$LRLAB" train $F --epochs 2 --out "$tmp/d2b" >/dev/null 2>&1
check "two 2-rank runs: byte-identical weights" cmp -s "$tmp/d2/model.safetensors" "$tmp/d2b/model.safetensors"
cut -d, -f1-9 "$tmp/d2/metrics.csv" >"$tmp/m1"; cut -d, -f1-9 "$tmp/d2b/metrics.csv" >"$tmp/m2"
check "two 2-rank runs: identical metrics (timings aside)" cmp -s "$tmp/m1" "$tmp/m2"
mpirun_n 2 60 "$LRLAB" train $F --epochs 2 >"$tmp/noout.out" 2>&1
check "2 ranks without --out: refused" grep -q 'give --out DIR' "$tmp/noout.out"
mpirun_n 2 60 "$LRLAB" train $F --batch 1 --epochs 1 --out "$tmp/b1" >"$tmp/b1.out" 2>&1
check "--batch 1 with 2 ranks: refused" grep -q -- '--batch 1 with 2 ranks: expected at least 2' "$tmp/b1.out"

# ---- BatchNorm: --sync-bn on 1, 2 and 4 ranks agrees with one process, per-rank statistics do not ----
# A small BatchNorm graph (three conv+BN, a residual add; oneDNN's BatchNorm in one
# process, the reference kernels summed over ranks with --sync-bn).
cat >"$tmp/bn.model" <<'M'
input 3 32 32
conv conv1 8 stride=2
batchnorm bn1
relu
conv conv2 16 stride=2
batchnorm bn2
relu
conv conv3 16
batchnorm bn3
add in=bn3,bn2
relu
global_avgpool
flatten
linear fc 10 bias=1
M
G="--data $SYNTH_DIR --limit-train 256 --limit-test 256 --batch 32 --epochs 2 --threads 1 --lr 0.05 --model $tmp/bn.model --conv-algo direct"
"$LRLAB" train $G --out "$tmp/bn1" >/dev/null 2>&1
check "BatchNorm graph, one process exits 0" [ $? -eq 0 ]
"$LRLAB" train $G --threads 2 --out "$tmp/bn1t2" >/dev/null 2>&1
mpirun_n 1 300 "$LRLAB" train $G --sync-bn --out "$tmp/bnm1" >/dev/null 2>&1
check "--sync-bn, 1 rank under mpirun: byte-identical to one process" cmp -s "$tmp/bn1/model.safetensors" "$tmp/bnm1/model.safetensors"
for n in 2 4; do
    mpirun_n $n 300 "$LRLAB" train $G --sync-bn --out "$tmp/bn${n}s" >"$tmp/bn${n}s.out" 2>&1
    check "$n-rank --sync-bn train exits 0" [ $? -eq 0 ]
done
check "config.txt says sync_bn=1" grep -qx 'sync_bn=1' "$tmp/bn2s/config.txt"
mpirun_n 2 300 "$LRLAB" train $G --out "$tmp/bn2" >/dev/null 2>&1
check "config.txt says sync_bn=0 (per rank)" grep -qx 'sync_bn=0' "$tmp/bn2/config.txt"
check "per-rank BatchNorm: another train loss" [ "$(cut -d, -f4 "$tmp/bn1/metrics.csv")" != "$(cut -d, -f4 "$tmp/bn2/metrics.csv")" ]
if "$PY" -c 'import numpy' 2>/dev/null; then
    equivalent "BatchNorm graph, 2 ranks --sync-bn" "$tmp/bn1" "$tmp/bn1t2" "$tmp/bn2s" 2
    equivalent "BatchNorm graph, 4 ranks --sync-bn" "$tmp/bn1" "$tmp/bn1t2" "$tmp/bn4s" 2
    rel=$(rel_diff "$tmp/bn1" "$tmp/bn2")
    check "per-rank BatchNorm vs one process: far outside it ($rel)" awk -v r="$rel" 'BEGIN { exit !(r + 0 > 0.01) }'
fi

# ---- a rank killed: the job ends with a message, and resumes ----
mpirun_n 2 300 "$LRLAB" train $F --epochs 3 --out "$tmp/k" >"$tmp/k.out" 2>&1 &
mp=$!
i=0
while [ ! -f "$tmp/k/checkpoint.safetensors" ] && [ $i -lt 1500 ]; do sleep 0.2; i=$((i + 1)); done
victim=
for p in $(pgrep -f -- "train .*--out $tmp/k"); do # the ranks (mpirun's command line has "mpirun")
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=1 && victim=$p
done
check "found rank 1 after the first checkpoint" [ -n "$victim" ]
start=$(date +%s)
[ -n "$victim" ] && kill -9 "$victim"
# the job's own end, or timeout's (124) after 60 s: never a hang
(sleep 60; kill -TERM "$mp" 2>/dev/null) &
watchdog=$!
wait "$mp"
rc=$?
kill "$watchdog" 2>/dev/null
took=$(( $(date +%s) - start ))
check "killed rank: non-zero exit (got $rc)" [ "$rc" -ne 0 ]
check "killed rank: ended within 60 s (took $took s)" [ "$took" -lt 60 ]
check "killed rank: a message naming it" grep -q 'rank 1 .*exited on signal 9\|rank 1 .*Killed\|another rank' "$tmp/k.out"
check "killed rank: the checkpoint is whole" [ -s "$tmp/k/checkpoint.safetensors" ]
mpirun_n 2 300 "$LRLAB" train --resume "$tmp/k" >"$tmp/kr.out" 2>&1
rc=$?
check "resume after the kill exits 0 (got $rc)" [ "$rc" -eq 0 ]
mpirun_n 2 300 "$LRLAB" train $F --epochs 3 --out "$tmp/k3" >/dev/null 2>&1
check "resumed run equals an uninterrupted 2-rank run, byte for byte" cmp -s "$tmp/k/model.safetensors" "$tmp/k3/model.safetensors"

summary mpi_test
