#!/bin/sh
# tests/warmup_train_test.sh: the lr a training run logs follows the
# schedule, epoch by epoch (issue 3's must-show): the seed's warmup
# GradualWarmupScheduler(multiplier=40, total_epoch=5,
# after_scheduler=ExponentialLR(gamma=0.885)) at --lr 0.001 logs
# 0.001, 0.0088, ..., 0.04 at epoch 5, then 0.04 * 0.885^(e - 5);
# and a per-step OneCycleLR logs its cycled momentum.
set -u
. tests/lib.sh
work=$tmp
"$LRLAB" train --data "$SYNTH_DIR" --limit-train 128 --limit-test 64 --batch 64 --epochs 8 --threads 1 \
    --lr 0.001 --sched 'GradualWarmupScheduler(multiplier=40, total_epoch=5, after_scheduler=ExponentialLR(gamma=0.885))' \
    --out "$work/w" >/dev/null 2>&1 || bad "warmup run failed"
# expected lr per epoch, and the largest relative difference
awk -F, 'NR > 1 {
    e = $1; b = 0.001; m = 40
    want = (e <= 5) ? b * (1 + (m - 1) * e / 5) : b * m * 0.885 ^ (e - 5)
    d = ($2 - want) / want; if (d < 0) d = -d
    if (d > 1e-12) { printf "epoch %d: lr %s, want %.17g\n", e, $2, want; bad = 1 }
    n++
} END { exit (bad || n != 8) }' "$work/w/metrics.csv" && ok || bad "warmup lr column: $(cut -d, -f1,2 "$work/w/metrics.csv" | tr '\n' ' ')"
grep -q '^1,0.0088' "$work/w/metrics.csv" && ok || bad "epoch 1 lr is not 0.0088"
"$LRLAB" train --data "$SYNTH_DIR" --limit-train 256 --limit-test 64 --batch 64 --epochs 2 --threads 1 \
    --sched-unit step --sched 'OneCycleLR(max_lr=0.1, total_steps=8)' --log-steps --out "$work/o" >/dev/null 2>&1 || bad "onecycle run failed"
# steps.csv: step,epoch,lr,momentum,loss; OneCycleLR starts at max_lr/25 with momentum 0.95
head -2 "$work/o/steps.csv" | tail -1 | awk -F, '{ exit !($1 == 0 && ($3 - 0.004) ^ 2 < 1e-20 && ($4 - 0.95) ^ 2 < 1e-20) }' \
    && ok || bad "steps.csv first row: $(sed -n 2p "$work/o/steps.csv")"
[ "$(wc -l < "$work/o/steps.csv")" -eq 9 ] && ok || bad "steps.csv has $(wc -l < "$work/o/steps.csv") lines, want 9"
echo "warmup_train_test: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
