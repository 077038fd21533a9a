#!/bin/sh
# tests/whiten_test.sh: `lrlab train --whiten` (airbench94's data-dependent
# init of its first conv, lrlab/model.h): the weights equal airbench's
# init_whitening_conv computed by PyTorch in float64 on the same images
# (tests/torch/whiten_check.py; an eigenvector's sign may differ), also
# over --init's weights; the setting is in config.txt and a resumed run
# keeps the weights; bad values are refused naming the flag and what was
# expected, before a run directory is made. Without python3-torch: SKIP (a failure in CI).
set -u
. tests/lib.sh
: "${SYNTH_DIR:?SYNTH_DIR must name a synthetic CIFAR-10 directory (tests/run.sh sets it)}"
T=$tmp
F="--model airbench94-net --data $SYNTH_DIR --limit-train 40 --limit-test 8 --batch 20 --threads 1 --conv-algo direct"

"$LRLAB" train $F --whiten '0, images=32, eps=1e-3' --lr 0 --weight-decay 0 --epochs 1 --out "$T/a" >"$T/a.out" 2>&1
check "train --whiten (exit $?): $(tail -n 1 "$T/a.out")" [ -f "$T/a/model.safetensors" ]
check "config.txt records the setting" grep -qx "whiten=0, images=32, eps=1e-3" "$T/a/config.txt"
# whitened WHAT RUN: RUN's conv 0 is airbench's init_whitening_conv of 32 images, eps 1e-3, in PyTorch
whitened() {
    out=$("$PY" tests/torch/whiten_check.py "$SYNTH_DIR" "$2/model.safetensors" 0 32 1e-3 \
        0.4914,0.4822,0.4465 0.2023,0.1994,0.2010 2>&1)
    echo "$out" | grep -q 'whiten: [1-9][0-9]* passed, 0 failed'
    check "$1: $(echo "$out" | grep -E 'FAIL|whiten:' | head -n 3)" [ $? -eq 0 ]
}
if have_torch; then
    whitened "the filters are airbench's init_whitening_conv in PyTorch" "$T/a"
else
    skip "whiten_test: python3-torch not installed (apt-get install python3-torch python3-numpy)"
fi
"$LRLAB" train $F --whiten 0 --epochs 2 --out "$T/b" >/dev/null 2>&1
# over --init's weights (b's conv 0: another whitening), not replaced by them
"$LRLAB" train $F --init "$T/b/model.safetensors" --whiten '0, images=32, eps=1e-3' --lr 0 --weight-decay 0 \
    --epochs 1 --out "$T/i" >"$T/i.out" 2>&1
check "train --init --whiten (exit $?): $(tail -n 1 "$T/i.out")" [ -f "$T/i/model.safetensors" ]
if have_torch; then whitened "--whiten over --init's weights" "$T/i"; fi
"$LRLAB" train $F --whiten 0 --epochs 2 --out "$T/c" --stop-at-step 1 >/dev/null 2>&1
"$LRLAB" train --resume "$T/c" >"$T/c.out" 2>&1
check "stopped and resumed with --whiten: the same weights as straight through ($(tail -n 1 "$T/c.out"))" \
    cmp -s "$T/b/model.safetensors" "$T/c/model.safetensors"

# refused, with the flag, the value and what was expected; no run directory (one that a
# refused run created is removed)
refused() { # refused WHAT EXIT PATTERN ARGS...
    what=$1 want=$2 pattern=$3; shift 3
    "$LRLAB" train $F --epochs 1 --out "$T/bad" "$@" >"$T/bad.out" 2>&1
    code=$?
    good=0
    [ $code -eq "$want" ] && grep -qF -- "$pattern" "$T/bad.out" && [ ! -e "$T/bad" ] && good=1
    check "$what: exit $code (want $want), '$(head -n 1 "$T/bad.out")'" [ $good -eq 1 ]
}
refused "an unknown layer" 1 "no layer 'nope'" --whiten nope
refused "a conv of the wrong shape" 1 "must be a conv with 2 x in_channels" --whiten 2.conv1
refused "not a conv" 1 "must be a conv" --whiten 7
printf 'input 3 32 32\nconv a 3 k=1\nconv b 6 k=1\nflatten\nlinear fc 10\n' >"$T/second.model"
refused "a conv that does not read the images" 1 "--whiten: layer 'b' reads layer 1, not the network's input" \
    --model "$T/second.model" --whiten b
"$LRLAB" train $F --epochs 1 --out "$T/n1/n2/bad" --model "$T/second.model" --whiten b >/dev/null 2>&1
check "a refused run removes the parents of --out it made too" [ ! -e "$T/n1" ]
refused "images=0" 2 "images: expected a whole number of images >= 1" --whiten '0, images=0'
refused "images=1.5" 2 "images: expected a whole number" --whiten '0, images=1.5'
refused "eps=-1" 2 "eps: expected a number >= 0" --whiten '0, eps=-1'
refused "an unknown option" 2 "unknown option 'size' (expected images=N or eps=E)" --whiten '0, size=3'
refused "a misspelt option" 2 "unknown option 'image' (did you mean images?)" --whiten '0, image=3'
refused "an option twice" 2 "images given twice" --whiten '0, images=3, images=4'
refused "a value after the layer" 2 "expected images=N or eps=E after the layer" --whiten '0, 5000'
refused "no layer" 2 "expected 'LAYER" --whiten ', eps=1'
refused "not Python" 2 "--whiten:" --whiten '0, eps=(1'
# the caret under the culprit, in the user's text
"$LRLAB" train $F --epochs 1 --out "$T/bad" --whiten '0, images=32, eps=x1' >"$T/caret.out" 2>&1
check "a caret under eps's value: $(cat "$T/caret.out" | tr '\n' '|')" \
    sh -c 'grep -qxF "  0, images=32, eps=x1" "$1" && grep -qxF "$(printf "%20s^~" "")" "$1"' - "$T/caret.out"
summary whiten_test
