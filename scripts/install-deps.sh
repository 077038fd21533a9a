#!/bin/sh
# scripts/install-deps.sh [--test]: installs the Debian 12 packages lrlab
# needs, only those missing (so it is fast when everything is there).
#   build and run: gcc make libdnnl-dev (oneDNN 2.6) gnuplot-nox curl,
#                  libpng-dev libjpeg62-turbo-dev zlib1g-dev (image folders, gzip'd IDX files)
#   tests (--test): python3-torch python3-numpy (PyTorch cross-checks),
#                   python3-torchvision (--transform and predict against torchvision 0.14),
#                   python3-pil (the image fixtures' generator),
#                   clang libclang-rt-14-dev (libFuzzer, sanitizers), valgrind,
#                   openmpi-bin libopenmpi-dev (tests/mpi_test.sh: mpirun, MPI training)
# Runs apt-get as root, or through sudo.
set -eu
pkgs="gcc make libc6-dev libdnnl-dev gnuplot-nox curl ca-certificates libpng-dev libjpeg62-turbo-dev zlib1g-dev"
if [ "${1:-}" = "--test" ]; then
    pkgs="$pkgs python3-torch python3-numpy python3-torchvision python3-pil clang libclang-rt-14-dev valgrind openmpi-bin libopenmpi-dev"
fi
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing$missing"
if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
    echo "install-deps: need root (or sudo) to install:$missing" >&2; exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing
