#!/bin/sh
# tests/torch_fixtures_test.sh: the committed PyTorch fixtures
# (tests/fixtures/sched/*.txt, tests/fixtures/sgd/sgd.txt,
# tests/fixtures/optim/optim.txt and average.txt, read by
# test_sched, test_optim and sched_cli_test.sh) are what torch 1.13 computes
# today: tests/torch/make_sched_fixtures.py writes them afresh into a scratch
# directory and every file must be byte-identical. Without python3-torch
# this is a SKIP (a failure with CI set). Run from the repository root.
set -u
. tests/lib.sh

if ! have_torch; then
    skip "torch_fixtures_test: python3-torch is not installed (make deps-test)"
    summary torch_fixtures_test
    exit $?
fi
if ! "$PY" tests/torch/make_sched_fixtures.py "$tmp" >"$tmp/log" 2>&1; then
    bad "make_sched_fixtures.py failed: $(tail -n 3 "$tmp/log" | tr '\n' ';')"
    summary torch_fixtures_test
    exit 1
fi
n=0
for f in tests/fixtures/sched/*.txt tests/fixtures/sgd/sgd.txt tests/fixtures/optim/optim.txt tests/fixtures/optim/average.txt; do
    n=$((n + 1))
    new="$tmp/${f#tests/fixtures/}"
    if cmp -s "$f" "$new"; then ok; else
        bad "$f differs from what torch computes now: $(diff "$f" "$new" | head -n 4 | tr '\n' ';')"; fi
done
# and nothing made today is missing from the committed set
for new in "$tmp"/sched/*.txt "$tmp"/sgd/*.txt "$tmp"/optim/*.txt; do
    f="tests/fixtures/${new#"$tmp"/}"
    check "$f is committed" [ -f "$f" ]
done
check "the fixture files are there ($n)" [ "$n" -ge 20 ]
cases=$(grep -c '^case$' tests/fixtures/sched/*.txt | awk -F: '{ s += $2 } END { print s }')
echo "NOTE $cases schedule cases, $(grep -c '^case$' tests/fixtures/sgd/sgd.txt) SGD cases, $(grep -c '^case$' tests/fixtures/optim/optim.txt) optimiser cases, made by torch $("$PY" -c 'import torch; print(torch.__version__)')"
summary torch_fixtures_test
