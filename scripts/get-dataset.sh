#!/bin/sh
# scripts/get-dataset.sh: provides a data set for lrlab (what `make data
# DATASET=NAME` runs).
#   sh scripts/get-dataset.sh cifar10|cifar100|fashion-mnist|mnist [DIR]
# cifar10 is scripts/get-data.sh (default DIR data/cifar-10-batches-bin).
# The others (default DIR data/cifar-100-binary, data/fashion-mnist,
# data/mnist):
# 1. DIR already holds the files: nothing to do. Fashion-MNIST: without DIR,
#    Debian's package dataset-fashion-mnist (in /usr/share/datasets/fashion-mnist,
#    the default --data of --dataset idx) counts, and when it is missing the
#    script says which apt-get command provides it before downloading.
# 2. Otherwise it downloads the official files with curl or wget, checks
#    each one's md5 (the checksums torchvision's datasets check, and the
#    CIFAR-100 archive's published one), unpacks the archive (CIFAR-100) and
#    checks the sizes. DIR is never left half-filled: the work happens in a
#    temporary directory beside it, renamed to DIR at the end. Without the
#    network the message says how to do it by hand.
# For tests and mirrors: LRLAB_DATA_BASE replaces the base URL,
# LRLAB_DATA_SUMS names a file of "MD5  FILE" lines replacing the checksums,
# LRLAB_DEBIAN_FASHION replaces /usr/share/datasets/fashion-mnist.
set -eu

say() { echo "get-dataset: $*"; }
die() { echo "get-dataset: $*" >&2; exit 1; }

NAME=${1:-}
case "$NAME" in
cifar10) exec sh "$(dirname "$0")/get-data.sh" "${2:-data/cifar-10-batches-bin}" ;;
cifar100)
    DIR=${2:-data/cifar-100-binary}
    BASE=https://www.cs.toronto.edu/~kriz/
    SUMS="03b5dce01913d631647c71ecec9e9cb8  cifar-100-binary.tar.gz"
    WANT="train.bin:153700000 test.bin:30740000"
    FLAGS="--dataset cifar100" ;;
fashion-mnist | mnist)
    if [ "$NAME" = mnist ]; then
        DIR=${2:-data/mnist}
        BASE=https://ossci-datasets.s3.amazonaws.com/mnist/
        SUMS="f68b3c2dcbeaaa9fbdd348bbdeb94873  train-images-idx3-ubyte.gz
d53e105ee54ea40749a09fcbcd1e9432  train-labels-idx1-ubyte.gz
9fb629c4189551a2d022fa330f9573f3  t10k-images-idx3-ubyte.gz
ec29112dd5afa0611ce80d1b7f02629c  t10k-labels-idx1-ubyte.gz"
    else
        DIR=${2:-data/fashion-mnist}
        BASE=http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/
        SUMS="8d4fb7e6c68d591d4c3dfef9ec88bf0d  train-images-idx3-ubyte.gz
25c81989df183df01b3e8a0aad5dffbe  train-labels-idx1-ubyte.gz
bef4ecab320f06d8554ea6380940ec79  t10k-images-idx3-ubyte.gz
bb300cfdad3c16e7a12a480ee83cd310  t10k-labels-idx1-ubyte.gz"
    fi
    WANT="train-images-idx3-ubyte.gz:0 train-labels-idx1-ubyte.gz:0 t10k-images-idx3-ubyte.gz:0 t10k-labels-idx1-ubyte.gz:0"
    FLAGS="--dataset idx --normalize $([ "$NAME" = mnist ] && echo 0.1307,0.3081 || echo 0.2860,0.3530)" ;;
*) die "DATASET '$NAME': expected cifar10, cifar100, fashion-mnist or mnist" ;;
esac
BASE=${LRLAB_DATA_BASE:-$BASE}
[ -n "${LRLAB_DATA_SUMS:-}" ] && SUMS=$(cat "$LRLAB_DATA_SUMS")

# complete D: prints nothing and succeeds when D holds every wanted file (at its size, when known).
complete() {
    for w in $WANT; do
        f=${w%%:*} size=${w#*:}
        [ -f "$1/$f" ] || { echo "$1/$f: missing"; return 1; }
        if [ "$size" -ne 0 ] && [ "$(($(wc -c <"$1/$f")))" -ne "$size" ]; then
            echo "$1/$f: $(($(wc -c <"$1/$f"))) bytes, expected $size"; return 1
        fi
    done
}

if [ "$NAME" = fashion-mnist ] && [ $# -lt 2 ]; then
    debian=${LRLAB_DEBIAN_FASHION:-/usr/share/datasets/fashion-mnist}
    if complete "$debian" >/dev/null; then
        say "Fashion-MNIST is installed (Debian's dataset-fashion-mnist, $debian): nothing to do; it is the default --data of --dataset idx"
        exit 0
    fi
    say "Debian provides Fashion-MNIST without a download: sudo apt-get install dataset-fashion-mnist (into $debian, the default --data of --dataset idx); downloading the official files into $DIR instead"
fi
if problem=$(complete "$DIR"); then
    say "$DIR already holds $NAME: nothing to do (train with $FLAGS --data $DIR)"
    exit 0
fi
if [ -e "$DIR" ]; then
    if [ -d "$DIR" ] && [ -z "$(ls -A "$DIR")" ]; then rmdir "$DIR"
    else die "$DIR exists but does not hold $NAME ($problem); move it away or remove it, then run \`make data DATASET=$NAME\` again"; fi
fi
parent=$(dirname "$DIR")
mkdir -p "$parent" || die "cannot create $parent"
tmp=$(mktemp -d "$parent/.get-dataset.XXXXXX") || die "cannot create a temporary directory in $parent"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

by_hand="by hand: for each file, curl -LO ${BASE}FILE and check its md5sum: $(echo "$SUMS" | sed 's/$/;/' | tr '\n' ' ' | sed 's/; $//')"
[ "$NAME" = cifar100 ] && by_hand="$by_hand; then tar xzf cifar-100-binary.tar.gz && mv cifar-100-binary $DIR"
[ "$NAME" = cifar100 ] || by_hand="$by_hand; into $DIR"
for tool in md5sum tar; do
    command -v "$tool" >/dev/null 2>&1 || die "needs $tool (Debian: apt-get install coreutils tar)"
done
if command -v curl >/dev/null 2>&1; then fetch() { curl -fsSL --connect-timeout 20 --retry 2 -o "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then fetch() { wget -q --timeout=20 --tries=3 -O "$2" "$1"; }
else die "needs curl or wget to download (Debian: apt-get install curl); or $by_hand"; fi

mkdir "$tmp/out"
echo "$SUMS" | while read -r md5 file; do
    say "downloading $BASE$file"
    fetch "$BASE$file" "$tmp/$file" || die "cannot download $BASE$file: no network? $by_hand"
    sum=$(md5sum "$tmp/$file" | cut -d' ' -f1)
    [ "$sum" = "$md5" ] || die "$BASE$file: md5 $sum, expected $md5: the download is damaged or not the official file; try again, or $by_hand"
done || exit 1
if [ "$NAME" = cifar100 ]; then
    tar xf "$tmp/cifar-100-binary.tar.gz" -C "$tmp" || die "cannot extract cifar-100-binary.tar.gz (damaged archive?)"
    [ -d "$tmp/cifar-100-binary" ] || die "$BASE: the archive holds no cifar-100-binary/ directory"
    rmdir "$tmp/out" && mv "$tmp/cifar-100-binary" "$tmp/out"
else
    mv "$tmp"/*.gz "$tmp/out/"
fi
problem=$(complete "$tmp/out") || die "the download gave a bad result: $problem"
mv "$tmp/out" "$DIR" || die "cannot move the data into $DIR"
say "$NAME is in $DIR (train with $FLAGS --data $DIR)"
