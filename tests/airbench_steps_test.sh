#!/bin/sh
# tests/airbench_steps_test.sh: experiments/airbench94.sweep's recipe (the
# whitening init, the frozen and 64x parameter groups, Nesterov SGD, label
# smoothing with reduction sum, the per-step LambdaLR, Lookahead with its
# alpha schedule and final copy) trained 12 steps by lrlab and by its
# source's loop in PyTorch 1.13 from the same weights on the same batches
# (tests/torch/airbench_steps.py): per-epoch metrics, final weights and
# running statistics. The run's flags are the sweep's as `lrlab sweep
# --dry-run` resolves them for 64 images, batch 32, 6 epochs.
# Without python3-torch: SKIP (a failure in CI).
set -u
. tests/lib.sh
: "${SYNTH_DIR:?SYNTH_DIR must name a synthetic CIFAR-10 directory (tests/run.sh sets it)}"
if ! have_torch; then
    skip "airbench_steps_test: python3-torch not installed (apt-get install python3-torch python3-numpy)"
    summary airbench_steps_test; exit
fi
"$LRLAB" sweep airbench94 --dry-run --data "$SYNTH_DIR" --limit-train 64 --batch 32 --epochs 6 --max-steps 12 \
    --out "$tmp/sweep" >"$tmp/plan" 2>&1
check "lrlab sweep airbench94 --dry-run: $(tail -n 1 "$tmp/plan")" grep -q '^start *airbench94: ' "$tmp/plan"
sed -n 's/^start *airbench94: \(.*\) > [^ ]*$/\1/p' "$tmp/plan" >"$tmp/cmd"
out=$("$PY" tests/torch/airbench_steps.py "$LRLAB" "$SYNTH_DIR" "$tmp" "$tmp/cmd" 2>&1)
echo "$out"
add_up airbench_steps "$out"
summary airbench_steps_test
