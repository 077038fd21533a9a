#!/bin/sh
# Runs every test program in $TEST_BIN and every tests/*.sh script, adds up
# their "N passed, N failed" lines, and prints the total as the closing line.
# Exit status: 0 only when nothing failed and every program ran to its end:
# a program that exits without its closing line counts as a failure, and so
# does a SKIP (a check whose tool is missing) when $CI is set (tests/lib.sh).
set -u
TEST_BIN=${TEST_BIN:-build/tests}
LRLAB=${LRLAB:-build/lrlab}
export LRLAB TEST_BIN
# One synthetic CIFAR-10 directory for every test that needs data files.
SYNTH=${SYNTH:-build/tools/synth_cifar}
SYNTH_DIR=${SYNTH_DIR:-$(mktemp -d)/synth}
export SYNTH_DIR
if [ ! -f "$SYNTH_DIR/test_batch.bin" ]; then "$SYNTH" "$SYNTH_DIR" 42 || { echo "cannot make synthetic data"; exit 1; }; fi
# The tests' own convolution algorithm cache (docs/file-formats.md), not the user's.
LRLAB_CACHE_DIR=${LRLAB_CACHE_DIR:-$(mktemp -d)}
export LRLAB_CACHE_DIR
passed=0; failed=0
log=$(mktemp); trap 'rm -f "$log"' EXIT
# TEST_SCRIPTS: the shell tests (a glob; tests/harness_test.sh narrows it)
TEST_SCRIPTS=${TEST_SCRIPTS:-tests/*_test.sh}
# shellcheck disable=SC2086
for t in "$TEST_BIN"/test_* $TEST_SCRIPTS; do
    [ -e "$t" ] || continue
    case "$t" in *.d|*.o) continue ;; esac
    name=$(basename "$t")
    start=$(date +%s)
    if [ "${t%.sh}" != "$t" ]; then sh "$t" >"$log" 2>&1; rc=$?; else "$t" >"$log" 2>&1; rc=$?; fi
    line=$(grep -E '^[A-Za-z0-9_.-]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/'); p=${p:-0}
    f=$(echo "$line" | sed -E 's/.*passed, ([0-9]+) failed.*/\1/'); f=${f:-0}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi   # a crash is a failure
    if [ -z "$line" ] && [ "$rc" -eq 0 ]; then           # and so is an exit before the closing line
        f=1; echo "--- $name exited 0 without its closing 'N passed, N failed' line" >>"$log"
    fi
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$f" -ne 0 ]; then
        echo "--- $name FAILED (exit $rc)"; cat "$log"
    else
        echo "ok  $name: $p passed ($(( $(date +%s) - start )) s)"
        grep -E '^(SKIP|NOTE)' "$log" || true
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
