#!/bin/sh
# tests/model_torch_test.sh: the shipped graph models against their PyTorch
# modules (tests/torch/models.py): state_dict names, shapes and buffers, and
# one training-mode forward and backward from the same weights through
# lrlab's reference executor (logits, loss, every gradient, the running
# statistics). Without python3-torch: SKIP (a failure in CI).
set -u
. tests/lib.sh
TEST_BIN=${TEST_BIN:-build/tests}
if ! have_torch; then
    skip "model_torch_test: python3-torch not installed (apt-get install python3-torch python3-numpy)"
    summary model_torch_test; exit
fi
for m in resnet20 resnet32; do
    out=$("$PY" tests/torch/models.py compare "$TEST_BIN/test_model" "$m" "$tmp" 2>&1)
    line=$(echo "$out" | grep -E "^models_$m: " | tail -n 1)
    echo "$out" | grep -E "^FAIL" | head -n 20
    if [ -z "$line" ]; then bad "models.py $m: no closing line: $(echo "$out" | tail -n 3)"; continue; fi
    pass=$((pass + $(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')))
    fail=$((fail + $(echo "$line" | sed -E 's/.*passed, ([0-9]+) failed.*/\1/')))
done
summary model_torch_test
