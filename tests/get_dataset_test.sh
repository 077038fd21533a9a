#!/bin/sh
# tests/get_dataset_test.sh: scripts/get-dataset.sh (make data DATASET=...)
# without the network: Debian's Fashion-MNIST package found or named with its
# apt-get command, a download from a local "mirror" (file:// URLs, checksums
# replaced) checked and moved into place, a damaged download (md5), no
# network, a CIFAR-100 archive of the wrong size, a directory already
# complete, an unknown name; a failed run leaves no directory behind.
set -u
. tests/lib.sh
case "$LRLAB" in /*) ;; *) LRLAB=$(pwd)/$LRLAB ;; esac
SD=${SYNTH_DATA:-$(dirname "${SYNTH:-build/tools/synth_cifar}")/synth_data}
GET=$(pwd)/scripts/get-dataset.sh
T=$tmp
# a mirror of four gzip'd IDX files and their md5s
"$SD" idx "$T/idx" 7 >/dev/null || bad "synth_data failed"
mkdir -p "$T/srv" "$T/debian"
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    if [ -f "$T/idx/$f.gz" ]; then cp "$T/idx/$f.gz" "$T/srv/"; else gzip -c "$T/idx/$f" >"$T/srv/$f.gz"; fi
    cp "$T/srv/$f.gz" "$T/debian/"
done
(cd "$T/srv" && md5sum ./*.gz | sed 's|\./||') >"$T/sums"

# run WHERE ARGS...: the script in directory WHERE; its output in $T/out, its exit status in $rc
run() { where=$1; shift; mkdir -p "$where"; (cd "$where" && env "$@" sh "$GET" ${DS:-fashion-mnist} ${DDIR:-}) >"$T/out" 2>&1; rc=$?; }
has() { grep -q -- "$1" "$T/out"; }

run "$T/w1" LRLAB_DEBIAN_FASHION="$T/debian"
check "Debian's package present: nothing to do" sh -c "[ $rc -eq 0 ] && grep -q 'installed (Debian' '$T/out'"
check "... and nothing written" [ ! -e "$T/w1/data" ]

run "$T/w2" LRLAB_DEBIAN_FASHION="$T/none" LRLAB_DATA_BASE="file://$T/srv/" LRLAB_DATA_SUMS="$T/sums"
check "Debian's package missing: its apt-get command is named" has "sudo apt-get install dataset-fashion-mnist"
check "the checked download is in data/fashion-mnist" sh -c "[ $rc -eq 0 ] && [ -f '$T/w2/data/fashion-mnist/t10k-labels-idx1-ubyte.gz' ]"
check "lrlab reads it" sh -c "\"$LRLAB\" data stats --dataset idx --data '$T/w2/data/fashion-mnist' >/dev/null"
run "$T/w2" LRLAB_DEBIAN_FASHION="$T/none" LRLAB_DATA_BASE="http://127.0.0.1:9/"
check "a complete directory: nothing to do, no download" sh -c "[ $rc -eq 0 ] && grep -q 'already holds fashion-mnist' '$T/out'"

# the first md5's first digit changed (to 1 if it is 0: the gzip'd files' md5s vary with their mtimes)
awk 'NR == 1 {$0 = (substr($0, 1, 1) == "0" ? "1" : "0") substr($0, 2)} 1' "$T/sums" >"$T/badsums"
bad=$(cut -c1-32 "$T/badsums" | head -n 1)
run "$T/w3" LRLAB_DEBIAN_FASHION="$T/none" LRLAB_DATA_BASE="file://$T/srv/" LRLAB_DATA_SUMS="$T/badsums"
check "a damaged download: exit 1, the file's md5 and the expected one" sh -c "[ $rc -eq 1 ] && grep -q 'md5 .*, expected $bad' '$T/out'"
check "... and no directory, no temporary left" sh -c "[ ! -e '$T/w3/data/fashion-mnist' ] && [ -z \"\$(ls -A '$T/w3/data')\" ]"

DS=mnist run "$T/w4" LRLAB_DATA_BASE="http://127.0.0.1:9/"
check "no network: exit 1, how to do it by hand with the official md5s" \
    sh -c "[ $rc -eq 1 ] && grep -q 'no network? by hand: .*f68b3c2dcbeaaa9fbdd348bbdeb94873  train-images-idx3-ubyte.gz' '$T/out'"
check "... and no directory" [ ! -e "$T/w4/data/mnist" ]

mkdir -p "$T/c" && "$SD" cifar100 "$T/c/cifar-100-binary" 7 >/dev/null && (cd "$T/c" && tar czf "$T/srv/cifar-100-binary.tar.gz" cifar-100-binary)
(cd "$T/srv" && md5sum cifar-100-binary.tar.gz) >"$T/csums"
DS=cifar100 run "$T/w5" LRLAB_DATA_BASE="file://$T/srv/" LRLAB_DATA_SUMS="$T/csums"
check "CIFAR-100: an archive whose files are not the official sizes is refused, naming the file" \
    sh -c "[ $rc -eq 1 ] && grep -q 'train.bin: [0-9]* bytes, expected 153700000' '$T/out' && [ ! -e '$T/w5/data/cifar-100-binary' ]"

DS=svhn run "$T/w6"
check "an unknown data set: exit 1, the names it knows" sh -c "[ $rc -eq 1 ] && grep -q 'expected cifar10, cifar100, fashion-mnist or mnist' '$T/out'"
check "make data passes DATASET on" sh -c "make -s -n data DATASET=mnist DATASET_DIR=x | grep -q 'get-dataset.sh mnist x'"
check "make data alone is CIFAR-10's, as before" sh -c "make -s -n data | grep -q 'get-dataset.sh cifar10 data/cifar-10-batches-bin'"
summary get_dataset_test
