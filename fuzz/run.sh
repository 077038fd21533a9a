#!/bin/sh
# fuzz/run.sh SECONDS [TARGET...]: builds each libFuzzer target fuzz/fuzz_*.c
# (or the named ones) from the sources its "// fuzz-sources:" line lists,
# runs it for SECONDS seconds on a scratch copy of fuzz/corpus/<name without
# fuzz_> (the committed corpus never grows) with fuzz/<target>.dict as its
# dictionary when there is one, and prints per target
#   fuzz <name>: <execs> execs, <result>
# Exit status: 0 when every target ran clean; 1 on a crash (the crash file is
# kept under build-fuzz/ and its path printed), a build failure, or a missing
# clang/libFuzzer. Run from the repository root.
set -u
if [ $# -lt 1 ]; then echo "usage: sh fuzz/run.sh SECONDS [TARGET...]" >&2; exit 2; fi
secs=$1; shift
case "$secs" in ''|*[!0-9]*) echo "fuzz/run.sh: SECONDS must be a positive integer, got '$secs'" >&2; exit 2 ;; esac
[ "$secs" -gt 0 ] || { echo "fuzz/run.sh: SECONDS must be positive" >&2; exit 2; }
CLANG=${CLANG:-clang}
OUT=${FUZZ_OUT:-build-fuzz}
if ! command -v "$CLANG" >/dev/null 2>&1; then
    echo "fuzz/run.sh: $CLANG not found (Debian: apt-get install clang)" >&2; exit 1
fi
mkdir -p "$OUT" || exit 1
probe="$OUT/.probe.$$"
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' >"$probe.c"
if ! "$CLANG" -fsanitize=fuzzer "$probe.c" -o "$probe" >"$probe.log" 2>&1; then
    echo "fuzz/run.sh: $CLANG cannot link libFuzzer (Debian: apt-get install libclang-rt-14-dev or the clang package's runtime):" >&2
    cat "$probe.log" >&2; exit 1
fi
rm -f "$probe" "$probe.c" "$probe.log"

if [ $# -eq 0 ]; then
    set -- $(for f in fuzz/fuzz_*.c; do [ -e "$f" ] && basename "$f" .c; done)
fi
[ $# -gt 0 ] || { echo "fuzz/run.sh: no fuzz/fuzz_*.c targets" >&2; exit 1; }
status=0
for t in "$@"; do
    t=$(basename "$t" .c)
    src=fuzz/$t.c
    if [ ! -f "$src" ]; then echo "fuzz $t: no $src"; status=1; continue; fi
    globs=$(sed -n 's|^// fuzz-sources:||p' "$src" | head -n 1)
    if [ -z "$globs" ]; then echo "fuzz $t: $src lacks a '// fuzz-sources: ...' line"; status=1; continue; fi
    srcs=$(for g in $globs; do for f in $g; do [ -f "$f" ] && echo "$f"; done; done)
    if ! "$CLANG" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
            -Iinclude -Isrc "$src" $srcs -lpng -ljpeg -lz -lpthread -lm -o "$OUT/$t" 2>"$OUT/$t.build.log"; then
        echo "fuzz $t: build failed"; cat "$OUT/$t.build.log"; status=1; continue
    fi
    corpus=$OUT/corpus-$t
    art=$OUT/artifacts-$t/
    rm -rf "$corpus"; mkdir -p "$corpus" "$art"
    seeds=fuzz/corpus/${t#fuzz_}
    [ -d "$seeds" ] && cp -R "$seeds"/. "$corpus"/ 2>/dev/null
    dict=
    [ -f "fuzz/$t.dict" ] && dict="-dict=fuzz/$t.dict"
    log=$OUT/$t.log
    "$OUT/$t" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$art" \
        -rss_limit_mb=2048 -timeout=10 $dict "$corpus" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    [ -n "$execs" ] || execs=$(grep -o 'Done [0-9]* runs' "$log" | tail -n 1 | grep -o '[0-9]*')
    crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    if [ "$rc" -eq 0 ]; then
        echo "fuzz $t: ${execs:-0} execs, no crash"
    else
        status=1
        echo "fuzz $t: ${execs:-0} execs, CRASH (exit $rc): ${crash:-no crash file; see $log}"
        grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz_)' "$log" | head -n 5
    fi
done
exit $status
