#!/bin/sh
# tests/transform_test.sh: --transform, augmentation written as torchvision
# transforms: `lrlab data transform` prints each image's random choices and
# values; tests/torch/transform_check.py replays them in torchvision 0.14's
# functional API on the same images (the same crop offsets, flips, erase
# boxes, jitter order and factors) and compares: the same float32 bits.
# Then the messages
# (a caret under the culprit), a training run, determinism per (seed, epoch,
# image), and the run's config.txt.
set -u
. tests/lib.sh
case "$LRLAB" in /*) ;; *) LRLAB=$(pwd)/$LRLAB ;; esac
SD=${SYNTH_DATA:-$(dirname "${SYNTH:-build/tools/synth_cifar}")/synth_data}
T=$tmp
"$SD" cifar100 "$T/c100" 7 >/dev/null && "$SD" idx "$T/idx" 7 >/dev/null || { bad "synth_data failed"; summary transform_test; exit 1; }

# replay FORMAT DIR ATOL EXPR: 16 training images of epoch 3 through lrlab and torchvision
replay() {
    imgs=""; for i in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do imgs="$imgs --image $i"; done
    # shellcheck disable=SC2086
    if ! "$LRLAB" data transform --dataset "$1" --data "$2" --seed 5 --epoch 3 --transform "$4" $imgs >"$T/tf" 2>"$T/err"; then
        bad "lrlab data transform '$4': $(cat "$T/err")"; return
    fi
    check "torchvision gives lrlab's values for $4 on $1 (tolerance $3)" \
        "$PY" tests/torch/transform_check.py "$1" "$2" "$T/tf" "$4" "$3"
}
if have_torch && "$PY" -c 'import torchvision' >/dev/null 2>&1; then
    replay cifar100 "$T/c100" 0 'Compose([RandomCrop(32, padding=4, padding_mode="reflect"), RandomHorizontalFlip(), RandomErasing(p=0.25)])'
    replay cifar100 "$T/c100" 0 'Compose([RandomCrop(32, padding=(2, 5), padding_mode="symmetric"), RandomVerticalFlip(0.7), ToTensor(), Normalize((0.5, 0.4, 0.3), (0.2, 0.25, 0.3)), RandomErasing(p=0.9, scale=(0.1, 0.4), ratio=(0.5, 2), value=(1, 2, 3))])'
    replay cifar100 "$T/c100" 0 'Compose([RandomCrop(32, padding=(1, 2, 3, 4), padding_mode="edge"), RandomCrop(32, padding=3, fill=77), transforms.RandomHorizontalFlip(p=0.3)])'
    replay cifar100 "$T/c100" 0 'ColorJitter(brightness=0.4, saturation=(0.2, 1.7), hue=0.3)'
    replay cifar100 "$T/c100" 0 'Compose([RandomCrop(32, padding=4), ColorJitter(0.4, 0.4, 0.4, 0.1), RandomErasing(p=0.5, value=0.5)])'
    replay idx "$T/idx" 0 'Compose([RandomCrop(28, padding=4), RandomHorizontalFlip(), ColorJitter(brightness=0.5, contrast=(0.5, 1.5), saturation=0.3, hue=0.2), RandomErasing(p=1)])'
else
    skip "python3-torch or python3-torchvision not installed: --transform is not compared with torchvision"
fi

# ---- messages: exit 2 before any work, a caret under the culprit ----
# bad_expr EXPR REGEX CARET_COLUMN: the message matches REGEX and its caret is under column CARET_COLUMN of EXPR
bad_expr() {
    "$LRLAB" data transform --dataset cifar100 --data "$T/c100" --image 0 --transform "$1" >"$T/out" 2>&1; rc=$?
    col=$(awk '/\^/ { print index($0, "^") - 3; exit }' "$T/out")
    if [ $rc -ne 2 ] || ! grep -Eq -- "$2" "$T/out" || [ "$col" != "$3" ]; then
        bad "--transform '$1': exit $rc, caret at $col (expected 2, '$2', caret at $3): $(cat "$T/out")"
    else
        ok
    fi
}
bad_expr 'Compose([RandomCrop(32, padding=4, padding_mode="mirror")])' "Padding mode should be either constant, edge, reflect or symmetric" 48
bad_expr 'Compose([RandomCrop(32, padding=4), RandomHorizontalFlop()])' "unknown transform \(did you mean RandomHorizontalFlip\?\)" 36
bad_expr 'RandomErasing(p=1.5)' "Random erasing probability should be between 0 and 1" 16
bad_expr 'RandomErasing(scale=(0.5, 1.2))' "Scale should be between 0 and 1" 20
bad_expr 'RandomErasing(scale=(0.3, 0.02))' "RandomErasing: scale: expected \(min, max\)" 20
bad_expr 'RandomErasing(ratio=(0.3, -1))' "RandomErasing: ratio: expected \(min, max\)" 20
bad_expr 'Compose([RandomErasing(), ToTensor()])' "ToTensor\(\) given twice, or after a transform that needs a tensor" 26
bad_expr 'Compose([Normalize(0.5, 0.2), Normalize(0.5, 0.2)])' "Normalize given twice" 30
bad_expr 'ColorJitter(hue=0.7)' "hue values should be between \(-0.5, 0.5\)" 16
bad_expr 'ColorJitter(brightness=-1)' "If brightness is a single number, it must be non negative" 23
bad_expr 'RandomCrop(32, padding=(1, 2, 3))' "Padding must be an int or a 1, 2, or 4 element tuple, not a 3 element tuple" 23
bad_expr 'RandomCrop(32, padding=4, fill=300)' "before ToTensor\(\) the image is uint8: expected integers 0..255" 0
bad_expr 'RandomCrop(padding=4)' "RandomCrop: missing required argument 'size'" 0
bad_expr 'RandomHorizontalFlip(q=0.5)' "RandomHorizontalFlip: unknown argument 'q'" 21
bad_expr 'Compose([RandomCrop(32, padding=4), RandomHorizontalFlip()' "expected ',' or '\]'" 58
bad_expr 'RandomCrop(24, padding=4)' "RandomCrop: size 24x24, but the images are 32x32" 0
bad_expr 'RandomCrop(32, padding=32, padding_mode="reflect")' "must be smaller than the image's 32x32" 0
bad_expr 'Compose([ToTensor(), Normalize((0.5, 0.5), (0.2, 0.2))])' "Normalize: 2 values for images of 3 channels \(expected 1 or 3\)" 21
expect_fail() { # expect_fail REGEX ARGS...: lrlab exits 2 with a message matching REGEX
    re=$1; shift
    "$LRLAB" "$@" >"$T/out" 2>&1; rc=$?
    if [ $rc -eq 2 ] && grep -Eq -- "$re" "$T/out"; then ok; else bad "lrlab $*: exit $rc: $(cat "$T/out")"; fi
}
expect_fail "--transform: unknown transform" train --dataset cifar100 --data "$T/c100" --transform 'Resize(32)' --out "$T/never"
check "a refused --transform leaves no run directory" [ ! -e "$T/never" ]

# ---- training: deterministic per (seed, epoch, image), recorded in config.txt ----
printf 'input 3 32 32\nconv c1 8\nrelu\nmaxpool 2\nflatten\nlinear fc 100\n' >"$T/c100.model"
E='Compose([RandomCrop(32, padding=4, padding_mode="reflect"), RandomHorizontalFlip(), RandomErasing(p=0.25)])'
R="--dataset cifar100 --data $T/c100 --model $T/c100.model --batch 50 --epochs 2 --threads 1 --conv-algo direct"
# shellcheck disable=SC2086
"$LRLAB" train $R --transform "$E" --out "$T/a" >/dev/null 2>&1 && "$LRLAB" train $R --transform "$E" --out "$T/b" >/dev/null 2>&1
check "two runs with --transform: the same metrics" \
    cmp -s "$(cut -d, -f1-7 "$T/a/metrics.csv" >"$T/a.m"; echo "$T/a.m")" "$(cut -d, -f1-7 "$T/b/metrics.csv" >"$T/b.m"; echo "$T/b.m")"
check "config.txt records the transform" grep -qF "transform=$E" "$T/a/config.txt"
# shellcheck disable=SC2086
"$LRLAB" train $R --out "$T/c" >/dev/null 2>&1
check "--transform changes the training (not the seed's crop and flip)" \
    sh -c "! cmp -s '$T/a.m' \"\$(cut -d, -f1-7 '$T/c/metrics.csv' >'$T/c.m'; echo '$T/c.m')\""
# the same image of the same epoch and seed: the same draws, whatever else is asked for
"$LRLAB" data transform --dataset cifar100 --data "$T/c100" --transform "$E" --epoch 1 --image 4 >"$T/one" 2>&1
"$LRLAB" data transform --dataset cifar100 --data "$T/c100" --transform "$E" --epoch 1 --image 9 --image 4 | tail -n 7 >"$T/two" 2>&1
check "an image's draws depend on (seed, epoch, image) only" cmp -s "$T/one" "$T/two"
"$LRLAB" data transform --dataset cifar100 --data "$T/c100" --transform "$E" --epoch 2 --image 4 >"$T/three" 2>&1
check "another epoch, other draws" sh -c "! cmp -s '$T/one' '$T/three'"
summary transform_test
