#!/bin/sh
# tests/torch_train_test.sh: two epochs of lrlab training against PyTorch's,
# from the same initial weights on the same images, with both backends
# (tests/torch/train_equiv.py). Skips where python3-torch is not installed.
set -u
PY=/usr/bin/python3
if ! $PY -c 'import torch, numpy' 2>/dev/null; then
    echo "SKIP torch_train_test: python3-torch not installed (apt-get install python3-torch)"
    echo "torch_train_test: 0 passed, 0 failed"
    exit 0
fi
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
passed=0; failed=0
for backend in dnnl ref; do
    out=$($PY tests/torch/train_equiv.py "$LRLAB" "$SYNTH_DIR" "$work" "$backend" 2>&1)
    echo "$out"
    line=$(echo "$out" | grep -E "^train_equiv_$backend: " | tail -n 1)
    p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/'); f=$(echo "$line" | sed -E 's/.*passed, ([0-9]+) failed.*/\1/')
    [ -n "$line" ] || { p=0; f=1; }
    passed=$((passed + p)); failed=$((failed + f))
done
echo "torch_train_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
