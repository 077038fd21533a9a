#!/bin/sh
# tests/predict_test.sh: `lrlab predict` on generated PNG and JPEG files
# (RGB and greyscale, of the model's size and not): the class and top-5
# probabilities against PyTorch's softmax of the same net and weights on the
# same images read as torchvision reads them (tests/torch/predict_check.py);
# a run directory or --model/--weights/--dataset; refusals naming the file.
set -u
. tests/lib.sh
case "$LRLAB" in /*) ;; *) LRLAB=$(pwd)/$LRLAB ;; esac
SD=${SYNTH_DATA:-$(dirname "${SYNTH:-build/tools/synth_cifar}")/synth_data}
T=$tmp
"$SD" cifar100 "$T/c100" 7 >/dev/null && "$SD" idx "$T/idx" 7 >/dev/null || { bad "synth_data failed"; summary predict_test; exit 1; }
printf 'input 3 32 32\nconv c1 8\nrelu\nmaxpool 2\nflatten\nlinear fc 100\n' >"$T/c100.model"
printf 'input 1 28 28\nconv c1 8\nrelu\nmaxpool 2\nflatten\nlinear fc 10\n' >"$T/idx.model"
R="--batch 50 --epochs 1 --threads 1 --conv-algo direct"
# shellcheck disable=SC2086
"$LRLAB" train --dataset cifar100 --data "$T/c100" --model "$T/c100.model" $R --out "$T/r100" >/dev/null 2>&1 &&
"$LRLAB" train --dataset idx --data "$T/idx" --model "$T/idx.model" --normalize 0.2860,0.3530 $R --out "$T/ridx" >/dev/null 2>&1 ||
    bad "the training runs failed"
if ! "$PY" -c 'import PIL, torch, torchvision' >/dev/null 2>&1; then
    skip "python3-pil, python3-torch or python3-torchvision not installed: no images, no PyTorch to compare with"
    summary predict_test; exit 0
fi
"$PY" - "$T" <<'PYEOF'
import sys
import numpy as np
from PIL import Image
t, r = sys.argv[1], np.random.RandomState(3)
Image.fromarray(r.randint(0, 256, (32, 32, 3), dtype=np.uint8)).save(t + "/rgb.png")
Image.fromarray(r.randint(0, 256, (32, 32, 3), dtype=np.uint8)).save(t + "/rgb.jpg", quality=90)
Image.fromarray(r.randint(0, 256, (40, 36, 3), dtype=np.uint8)).save(t + "/big.png")
Image.fromarray(r.randint(0, 256, (32, 32), dtype=np.uint8)).save(t + "/grey32.png")
Image.fromarray(r.randint(0, 256, (28, 28), dtype=np.uint8)).save(t + "/grey.png")
Image.fromarray(r.randint(0, 256, (30, 33), dtype=np.uint8)).save(t + "/grey.jpg", quality=85)
open(t + "/broken.png", "wb").write(open(t + "/rgb.png", "rb").read()[:100])
PYEOF
C100=0.5071,0.4865,0.4409,0.2673,0.2564,0.2762
"$LRLAB" predict "$T/r100" "$T/rgb.png" "$T/rgb.jpg" "$T/grey32.png" >"$T/p1" 2>"$T/err" || bad "predict RUN: $(cat "$T/err")"
check "predict RUN_DIR: PyTorch's softmax of the same net (RGB PNG, JPEG, a greyscale PNG on a 3-channel model)" \
    "$PY" tests/torch/predict_check.py "$T/r100/model.safetensors" 3 100 $C100 32,32 "$T/p1" "$T/rgb.png" "$T/rgb.jpg" "$T/grey32.png"
"$LRLAB" predict --model "$T/c100.model" --weights "$T/r100/model.safetensors" --dataset cifar100 --data "$T/c100" \
    --resize 32,32 "$T/big.png" >"$T/p2" 2>"$T/err" || bad "predict --weights: $(cat "$T/err")"
check "predict --model --weights --dataset --resize: PyTorch's (PIL's bilinear resize)" \
    "$PY" tests/torch/predict_check.py "$T/r100/model.safetensors" 3 100 $C100 32,32 "$T/p2" "$T/big.png"
"$LRLAB" predict "$T/ridx" --resize 28,28 "$T/grey.png" "$T/grey.jpg" >"$T/p3" 2>"$T/err" || bad "predict idx: $(cat "$T/err")"
check "predict on a 1-channel model with the run's --normalize: PyTorch's" \
    "$PY" tests/torch/predict_check.py "$T/ridx/model.safetensors" 1 10 0.2860,0.3530 28,28 "$T/p3" "$T/grey.png" "$T/grey.jpg"
check "the top line names the class and its probability" grep -Eq "grey.png: [0-9]+ \(0\.[0-9]{4}\)$" "$T/p3"

expect() { # expect CODE REGEX ARGS...
    code=$1; re=$2; shift 2
    "$LRLAB" "$@" >"$T/out" 2>&1; rc=$?
    if [ $rc -eq "$code" ] && grep -Eq -- "$re" "$T/out"; then ok; else bad "lrlab $*: exit $rc (expected $code, '$re'): $(cat "$T/out")"; fi
}
expect 1 "big.png: 36x40 pixels \(width x height\), but the model takes 32x32 \(pass --resize 32,32" predict "$T/r100" "$T/big.png"
expect 1 "rgb.png: a colour image, but the model takes 1 channel" predict "$T/ridx" "$T/rgb.png"
expect 1 "broken.png: " predict "$T/r100" "$T/broken.png"
expect 1 "nothere.png: cannot open" predict "$T/r100" "$T/nothere.png"
expect 1 "--resize 30,32: the model .* takes 32x32 images" predict "$T/r100" --resize 30,32 "$T/rgb.png"
expect 2 "which images\?" predict "$T/r100"
expect 2 "which weights\?" predict "$T/rgb.png"
expect 2 "a run directory or --weights, not both" predict "$T/r100" --weights "$T/r100/model.safetensors" "$T/rgb.png"
summary predict_test
