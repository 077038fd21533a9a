#!/bin/sh
# tests/tta_test.sh: --tta 0|1|2, test-time augmentation (airbench94's
# tta_level: mirror; mirror and one-pixel reflect translations, weights 0.5,
# 0.25, 0.25): `lrlab eval --tta` against the source's formulas in PyTorch
# (tests/torch/tta_check.py) on a small model trained on the synthetic data
# in $SYNTH_DIR; `lrlab train --tta` ends with the same number; bad levels
# refused.
set -u
. tests/lib.sh
case "$LRLAB" in /*) ;; *) LRLAB=$(pwd)/$LRLAB ;; esac
: "${SYNTH_DIR:?SYNTH_DIR must name a synthetic CIFAR-10 directory (tests/run.sh sets it)}"
T=$tmp
NORM=0.4914,0.4822,0.4465,0.2470,0.2435,0.2616
printf 'input 3 32 32\nconv c1 8 bias=1\nrelu\nmaxpool 2\nflatten\nlinear fc 10\n' >"$T/small.model"
"$LRLAB" train --data "$SYNTH_DIR" --model "$T/small.model" --normalize $NORM --limit-train 512 --limit-test 200 \
    --batch 64 --epochs 1 --lr 0.05 --threads 1 --tta 2 --out "$T/run" >"$T/train" 2>&1
check "train --tta 2: $(tail -n 2 "$T/train")" [ $? -eq 0 ]
for level in 0 1 2; do
    "$LRLAB" eval "$T/run" --data "$SYNTH_DIR" --limit-test 200 --tta $level --threads 1 >"$T/eval$level" 2>&1
    check "eval --tta $level: $(tail -n 2 "$T/eval$level")" [ $? -eq 0 ]
done
trained=$(sed -n 's/.*tta_test_acc=\([0-9.]*\).*/\1/p' "$T/train")
evaluated=$(sed -n 's/^tta_test_acc=\([0-9.]*\)%.*/\1/p' "$T/eval2")
check "train --tta 2 ends with tta_test_acc (got '$trained'), eval --tta 2 the same ('$evaluated')" \
    sh -c "[ -n '$trained' ] && [ -n '$evaluated' ] && awk 'BEGIN { exit !($trained == $evaluated) }'"
"$LRLAB" eval "$T/run" --data "$SYNTH_DIR" --tta 3 >"$T/out" 2>&1; rc=$?
check "eval --tta 3: exit $rc, expected 2 and the flag named: $(cat "$T/out")" sh -c "[ $rc -eq 2 ] && grep -q -- '--tta' '$T/out'"
if ! "$PY" -c 'import torch' >/dev/null 2>&1; then
    skip "python3-torch not installed: --tta is not compared with PyTorch"
else
    for level in 0 1 2; do
        check "eval --tta $level equals airbench94's infer in PyTorch" "$PY" tests/torch/tta_check.py \
            "$T/run/model.safetensors" "$SYNTH_DIR/test_batch.bin" 200 $NORM $level "$T/eval$level"
    done
fi
summary tta_test
