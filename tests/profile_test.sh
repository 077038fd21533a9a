#!/bin/sh
# tests/profile_test.sh: `lrlab train --profile` and `lrlab bench --profile`
# (lrlab/profile.h): a forward and a backward row for every layer, a row for
# every phase of a step (data wait, loss, gradients, optimiser, averages)
# and for the evaluation and TTA passes, shares that add up to 100%, the
# table in the log and profile.csv in the run directory, also for a run
# stopped and resumed; and the weights are the same bytes as without
# --profile, with oneDNN and with the reference backend. No timing is
# checked. Synthetic data in $SYNTH_DIR (tests/run.sh makes it).
set -u
. tests/lib.sh
case "$LRLAB" in /*) ;; *) LRLAB=$(pwd)/$LRLAB ;; esac
: "${SYNTH_DIR:?SYNTH_DIR must name a synthetic CIFAR-10 directory (tests/run.sh sets it)}"
T=$tmp
cat >"$T/small.model" <<'M'
input 3 32 32
conv c1 16 pad=1 bias=1
batchnorm bn1
relu
maxpool 2
conv c2 16 pad=1
gelu
flatten
linear fc 10
M
LAYERS=8
TR="--data $SYNTH_DIR --model $T/small.model --limit-train 256 --limit-test 128 --batch 64 --epochs 2
    --lr 0.02 --threads 1 --conv-algo direct --ema 0.9 --tta 1"

# rows PHASE FILE: the CSV rows of PHASE
rows() { grep -c "^$1," "$2"; }
# well_formed FILE WHAT: header, a forward and a backward row per layer (in
# the same order), each phase once, shares that add up to 100%
well_formed() {
    f=$1 what=$2
    check "$what: the header" [ "$(head -n 1 "$f")" = "phase,layer,kind,shape,seconds,ms_per_step,share_pct" ]
    grep '^forward,' "$f" | cut -d, -f2-4 >"$T/fwd"; grep '^backward,' "$f" | cut -d, -f2-4 >"$T/bwd"
    check "$what: not $LAYERS layers and the time outside them in forward: $(cat "$T/fwd" | tr '\n' '|')" \
        [ "$(wc -l <"$T/fwd")" -eq $((LAYERS + 1)) ]
    check "$what: backward's rows are not forward's layers" cmp -s "$T/fwd" "$T/bwd"
    check "$what: no row of layer c1 (Conv2d, 64x16x32x32)" grep -q '^forward,c1,Conv2d,64x16x32x32,' "$f"
    check "$what: no row of layer fc (Linear, 64x10)" grep -q '^backward,fc,Linear,64x10,' "$f"
    check "$what: no row of the unnamed ReLU-3" grep -q '^forward,ReLU-3,ReLU,' "$f"
    shift 2
    for ph in "$@" other total; do check "$what: not one $ph row" [ "$(rows "$ph" "$f")" -eq 1 ]; done
    sum=$(grep -v '^phase,\|^total,' "$f" | awk -F, '{ s += $7 } END { printf "%.2f", s }')
    check "$what: the shares add up to $sum%, not 100%" awk "BEGIN { exit !($sum > 99.8 && $sum < 100.2) }"
    check "$what: total's share is not 100.00" [ "$(grep '^total,' "$f" | cut -d, -f7)" = "100.00" ]
}

# shellcheck disable=SC2086
"$LRLAB" train $TR --out "$T/plain" >"$T/out" 2>&1
check "train: exit $?: $(tail -n 2 "$T/out")" [ -f "$T/plain/model.safetensors" ]
check "train without --profile wrote profile.csv" [ ! -e "$T/plain/profile.csv" ]
# shellcheck disable=SC2086
"$LRLAB" train $TR --out "$T/prof" --profile >"$T/log" 2>&1
check "train --profile: exit $?: $(tail -n 2 "$T/log")" [ -f "$T/prof/model.safetensors" ]
check "train --profile: the weights differ from a run without it" cmp -s "$T/plain/model.safetensors" "$T/prof/model.safetensors"
check "train --profile: no profile.csv" [ -f "$T/prof/profile.csv" ]
well_formed "$T/prof/profile.csv" "train --profile" data loss gradients optimiser averages eval tta
check "train --profile: no table in the log" grep -q '^phase  *layer  *kind  *shape  *seconds  *ms/step  *share%$' "$T/log"
check "train --profile: the heading's steps (8)" grep -q '^# profile: model small.model, batch 64, 8 steps in ' "$T/log"
check "train --profile: no layers in the heading" grep -q '^# most time: ' "$T/log"
check "train --profile: the table's rows are not the CSV's" \
    [ "$(grep -c '^\(forward\|backward\)  ' "$T/log")" -eq $((2 * LAYERS + 2)) ]

# stopped, then resumed with --profile: each part's profile; the same weights
"$LRLAB" train $TR --out "$T/stop" --profile --stop-at-step 3 >"$T/out" 2>&1
check "--stop-at-step 3 --profile: exit $?: no profile.csv" [ -f "$T/stop/profile.csv" ]
check "--stop-at-step 3 --profile: not 3 steps" grep -q ' 3 steps in ' "$T/out"
"$LRLAB" train --resume "$T/stop" --profile >"$T/out" 2>&1
check "--resume --profile: exit $?: $(tail -n 2 "$T/out")" grep -q ' 5 steps in ' "$T/out"
well_formed "$T/stop/profile.csv" "--resume --profile" data loss gradients optimiser averages eval tta
check "--resume --profile: the weights differ" cmp -s "$T/plain/model.safetensors" "$T/stop/model.safetensors"

# the reference backend: the same weights with and without --profile
R="--backend ref --epochs 1 --ema 0 --tta 0"
# shellcheck disable=SC2086
"$LRLAB" train $TR $R --out "$T/ref" >"$T/out" 2>&1
# shellcheck disable=SC2086
"$LRLAB" train $TR $R --out "$T/refp" --profile >"$T/out" 2>&1
check "--backend ref --profile: exit $?: $(tail -n 2 "$T/out")" [ -f "$T/refp/profile.csv" ]
check "--backend ref --profile: the weights differ" cmp -s "$T/ref/model.safetensors" "$T/refp/model.safetensors"
well_formed "$T/refp/profile.csv" "--backend ref --profile" data loss gradients optimiser eval
check "--backend ref --profile: rows of phases not timed (averages, tta)" \
    [ "$(grep -c '^averages,\|^tta,' "$T/refp/profile.csv")" -eq 0 ]

# bench --profile: the table of its timed steps
"$LRLAB" bench --model "$T/small.model" --batch 16 --iters 2 --warmup 1 --threads 1 --conv-algo direct --profile \
    >"$T/bench" 2>&1
check "bench --profile: exit $?: $(tail -n 2 "$T/bench")" grep -q '^train_step images_per_s=' "$T/bench"
check "bench --profile: not 2 steps" grep -q '^# profile: model small.model, batch 16, 2 steps in ' "$T/bench"
check "bench --profile: not a forward and a backward row per layer" \
    sh -c "[ \$(grep -c '^forward  ' '$T/bench') -eq $((LAYERS + 1)) ] && [ \$(grep -c '^backward  ' '$T/bench') -eq $((LAYERS + 1)) ]"
for ph in loss optimiser other total; do check "bench --profile: no $ph row" grep -q "^$ph " "$T/bench"; done
check "bench --profile: a data or eval row" sh -c "! grep -q '^\(data\|eval\) ' '$T/bench'"
"$LRLAB" bench --model "$T/small.model" --batch 16 --iters 1 --warmup 0 --threads 1 --conv-algo direct >"$T/bench" 2>&1
check "bench without --profile printed a table" sh -c "! grep -q '^phase ' '$T/bench'"

expect 2 "unknown flag '--profile=1'" train --profile=1 --data "$SYNTH_DIR"
summary profile_test
