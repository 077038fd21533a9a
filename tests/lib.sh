# tests/lib.sh: sourced by shell tests (`. tests/lib.sh`, from the
# repository root): the CLI under test, pass/fail counters, a scratch
# directory removed on exit, and the assertions.
LRLAB=${LRLAB:-build/lrlab}
pass=0; fail=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { # check DESCRIPTION COMMAND...: passes when the command succeeds
    d=$1; shift
    if "$@"; then ok; else bad "$d"; fi
}

# expect STATUS TEXT ARGS...: `lrlab ARGS` exits STATUS and says TEXT (a
# fixed string; its output is left in $tmp/out)
expect() {
    want=$1 text=$2; shift 2
    "$LRLAB" "$@" >"$tmp/out" 2>&1; rc=$?
    if [ $rc -eq "$want" ] && grep -qF -- "$text" "$tmp/out"; then ok; else
        bad "lrlab $*: exit $rc (expected $want), output: $(head -c 400 "$tmp/out" | tr '\n' '|') (expected '$text')"; fi
}

# The Python with python3-torch (Debian's); LRLAB_PYTHON overrides it (the
# harness test points it at nothing to see a missing torch fail under CI).
PY=${LRLAB_PYTHON:-/usr/bin/python3}
have_torch() { "$PY" -c 'import torch, numpy' >/dev/null 2>&1; }

# in_ci: true when $CI is set (as CI services and .ci/run set it), where
# every check must run: a skipped check is then a failure.
in_ci() { case "${CI:-}" in '' | 0 | false | no) return 1 ;; *) return 0 ;; esac; }

# skip REASON: a check that cannot run here (a missing tool). Prints
# "SKIP REASON"; counts as a failure when $CI is set.
skip() {
    echo "SKIP $*"
    if in_ci; then bad "skipped with CI=$CI (every check must run in CI): $*"; fi
}

# wait_until CONDITION: polls until a shell condition holds (every 0.05 s);
# the bound (5 minutes) only guards against a hang.
wait_until() {
    n=0
    while ! eval "$1"; do
        n=$((n + 1))
        if [ $n -gt 6000 ]; then echo "wait_until: '$1' never held"; return 1; fi
        sleep 0.05
    done
}

# lines FILE: its number of lines (0 when it does not exist yet: a run's
# metrics.csv or steps.csv while it starts)
lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }

# add_up NAME OUTPUT: adds the counts of the closing line `NAME: N passed,
# N failed` in OUTPUT (a checking script's), showing its first FAIL lines;
# no such line is a failure.
add_up() {
    echo "$2" | grep -E "^FAIL" | head -n 20
    line=$(echo "$2" | grep -E "^$1: " | tail -n 1)
    if [ -z "$line" ]; then bad "$1: no closing line: $(echo "$2" | tail -n 3)"; return; fi
    pass=$((pass + $(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')))
    fail=$((fail + $(echo "$line" | sed -E 's/.*passed, ([0-9]+) failed.*/\1/')))
}

# summary NAME: the closing line tests/run.sh adds up; the exit status.
summary() {
    echo "$1: $pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
