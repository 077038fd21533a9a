#!/bin/sh
# tests/report_stats_test.sh: the statistics of `lrlab report` on hand-made
# seed groups, against numbers worked by hand:
#   a = {90.1, 90.5, 89.9}: mean 90.1667, sd 0.3055, 95% t interval
#       ± 4.3027 · 0.3055/√3 = ± 0.759 -> [89.41, 90.93];
#   b = {89.0, 89.6, 89.2}: same sd, so Welch's df is exactly 4;
#       b - a = -0.90, se = 0.3055·√(2/3) = 0.2494, t = -3.608,
#       p = 2(1 - F4(3.608)) = 0.0226 (F4 in closed form), interval
#       -0.90 ± 2.7764 · 0.2494 = [-1.59, -0.21]: worse than a;
#   c = {89.5, 90.9, 89.3}: mean 89.9, sd 0.872, Welch df 2.48, p ≈ 0.66:
#       not distinguishable from a;
#   d = {88, 90}: two seeds, the K < 3 note; e: one run, no test.
# Also --metric (bad names exit 2; a validation metric without a
# validation set is "-"), --sort, --csv, --bootstrap's determinism, and
# no statistics table without seed groups.
# Run from the repository root; prints "report_stats_test: N passed, N failed".
set -u
. tests/lib.sh
has() { grep -qF -- "$2" "$1"; } # has FILE TEXT

H=epoch,lr,momentum,train_loss,train_acc,test_loss,test_acc,val_loss,val_acc,seconds,images_per_s
sw=$tmp/sw
mk() { # mk NAME FINAL_TEST_ACC: a finished 2-epoch run
    d=$sw/$1; mkdir -p "$d"
    printf 'lr=0.05\nepochs=2\n' >"$d/config.txt"
    printf '%s\n0,0.05,0.9,2,20,1.9,30,,,10,1\n1,0.05,0.9,1.5,40,1.5,%s,,,10,1\n' "$H" "$2" >"$d/metrics.csv"
    : >"$d/model.safetensors"
}
mk a-s0 90.1; mk a-s1 90.5; mk a-s2 89.9
mk b-s0 89.0; mk b-s1 89.6; mk b-s2 89.2
mk c-s0 89.5; mk c-s1 90.9; mk c-s2 89.3
mk d-s0 88; mk d-s1 90
mk e 91

if "$LRLAB" report "$sw" >"$tmp/r" 2>"$tmp/err"; then ok; else bad "report exit $?: $(cat "$tmp/err")"; fi
check "header names the metric and the best group" has "$tmp/r" \
    'Statistics of the final test accuracy (%) over seeds, 95% intervals; best: a (mean 90.17).'
check "best group row" has "$tmp/r" '| a | 3 | 90.17 | 0.31 | [89.41, 90.93] | - | - | best |'
check "b: Welch difference, p, worse" has "$tmp/r" '| b | 3 | 89.27 | 0.31 | [88.51, 90.03] | -0.90 [-1.59, -0.21] | 0.023 | worse |'
check "c: not distinguishable" has "$tmp/r" '| c | 3 | 89.90 | 0.87 |'
check "c: its verdict" sh -c "grep -F '| c | 3 |' '$tmp/r' | grep -q '| not distinguishable |\$'"
check "d: two seeds" has "$tmp/r" '| d | 2 | 89.00 | 1.41 | [76.29, 101.71] |'
check "K < 3 note" has "$tmp/r" 'Note: a group with 2 runs has one degree of freedom'
check "e: one run, no test" has "$tmp/r" '| e | 1 | 91.00 | - | - | +0.83 | - | no test (one run) |'
check "caveat: test-set noise" has "$tmp/r" 'binomial sd √(p(1-p)/n)'

"$LRLAB" report "$sw" --csv >"$tmp/csv" 2>"$tmp/err"
check "csv header" sh -c "head -1 '$tmp/csv' | grep -qx 'group,runs,metric,mean,sd,ci_low,ci_high,boot_low,boot_high,diff,diff_low,diff_high,df,p,vs_best'"
check "csv: b's row (df 4 exactly)" sh -c "grep -q '^b,3,final,89.2666667,0.305505046,88.507750[0-9],90.025583[0-9],,,-0.9,-1.5925670[0-9],-0.20743291[0-9],4,0.02259620[0-9]*,worse\$' '$tmp/csv'"
check "csv: one row per group" [ "$(wc -l <"$tmp/csv")" -eq 6 ]

"$LRLAB" report "$sw" --csv --sort final >"$tmp/sorted" 2>&1
check "--sort final: highest mean first" sh -c "sed -n 2p '$tmp/sorted' | grep -q '^e,' && sed -n 3p '$tmp/sorted' | grep -q '^a,'"
"$LRLAB" report "$sw" --sort last5 >/dev/null 2>&1
check "--sort last5 is accepted" [ $? -eq 0 ]

"$LRLAB" report "$sw" --bootstrap 2000 --bootstrap-seed 3 >"$tmp/b1" 2>&1
"$LRLAB" report "$sw" --bootstrap 2000 --bootstrap-seed 3 >"$tmp/b2" 2>&1
check "bootstrap column" has "$tmp/b1" '| 95% CI (t) | 95% CI (bootstrap) |'
check "bootstrap: same seed, same report" cmp -s "$tmp/b1" "$tmp/b2"
check "bootstrap: constant one-run group is a point" has "$tmp/b1" '| e | 1 | 91.00 | - | - | [91.00, 91.00] |'
check "bootstrap: named in the notes" has "$tmp/b1" '2000 resamples, seed 3.'

"$LRLAB" report "$sw" --metric best >"$tmp/best" 2>&1
check "--metric best: its title" has "$tmp/best" 'Statistics of the best test accuracy (%)'
"$LRLAB" report "$sw" --metric val_last5 >"$tmp/val" 2>&1; rc=$?
check "--metric val_last5 without a validation set: exit 0 ($rc)" [ "$rc" -eq 0 ]
check "--metric val_last5 without a validation set: nothing tested" has "$tmp/val" 'no group has two runs with it'
check "--metric val_last5: rows of -" has "$tmp/val" '| a | 0 | - | - | - | - | - | - |'

"$LRLAB" report "$sw" --metric median >/dev/null 2>"$tmp/err"; rc=$?
check "bad --metric exits 2 ($rc)" [ "$rc" -eq 2 ]
check "bad --metric names the value and the choices" has "$tmp/err" "--metric 'median': expected final, best, last5"
"$LRLAB" report "$sw" --bootstrap 0 >/dev/null 2>"$tmp/err"; rc=$?
check "--bootstrap 0 exits 2 ($rc)" [ "$rc" -eq 2 ]
check "--bootstrap 0 names the flag" has "$tmp/err" "--bootstrap"
"$LRLAB" report "$sw" --bootstrap-seed 1 >/dev/null 2>"$tmp/err"; rc=$?
check "--bootstrap-seed alone exits 2 ($rc)" [ "$rc" -eq 2 ]

"$LRLAB" report "$sw/e" "$sw/a-s0" >"$tmp/plain" 2>&1
check "no seed groups: no statistics table" sh -c "! grep -q 'Statistics of' '$tmp/plain'"
"$LRLAB" report "$sw" -o "$tmp/out.md" >/dev/null 2>&1
check "-o writes the report with its statistics" cmp -s "$tmp/r" "$tmp/out.md"

summary report_stats_test
