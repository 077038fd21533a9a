#!/bin/sh
# bench/wait_policy.sh [--rounds N] [--quiet-below PCT] [--algo-choices LIST]:
# the 2-thread training step of `lrlab bench` under OpenMP wait policies,
# against PyTorch's (bench/torch_step.py), in interleaved rounds so that
# every policy sees the same machine: libgomp's default spin count
# (GOMP_SPINCOUNT=300000), lrlab's own (nothing set: cli/main.c chooses),
# OMP_WAIT_POLICY=passive, and PyTorch 1.13 (its libgomp's default). Prints
# one line per measurement and, at the end, the median images/s of each with
# the CPU use of the machine (all processes, over 2 s) before each round.
# --quiet-below PCT starts a round only when the machine's CPU use is below
# PCT percent (to measure an idle machine on a shared one; waits up to an
# hour). Run from the repository root after `make`. Results: BENCHMARKS.md.
set -u
rounds=3; quiet=101; ac="d-d,www,www,www,www,www"
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds=$2; shift 2 ;;
        --quiet-below) quiet=$2; shift 2 ;;
        --algo-choices) ac=$2; shift 2 ;;
        *) echo "usage: bench/wait_policy.sh [--rounds N] [--quiet-below PCT] [--algo-choices LIST]" >&2; exit 2 ;;
    esac
done
LRLAB=${LRLAB:-build/lrlab}
B="bench --threads 2 --iters 10 --warmup 2 --algo-choices $ac"
cpu_use() { # percent of all cores busy over 2 s
    set -- $(head -1 /proc/stat); u1=$(($2 + $3 + $4 + $7 + $8)); t1=$((u1 + $5 + $6))
    sleep 2
    set -- $(head -1 /proc/stat); u2=$(($2 + $3 + $4 + $7 + $8)); t2=$((u2 + $5 + $6))
    echo $((100 * (u2 - u1) / (t2 - t1)))
}
step() { sed -n 's/^train_step images_per_s=\([0-9.]*\).*/\1/p'; }
res=$(mktemp); trap 'rm -f "$res"' EXIT
deadline=$(($(date +%s) + 3600)); r=0
while [ $r -lt "$rounds" ] && [ "$(date +%s)" -lt $deadline ]; do
    use=$(cpu_use)
    [ "$use" -lt "$quiet" ] || continue
    r=$((r + 1))
    for p in libgomp-default lrlab passive pytorch; do
        case $p in
            libgomp-default) v=$(env -u OMP_WAIT_POLICY GOMP_SPINCOUNT=300000 "$LRLAB" $B | step) ;;
            lrlab) v=$(env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT "$LRLAB" $B | step) ;;
            passive) v=$(env -u GOMP_SPINCOUNT OMP_WAIT_POLICY=passive "$LRLAB" $B | step) ;;
            pytorch) v=$(env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT /usr/bin/python3 bench/torch_step.py --gomp-default --threads 2 \
                --iters 10 --warmup 2 | step) ;;
        esac
        echo "round $r cpu_use_before=${use}% $p images_per_s=$v"
        echo "$p $v $use" >>"$res"
    done
done
echo
echo "| wait policy | median images/s | rounds | machine CPU use before (median %) |"
echo "|---|---|---|---|"
for p in libgomp-default lrlab passive pytorch; do
    n=$(grep -c "^$p " "$res")
    [ "$n" -gt 0 ] || continue
    med=$(grep "^$p " "$res" | cut -d' ' -f2 | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    use=$(grep "^$p " "$res" | cut -d' ' -f3 | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    echo "| $p | $med | $n | $use |"
done
