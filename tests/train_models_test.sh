#!/bin/sh
# tests/train_models_test.sh: lrlab against PyTorch 1.13 beyond the shipped
# models (tests/torch/train_models.py): dropout's training and evaluation
# modes on both executors (PyTorch's scaling, about p dropped, the gradient
# through the same mask, the identity in eval mode), and random graphs not
# shipped (residual adds, option-A and 1x1 projection shortcuts, strided,
# 1x1 and even-kernel 'same' convs, BatchNorm with random eps, momentum and
# affine, relu/gelu, max and average pooling with padding, global average
# pooling, scale), each built as a PyTorch module by the script: one
# training step through both executors, then three epochs of training
# through oneDNN (per-epoch metrics, final weights, running statistics);
# the shipped ResNet-20, three epochs through oneDNN against its PyTorch
# module's float64 run and three float32 runs (docs/models.md: lrlab
# within 4x the farthest float32 run's distance from float64); and training recipes on a
# small fixed graph: label smoothing, reduction=sum, clip_grad_norm_ (2 and
# inf) and clip_grad_value_, with the logged gradient norm.
# Without python3-torch: SKIP (a failure in CI).
set -u
. tests/lib.sh
TEST_BIN=${TEST_BIN:-build/tests}
: "${SYNTH_DIR:?SYNTH_DIR must name a synthetic CIFAR-10 directory (tests/run.sh sets it)}"
if ! have_torch; then
    skip "train_models_test: python3-torch not installed (apt-get install python3-torch python3-numpy)"
    summary train_models_test; exit
fi
add_up dropout "$("$PY" tests/torch/train_models.py dropout "$TEST_BIN/test_model" "$tmp" 2>&1)"
add_up recipes "$("$PY" tests/torch/train_models.py recipes "$LRLAB" "$SYNTH_DIR" "$tmp" 2>&1)"
add_up graphs "$("$PY" tests/torch/train_models.py graphs "$LRLAB" "$TEST_BIN/test_model" "$SYNTH_DIR" "$tmp" 1 3 2>&1)"
add_up shipped_resnet20 "$("$PY" tests/torch/train_models.py shipped "$LRLAB" "$SYNTH_DIR" "$tmp" resnet20 3 2>&1)"
summary train_models_test
