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
