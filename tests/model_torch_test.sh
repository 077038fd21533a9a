#!/bin/sh
# tests/model_torch_test.sh: the shipped graph models against their PyTorch
# modules (tests/torch/models.py): state_dict names, shapes and buffers, and
# one training-mode forward and backward from the same weights through
# lrlab's executors (logits, loss, every gradient, the running statistics):
# the reference executor and the oneDNN one for resnet20 and
# airbench94-net, the oneDNN one for resnet18 and vgg11-bn. Every shipped model's model.safetensors, as `lrlab train`
# writes it, loads into its module with load_state_dict(strict=True) and
# PyTorch's dtypes. Without python3-torch: SKIP (a failure in CI).
set -u
. tests/lib.sh
TEST_BIN=${TEST_BIN:-build/tests}
: "${SYNTH_DIR:?SYNTH_DIR must name a synthetic CIFAR-10 directory (tests/run.sh sets it)}"
if ! have_torch; then
    skip "model_torch_test: python3-torch not installed (apt-get install python3-torch python3-numpy)"
    summary model_torch_test; exit
fi
for run in resnet20:ref resnet20:dnnl airbench94-net:ref airbench94-net:dnnl resnet18:dnnl vgg11-bn:dnnl; do
    m=${run%:*} b=${run#*:}
    add_up "models_${m}_$b" "$("$PY" tests/torch/models.py compare "$TEST_BIN/test_model" "$m" "$tmp" "$b" 2>&1)"
done
for m in resnet20 resnet32 resnet56 resnet110 airbench94-net resnet18 vgg11-bn; do
    "$LRLAB" train --model "$m" --data "$SYNTH_DIR" --limit-train 4 --limit-test 2 --batch 4 --epochs 1 \
        --no-augment --conv-algo direct --threads 1 --out "$tmp/$m" >"$tmp/train.out" 2>&1
    check "lrlab train --model $m (exit $?): $(tail -n 1 "$tmp/train.out")" [ -f "$tmp/$m/model.safetensors" ]
    add_up "load_$m" "$("$PY" tests/torch/models.py load "$m" "$tmp/$m/model.safetensors" 2>&1)"
done
summary model_torch_test
