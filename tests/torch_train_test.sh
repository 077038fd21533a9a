#!/bin/sh
# tests/torch_train_test.sh: two epochs of lrlab training against PyTorch's,
# from the same initial weights on the same images, with both backends
# (tests/torch/train_equiv.py). Without python3-torch: SKIP (a failure in CI).
set -u
. tests/lib.sh
if ! have_torch; then
    skip "torch_train_test: python3-torch not installed (apt-get install python3-torch python3-numpy)"
    summary torch_train_test; exit
fi
for backend in dnnl ref; do
    out=$($PY tests/torch/train_equiv.py "$LRLAB" "$SYNTH_DIR" "$tmp" "$backend" 2>&1)
    echo "$out"
    line=$(echo "$out" | grep -E "^train_equiv_$backend: " | tail -n 1)
    if [ -z "$line" ]; then bad "train_equiv.py $backend: no closing line"; continue; fi
    pass=$((pass + $(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')))
    fail=$((fail + $(echo "$line" | sed -E 's/.*passed, ([0-9]+) failed.*/\1/')))
done
summary torch_train_test
