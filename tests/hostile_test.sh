#!/bin/sh
# tests/hostile_test.sh: `lrlab train` given hostile input. Each case must
# end with the expected non-zero exit status (2 for a bad flag value or schedule, 1 for
# a bad file), one message naming the flag or file and the value, no crash
# (no signal), no hang (a generous `timeout` only guards the suite), and
# nothing in an existing run directory overwritten. Cases: command-line
# values, schedule expressions, data files, model descriptions, --init
# weights files (huge header length, offsets out of range, wrong dtype or
# shape, duplicate names, another model's file), damaged checkpoints on
# --resume, and unwritable output directories. Synthetic data: $SYNTH_DIR.
# Not the readers' unit tests (tests/test_checkpoint.c, test_safetensors.c,
# test_data.c, test_net.c); not resume itself (tests/resume_test.sh).
set -u
. tests/lib.sh
case "$LRLAB" in /*) ;; *) LRLAB=$(pwd)/$LRLAB ;; esac
: "${SYNTH_DIR:?SYNTH_DIR must name a synthetic CIFAR-10 directory (tests/run.sh sets it)}"
T=$tmp
D="--data $SYNTH_DIR --limit-train 128 --limit-test 64 --batch 64 --epochs 1 --threads 1"

# expect CODE REGEX ARGS...: `lrlab ARGS` exits CODE and prints a line matching REGEX.
expect() {
    code=$1; re=$2; shift 2
    timeout 300 "$LRLAB" "$@" >"$T/out" 2>&1; rc=$?
    if [ $rc -ne "$code" ]; then
        bad "lrlab $*: exit $rc, expected $code$( [ $rc -ge 124 ] && echo ' (a hang or a crash)'): $(tail -n 3 "$T/out")"
    elif ! grep -Eq -- "$re" "$T/out"; then
        bad "lrlab $*: message does not match '$re': $(tail -n 3 "$T/out")"
    else
        ok
    fi
}

# st_raw OUT HEADER DATA_BYTES: a safetensors file by hand (8-byte LE length, header, zero data).
st_raw() {
    n=${#2}
    printf "$(printf '\\%03o\\%03o\\%03o\\%03o\\000\\000\\000\\000' $((n & 255)) $((n >> 8 & 255)) $((n >> 16 & 255)) $((n >> 24 & 255)))" >"$1"
    printf '%s' "$2" >>"$1"
    head -c "$3" /dev/zero >>"$1"
}

# ---- command-line values: exit 2 before anything is read or written ----
expect 2 "--batch.*0" train $D --batch 0
expect 2 "--batch" train $D --batch -3
expect 2 "--batch" train $D --batch 1e3
expect 2 "--batch" train $D --batch ""
expect 2 "--epochs.*-1" train $D --epochs -1
expect 2 "--epochs" train $D --epochs 0
expect 2 "--lr.*'abc'" train $D --lr abc
expect 2 "--lr" train $D --lr -0.1
expect 2 "--lr" train $D --lr nan
expect 2 "--lr" train $D --lr inf
expect 2 "--lr" train $D --lr 0.1x
expect 2 "--momentum" train $D --momentum 1.5
expect 2 "--threads.*99999" train $D --threads 99999
expect 2 "--limit-train.*-5" train $D --limit-train -5
expect 2 "--seed" train $D --seed -1
expect 2 "--seed" train $D --seed 99999999999999999999999
expect 2 "--val" train $D --val -1
expect 2 "--sched-unit.*'week'" train $D --sched-unit week
expect 2 "--backend.*'cuda'" train $D --backend cuda
expect 2 "--monitor.*'accuracy'" train $D --monitor accuracy
expect 2 "missing value" train $D --lr
expect 2 "unknown flag '--learning-rate'" train $D --learning-rate 0.1
expect 2 "--stop-at-step" train $D --stop-at-step 0
expect 2 "--stop-at-step" train $D --stop-at-step ten
expect 2 "--stop-at-epoch" train $D --stop-at-epoch 0
expect 2 "--resume: missing" train --resume
# values that need the data to be judged: exit 1, naming the flag
expect 1 "--limit-train" train $D --limit-train 99999999
expect 1 "--limit-test" train $D --limit-test 20000
expect 1 "--val 128" train $D --val 128
expect 1 "--val 5000" train $D --val 5000
expect 1 "--batch 256.*128 training images" train $D --batch 256
expect 1 "--batch 64.*58 training images" train $D --val 70
expect 1 "--monitor val_loss.*--val" train $D --monitor val_loss

# ---- schedule expressions: usage errors (exit 2), as in `lrlab schedule` and sweep ----
expect 2 "Nope" train $D --sched "Nope()"
expect 2 "StepLR" train $D --sched "StepLR("
expect 2 "step_size" train $D --sched "StepLR(step_size=0)"
expect 2 "gamma" train $D --sched "StepLR(step_size=2, gamma=abc)"
expect 2 "--sched.*longer" train $D --sched "$(head -c 3000 /dev/zero | tr '\0' '(')"
expect 2 "sched" train $D --sched "$(head -c 2000 /dev/zero | tr '\0' '(')"
expect 2 "the run steps it 2 times.*total steps is 1" train $D --epochs 2 --sched "OneCycleLR(max_lr=0.1, total_steps=1)"
expect 2 "Nesterov momentum requires a momentum and zero dampening" train $D --nesterov --momentum 0
expect 2 "Nesterov momentum requires a momentum and zero dampening" train $D --nesterov --dampening 0.1

# ---- data files ----
expect 1 "make data" train $D --data "$T/no-such-dir"
mkdir "$T/data"
for f in "$SYNTH_DIR"/*; do ln -s "$f" "$T/data/"; done
rm "$T/data/test_batch.bin"; head -c 30000000 "$SYNTH_DIR/test_batch.bin" >"$T/data/test_batch.bin"
expect 1 "test_batch.bin" train $D --data "$T/data"
rm "$T/data/data_batch_3.bin"; printf 'not a cifar file' >"$T/data/data_batch_3.bin"
expect 1 "data_batch_3.bin" train $D --data "$T/data"
expect 1 "" train $D --data "$SYNTH_DIR/test_batch.bin"
expect 2 "--dataset 'cifar11': expected one of cifar10" train $D --dataset cifar11

# ---- model descriptions ----
expect 1 "--model no-such-model" train $D --model no-such-model
printf 'this is not\na model at all\n' >"$T/garbage.model"
expect 1 "garbage.model:1" train $D --model "$T/garbage.model"
head -c 4096 /dev/urandom >"$T/binary.model"
expect 1 "binary.model" train $D --model "$T/binary.model"
head -c 10485760 /dev/zero | tr '\0' '#' >"$T/big.model"
expect 1 "big.model.*larger than" train $D --model "$T/big.model"
printf 'input 3 32 32\nblock b N\nconv c$N 4\nend\nrepeat 1000 b $i\nrepeat 30 b x$i\nflatten\nlinear fc 10\n' >"$T/deep.model"
expect 1 "deep.model:3 \(in block 'b' used at line 6\): more than 1024 layers" train $D --model "$T/deep.model"
{ echo "input 3 32 32"; i=0; while [ $i -lt 70 ]; do echo "conv c$i 4"; i=$((i + 1)); done; echo flatten; echo "linear fc 10"; } >"$T/chain70.model"
expect 0 "" train $D --model "$T/chain70.model" --conv-algo direct --out "$T/chain70.run"  # deeper than the oneDNN executor once ran
printf 'input 3 32 32\nconv c1 70000\nflatten\nlinear fc 10\n' >"$T/wide.model"
expect 1 "wide.model:2.*70000" train $D --model "$T/wide.model"
printf 'input 3 32 32\nconv c1 65536\nconv c2 65536\nflatten\nlinear fc 10\n' >"$T/params.model"
expect 1 "params.model.*parameters" train $D --model "$T/params.model"
# accepted by the parser, but its activations need hundreds of GB: a clean refusal
printf 'input 3 32 32\nconv c1 65536 k=1 pad=64\nrelu\nmaxpool 64\nflatten\nlinear fc 10\n' >"$T/huge.model"
expect 1 "memory" train $D --model "$T/huge.model"
expect 1 "memory" train $D --model "$T/huge.model" --backend ref
printf 'input 1 28 28\nconv c1 4\nflatten\nlinear fc 10\n' >"$T/mnist.model"
expect 1 "--model .*mnist.model: input 1x28x28 and 10 classes, but --dataset cifar10 .* has 3x32x32 images and 10 classes" \
    train $D --model "$T/mnist.model"
printf 'input 3 32 32\nconv c1 4\nflatten\nlinear fc 5\n' >"$T/five.model"
expect 1 "five.model.*10" train $D --model "$T/five.model"

# ---- --init weights files ----
"$LRLAB" train $D --out "$T/w" >/dev/null 2>&1
check "a weights file to damage: run failed" [ -s "$T/w/model.safetensors" ]
printf 'input 3 32 32\nconv conv1 4\nrelu\nmaxpool 4\nflatten\nlinear fc2 10\n' >"$T/small.model"
"$LRLAB" train $D --model "$T/small.model" --out "$T/small" >/dev/null 2>&1
check "a small model's run failed" [ -s "$T/small/model.safetensors" ]
expect 1 "--init.*no-such.safetensors|no-such.safetensors" train $D --init "$T/no-such.safetensors"
head -c 2000000 "$T/w/model.safetensors" >"$T/trunc.safetensors"
expect 1 "trunc.safetensors" train $D --init "$T/trunc.safetensors"
printf '\377\377\377\377\377\377\377\377{}' >"$T/hugeheader.safetensors"
expect 1 "hugeheader.safetensors" train $D --init "$T/hugeheader.safetensors"
st_raw "$T/range.safetensors" '{"conv1.weight":{"dtype":"F32","shape":[32,3,3,3],"data_offsets":[0,3456000]}}' 3456
expect 1 "range.safetensors" train $D --init "$T/range.safetensors"
st_raw "$T/dtype.safetensors" '{"conv1.weight":{"dtype":"F64","shape":[32,3,3,3],"data_offsets":[0,6912]}}' 6912
expect 1 "dtype.safetensors.*conv1.weight" train $D --init "$T/dtype.safetensors"
st_raw "$T/shape.safetensors" '{"conv1.weight":{"dtype":"F32","shape":[32,3,5,5],"data_offsets":[0,9600]}}' 9600
expect 1 "shape.safetensors.*conv1.weight" train $D --init "$T/shape.safetensors"
st_raw "$T/dup.safetensors" '{"conv1.weight":{"dtype":"F32","shape":[32,3,3,3],"data_offsets":[0,3456]},"conv1.weight":{"dtype":"F32","shape":[32,3,3,3],"data_offsets":[3456,6912]}}' 6912
expect 1 "dup.safetensors" train $D --init "$T/dup.safetensors"
expect 1 "model.safetensors.*conv1.weight.*shape" train $D --init "$T/small/model.safetensors"
expect 1 "checkpoint.safetensors: a checkpoint of .lrlab train., not a weights file: give the run's model.safetensors" \
    train $D --init "$T/w/checkpoint.safetensors"
# a BatchNorm model's files: num_batches_tracked may be absent (PyTorch's BatchNorm loads such a
# state_dict with 0), a tensor the model lacks is named, a running variance must be finite and >= 0
printf 'input 3 32 32\nconv c 2 k=1\nbatchnorm bn\nglobal_avgpool\nflatten\nlinear fc 10\n' >"$T/bn.model"
BN='"c.weight":{"dtype":"F32","shape":[2,3,1,1],"data_offsets":[0,24]},"bn.weight":{"dtype":"F32","shape":[2],"data_offsets":[24,32]},"bn.bias":{"dtype":"F32","shape":[2],"data_offsets":[32,40]},"bn.running_mean":{"dtype":"F32","shape":[2],"data_offsets":[40,48]},"bn.running_var":{"dtype":"F32","shape":[2],"data_offsets":[48,56]},"fc.weight":{"dtype":"F32","shape":[10,2],"data_offsets":[56,136]}'
st_raw "$T/nonbt.safetensors" "{$BN}" 136
"$LRLAB" train $D --model "$T/bn.model" --init "$T/nonbt.safetensors" --out "$T/nonbt" >"$T/out" 2>&1
check "--init without num_batches_tracked (as PyTorch, 0): $(tail -n 1 "$T/out")" [ -s "$T/nonbt/model.safetensors" ]
st_raw "$T/extra.safetensors" "{$BN,\"zz.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[136,140]}}" 140
expect 1 "extra.safetensors: tensor 'zz.weight' is not in model 'bn.model': not this model's file" train $D --model "$T/bn.model" --init "$T/extra.safetensors"
cp "$T/nonbt.safetensors" "$T/nanvar.safetensors"
printf '\000\000\300\177' | dd of="$T/nanvar.safetensors" bs=1 seek=$((8 + ${#BN} + 2 + 48)) conv=notrunc 2>/dev/null
expect 1 "nanvar.safetensors: bn.running_var\[0\] is nan: expected a finite variance >= 0" train $D --model "$T/bn.model" --init "$T/nanvar.safetensors"
expect 1 "config.txt" train $D --init "$T/w/config.txt"

# ---- damaged checkpoints on --resume: refused, nothing in the run directory changes ----
"$LRLAB" train $D --epochs 2 --out "$T/r" --stop-at-step 1 >/dev/null 2>&1
check "a run to damage: no checkpoint" [ -s "$T/r/checkpoint.safetensors" ]
cp -R "$T/r" "$T/r.orig"
resume_damaged() { # resume_damaged NAME REGEX: $T/r with a damaged checkpoint is refused, untouched
    cp -R "$T/r" "$T/$1"
    cp "$T/bad.ckpt" "$T/$1/checkpoint.safetensors"
    cp -R "$T/$1" "$T/$1.before"
    expect 1 "$2" train --resume "$T/$1"
    check "--resume of a damaged checkpoint ($1) changed the run directory" diff -r "$T/$1.before" "$T/$1"
}
head -c 3000000 "$T/r/checkpoint.safetensors" >"$T/bad.ckpt"
resume_damaged truncated "checkpoint.safetensors"
head -c 100 "$T/r/checkpoint.safetensors" >"$T/bad.ckpt"
resume_damaged truncated-header "checkpoint.safetensors"
: >"$T/bad.ckpt"
resume_damaged empty "checkpoint.safetensors"
{ printf '\377\377\377\377\377\377\377\177'; tail -c +9 "$T/r/checkpoint.safetensors"; } >"$T/bad.ckpt"
resume_damaged huge-header "checkpoint.safetensors"
cp "$T/r/checkpoint.safetensors" "$T/bad.ckpt"
printf 'garbage!' | dd of="$T/bad.ckpt" bs=1 seek=2000000 conv=notrunc 2>/dev/null
resume_damaged damaged-data "checkpoint.safetensors: damaged"
"$LRLAB" train $D --model "$T/small.model" --out "$T/rs" --stop-at-step 1 >/dev/null 2>&1
cp "$T/rs/checkpoint.safetensors" "$T/bad.ckpt"
resume_damaged other-model "checkpoint.safetensors.*(tensors|not this model)"
cp "$T/w/model.safetensors" "$T/bad.ckpt"
resume_damaged weights-only "checkpoint.safetensors.*not an lrlab checkpoint"
cp -R "$T/r" "$T/badcfg"; printf 'lr=fast\n' >>"$T/badcfg/config.txt"
expect 2 "config.txt:[0-9]+.*'fast'" train --resume "$T/badcfg"
check "the original run directory was touched" diff -r "$T/r.orig" "$T/r"

# ---- unwritable output directories ----
printf 'x' >"$T/afile"
expect 1 "--out.*afile/run" train $D --out "$T/afile/run"
expect 1 "--out.*not a directory" train $D --out "$T/afile"
check "--out onto a file changed it" [ "$(cat "$T/afile")" = x ]
if [ -e /dev/full ]; then
    expect 1 "--out /dev/full" train $D --out /dev/full
fi

echo "hostile_test: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
