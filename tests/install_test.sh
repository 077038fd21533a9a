#!/bin/sh
# tests/install_test.sh: `make install` into a staging DESTDIR (PREFIX
# /opt/lrlab) puts the program, its models, sweep files and docs in place,
# and the installed program runs from another directory: `summary` finds
# the seed's model, `sweep seed --list` finds the sweep file, a tiny `train`
# runs; `make uninstall` takes it all away again. Synthetic data: $SYNTH_DIR.
# Run from the repository root; prints "install_test: N passed, N failed".
set -u
. tests/lib.sh
: "${SYNTH_DIR:?SYNTH_DIR must name a synthetic CIFAR-10 directory (tests/run.sh sets it)}"
build=$(dirname "$LRLAB")
stage=$tmp/stage
if make -s install BUILD="$build" DESTDIR="$stage" PREFIX=/opt/lrlab >"$tmp/make.out" 2>&1; then ok
else bad "make install: $(tail -n 3 "$tmp/make.out")"; fi
bin=$stage/opt/lrlab/bin/lrlab
for f in bin/lrlab share/lrlab/models/vgg-seed share/lrlab/experiments/seed.sweep share/doc/lrlab/README.md \
    share/doc/lrlab/docs/tools.md; do
    check "installed: $f" [ -s "$stage/opt/lrlab/$f" ]
done
check "the installed program is executable" [ -x "$bin" ]
mkdir -p "$tmp/elsewhere"
cd "$tmp/elsewhere" || exit 1
"$bin" summary >"$tmp/summary" 2>&1
check "installed summary finds vgg-seed from another directory" grep -q 'Total params: 688,224' "$tmp/summary"
"$bin" sweep seed --list >"$tmp/list" 2>&1
check "installed sweep finds experiments/seed.sweep" grep -qx 'runs/seed/const-lr0.01' "$tmp/list"
if "$bin" train --data "$SYNTH_DIR" --limit-train 128 --limit-test 64 --batch 64 --epochs 1 --threads 1 --out run \
    >"$tmp/train" 2>&1; then ok; else bad "installed train: $(tail -n 2 "$tmp/train")"; fi
check "installed train wrote its weights" [ -s "$tmp/elsewhere/run/model.safetensors" ]
cd - >/dev/null || exit 1
make -s uninstall DESTDIR="$stage" PREFIX=/opt/lrlab >/dev/null 2>&1
check "uninstall removes the program and its share" sh -c "[ ! -e '$bin' ] && [ ! -e '$stage/opt/lrlab/share/lrlab' ]"
echo "install_test: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
