#!/bin/sh
# tests/plot_test.sh: the figures of `lrlab plot`, `lrlab schedule --plot`
# and `lrlab find-lr --plot` (cli/figure.c), through the CLI ($LRLAB):
# - a target that cannot be written (no such directory, a file as the
#   directory, a directory as the target, a bad extension) is refused before
#   any work, naming the path, and nothing reaches stdout (the old bug: the
#   PNG went to the terminal);
# - gnuplot's output goes to a temporary file that replaces the target only
#   on success: a failing gnuplot leaves an old file as it was, no temporary
#   file, and one clear lrlab error carrying gnuplot's message;
# - the script (captured by a gnuplot wrapper first on PATH): the lr drawn
#   as steps, integer epoch ticks, a log lr axis with labelled ticks, a
#   distinct colour and dash for each of 20 runs, one legend entry per line;
#   a seed group's band (--band sd, ci, none) with its numbers;
# - gnuplot's stderr is empty on typical inputs (no leaked warnings).
# Run from the repository root; prints "plot_test: N passed, N failed".
set -u
. tests/lib.sh
has() { grep -qF -- "$2" "$1"; } # has FILE TEXT

if [ ! -x "$LRLAB" ]; then
    echo "plot_test: $LRLAB is not built"
    echo "plot_test: 0 passed, 1 failed"
    exit 1
fi
real_gnuplot=$(command -v gnuplot || true)
if [ -z "$real_gnuplot" ]; then
    skip "plot_test: gnuplot is not installed (apt-get install gnuplot-nox)"
    summary plot_test; exit
fi

# a gnuplot that keeps its script and stderr in $GP_LOG.gp / .err, then runs the real one
mkdir "$tmp/bin" "$tmp/fake"
cat >"$tmp/bin/gnuplot" <<EOF
#!/bin/sh
cat >"\$GP_LOG.gp"
"$real_gnuplot" <"\$GP_LOG.gp" 2>"\$GP_LOG.err"; rc=\$?
cat "\$GP_LOG.err" >&2
exit \$rc
EOF
# a gnuplot that writes half an image and fails as gnuplot does
cat >"$tmp/fake/gnuplot" <<'EOF'
#!/bin/sh
cat >/dev/null
printf 'PARTIAL'
printf 'gnuplot> plot $g0 using 1:9\n                  ^\n         line 40: warning: Skipping data file with no valid points\n\n         line 41: all points y value undefined!\n\n' >&2
exit 1
EOF
chmod +x "$tmp/bin/gnuplot" "$tmp/fake/gnuplot"
WRAP="$tmp/bin:$PATH"

# runs: NAME (20 of them, 30 epochs, lr spanning 1e-4 .. 0.04), three seeds, a 1-epoch run
H=epoch,lr,momentum,train_loss,train_acc,test_loss,test_acc,val_loss,val_acc,seconds,images_per_s
mkrun() { # mkrun DIR EPOCHS LR0 DECAY SHIFT
    mkdir -p "$1"
    printf 'lr=%s\nepochs=%s\n' "$3" "$2" >"$1/config.txt"
    awk -v n="$2" -v lr="$3" -v g="$4" -v s="$5" -v h="$H" 'BEGIN {
        print h
        for (e = 0; e < n; e++) printf "%d,%.9g,0.9,%.4f,%.2f,%.4f,%.2f,,,10,1\n", e, lr * g ^ e, 2.3 * exp(-e / 8) + 0.3, 80 - 50 * exp(-e / 5) + s, 1, 75 - 50 * exp(-e / 5) + s
    }' >"$1/metrics.csv"
}
i=0
while [ $i -lt 20 ]; do mkrun "$tmp/sw/r$i" 30 0.0$((i % 4 + 1)) 0.8$((i % 10)) $i; i=$((i + 1)); done
for s in 0 1 2; do mkrun "$tmp/seeds/a-s$s" 12 0.05 0.9 $s; done
mkrun "$tmp/one/x" 1 0.01 1 0

# ---- the target is checked first; nothing reaches stdout ----
"$LRLAB" plot "$tmp/sw" -o "$tmp/nodir/x.png" >"$tmp/out" 2>"$tmp/err"; rc=$?
check "plot -o in a missing directory: exit 1 ($rc)" [ "$rc" -eq 1 ]
check "plot -o in a missing directory: names the path" has "$tmp/err" "-o $tmp/nodir/x.png: cannot write there: directory '$tmp/nodir': No such file or directory"
check "plot -o in a missing directory: nothing on stdout" [ ! -s "$tmp/out" ]
: >"$tmp/afile"
"$LRLAB" plot "$tmp/sw" -o "$tmp/afile/x.png" >"$tmp/out" 2>"$tmp/err"; rc=$?
check "plot -o under a file: exit 1 ($rc), named" sh -c "[ $rc -eq 1 ] && grep -qF \"'$tmp/afile' is not a directory\" '$tmp/err'"
mkdir "$tmp/d.png"
"$LRLAB" plot "$tmp/sw" -o "$tmp/d.png" >"$tmp/out" 2>"$tmp/err"; rc=$?
check "plot -o a directory: exit 1 ($rc), named" sh -c "[ $rc -eq 1 ] && grep -qF '$tmp/d.png: is a directory' '$tmp/err'"
"$LRLAB" schedule --lr 0.1 --epochs 5 --plot "$tmp/nodir/s.png" >"$tmp/out" 2>"$tmp/err"; rc=$?
check "schedule --plot in a missing directory: exit 1 ($rc)" [ "$rc" -eq 1 ]
check "schedule --plot in a missing directory: names the path" has "$tmp/err" "--plot $tmp/nodir/s.png: cannot write there"
check "schedule --plot in a missing directory: stdout empty (no PNG, no lr lines)" [ ! -s "$tmp/out" ]
"$LRLAB" schedule --lr 0.1 --epochs 5 --plot "$tmp/s.pdf" >"$tmp/out" 2>"$tmp/err"; rc=$?
check "schedule --plot FILE.pdf: usage error ($rc)" sh -c "[ $rc -eq 2 ] && grep -q 'ending in .png or .svg' '$tmp/err'"
# find-lr checks before loading data or training: a missing data directory is not reached
"$LRLAB" find-lr --data "$tmp/no-data" --plot "$tmp/nodir/f.png" >"$tmp/out" 2>"$tmp/err"; rc=$?
check "find-lr --plot in a missing directory: exit 1 ($rc), before any work" sh -c "[ $rc -eq 1 ] && grep -q 'cannot write there' '$tmp/err' && ! grep -q no-data '$tmp/err'"
check "find-lr --plot in a missing directory: nothing on stdout" [ ! -s "$tmp/out" ]

# ---- a failing gnuplot: the old file stays, no temporary file, one clear error ----
printf 'old figure' >"$tmp/keep.png"
PATH="$tmp/fake:$PATH" "$LRLAB" plot "$tmp/sw" -o "$tmp/keep.png" >"$tmp/out" 2>"$tmp/err"; rc=$?
check "failing gnuplot: exit 1 ($rc)" [ "$rc" -eq 1 ]
check "failing gnuplot: the old file is unchanged" sh -c "[ \"\$(cat '$tmp/keep.png')\" = 'old figure' ]"
check "failing gnuplot: no temporary file" [ ! -e "$tmp/keep.png.tmp" ]
check "failing gnuplot: gnuplot's error in lrlab's message" has "$tmp/err" "lrlab plot: gnuplot failed drawing $tmp/keep.png: line 41: all points y value undefined!"
check "failing gnuplot: one line on stderr, nothing on stdout" sh -c "[ \$(wc -l <'$tmp/err') -eq 1 ] && [ ! -s '$tmp/out' ]"
PATH="$tmp/fake:$PATH" "$LRLAB" schedule --lr 0.1 --epochs 3 --plot "$tmp/keep.png" >"$tmp/out" 2>"$tmp/err"; rc=$?
check "schedule, failing gnuplot: exit 1, old file kept, stdout holds only the lr lines" \
    sh -c "[ $rc -eq 1 ] && [ \"\$(cat '$tmp/keep.png')\" = 'old figure' ] && [ \$(grep -cvE '^[0-9]+ [0-9.e-]+\$' '$tmp/out') -eq 0 ]"

# ---- the script ----
GP_LOG=$tmp/g20 PATH=$WRAP "$LRLAB" plot "$tmp/sw" -o "$tmp/g20.png" --title "twenty runs" >"$tmp/out" 2>"$tmp/err"; rc=$?
check "plot of 20 runs: exit 0 ($rc), stderr empty" sh -c "[ $rc -eq 0 ] && [ ! -s '$tmp/err' ]"
check "plot of 20 runs: a PNG" sh -c "head -c 4 '$tmp/g20.png' | od -An -c | tr -d ' \n' | grep -q '211PNG'"
check "plot: gnuplot's stderr is empty" [ ! -s "$tmp/g20.err" ]
check "plot: no 'set output' (gnuplot writes to its stdout, the temporary file)" sh -c "! grep -q 'set output' '$tmp/g20.gp'"
check "plot: lr drawn as steps, 20 lines" sh -c "[ \$(grep -o '\$l[0-9]* using 1:2 with steps' '$tmp/g20.gp' | wc -l) -eq 20 ]"
check "plot: the lr steps cover the last epoch (a row at epoch 30)" sh -c "awk '/^\\\$l0 << EOD/ { on = 1; next } on && /^EOD/ { exit } on { last = \$1 } END { exit last != 30 }' '$tmp/g20.gp'"
check "plot: integer epoch ticks" has "$tmp/g20.gp" "set xtics 0, 5 format '%.0f'"
check "plot: log lr axis with labelled ticks" sh -c "grep -q '^set logscale y' '$tmp/g20.gp' && grep -q '^set ytics (.*\"0.01\" 0.01 0' '$tmp/g20.gp' && grep -q '\"1e-4\" 0.0001 0' '$tmp/g20.gp'"
# panel 1's plot command: one titled line per run, 20 distinct colour+dash pairs
awk '/^plot /{ n++ } n == 1 { print } /^plot / && n == 1 && !/\\$/ { exit } n == 1 && !/\\$/ { exit }' "$tmp/g20.gp" >"$tmp/panel1"
check "plot: 20 legend entries for 20 lines" sh -c "[ \$(grep -c \" title '\" '$tmp/panel1') -eq 20 ] && [ \$(grep -c 'with linespoints' '$tmp/panel1') -eq 20 ]"
check "plot: 20 distinct colour and dash pairs" sh -c "[ \$(grep -o \"lc rgb '#[0-9a-f]*' dt [^ ]*\" '$tmp/panel1' | sort -u | wc -l) -eq 20 ]"
check "plot: no key in panels 2 and 3, nothing untitled in panel 1" sh -c "grep -q '^unset key' '$tmp/g20.gp' && ! grep -q notitle '$tmp/panel1'"

GP_LOG=$tmp/gs PATH=$WRAP "$LRLAB" plot "$tmp/seeds" "$tmp/one" -o "$tmp/gs.svg" >"$tmp/out" 2>"$tmp/err"; rc=$?
check "plot of a seed group and a 1-epoch run: exit 0 ($rc), gnuplot's stderr empty" sh -c "[ $rc -eq 0 ] && [ ! -s '$tmp/err' ] && [ ! -s '$tmp/gs.err' ]"
check "plot: the seed group's legend entry" has "$tmp/gs.gp" "title 'a (mean of 3 seeds ± std)'"
# the seeds' test accuracies differ by 0, 1, 2 at every epoch: sd 1, 95% t interval ± 4.302653 / sqrt(3) = ± 2.48413771
check "plot --band sd (default): epoch 0's band is ± 1" sh -c "grep -A1 '^\$g0 << EOD' '$tmp/gs.gp' | grep -qx '0 26 1 2.6 0'"
check "plot: the band is filled in the group's colour" sh -c "grep -q \"using 1:(\\\$2-\\\$3):(\\\$2+\\\$3) with filledcurves lc rgb '#\" '$tmp/gs.gp'"
GP_LOG=$tmp/gci PATH=$WRAP "$LRLAB" plot "$tmp/seeds" "$tmp/one" -o "$tmp/gci.svg" --band ci >"$tmp/out" 2>"$tmp/err"; rc=$?
check "plot --band ci: exit 0 ($rc), gnuplot's stderr empty" sh -c "[ $rc -eq 0 ] && [ ! -s '$tmp/err' ] && [ ! -s '$tmp/gci.err' ]"
check "plot --band ci: epoch 0's band is the t interval" sh -c "grep -A1 '^\$g0 << EOD' '$tmp/gci.gp' | grep -qx '0 26 2.48413771 2.6 0'"
check "plot --band ci: the legend says so" has "$tmp/gci.gp" "title 'a (mean of 3 seeds, 95% CI)'"
GP_LOG=$tmp/gno PATH=$WRAP "$LRLAB" plot "$tmp/seeds" -o "$tmp/gno.svg" --band none >/dev/null 2>&1
check "plot --band none: no filled band" sh -c "grep -q 'title .a (mean of 3 seeds).' '$tmp/gno.gp' && ! grep -q filledcurves '$tmp/gno.gp'"
"$LRLAB" plot "$tmp/seeds" -o "$tmp/gbad.svg" --band iqr >/dev/null 2>"$tmp/err"; rc=$?
check "plot --band iqr: exit 2 ($rc), names the value" sh -c "[ $rc -eq 2 ] && grep -qF -- \"--band 'iqr': expected sd, ci or none\" '$tmp/err'"
long="a title long enough that it cannot fit on one line of a figure a thousand pixels wide, so it is wrapped at a space: lrlab guesses seven pixels a character at the ten-point font and breaks the line before the edge"
GP_LOG=$tmp/gt PATH=$WRAP "$LRLAB" plot "$tmp/one" -o "$tmp/gt.png" --title "$long" >/dev/null 2>&1
check "plot: a long title is wrapped" sh -c "grep -q '^set multiplot title \".*\\\\n.*\"' '$tmp/gt.gp' && [ ! -s '$tmp/gt.err' ]"

for s in "constant|" "StepLR(step_size=2, gamma=0.1)|" "OneCycleLR(max_lr=0.1, total_steps=40)|--momentum 0.9" \
         "CosineAnnealingLR(T_max=40)|--sched-unit step --steps-per-epoch 4"; do
    expr=${s%%|*}; extra=${s#*|}
    [ "$expr" = constant ] && set -- || set -- --sched "$expr"
    # shellcheck disable=SC2086
    GP_LOG=$tmp/gsch PATH=$WRAP "$LRLAB" schedule --lr 0.1 --epochs 10 "$@" $extra --plot "$tmp/sch.png" >"$tmp/out" 2>"$tmp/err"; rc=$?
    check "schedule --plot ($expr): exit 0 ($rc), gnuplot's stderr empty" sh -c "[ $rc -eq 0 ] && [ ! -s '$tmp/err' ] && [ ! -s '$tmp/gsch.err' ]"
    check "schedule --plot ($expr): steps, integer ticks" sh -c "grep -q 'with steps' '$tmp/gsch.gp' && grep -q \"^set xtics 0, [0-9]* format '%.0f'\" '$tmp/gsch.gp'"
done
check "schedule --plot: a decay by 0.1 gets a log axis" sh -c "GP_LOG=$tmp/gl PATH=$WRAP '$LRLAB' schedule --lr 0.1 --epochs 9 --sched 'StepLR(step_size=3, gamma=0.1)' --plot '$tmp/l.png' >/dev/null && grep -q '^set logscale y' '$tmp/gl.gp'"

# ---- find-lr: its suggestions are lines in the legend ----
if [ -n "${SYNTH_DIR:-}" ] && [ -f "$SYNTH_DIR/test_batch.bin" ]; then
    printf 'input 3 32 32\nconv c1 4\nrelu\nmaxpool 8\nflatten\nlinear fc 10\n' >"$tmp/tiny"
    GP_LOG=$tmp/gf PATH=$WRAP "$LRLAB" find-lr --data "$SYNTH_DIR" --model "$tmp/tiny" --limit-train 256 --batch 32 --steps 20 \
        --threads 1 --plot "$tmp/f.png" >"$tmp/out" 2>"$tmp/err"; rc=$?
    check "find-lr --plot: exit 0 ($rc), gnuplot's stderr empty" sh -c "[ $rc -eq 0 ] && [ ! -s '$tmp/err' ] && [ ! -s '$tmp/gf.err' ]"
    check "find-lr --plot: both suggestions are titled lines (no untitled arrows)" sh -c "grep -q \"title sprintf('suggested lr\" '$tmp/gf.gp' && grep -q \"title sprintf('min-loss lr / 10\" '$tmp/gf.gp' && ! grep -q 'set arrow' '$tmp/gf.gp'"
    check "find-lr --plot: a log lr axis" grep -q '^set logscale x' "$tmp/gf.gp"
else
    echo "NOTE plot_test: no \$SYNTH_DIR: find-lr --plot not tested here"
fi

summary plot_test
