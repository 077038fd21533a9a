#!/bin/sh
# tests/valgrind_test.sh: end-to-end `lrlab train --backend ref` under
# valgrind's memcheck (--error-exitcode=99 --leak-check=full): a run stopped
# mid-epoch by --stop-at-step (checkpoint written), then its --resume to the
# end (checkpoint read, metrics, steps.csv, final weights), then a hostile
# --resume of a truncated checkpoint (the error path frees everything too).
# Each must be free of memory errors and leaks. KEEP=1 keeps the logs.
#
# Why a separate build: build/lrlab is compiled with -march=native, and
# valgrind 3.19 does not know AVX-512 instructions (SIGILL), so this test
# builds build-valgrind/lrlab with OPT="-O1 -g" (or uses $VALGRIND_LRLAB).
# Why --backend ref: oneDNN generates AVX-512 code at run time (its JIT),
# which is beyond valgrind, so the oneDNN path is checked by `make asan`
# instead. Why a small model: the plain-C kernels under valgrind take about
# 9 minutes for two steps of the seed's VGG (clean; VALGRIND_MODEL=vgg-seed
# runs it); the tiny CIFAR model below goes through every code path (conv,
# relu, maxpool, flatten, linear, loss, SGD) in seconds. Prints a SKIP line
# when valgrind is missing.
set -u
. tests/lib.sh
if ! command -v valgrind >/dev/null 2>&1; then
    skip "valgrind_test: valgrind not installed (Debian: apt-get install valgrind)"
    summary valgrind_test; exit
fi
: "${SYNTH_DIR:?SYNTH_DIR must name a synthetic CIFAR-10 directory (tests/run.sh sets it)}"
T=$tmp; [ -z "${KEEP:-}" ] || trap - EXIT

L=${VALGRIND_LRLAB:-}
if [ -z "$L" ]; then
    # a clean environment: under `make asan` the outer make's sanitizer flags would ride along in MAKEFLAGS
    if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s BUILD=build-valgrind OPT="-O1 -g" LDFLAGS=-fopenmp \
            build-valgrind/lrlab >"$T/build.log" 2>&1; then
        bad "cannot build build-valgrind/lrlab: $(tail -n 5 "$T/build.log")"
        summary valgrind_test; exit
    fi
    L=build-valgrind/lrlab
fi
printf 'input 3 32 32\nconv c1 4\nrelu\nmaxpool 2\nconv c2 8 k=3 stride=2\nrelu\nmaxpool 2\nflatten\nlinear fc1 16\nrelu\nlinear fc2 10\n' >"$T/tiny.model"
MODEL=${VALGRIND_MODEL:-$T/tiny.model}
F="--backend ref --model $MODEL --data $SYNTH_DIR --limit-train 64 --limit-test 32 --batch 32 --epochs 2 --threads 1
   --log-steps --val 16 --sched ReduceLROnPlateau(patience=0) --monitor val_loss"

# vg NAME EXPECTED_STATUS ARGS...: lrlab under memcheck; errors or leaks exit 99.
vg() {
    name=$1; want=$2; shift 2
    valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible \
        --log-file="$T/$name.vg" "$L" "$@" >"$T/$name.out" 2>&1
    rc=$?
    if [ $rc -eq "$want" ] && grep -q "ERROR SUMMARY: 0 errors" "$T/$name.vg"; then
        ok
    else
        bad "$name: exit $rc (expected $want): $(tail -n 2 "$T/$name.out")"
        grep -A 12 -E "Invalid|uninitialised|definitely lost|possibly lost|Illegal" "$T/$name.vg" | head -n 40
    fi
}

# 64 - 16 = 48 training images, batch 32: one step per epoch; stop after step 1
vg train 0 train $F --out "$T/run" --stop-at-step 1
[ -s "$T/run/checkpoint.safetensors" ] && ok || bad "no checkpoint after --stop-at-step"
vg resume 0 train --resume "$T/run"
[ -s "$T/run/model.safetensors" ] && ok || bad "the resumed run wrote no model.safetensors"
cp -R "$T/run" "$T/bad"
rm "$T/bad/model.safetensors"
head -c 3000 "$T/run/checkpoint.safetensors" >"$T/bad/checkpoint.safetensors"
vg damaged 1 train --resume "$T/bad"
grep -q "checkpoint.safetensors" "$T/damaged.out" && ok || bad "damaged checkpoint: no message naming it"

summary valgrind_test
