#!/bin/sh
# tests/mpi_test.sh: lrlab past one process, through $LRLAB on the synthetic
# CIFAR-10 files in $SYNTH_DIR, with Open MPI's mpirun (2 ranks, one thread
# each, --oversubscribe --bind-to none; as root with --allow-run-as-root):
# sweeps dealt out to 2 ranks (4 runs, all complete, each once), --count and
# --task-id (a Slurm array task runs exactly one run). Every mpirun is under
# `timeout`, so no check can hang. Without mpirun: SKIP (a failure under CI,
# whose .ci/run installs Open MPI). Prints "mpi_test: N passed, N failed".
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
# N ranks of a command, never longer than $2 seconds
mpirun_n() {
    n=$1 secs=$2; shift 2
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

summary mpi_test
