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
TR="--data $SYNTH_DIR --model $T/small.model --normalize $NORM --limit-train 512 --limit-test 200 --batch 64
    --epochs 2 --lr 0.02 --threads 1 --tta 2 --conv-algo direct"
# shellcheck disable=SC2086
"$LRLAB" train $TR --out "$T/run" >"$T/train" 2>&1
check "train --tta 2: $(tail -n 2 "$T/train")" [ $? -eq 0 ]
check "metrics.csv: the header ends with the EMA's (empty) columns and tta_test_acc" \
    sh -c "head -n 1 '$T/run/metrics.csv' | grep -q ',grad_norm,test_loss_ema,test_acc_ema,tta_test_acc\$'"
check "metrics.csv: epoch 0's tta_test_acc is empty" sh -c "sed -n 2p '$T/run/metrics.csv' | grep -q ',,,\$'"
last=$(tail -n 1 "$T/run/metrics.csv" | awk -F, '{ print $NF }')
# stopped mid-run and resumed: the same final row and weights
# shellcheck disable=SC2086
"$LRLAB" train $TR --out "$T/again" --stop-at-step 11 >/dev/null 2>&1
"$LRLAB" train --resume "$T/again" >"$T/out" 2>&1
check "--resume of a --tta run: exit $?: $(tail -n 1 "$T/out")" cmp -s "$T/run/model.safetensors" "$T/again/model.safetensors"
check "--resume of a --tta run: the same tta_test_acc" [ "$(tail -n 1 "$T/again/metrics.csv" | awk -F, '{ print $NF }')" = "$last" ]
for level in 0 1 2; do
    "$LRLAB" eval "$T/run" --data "$SYNTH_DIR" --limit-test 200 --tta $level --threads 1 >"$T/eval$level" 2>&1
    check "eval --tta $level: $(tail -n 2 "$T/eval$level")" [ $? -eq 0 ]
done
trained=$(sed -n 's/.*tta_test_acc=\([0-9.]*\).*/\1/p' "$T/train")
check "metrics.csv's last tta_test_acc ('$last') is the log's ('$trained')" sh -c "[ -n '$last' ] && [ '$last' = '$trained' ]"
evaluated=$(sed -n 's/^tta_test_acc=\([0-9.]*\)%.*/\1/p' "$T/eval2")
check "train --tta 2 ends with tta_test_acc (got '$trained'), eval --tta 2 the same ('$evaluated')" \
    sh -c "[ -n '$trained' ] && [ -n '$evaluated' ] && awk 'BEGIN { exit !($trained == $evaluated) }'"
"$LRLAB" report "$T/run" --metric tta >"$T/report" 2>&1
check "report --metric tta: the run's tta_test_acc ($last): $(cat "$T/report")" grep -q "| $(printf '%.2f' "$last") |" "$T/report"
"$LRLAB" eval "$T/run" --data "$SYNTH_DIR" --tta 3 >"$T/out" 2>&1; rc=$?
check "eval --tta 3: exit $rc, expected 2 and the flag named: $(cat "$T/out")" sh -c "[ $rc -eq 2 ] && grep -q -- '--tta' '$T/out'"
# images 1 pixel wide cannot be reflect-padded by 1 (PyTorch's F.pad raises): refused, level 1 works
SD=${SYNTH_DATA:-$(dirname "${SYNTH:-build/tools/synth_cifar}")/synth_data}
"$SD" folder "$T/img" 7 >/dev/null 2>&1 || bad "synth_data folder failed"
printf 'input 3 1 1\nflatten\nlinear fc 3\n' >"$T/one.model"
"$LRLAB" train --dataset folder --data "$T/img" --resize 1,1 --model "$T/one.model" --batch 16 --epochs 1 --threads 1 \
    --out "$T/one" >"$T/out" 2>&1
check "a 1x1 run: $(tail -n 1 "$T/out")" [ -f "$T/one/model.safetensors" ]
"$LRLAB" train --dataset folder --data "$T/img" --resize 1,1 --model "$T/one.model" --batch 16 --epochs 1 --threads 1 \
    --tta 2 --out "$T/one2" >"$T/out" 2>&1; rc=$?
check "train --tta 2 of 1x1 images: refused before the first epoch (exit $rc, expected 1): $(cat "$T/out")" \
    sh -c "[ $rc -eq 1 ] && grep -q 'needs at least 2x2' '$T/out' && [ ! -e '$T/one2/metrics.csv' ]"
"$LRLAB" eval "$T/one" --dataset folder --data "$T/img" --resize 1,1 --tta 2 >"$T/out" 2>&1; rc=$?
check "eval --tta 2 of 1x1 images: exit $rc, expected 1 and the reason: $(cat "$T/out")" \
    sh -c "[ $rc -eq 1 ] && grep -q 'needs at least 2x2' '$T/out'"
"$LRLAB" eval "$T/one" --dataset folder --data "$T/img" --resize 1,1 --tta 1 >"$T/out" 2>&1
check "eval --tta 1 of 1x1 images: $(tail -n 1 "$T/out")" grep -q "^tta_test_acc=" "$T/out"
if ! "$PY" -c 'import torch' >/dev/null 2>&1; then
    skip "python3-torch not installed: --tta is not compared with PyTorch"
else
    for level in 0 1 2; do
        check "eval --tta $level equals airbench94's infer in PyTorch" "$PY" tests/torch/tta_check.py \
            "$T/run/model.safetensors" "$SYNTH_DIR/test_batch.bin" 200 $NORM $level "$T/eval$level"
    done
fi
summary tta_test
