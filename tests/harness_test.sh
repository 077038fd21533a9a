#!/bin/sh
# tests/harness_test.sh: the test harness itself can fail. A check whose
# tool is missing prints SKIP and is a failure when $CI is set (so CI never
# passes without the PyTorch cross-checks); tests/run.sh counts a program
# that exits 0 without its closing "N passed, N failed" line as failed.
set -u
. tests/lib.sh

# python3-torch "absent": LRLAB_PYTHON points at no Python
out=$(CI=true LRLAB_PYTHON=/nonexistent/python3 sh tests/torch_train_test.sh 2>&1); rc=$?
check "CI=true without torch: torch_train_test fails (exit $rc)" [ "$rc" -ne 0 ]
check "CI=true without torch: a SKIP line with the reason" sh -c 'echo "$1" | grep -q "^SKIP torch_train_test: python3-torch not installed"' - "$out"
check "CI=true without torch: counted as failed" sh -c 'echo "$1" | grep -q "^torch_train_test: 0 passed, 1 failed"' - "$out"
out=$(CI= LRLAB_PYTHON=/nonexistent/python3 sh tests/safetensors_torch_test.sh 2>&1); rc=$?
check "no CI, no torch: a SKIP, not a failure (exit $rc)" sh -c '[ "$1" -eq 0 ] && echo "$2" | grep -q "^SKIP "' - "$rc" "$out"
for v in 1 yes; do
    CI=$v LRLAB_PYTHON=/nonexistent/python3 sh tests/safetensors_torch_test.sh >/dev/null 2>&1
    check "CI=$v counts as CI" [ $? -ne 0 ]
done

# tests/run.sh over a fake test directory: the make-test path with torch absent under CI
mkdir -p "$tmp/bin"
printf '#!/bin/sh\necho "test_good: 2 passed, 0 failed"\n' >"$tmp/bin/test_good"
chmod +x "$tmp/bin/test_good"
out=$(CI=true LRLAB_PYTHON=/nonexistent/python3 TEST_BIN="$tmp/bin" TEST_SCRIPTS=tests/torch_train_test.sh \
    SYNTH_DIR="${SYNTH_DIR:-$tmp}" sh tests/run.sh 2>&1); rc=$?
check "run.sh with CI=true and no torch fails (exit $rc)" [ "$rc" -ne 0 ]
check "run.sh: closing line counts the skip as a failure" sh -c 'echo "$1" | tail -n 1 | grep -q "^2 passed, 1 failed$"' - "$out"

# a program that exits 0 before its closing line
printf '#!/bin/sh\necho "half way"\nexit 0\n' >"$tmp/bin/test_silent"
chmod +x "$tmp/bin/test_silent"
out=$(TEST_BIN="$tmp/bin" TEST_SCRIPTS=none SYNTH_DIR="${SYNTH_DIR:-$tmp}" sh tests/run.sh 2>&1); rc=$?
check "run.sh: exit 0 without a closing line fails (exit $rc)" [ "$rc" -ne 0 ]
check "run.sh: says which program and why" sh -c 'echo "$1" | grep -q "test_silent exited 0 without its closing"' - "$out"
check "run.sh: the good program still counts" sh -c 'echo "$1" | tail -n 1 | grep -q "^2 passed, 1 failed$"' - "$out"
rm "$tmp/bin/test_silent"

# the C harness: TEST_SKIP is a failure under CI
cat >"$tmp/skip.c" <<'C'
#include "test.h"
int main(void) { TEST_SKIP("no %s here", "tool"); CHECK(1, "x"); return test_summary("skip"); }
C
if ${CC:-cc} -std=c11 -Itests "$tmp/skip.c" -o "$tmp/skip" -lm 2>"$tmp/cc.log"; then
    out=$(CI= "$tmp/skip"); rc=$?
    check "TEST_SKIP without CI: SKIP line, passes (exit $rc)" sh -c '[ "$1" -eq 0 ] && echo "$2" | grep -q "^SKIP no tool here"' - "$rc" "$out"
    out=$(CI=true "$tmp/skip" 2>&1); rc=$?
    check "TEST_SKIP with CI: fails (exit $rc)" sh -c '[ "$1" -ne 0 ] && echo "$2" | grep -q "skip: 1 passed, 1 failed"' - "$rc" "$out"
else
    bad "cannot compile the TEST_SKIP probe: $(head -n 3 "$tmp/cc.log")"
fi
summary harness_test
