#!/bin/sh
# scripts/get-data.sh: provides CIFAR-10 (binary version) in DIR for lrlab.
#   sh scripts/get-data.sh [DIR]      (what `make data` runs; default
#                                      data/cifar-10-batches-bin)
# 1. DIR already holds the six .bin files of 30,730,000 bytes: nothing to do.
# 2. The project's sibling ../shared/data/cifar10 exists (relative to the
#    repository root): it writes the official binary layout; we use it.
# 3. Otherwise download the official cifar-10-binary.tar.gz, check its md5,
#    extract it.
# DIR is never left half-filled: the work happens in a temporary directory
# beside DIR, which is renamed to DIR only when every file checks out.
# Not here: checking labels (lrlab does that on every load).
# For mirrors and tests: LRLAB_CIFAR_URL, LRLAB_CIFAR_MD5 replace the official
# URL and md5; LRLAB_CIFAR_GENERATOR replaces ../shared/data/cifar10 ("none":
# do not use one).
set -eu

DIR=${1:-data/cifar-10-batches-bin}
URL=${LRLAB_CIFAR_URL:-https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz}
MD5=${LRLAB_CIFAR_MD5:-c32a1d4ab5d03f1284b67883e8d87530}
FILES="data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin data_batch_5.bin test_batch.bin"
SIZE=30730000
root=$(cd "$(dirname "$0")/.." && pwd)
GENERATOR=${LRLAB_CIFAR_GENERATOR:-$root/../shared/data/cifar10}

say() { echo "get-data: $*"; }
die() { echo "get-data: $*" >&2; exit 1; }

# valid_dir D: prints nothing and succeeds when D holds the six files at full size;
# otherwise prints the first problem.
valid_dir() {
    for f in $FILES; do
        if [ ! -f "$1/$f" ]; then echo "$1/$f: missing"; return 1; fi
        n=$(($(wc -c < "$1/$f")))
        if [ "$n" -ne "$SIZE" ]; then
            echo "$1/$f: $n bytes, expected 30,730,000 (10,000 records of 3073 bytes)"; return 1
        fi
    done
    return 0
}

if problem=$(valid_dir "$DIR"); then
    say "$DIR already holds CIFAR-10 (6 files of 30,730,000 bytes); nothing to do"
    exit 0
fi
if [ -e "$DIR" ]; then
    if [ -d "$DIR" ] && [ -z "$(ls -A "$DIR")" ]; then
        rmdir "$DIR"
    else
        die "$DIR exists but does not hold CIFAR-10 ($problem); move it away or remove it, then run \`make data\` again"
    fi
fi

parent=$(dirname "$DIR")
mkdir -p "$parent" || die "cannot create $parent"
tmp=$(mktemp -d "$parent/.get-data.XXXXXX") || die "cannot create a temporary directory in $parent"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# finish SRC: checks SRC and renames it to DIR.
finish() {
    problem=$(valid_dir "$1") || die "$2 gave a bad result: $problem"
    mv "$1" "$DIR" || die "cannot move the data into $DIR"
    say "CIFAR-10 is in $DIR"
    exit 0
}

if [ "$GENERATOR" != none ] && [ -e "$GENERATOR" ]; then
    say "making CIFAR-10 with $GENERATOR (about 15 s)"
    if [ ! -x "$GENERATOR" ]; then die "$GENERATOR exists but is not executable"; fi
    "$GENERATOR" "$tmp/out" || die "$GENERATOR failed (exit $?); see its message above"
    finish "$tmp/out" "$GENERATOR"
fi

# Download the official archive.
for tool in tar md5sum; do
    command -v "$tool" >/dev/null 2>&1 || die "needs $tool to unpack the download (Debian: apt-get install coreutils tar)"
done
archive="$tmp/cifar-10-binary.tar.gz"
by_hand="download $URL by hand, check its md5 ($MD5), and extract it: tar xzf cifar-10-binary.tar.gz && mv cifar-10-batches-bin $DIR"
say "downloading $URL (163 MB)"
# A progress bar only on a terminal.
if [ -t 2 ]; then curl_flags=--progress-bar; wget_flags=--show-progress; else curl_flags=-sS; wget_flags=-q; fi
if command -v curl >/dev/null 2>&1; then
    curl -fL $curl_flags --connect-timeout 20 --retry 2 -o "$archive" "$URL" ||
        die "cannot download $URL: no network? $by_hand"
elif command -v wget >/dev/null 2>&1; then
    wget $wget_flags --timeout=20 --tries=3 -O "$archive" "$URL" ||
        die "cannot download $URL: no network? $by_hand"
else
    die "needs curl or wget to download $URL (Debian: apt-get install curl); or $by_hand"
fi
sum=$(md5sum "$archive" | cut -d' ' -f1)
[ "$sum" = "$MD5" ] ||
    die "$URL: md5 $sum, expected $MD5: the download is damaged or not the CIFAR-10 binary archive; try again, or $by_hand"
tar xf "$archive" -C "$tmp" || die "cannot extract $archive (damaged archive?)"
rm -f "$archive"
[ -d "$tmp/cifar-10-batches-bin" ] || die "$URL: the archive holds no cifar-10-batches-bin/ directory"
finish "$tmp/cifar-10-batches-bin" "$URL"
