#!/bin/sh
# tests/cli_test.sh: what a new user meets first, through the CLI ($LRLAB):
# `--flag=value` for every verb's flags; "did you mean" for a mistyped verb
# or flag; `lrlab --version`; `lrlab help VERB` equal to `VERB --help` for
# every verb, find-lr's help listing only what it takes; `train` without
# --out writing to a new runs/DATE-TIME (two started at once get two) and
# saying where the weights went; `eval` of a run directory, a checkpoint
# and a weights file with only test_batch.bin present; a PyTorch file named
# as one with the way to convert it; the progress line on a terminal (a
# pty from `script`) never wider than the terminal, with an ETA; a finite but absurd loss stopping the run as divergence (exit 3).
# Synthetic data: $SYNTH_DIR.
# Run from the repository root; prints "cli_test: N passed, N failed".
set -u
. tests/lib.sh
case "$LRLAB" in /*) ;; *) LRLAB=$(pwd)/$LRLAB ;; esac
: "${SYNTH_DIR:?SYNTH_DIR must name a synthetic CIFAR-10 directory (tests/run.sh sets it)}"
has() { grep -qF -- "$2" "$1"; } # has FILE TEXT
# runs CODE ARGS...: `lrlab ARGS` exits CODE (stdout and stderr in $tmp/out)
runs() {
    code=$1; shift
    "$LRLAB" "$@" >"$tmp/out" 2>&1; rc=$?
    if [ "$rc" -eq "$code" ]; then ok; else bad "lrlab $*: exit $rc, expected $code: $(tail -n 2 "$tmp/out")"; fi
}
printf 'input 3 32 32\nconv c1 8\nrelu\nmaxpool 4\nconv c2 16\nrelu\nmaxpool 4\nflatten\nlinear fc 10\n' >"$tmp/tiny"
T="--data $SYNTH_DIR --model $tmp/tiny --limit-train 128 --limit-test 64 --batch 64 --threads 1"

# ---- --version, help ----
runs 0 --version
check "--version prints lrlab and a version" grep -qE '^lrlab [0-9]+\.[0-9]+' "$tmp/out"
"$LRLAB" version >"$tmp/v2" 2>&1
check "lrlab version = lrlab --version" cmp -s "$tmp/out" "$tmp/v2"
for v in train summary bench schedule sweep plot report eval find-lr; do
    "$LRLAB" help "$v" >"$tmp/h1" 2>&1; rc1=$?
    "$LRLAB" "$v" --help >"$tmp/h2" 2>&1; rc2=$?
    check "help $v = $v --help, exit 0 ($rc1 $rc2)" sh -c "[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && cmp -s '$tmp/h1' '$tmp/h2'"
done
"$LRLAB" eval --help >"$tmp/h" 2>&1
for f in --model-file --model --data --limit-test --batch --threads --backend --conv-algo --precision; do
    check "eval --help lists $f" grep -qE -- "^  $f " "$tmp/h"
done
"$LRLAB" find-lr --help >"$tmp/h" 2>&1
check "find-lr --help: --out once" [ "$(grep -cE '^  --out ' "$tmp/h")" -eq 1 ]
for f in --lr --sched --epochs --limit-test --monitor; do
    check "find-lr --help does not list $f" sh -c "! grep -qE -- '^  $f ' '$tmp/h'"
done
check "find-lr --help lists --momentum" grep -qE -- '^  --momentum ' "$tmp/h"
"$LRLAB" bench --help >"$tmp/h" 2>&1
check "bench --help lists --conv-algo and --iters" sh -c "grep -qE -- '^  --conv-algo ' '$tmp/h' && grep -qE -- '^  --iters ' '$tmp/h'"

# ---- did you mean ----
runs 2 trian
check "unknown verb: did you mean train" has "$tmp/out" "unknown verb 'trian' (did you mean train?)"
runs 2 help trian
check "help of an unknown verb: did you mean" has "$tmp/out" "did you mean train?"
runs 2 train $T --weight-dcay 0.1
check "train: did you mean --weight-decay" has "$tmp/out" "unknown flag '--weight-dcay' (did you mean --weight-decay?"
runs 2 train --stop-at-stpe 3
check "train: did you mean --stop-at-step" has "$tmp/out" "did you mean --stop-at-step?"
runs 2 summary --modle vgg-seed
check "summary: did you mean --model" has "$tmp/out" "did you mean --model?"
runs 2 eval --model-flie x
check "eval: did you mean --model-file" has "$tmp/out" "did you mean --model-file?"
runs 2 schedule --lr 0.1 --epochs 3 --sched-unti step
check "schedule: did you mean --sched-unit" has "$tmp/out" "did you mean --sched-unit?"
runs 2 plot x -0 a.png
runs 2 report x --srot name
check "report: did you mean --sort" has "$tmp/out" "did you mean --sort?"
runs 2 find-lr --stpes 3
check "find-lr: did you mean --steps" has "$tmp/out" "did you mean --steps?"
runs 2 bench --itres 3
check "bench: did you mean --iters" has "$tmp/out" "did you mean --iters?"
printf 'run a --lr 0.1\nrun b --momentun 0.5\n' >"$tmp/typo.sweep"
printf 'run a --lr 0.1\nrun b --momentum 0.5\n' >"$tmp/good.sweep"
runs 2 sweep "$tmp/typo.sweep" --list
check "sweep file: did you mean --momentum" has "$tmp/out" "typo.sweep:2: unknown flag '--momentun' (did you mean --momentum?"
runs 2 sweep "$tmp/good.sweep" --jbos 2
check "sweep: did you mean --jobs" has "$tmp/out" "did you mean --jobs?"
runs 2 train --nonsense-flag 1
check "no near flag: no suggestion" sh -c "has() { grep -qF -- \"\$2\" \"\$1\"; }; has '$tmp/out' \"unknown flag '--nonsense-flag'\" && ! grep -q 'did you mean' '$tmp/out'"

# ---- --flag=value everywhere ----
runs 0 summary --model="$tmp/tiny" --batch=7
check "summary --model=F --batch=N" grep -qE '\[7, 8, 32, 32\]|7, 8, 32, 32' "$tmp/out"
runs 0 schedule --lr=0.1 --epochs=2 --sched=StepLR\(step_size=1\)
check "schedule --lr=..." sh -c "sed -n 2p '$tmp/out' | grep -q '^1 0.01'"
runs 2 plot "$tmp" -o="$tmp/x.txt"
check "plot -o=F is the output (bad extension named)" has "$tmp/out" "$tmp/x.txt: expected a file name ending in .png or .svg"
runs 0 sweep "$tmp/good.sweep" --list --out="$tmp/swout" --only=a --momentum=0.5
check "sweep --out=D --only=a" sh -c "[ \"\$(cat '$tmp/out')\" = '$tmp/swout/a' ]"
runs 0 train $T --epochs=1 --lr=0.05 --out="$tmp/eq"
check "train --epochs=1 --lr=0.05: config.txt" sh -c "grep -qx 'epochs=1' '$tmp/eq/config.txt' && grep -qx 'lr=0.050000000000000003' '$tmp/eq/config.txt'"
runs 0 eval --model-file="$tmp/eq/model.safetensors" --data="$SYNTH_DIR" --limit-test=64 --batch=64
check "eval --model-file=F" grep -q '^test_loss=' "$tmp/out"
runs 0 report "$tmp/eq" -o="$tmp/eq.md" --sort=name
check "report -o=F --sort=name" has "$tmp/eq.md" "| eq |"
runs 0 bench --model="$tmp/tiny" --batch=8 --iters=1 --warmup=0 --threads=1
check "bench --iters=1" grep -q '^train_step images_per_s=' "$tmp/out"
runs 0 find-lr --data="$SYNTH_DIR" --model="$tmp/tiny" --limit-train=128 --batch=64 --threads=1 --steps=3 -o="$tmp/lr.csv"
check "find-lr --steps=3 -o=F" sh -c "[ \$(wc -l <'$tmp/lr.csv') -eq 4 ]"

# ---- train without --out ----
mkdir -p "$tmp/cwd"
(cd "$tmp/cwd" && "$LRLAB" train $T --epochs 1 >"$tmp/a.out" 2>&1 & cd "$tmp/cwd" && "$LRLAB" train $T --epochs 1 >"$tmp/b.out" 2>&1; wait)
n=$(ls "$tmp/cwd/runs" 2>/dev/null | wc -l)
check "two runs without --out: two directories under runs/ ($n)" [ "$n" -eq 2 ]
for rd in "$tmp"/cwd/runs/*; do # (lib.sh's check uses $d)
    check "default run dir $(basename "$rd") is named DATE-TIME" sh -c "basename '$rd' | grep -qE '^[0-9]{8}-[0-9]{6}(-[0-9]+)?\$'"
    check "default run dir holds the weights" [ -s "$rd/model.safetensors" ]
done
rd=$(sed -n 's/^lrlab train: no --out: this run goes to //p' "$tmp/a.out")
check "train says where the run goes ($rd)" sh -c "[ -n '$rd' ] && [ -d '$tmp/cwd/$rd' ]"
check "train says where the weights went" has "$tmp/a.out" "lrlab train: the weights are in $rd/model.safetensors"
(cd "$tmp/cwd" && "$LRLAB" train $T --data "$tmp/no-such-data" >/dev/null 2>&1)
n=$(ls "$tmp/cwd/runs" | wc -l)
check "a run that fails at set-up leaves no directory behind ($n)" [ "$n" -eq 2 ]
mkdir -p "$tmp/cwd2"
(cd "$tmp/cwd2" && "$LRLAB" train $T --data "$tmp/no-such-data" >/dev/null 2>&1)
check "a run that fails at set-up removes the runs/ it made" [ ! -e "$tmp/cwd2/runs" ]

# ---- eval: run directory, checkpoint, weights; test_batch.bin only ----
mkdir -p "$tmp/testonly"
ln -s "$SYNTH_DIR/test_batch.bin" "$tmp/testonly/test_batch.bin"
E="--data $tmp/testonly --limit-test 64 --batch 64 --threads 1"
runs 0 eval "$tmp/eq" $E
cp "$tmp/out" "$tmp/e1"
check "eval RUN_DIR with test_batch.bin only" grep -q '^test_loss=' "$tmp/e1"
runs 0 eval "$tmp/eq/model.safetensors" $E
check "eval FILE = eval RUN_DIR" sh -c "grep '^test_loss' '$tmp/out' | cmp -s - \"\$(grep '^test_loss' '$tmp/e1' >'$tmp/e1l'; echo '$tmp/e1l')\""
runs 0 train $T --epochs 2 --out "$tmp/half" --stop-at-step 2
runs 0 eval "$tmp/half" $E
check "eval of an unfinished run: its checkpoint, said" has "$tmp/out" "has no model.safetensors yet (the run is not finished): its checkpoint"
check "eval of a checkpoint gives results" grep -q '^test_loss=' "$tmp/out"
runs 0 eval "$tmp/half/checkpoint.safetensors" $E
runs 1 eval "$tmp/testonly" $E
check "eval of a directory without weights" has "$tmp/out" "not a run directory that has trained"
runs 2 eval $E
check "eval without weights: usage" has "$tmp/out" "which weights?"
runs 2 eval "$tmp/eq" --epochs 3 $E
check "eval: a training flag is named as one" has "$tmp/out" "--epochs is a training flag"
# PyTorch files: a zip (torch.save since 1.6) and a bare pickle
printf 'PK\003\004\024\000\000\000\010\000archive/data.pkl' >"$tmp/model.pt"
runs 1 eval "$tmp/model.pt" $E --model "$tmp/tiny"
check "a .pt zip is named a PyTorch file" has "$tmp/out" "model.pt: a PyTorch file (torch.save's pickle in a zip archive), not safetensors"
check "and how to convert it" has "$tmp/out" 'safetensors.torch.save_file(model.state_dict(), "model.safetensors")'
printf '\200\002\175q\000(X\006\000\000\000conv1.q\001' >"$tmp/old.pth"
runs 1 train $T --init "$tmp/old.pth" --out "$tmp/init"
check "--init of a bare pickle is named a PyTorch file" has "$tmp/out" "old.pth: a PyTorch file (torch.save's pickle), not safetensors"

# ---- paths from another working directory ----
# the default --data: none here, so the one beside the executable (a build tree's data/)
mkdir -p "$tmp/tree/build" "$tmp/tree/data" "$tmp/elsewhere/m"
cp "$LRLAB" "$tmp/tree/build/lrlab"
ln -s "$SYNTH_DIR" "$tmp/tree/data/cifar-10-batches-bin"
(cd "$tmp/elsewhere" && env -u CIFAR10_DIR "$tmp/tree/build/lrlab" train --model "$tmp/tiny" --limit-train 128 \
    --limit-test 64 --batch 64 --threads 1 --epochs 1 --out r >"$tmp/out" 2>&1)
check "default --data beside the executable, from another directory: $(tail -n 1 "$tmp/out")" \
    [ -s "$tmp/elsewhere/r/model.safetensors" ]
# a sweep file's relative paths: from the working directory of lrlab sweep
cp "$tmp/tiny" "$tmp/elsewhere/m/tiny"
mkdir -p "$tmp/sw"
printf 'run a --model m/tiny --limit-train 128 --limit-test 64 --batch 64 --threads 1 --epochs 1\n' >"$tmp/sw/p.sweep"
(cd "$tmp/elsewhere" && "$LRLAB" sweep "$tmp/sw/p.sweep" --data "$SYNTH_DIR" --out o >"$tmp/out" 2>&1)
check "sweep: --model m/tiny from the working directory: $(tail -n 1 "$tmp/out")" [ -s "$tmp/elsewhere/o/a/model.safetensors" ]
check "sweep: the run records the model's absolute path" grep -qx "model=$tmp/elsewhere/m/tiny" "$tmp/elsewhere/o/a/config.txt"

# ---- the progress line on a terminal ----
if command -v script >/dev/null 2>&1; then
    # no terminal behind script's pty has a size: $COLUMNS gives it
    COLUMNS=44 script -qec "'$LRLAB' train $T --limit-train 512 --epochs 2 --out '$tmp/bar'" /dev/null \
        </dev/null >"$tmp/pty" 2>&1
    tr '\r' '\n' <"$tmp/pty" | sed 's/\x1b\[K//g' >"$tmp/lines"
    long=$(awk 'length($0) > 43' "$tmp/lines" | grep -v '^lrlab train\|^epoch [0-9]*: ' | head -n 1)
    check "progress lines fit 44 columns: '$long'" [ -z "$long" ]
    check "progress line: an ETA" grep -qE '^epoch 0 .*ETA [0-9]+s' "$tmp/lines"
    check "progress line: the test pass" grep -qE '^epoch 1 test .*[0-9]+/[0-9]+$' "$tmp/lines"
    COLUMNS=200 script -qec "'$LRLAB' train $T --epochs 1 --out '$tmp/bar2'" /dev/null </dev/null >"$tmp/pty" 2>&1
    check "a wide terminal gets a bar" grep -qF '[====' "$tmp/pty"
else
    skip "cli_test: no script(1) (util-linux) for a pty: the progress line is not tested"
fi

# ---- divergence: a finite but absurd loss ----
runs 3 train $T --epochs 2 --lr 1e5 --out "$tmp/div"
check "an absurd loss is divergence, with its value" grep -qE 'training diverged at epoch 0, step 1 .*the loss is [0-9.e+]+ \(above 10000' "$tmp/out"

echo "cli_test: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
