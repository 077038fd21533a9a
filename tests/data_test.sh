#!/bin/sh
# tests/data_test.sh: scripts/get-data.sh behaviour without the network and
# without the real data: fake generators stand in for ../shared/data/cifar10
# (copying $SYNTH_DIR, or writing a truncated file), file:// and unreachable
# URLs stand in for the download. Checks the messages, the exit status, that
# DIR is never left half-filled, and that a valid DIR is left alone.
# Also regenerates tests/torch/augment_fixture.txt when torch is importable
# and checks it is unchanged. Run from the repository root.
set -u
. tests/lib.sh
check() { if eval "$1"; then ok; else bad "$2"; fi; }  # check 'SHELL CONDITION' WHAT

GET=scripts/get-data.sh
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
SYNTH_DIR=${SYNTH_DIR:-}
if [ -z "$SYNTH_DIR" ] || [ ! -f "$SYNTH_DIR/test_batch.bin" ]; then
    SYNTH_DIR=$work/synth
    ${SYNTH:-build/tools/synth_cifar} "$SYNTH_DIR" 1 >/dev/null || { echo "no synthetic data"; exit 1; }
fi

# Generators: one that copies the synthetic files, one that writes a short file, one that fails.
cat > "$work/gen_good" <<EOF
#!/bin/sh
mkdir -p "\$1" && cp "$SYNTH_DIR"/*.bin "$SYNTH_DIR"/batches.meta.txt "\$1"/
EOF
cat > "$work/gen_short" <<EOF
#!/bin/sh
mkdir -p "\$1" && cp "$SYNTH_DIR"/*.bin "\$1"/ && head -c 1000 "$SYNTH_DIR/test_batch.bin" > "\$1/test_batch.bin"
EOF
printf '#!/bin/sh\necho "generator: broken" >&2\nexit 3\n' > "$work/gen_fail"
chmod +x "$work/gen_good" "$work/gen_short" "$work/gen_fail"

# 1. A generator that works: DIR filled, no temporary left beside it.
D=$work/a/cifar
out=$(LRLAB_CIFAR_GENERATOR=$work/gen_good sh $GET "$D" 2>&1); rc=$?
check '[ $rc -eq 0 ] && [ -f "$D/test_batch.bin" ] && [ -f "$D/batches.meta.txt" ]' "generator path: rc $rc: $out"
check 'cmp -s "$D/data_batch_3.bin" "$SYNTH_DIR/data_batch_3.bin"' "generator output copied"
check '[ "$(ls -A "$work/a")" = cifar ]' "leftovers beside DIR: $(ls -A "$work/a")"

# 2. Already there: left alone, said so.
touch "$D/marker"
out=$(LRLAB_CIFAR_GENERATOR=$work/gen_fail sh $GET "$D" 2>&1); rc=$?
check '[ $rc -eq 0 ] && [ -f "$D/marker" ] && echo "$out" | grep -q "already holds"' "valid DIR: rc $rc: $out"

# 3. A generator writing a short file: error naming it, DIR not created.
D=$work/b/cifar
out=$(LRLAB_CIFAR_GENERATOR=$work/gen_short sh $GET "$D" 2>&1); rc=$?
check '[ $rc -ne 0 ] && [ ! -e "$D" ] && echo "$out" | grep -q "test_batch.bin: 1000 bytes"' "short file: rc $rc: $out"
check '[ -z "$(ls -A "$work/b")" ]' "leftovers after a failure: $(ls -A "$work/b")"

# 4. A failing generator: its exit status reported, DIR not created.
out=$(LRLAB_CIFAR_GENERATOR=$work/gen_fail sh $GET "$D" 2>&1); rc=$?
check '[ $rc -ne 0 ] && [ ! -e "$D" ] && echo "$out" | grep -q "failed (exit 3)"' "failing generator: rc $rc: $out"

# 5. A DIR holding something else is not touched.
mkdir -p "$work/c/cifar" && echo x > "$work/c/cifar/data_batch_1.bin"
out=$(LRLAB_CIFAR_GENERATOR=$work/gen_good sh $GET "$work/c/cifar" 2>&1); rc=$?
check '[ $rc -ne 0 ] && echo "$out" | grep -q "data_batch_1.bin: 2 bytes" && [ "$(cat "$work/c/cifar/data_batch_1.bin")" = x ]' \
    "foreign DIR: rc $rc: $out"

# 6. No network: a clear message saying what to do by hand; DIR not created.
if command -v curl >/dev/null 2>&1 || command -v wget >/dev/null 2>&1; then
    out=$(LRLAB_CIFAR_GENERATOR=none LRLAB_CIFAR_URL=http://127.0.0.1:9/cifar-10-binary.tar.gz sh $GET "$D" 2>&1); rc=$?
    check '[ $rc -ne 0 ] && [ ! -e "$D" ] && echo "$out" | grep -q "no network?" && echo "$out" | grep -q "by hand"' \
        "no network: rc $rc: $out"
else
    skip "download tests: neither curl nor wget"
fi

# 7. A download with the wrong md5; then one with the right md5 (an uncompressed tar of the synthetic files).
if command -v curl >/dev/null 2>&1; then
    mkdir -p "$work/t/cifar-10-batches-bin"
    cp "$SYNTH_DIR"/*.bin "$work/t/cifar-10-batches-bin/"
    tar cf "$work/fake.tar" -C "$work/t" cifar-10-batches-bin && rm -rf "$work/t"
    out=$(LRLAB_CIFAR_GENERATOR=none LRLAB_CIFAR_URL=file://$work/fake.tar sh $GET "$D" 2>&1); rc=$?
    check '[ $rc -ne 0 ] && [ ! -e "$D" ] && echo "$out" | grep -q "md5 .*expected c32a1d4ab5d03f1284b67883e8d87530"' \
        "bad md5: rc $rc: $out"
    sum=$(md5sum "$work/fake.tar" | cut -d' ' -f1)
    out=$(LRLAB_CIFAR_GENERATOR=none LRLAB_CIFAR_URL=file://$work/fake.tar LRLAB_CIFAR_MD5=$sum sh $GET "$D" 2>&1); rc=$?
    check '[ $rc -eq 0 ] && cmp -s "$D/data_batch_5.bin" "$SYNTH_DIR/data_batch_5.bin"' "download path: rc $rc: $out"
    check '[ "$(ls -A "$work/b")" = cifar ]' "leftovers after a download: $(ls -A "$work/b")"
    rm -f "$work/fake.tar"
else
    skip "md5 tests: no curl (file:// URLs)"
fi

# 8. The torch fixture of tests/test_data.c is what torch computes today.
if have_torch; then
    "$PY" tests/torch/augment_fixture.py "$work/fixture.txt"
    grep -v '^#' "$work/fixture.txt" > "$work/new.txt"; grep -v '^#' tests/torch/augment_fixture.txt > "$work/old.txt"
    check 'cmp -s "$work/new.txt" "$work/old.txt"' "tests/torch/augment_fixture.txt differs from torch's output"
else
    skip "augment fixture regeneration: torch not importable by $PY"
fi

summary data_test
