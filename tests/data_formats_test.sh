#!/bin/sh
# tests/data_formats_test.sh: the data formats besides CIFAR-10 end to end
# (lrlab train and eval on small generated sets: CIFAR-100 with fine and
# coarse labels, gzip'd and plain IDX files, an image folder of PNG and
# JPEG files, with --resize), the model-against-data check, and hostile
# files: each refused with exit 1 and a message naming the file (truncated,
# wrong magic, counts that disagree, trailing bytes, a bad label, mixed
# image sizes, an empty class folder, corrupt PNG and JPEG, an unsupported
# image type, a test class the training folder lacks, no test folder).
# Data: tests/tools/synth_data.c. Not the loaders' unit tests (test_data.c).
set -u
. tests/lib.sh
case "$LRLAB" in /*) ;; *) LRLAB=$(pwd)/$LRLAB ;; esac
SD=${SYNTH_DATA:-$(dirname "${SYNTH:-build/tools/synth_cifar}")/synth_data}
case "$SD" in /*) ;; *) SD=$(pwd)/$SD ;; esac
: "${SYNTH_DIR:?SYNTH_DIR must name a synthetic CIFAR-10 directory (tests/run.sh sets it)}"
T=$tmp
R="--epochs 1 --threads 1 --conv-algo direct --out $T/run"

# expect CODE REGEX ARGS...: `lrlab ARGS` exits CODE and prints a line matching REGEX.
expect() {
    code=$1; re=$2; shift 2
    timeout 300 "$LRLAB" "$@" >"$T/out" 2>&1; rc=$?
    if [ $rc -ne "$code" ]; then
        bad "lrlab $*: exit $rc, expected $code: $(tail -n 3 "$T/out")"
    elif ! grep -Eq -- "$re" "$T/out"; then
        bad "lrlab $*: output does not match '$re': $(tail -n 3 "$T/out")"
    else
        ok
    fi
}
rows() { if [ -f "$1" ]; then tail -n +2 "$1" | wc -l | tr -d ' '; else echo 0; fi; }

"$SD" cifar100 "$T/c100" 7 && "$SD" idx "$T/idx" 7 && "$SD" folder "$T/img" 7 || { bad "synth_data failed"; # ---- the image fixture (tests/test_data.c compares lrlab's decoding and resizing with it) is PIL's ----
if "$PY" -c 'import PIL' >/dev/null 2>&1; then
    "$PY" tests/torch/image_fixture.py "$T/fixture" >/dev/null 2>&1
    check "tests/fixtures/images/expected.txt is what tests/torch/image_fixture.py writes with this PIL" \
        cmp -s tests/fixtures/images/expected.txt "$T/fixture/expected.txt"
else
    skip "python3-pil not installed: the image fixture is not checked against PIL"
fi
summary data_formats_test; exit 1; }
model() { # model FILE C H W CLASSES: a small convolutional net
    printf 'input %s %s %s\nconv c1 8\nrelu\nmaxpool 2\nflatten\nlinear fc %s\n' "$2" "$3" "$4" "$5" >"$1"
}
model "$T/c100.model" 3 32 32 100; model "$T/c20.model" 3 32 32 20
model "$T/idx.model" 1 28 28 10; model "$T/img.model" 3 10 12 3; model "$T/img16.model" 3 16 16 3

# ---- end to end ----
expect 0 "600 train / 200 test images" train --dataset cifar100 --data "$T/c100" --model "$T/c100.model" --batch 50 $R --out "$T/r100"
check "cifar100: one metrics row" [ "$(rows "$T/r100/metrics.csv")" = 1 ]
expect 0 "600 train / 200 test images" train --dataset cifar100 --labels coarse --data "$T/c100" --model "$T/c20.model" --batch 50 $R --out "$T/r20"
expect 0 "super03" eval "$T/r20"
expect 1 "--model .*c100.model: input 3x32x32 and 100 classes, but --dataset cifar100 .* has 3x32x32 images and 20 classes" \
    train --dataset cifar100 --labels coarse --data "$T/c100" --model "$T/c100.model" $R
expect 0 "600 train / 200 test images" train --dataset idx --data "$T/idx" --model "$T/idx.model" --batch 50 --epochs 2 --threads 1 --out "$T/ridx"
check "idx: two metrics rows" [ "$(rows "$T/ridx/metrics.csv")" = 2 ]
expect 0 "test_acc=" eval "$T/ridx"
expect 0 "90 train / 27 test images" train --dataset folder --data "$T/img" --model "$T/img.model" --batch 16 $R --out "$T/rimg"
expect 0 " bee " eval "$T/rimg"
expect 0 "90 train / 27 test images" train --dataset folder --data "$T/img" --resize 16,16 --model "$T/img16.model" --batch 16 $R --out "$T/rimg16"
expect 0 "test_acc=" eval "$T/rimg16"
expect 1 "--model vgg-seed: input 3x32x32 and 10 classes, but --dataset folder .* has 3x10x12 images and 3 classes" \
    train --dataset folder --data "$T/img" --batch 16 $R
expect 2 "--resize '0,4'" train --dataset folder --data "$T/img" --resize 0,4 $R
expect 2 "--labels 'middle'" train --dataset cifar100 --labels middle $R
expect 1 "--resize 16x16: only for --dataset folder" train --dataset idx --data "$T/idx" --resize 16,16 $R
expect 1 "--labels coarse: only for --dataset cifar100" train --dataset idx --data "$T/idx" --labels coarse $R

# ---- normalisation: data stats, --normalize ----
expect 0 "^--normalize '0\.[0-9]{4},0\.[0-9]{4}'$" data stats --dataset idx --data "$T/idx"
norm=$(sed -n "s/^--normalize '\(.*\)'$/\1/p" "$T/out")
expect 0 "train split, 600 images: mean \(0\.[0-9]+, 0\.[0-9]+, 0\.[0-9]+\)" data stats --dataset cifar100 --data "$T/c100"
expect 0 "test split, 27 images" data stats --dataset folder --data "$T/img" --split test
expect 0 "normalised with:  mean \(0.4914, 0.4822, 0.4465\) std \(0.2023, 0.1994, 0.201\)" data stats --data "$SYNTH_DIR" --limit-train 100
expect 2 "--split 'val'" data stats --dataset idx --data "$T/idx" --split val
expect 2 "unknown action 'show'" data show
I="--dataset idx --data $T/idx --model $T/idx.model --batch 50 --limit-train 200"
expect 0 "200 train / 200 test images" train $I $R --out "$T/ra"
expect 0 "200 train / 200 test images" train $I --normalize "(0.1307,), (0.3081,)" $R --out "$T/rb"
expect 0 "200 train / 200 test images" train $I --normalize "$norm" $R --out "$T/rc"
check "--normalize is recorded in config.txt" grep -q "^normalize=$norm\$" "$T/rc/config.txt"
check "--normalize with idx's own constants: the same weights" cmp -s "$T/ra/model.safetensors" "$T/rb/model.safetensors"
check "--normalize with other constants: other weights" sh -c "! cmp -s '$T/ra/model.safetensors' '$T/rc/model.safetensors'"
expect 1 "--normalize '0.1,0.2,0.3,0.4': 4 numbers, but .* has 1 channel" train --dataset idx --data "$T/idx" --model "$T/idx.model" --normalize 0.1,0.2,0.3,0.4 $R
expect 2 "--normalize '0.5,-1'" train --dataset idx --data "$T/idx" --normalize 0.5,-1 $R

# ---- hostile CIFAR-100 files ----
cp -R "$T/c100" "$T/h"; head -c 100000 "$T/c100/test.bin" >"$T/h/test.bin"
expect 1 "h/test.bin: 100000 bytes, expected a whole number of 3074-byte records" train --dataset cifar100 --data "$T/h" --model "$T/c100.model" $R
cp "$T/c100/test.bin" "$T/h/test.bin"; printf '\001\226' | dd of="$T/h/train.bin" bs=1 seek=3074 conv=notrunc 2>/dev/null
expect 1 "h/train.bin: record 1 has fine label 150, expected 0..99" train --dataset cifar100 --data "$T/h" --model "$T/c100.model" $R
rm "$T/h/train.bin"
expect 1 "h: no train.bin there" train --dataset cifar100 --data "$T/h" --model "$T/c100.model" $R
rm -rf "$T/h"

# ---- hostile IDX files ----
cp -R "$T/idx" "$T/h"; printf 'ZZZZ' | dd of="$T/h/t10k-images-idx3-ubyte" bs=1 conv=notrunc 2>/dev/null
expect 1 "h/t10k-images-idx3-ubyte: magic 5a 5a 5a 5a, expected 00 00 08 03" train --dataset idx --data "$T/h" --model "$T/idx.model" $R
cp "$T/idx/t10k-images-idx3-ubyte" "$T/h/"; head -c 20000 "$T/idx/train-images-idx3-ubyte.gz" >"$T/h/train-images-idx3-ubyte.gz"
expect 1 "h/train-images-idx3-ubyte.gz: (truncated|damaged)" train --dataset idx --data "$T/h" --model "$T/idx.model" $R
cp "$T/idx/train-images-idx3-ubyte.gz" "$T/h/"; head -c 207 "$T/idx/t10k-labels-idx1-ubyte" >"$T/h/t10k-labels-idx1-ubyte"
printf '\307' | dd of="$T/h/t10k-labels-idx1-ubyte" bs=1 seek=7 conv=notrunc 2>/dev/null
expect 1 "h/t10k-labels-idx1-ubyte: 199 labels, but t10k-images-idx3-ubyte has 200 images" train --dataset idx --data "$T/h" --model "$T/idx.model" $R
cp "$T/idx/t10k-labels-idx1-ubyte" "$T/h/"; printf 'x' >>"$T/h/t10k-labels-idx1-ubyte"
expect 1 "h/t10k-labels-idx1-ubyte: more bytes than the header" train --dataset idx --data "$T/h" --model "$T/idx.model" $R
head -c 100 "$T/idx/t10k-labels-idx1-ubyte" >"$T/h/t10k-labels-idx1-ubyte"
expect 1 "h/t10k-labels-idx1-ubyte: truncated" train --dataset idx --data "$T/h" --model "$T/idx.model" $R
rm "$T/h/t10k-labels-idx1-ubyte"
expect 1 "h/t10k-labels-idx1-ubyte: missing, and no t10k-labels-idx1-ubyte.gz" train --dataset idx --data "$T/h" --model "$T/idx.model" $R
rm -rf "$T/h"

# ---- hostile image folders ----
f() { rm -rf "$T/h"; cp -R "$T/img" "$T/h"; }
f; "$SD" png "$T/h/train/bee/odd.png" 7 7
expect 1 "h/train/bee/odd.png: 7x7 pixels \(width x height\), but .*train/ant/img000.png is 12x10.*--resize" train --dataset folder --data "$T/h" --model "$T/img.model" $R
f; mkdir "$T/h/train/dog"
expect 1 "h/train/dog: an empty class folder" train --dataset folder --data "$T/h" --model "$T/img.model" $R
f; head -c 60 "$T/img/train/bee/img001.png" >"$T/h/train/bee/img001.png"
expect 1 "h/train/bee/img001.png: damaged PNG" train --dataset folder --data "$T/h" --model "$T/img.model" $R
f; head -c 300 "$T/img/test/cat/img003.jpg" >"$T/h/test/cat/img003.jpg"
expect 1 "h/test/cat/img003.jpg: damaged JPEG" train --dataset folder --data "$T/h" --model "$T/img.model" $R
f; echo "not an image" >"$T/h/train/ant/note.png"
expect 1 "h/train/ant/note.png: neither a PNG nor a JPEG" train --dataset folder --data "$T/h" --model "$T/img.model" $R
f; echo "BM" >"$T/h/train/ant/x.bmp"
expect 1 "h/train/ant/x.bmp: .bmp images are not supported" train --dataset folder --data "$T/h" --model "$T/img.model" $R
f; mkdir "$T/h/test/zebra"; cp "$T/img/test/ant/img000.png" "$T/h/test/zebra/"
expect 1 "h/test/zebra: a class that the training folder does not have" train --dataset folder --data "$T/h" --model "$T/img.model" $R
f; mv "$T/h/test" "$T/h/val"
expect 0 "90 train / 27 test images" train --dataset folder --data "$T/h" --model "$T/img.model" --batch 16 $R --out "$T/rval"
f; rm -rf "$T/h/test"
expect 1 "h: no test/ or val/ folder" train --dataset folder --data "$T/h" --model "$T/img.model" $R
f; echo "ignored" >"$T/h/train/ant/README.txt"
expect 0 "90 train / 27 test images" train --dataset folder --data "$T/h" --model "$T/img.model" --batch 16 $R --out "$T/rtxt"
# ---- the image fixture (tests/test_data.c compares lrlab's decoding and resizing with it) is PIL's ----
if "$PY" -c 'import PIL' >/dev/null 2>&1; then
    "$PY" tests/torch/image_fixture.py "$T/fixture" >/dev/null 2>&1
    check "tests/fixtures/images/expected.txt is what tests/torch/image_fixture.py writes with this PIL" \
        cmp -s tests/fixtures/images/expected.txt "$T/fixture/expected.txt"
else
    skip "python3-pil not installed: the image fixture is not checked against PIL"
fi
summary data_formats_test
