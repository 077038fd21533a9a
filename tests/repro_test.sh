#!/bin/sh
# tests/repro_test.sh: the same command gives the same weights. Two runs of
# one `lrlab train` command with default flags (--conv-algo auto) write
# byte-identical model.safetensors, also while busy loops load the machine
# during the second; so do two runs of one sweep with --jobs 2 whose jobs
# start together on an empty cache (one decides, the other waits and reads:
# one cache line). Then --retune, a planted choice that train and find-lr
# reuse, a corrupt cache, an unusable cache directory (warnings naming the
# file, the run goes on), and --threads above the cores (warned) or far
# above them (refused), and the OpenMP wait policy in effect. Tiny runs on
# the synthetic data in $SYNTH_DIR.
# Prints "repro_test: N passed, N failed".
set -u
. tests/lib.sh
case "$LRLAB" in /*) ;; *) LRLAB=$(pwd)/$LRLAB ;; esac
: "${SYNTH_DIR:?SYNTH_DIR must name a synthetic CIFAR-10 directory (tests/run.sh sets it)}"
T=$tmp
F="--data $SYNTH_DIR --limit-train 256 --limit-test 64 --batch 64 --epochs 2"
export LRLAB_CACHE_DIR="$T/cache"
CACHE=$LRLAB_CACHE_DIR/conv-algo.txt
choice() { sed -n 's/^algo_choices=//p' "$1/config.txt"; }
entries() { if [ -f "$CACHE" ]; then grep -c '^[dwD-]' "$CACHE"; else echo 0; fi; }

# ---- two runs of one command, the second on a loaded machine ----
"$LRLAB" train $F --out "$T/a" >"$T/a.out" 2>&1
check "first run exits 0" [ $? -eq 0 ]
check "the decision is in the cache" [ "$(entries)" -eq 1 ]
check "the cache holds the run's choice" grep -q "^$(choice "$T/a") " "$CACHE"
busy=""
for i in 1 2 3; do
    sh -c 'while :; do :; done' &
    busy="$busy $!"
done
"$LRLAB" train $F --out "$T/b" >"$T/b.out" 2>&1
rc=$?
for p in $busy; do kill "$p"; done
check "second run (busy machine) exits 0" [ $rc -eq 0 ]
check "same command, same weights (busy machine)" cmp -s "$T/a/model.safetensors" "$T/b/model.safetensors"
check "same algorithm choice" [ "$(choice "$T/a")" = "$(choice "$T/b")" ]
check "still one cache line" [ "$(entries)" -eq 1 ]

# ---- a planted choice is what train and find-lr use ----
key=$(grep '^[dwD-]' "$CACHE" | cut -d' ' -f2-)
old=$(choice "$T/a")
# the last layer's forward flipped between direct and Winograd (both offered for 3x3, stride 1, fp32)
last=$(echo "$old" | sed 's/.*,//')
case "$last" in w*) new="d${last#?}" ;; *) new="w${last#?}" ;; esac
planted="${old%,*},$new"
{ echo "lrlab-conv-algo 1"; echo "$planted $key"; } >"$CACHE"
"$LRLAB" train $F --out "$T/p" >"$T/p.out" 2>&1
check "train with a planted choice exits 0" [ $? -eq 0 ]
check "train uses the cached choice ($planted, got $(choice "$T/p"))" [ "$(choice "$T/p")" = "$planted" ]
"$LRLAB" find-lr --data "$SYNTH_DIR" --limit-train 256 --batch 64 --steps 5 --verbose >"$T/f.out" 2>&1
check "find-lr exits 0" [ $? -eq 0 ]
check "find-lr uses the cached choice" grep -q "^convolution algorithms ($planted), from the cache" "$T/f.out"
[ $fail -eq 0 ] || cat "$T/f.out"

# ---- --retune times again and rewrites the entry ----
"$LRLAB" train $F --out "$T/r" --retune --verbose >"$T/r.out" 2>&1
check "--retune exits 0" [ $? -eq 0 ]
check "--retune timed the algorithms" grep -q "^convolution algorithms (.*), timed now" "$T/r.out"
check "--retune rewrote the entry with its choice" grep -q "^$(choice "$T/r") " "$CACHE"
check "--retune left one entry" [ "$(entries)" -eq 1 ]
"$LRLAB" train --resume "$T/r" --retune >"$T/rr.out" 2>&1
check "--retune with --resume is refused (a run keeps its choice)" [ $? -eq 2 ]

# ---- a corrupt cache: a warning naming the file, the run decides and goes on ----
printf 'garbage\x01\n' >"$CACHE"
"$LRLAB" train $F --out "$T/c" >"$T/c.out" 2>&1
check "a corrupt cache: the run exits 0" [ $? -eq 0 ]
check "a corrupt cache: a warning naming the file" grep -q "warning: $CACHE:1: expected the header" "$T/c.out"
check "a corrupt cache: rewritten whole" grep -q "^$(choice "$T/c") $key\$" "$CACHE"
printf 'lrlab-conv-algo 1\nddd,www %s\n' "$key" >"$CACHE"
"$LRLAB" train $F --out "$T/c2" >"$T/c2.out" 2>&1
check "an entry that does not fit the net: the run exits 0" [ $? -eq 0 ]
check "an entry that does not fit the net: a warning naming the file" grep -q "warning: $CACHE: the entry" "$T/c2.out"
check "an entry that does not fit: replaced" grep -q "^$(choice "$T/c2") $key\$" "$CACHE"
touch "$T/file"
LRLAB_CACHE_DIR="$T/file/cache" "$LRLAB" train $F --out "$T/u" >"$T/u.out" 2>&1
check "an unusable cache directory: the run exits 0" [ $? -eq 0 ]
check "an unusable cache directory: a warning naming it" grep -q "warning: the cache directory $T/file/cache: cannot create" "$T/u.out"

# ---- one sweep with --jobs 2, twice: the jobs start together on an empty cache ----
cat >"$T/two.sweep" <<'EOF'
sweep two
run a --lr 0.01
run b --lr 0.02
EOF
rm -rf "$LRLAB_CACHE_DIR"
"$LRLAB" sweep "$T/two.sweep" $F --jobs 2 --out "$T/s1" >"$T/s1.out" 2>&1
check "sweep 1 exits 0" [ $? -eq 0 ]
check "sweep: one decision for both jobs" [ "$(entries)" -eq 1 ]
check "sweep: both jobs run the same choice" [ "$(choice "$T/s1/a")" = "$(choice "$T/s1/b")" ]
"$LRLAB" sweep "$T/two.sweep" $F --jobs 2 --out "$T/s2" >"$T/s2.out" 2>&1
check "sweep 2 exits 0" [ $? -eq 0 ]
for r in a b; do
    check "sweep run $r: same weights" cmp -s "$T/s1/$r/model.safetensors" "$T/s2/$r/model.safetensors"
done

# ---- --threads above the cores: warned; far above: refused ----
cores=$(nproc)
"$LRLAB" train $F --epochs 1 --limit-train 64 --threads $((cores + 1)) >"$T/t.out" 2>&1
check "--threads cores+1 runs" [ $? -eq 0 ]
check "--threads cores+1 is warned about" grep -q "warning: --threads $((cores + 1)): more than the $cores cores" "$T/t.out"
many=$((4 * cores + 1))
"$LRLAB" train $F --threads $many >"$T/t2.out" 2>&1
check "--threads $many is refused (exit 2)" [ $? -eq 2 ]
check "--threads $many: the message says the bound" grep -q -- "--threads $many: expected at most $((4 * cores))" "$T/t2.out"

# ---- how OpenMP threads wait: a bounded spin, unless the user chose (BENCHMARKS.md) ----
B="bench --batch 4 --iters 1 --warmup 0 --conv-algo direct --threads 2"
env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT "$LRLAB" $B >"$T/w.out" 2>&1
check "lrlab's spin count is in effect" grep -q '^# threads wait: OMP_WAIT_POLICY=(unset) GOMP_SPINCOUNT=1000$' "$T/w.out"
env -u GOMP_SPINCOUNT OMP_WAIT_POLICY=active "$LRLAB" $B >"$T/w2.out" 2>&1
check "a user's OMP_WAIT_POLICY is left alone" grep -q '^# threads wait: OMP_WAIT_POLICY=active GOMP_SPINCOUNT=(unset)$' "$T/w2.out"
env -u OMP_WAIT_POLICY GOMP_SPINCOUNT=5 "$LRLAB" $B >"$T/w3.out" 2>&1
check "a user's GOMP_SPINCOUNT is left alone" grep -q '^# threads wait: OMP_WAIT_POLICY=(unset) GOMP_SPINCOUNT=5$' "$T/w3.out"

echo "repro_test: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
