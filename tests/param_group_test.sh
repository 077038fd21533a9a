#!/bin/sh
# tests/param_group_test.sh: --param-group end to end on the synthetic data
# with resnet20 (biases of none, BatchNorm): refused selectors, keys and
# values (exit 2, a caret under the text), a group that takes no parameter,
# a per-group list of the wrong length; config.txt records the groups in
# order; --resume mid-epoch with groups (a frozen one, a per-group
# OneCycleLR cycling beta1) is bit-identical; sweep files take groups
# (defaults' first); lrlab summary shows each parameter's group; find-lr
# refuses them. The numbers against PyTorch: tests/torch/train_models.py
# recipes (GROUP_RECIPES).
set -u
. tests/lib.sh
: "${SYNTH_DIR:?SYNTH_DIR must name a synthetic CIFAR-10 directory (tests/run.sh sets it)}"
T=$tmp
F="--data $SYNTH_DIR --model resnet20 --limit-train 96 --limit-test 32 --batch 32 --epochs 2 --threads 1 --seed 4"

# caret_under TEXT: the line after the quoted text has a caret under TEXT's first character in $T/out
caret_under() {
    awk -v t="$1" 'p { i = index(q, t); exit !(i > 0 && substr($0, i, 1) == "^") } /^  / { q = $0; p = 1 }' "$tmp/out"
}

# ---- refused: exit 2, the text with a caret ----
expect 2 "--param-group: expected 'SELECTOR: key=value, ...' (no ':')" train $F --param-group '@bias weight_decay=0'
# an empty --param-group drops the groups before it (a command line replaces a sweep file's)
"$LRLAB" summary --model resnet20 --param-group '@bias: weight_decay=0' --param-group '' \
    --param-group '@batchnorm: weight_decay=0' >"$T/groups" 2>&1
check "--param-group '' drops the groups before it: $(sed -n '/^Parameter groups/,/default/p' "$T/groups" | tr '\n' ' ')" \
    sh -c "grep -q '^  0  @batchnorm: weight_decay=0' '$T/groups' && ! grep -q '@bias' '$T/groups'"
expect 2 "unknown kind '@batchnrm'" train $F --param-group '@batchnrm: weight_decay=0'
check "the caret is under @batchnrm: $(cat "$T/out")" caret_under '@batchnrm'
expect 2 "unknown role 'bais'" train $F --param-group '@batchnorm.bais: lr=1'
expect 2 "unknown key 'weight_dcay' for SGD (did you mean weight_decay?)" train $F --param-group '@bias: weight_dcay=0'
check "the caret is under weight_dcay: $(cat "$T/out")" caret_under 'weight_dcay'
expect 2 "frozen takes True, False, until:N" train $F --param-group 'conv1.*: frozen=later'
expect 2 "expected a number of epochs >= 0 after 'until:'" train $F --param-group 'conv1.*: frozen=until:x'
expect 2 "Adam: Invalid beta parameter at index 0: 1.5 (as PyTorch's constructor checks)" \
    train $F --optim 'Adam()' --param-group '@batchnorm: betas=(1.5, 0.9)'
check "the caret is under the betas: $(cat "$T/out")" caret_under '(1.5, 0.9)'
expect 2 "lr_scale must be a number >= 0" train $F --param-group '@batchnorm: lr_scale=-2'
expect 2 "key 'lr' given twice" train $F --param-group '@batchnorm: lr=0.1, lr=0.2'
expect 2 "the selector takes no parameter of model resnet20" train $F --param-group 'layr1.*: lr=0.1' --out "$T/none"
check "a refused group made a run directory" [ ! -e "$T/none/checkpoint.safetensors" ]
check "the caret is under the selector: $(cat "$T/out")" caret_under 'layr1.*'
expect 2 "that an earlier group left" train $F --param-group '@batchnorm: lr=0.1' --param-group 'bn1.*: lr=0.2'
expect 2 "OneCycleLR: expected 2 values for max_lr, got 3" \
    train $F --param-group '@batchnorm: weight_decay=0' --sched 'OneCycleLR(max_lr=[0.1, 0.2, 0.3], total_steps=6)' --sched-unit step
expect 2 "--param-group does not apply" find-lr --data "$SYNTH_DIR" --model resnet20 --limit-train 96 --batch 32 --param-group '@batchnorm: lr=1'

# ---- a run with groups: config.txt, and --resume mid-epoch bit for bit ----
G="--optim AdamW(lr=1e-3) --label-smoothing 0.1 --sched OneCycleLR(max_lr=[0.01,0.003],total_steps=6) --sched-unit step"
"$LRLAB" train $F $G --param-group '@batchnorm|@bias: weight_decay=0, lr_scale=8' --param-group 'conv1.weight: frozen=until:1' \
    --sched 'OneCycleLR(max_lr=[0.01, 0.003, 0.002], total_steps=6)' --out "$T/ref" >"$T/out" 2>&1
check "the run with groups failed: $(tail -n 3 "$T/out")" [ -s "$T/ref/model.safetensors" ]
check "config.txt records the groups in order: $(grep param_group "$T/ref/config.txt" | tr '\n' '|')" \
    [ "$(grep '^param_group=' "$T/ref/config.txt" | tr '\n' '|')" = "param_group=@batchnorm|@bias: weight_decay=0, lr_scale=8|param_group=conv1.weight: frozen=until:1|" ]
"$LRLAB" train $F $G --param-group '@batchnorm|@bias: weight_decay=0, lr_scale=8' --param-group 'conv1.weight: frozen=until:1' \
    --sched 'OneCycleLR(max_lr=[0.01, 0.003, 0.002], total_steps=6)' --out "$T/res" --stop-at-step 2 >"$T/out" 2>&1
"$LRLAB" train --resume "$T/res" >"$T/out" 2>&1
check "--resume with groups failed: $(tail -n 3 "$T/out")" [ -s "$T/res/model.safetensors" ]
check "the resumed model.safetensors differs from the uninterrupted run's" cmp -s "$T/ref/model.safetensors" "$T/res/model.safetensors"
# the frozen group did not move in epoch 0: a run of one epoch keeps conv1.weight as initialised
"$LRLAB" train $F --epochs 1 --param-group 'conv1.weight: frozen=until:1' --out "$T/fz" >"$T/out" 2>&1
"$LRLAB" train $F --epochs 1 --param-group 'conv1.weight: frozen=from:1' --out "$T/nf" >"$T/out" 2>&1
"$LRLAB" train $F --epochs 1 --out "$T/plain" >"$T/out" 2>&1
check "frozen=from:1 trains epoch 0 as without the group" cmp -s "$T/plain/model.safetensors" "$T/nf/model.safetensors"
if cmp -s "$T/plain/model.safetensors" "$T/fz/model.safetensors"; then bad "frozen=until:1 changed nothing"; else ok; fi

# ---- sweep files: the defaults' groups, then the run's ----
cat >"$T/s.sweep" <<SWEEP
defaults $F --epochs 1 --param-group '@batchnorm: weight_decay=0'
run a --param-group 'conv1.*: lr=0.05'
SWEEP
"$LRLAB" sweep "$T/s.sweep" --out "$T/sw" >"$T/out" 2>&1
check "a sweep with groups: $(tail -n 2 "$T/out")" \
    [ "$(grep '^param_group=' "$T/sw/a/config.txt" | tr '\n' '|')" = "param_group=@batchnorm: weight_decay=0|param_group=conv1.*: lr=0.05|" ]
printf "defaults %s --epochs 1\nrun b --param-group '@bias: weight_dcay=0'\n" "$F" >"$T/s2.sweep"
expect 2 "unknown key 'weight_dcay'" sweep "$T/s2.sweep" --out "$T/sw2"

# ---- summary: each parameter's group; the last line stays the total ----
"$LRLAB" summary --model resnet20 --param-group '@batchnorm: weight_decay=0, lr_scale=4' --param-group 'conv1.*: frozen' >"$T/sum" 2>&1
check "summary shows bn1.bias in group 0: $(grep bn1.bias "$T/sum" | head -n 1)" grep -Eq '^bn1\.bias +16 +0$' "$T/sum"
check "summary shows conv1.weight frozen in group 1" grep -Eq '^conv1\.weight +432 +1$' "$T/sum"
check "summary shows the default group's parameters: $(grep layer1.0.conv1.weight "$T/sum")" grep -Eq '^layer1\.0\.conv1\.weight +2304 +2$' "$T/sum"
check "summary shows group 0's lr: $(grep '^  0 ' "$T/sum")" grep -q '^  0  @batchnorm: weight_decay=0, lr_scale=4 .*SGD(lr=0.04, momentum=0.9)' "$T/sum"
check "summary still ends in Total params" [ "$(tail -n 1 "$T/sum")" = "Total params: 269,722" ]

summary param_group_test
