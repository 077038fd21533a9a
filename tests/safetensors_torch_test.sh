#!/bin/sh
# safetensors_torch_test.sh: lrlab's safetensors files and PyTorch agree, both
# ways, checked byte for byte by tests/torch/check_safetensors.py (a pure
# struct+json reader/writer: the `safetensors` package is not in Debian 12).
#  1. C writes the seed's 8 weights (test_safetensors --write-seed-shapes);
#     Python checks the spec and lrlab's exact layout, the values, and
#     load_state_dict(strict=True) on the seed's model; both sides print the
#     same per-tensor checksums.
#  2. Python writes a state_dict (+ F64/I64/U8/scalar/empty tensors, escaped
#     metadata) in the safetensors package's layout; C reads the same
#     tensors and metadata.
#  3. C rewrites the Python file; Python reads the rewrite in lrlab's layout
#     with the same checksums, and a second rewrite is byte-identical.
# Without torch: SKIP (a failure in CI).
set -u
TEST_BIN=${TEST_BIN:-build/tests}
BIN=$TEST_BIN/test_safetensors
CHECK="$(dirname "$0")/torch/check_safetensors.py"
export PYTHONIOENCODING=utf-8
. tests/lib.sh
if ! have_torch; then
    skip "safetensors_torch_test: $PY cannot import torch (apt-get install python3-torch)"
    summary safetensors_torch_test; exit
fi
if [ ! -x "$BIN" ]; then
    bad "$BIN not built"
    summary safetensors_torch_test; exit
fi
# ok STATUS WHAT: a pass when STATUS is 0
ok() { if [ "$1" -eq 0 ]; then pass=$((pass + 1)); else bad "$2"; fi; }
same() { # same A B WHAT: the tensor/meta lines of two listings are equal
    grep -E '^(tensor|meta) ' "$1" >"$1.lines"; grep -E '^(tensor|meta) ' "$2" >"$2.lines"
    if [ -s "$1.lines" ] && cmp -s "$1.lines" "$2.lines"; then ok 0 "$3"; else ok 1 "$3"; diff "$1.lines" "$2.lines" | head -n 10; fi
}

# 1. C -> Python
"$BIN" --write-seed-shapes "$tmp/c.safetensors"; ok $? "test_safetensors --write-seed-shapes"
"$BIN" --check "$tmp/c.safetensors" >"$tmp/c_by_c.txt"; ok $? "C reads its own file"
"$PY" "$CHECK" check "$tmp/c.safetensors" --seed-values --lrlab-layout >"$tmp/c_by_py.txt" 2>&1
ok $? "Python reads the C file (spec, layout, values, load_state_dict)"; grep FAIL "$tmp/c_by_py.txt"
same "$tmp/c_by_c.txt" "$tmp/c_by_py.txt" "C and Python list the C file alike"

# 2. Python -> C
"$PY" "$CHECK" write "$tmp/py.safetensors" >"$tmp/py_by_py.txt" 2>&1; ok $? "Python writes a file"
"$BIN" --check "$tmp/py.safetensors" >"$tmp/py_by_c.txt"; ok $? "C reads the Python file"
same "$tmp/py_by_py.txt" "$tmp/py_by_c.txt" "C lists the Python file as Python wrote it"
"$PY" "$CHECK" check "$tmp/py.safetensors" >"$tmp/py_check.txt" 2>&1; ok $? "Python reads its own file"

# 3. C rewrites the Python file in lrlab's layout
"$BIN" --rewrite "$tmp/py.safetensors" "$tmp/re.safetensors"; ok $? "C rewrites the Python file"
"$PY" "$CHECK" check "$tmp/re.safetensors" --lrlab-layout >"$tmp/re_by_py.txt" 2>&1
ok $? "Python reads the rewrite in lrlab's layout"; grep FAIL "$tmp/re_by_py.txt"
same "$tmp/py_by_py.txt" "$tmp/re_by_py.txt" "the rewrite holds the same tensors and metadata"
"$BIN" --rewrite "$tmp/re.safetensors" "$tmp/re2.safetensors" && cmp -s "$tmp/re.safetensors" "$tmp/re2.safetensors"
ok $? "a second rewrite is byte-identical"

summary safetensors_torch_test
