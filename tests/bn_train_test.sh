#!/bin/sh
# tests/bn_train_test.sh: `lrlab train` of a model with BatchNorm and dropout
# (the reference executor): its running statistics are buffers that reach
# model.safetensors with PyTorch's names and dtypes (num_batches_tracked I64
# = the optimiser steps taken), the same command gives byte-identical
# weights, a run stopped mid-way and resumed equals one straight through
# (buffers and dropout masks included), and the test pass runs in eval mode
# (test metrics do not change the buffers), as does the --val pass. With python3-torch: the file
# loads into the equal PyTorch module with load_state_dict(strict=True), and
# PyTorch's eval-mode test accuracy on the same images equals lrlab's.
set -u
. tests/lib.sh
case "$LRLAB" in /*) ;; *) LRLAB=$(pwd)/$LRLAB ;; esac
: "${SYNTH_DIR:?SYNTH_DIR must name a synthetic CIFAR-10 directory (tests/run.sh sets it)}"
T=$tmp
cat >"$T/bn.model" <<'M'
input 3 32 32
conv conv1 4 stride=2 bias=1
batchnorm bn1 momentum=0.3
relu
maxpool 2
conv conv2 6
batchnorm bn2 affine=0
gelu
global_avgpool
flatten
dropout 0.25
linear fc 10 bias=1
M
F="--backend ref --model $T/bn.model --data $SYNTH_DIR --limit-train 128 --limit-test 64 --batch 32 --epochs 2 --threads 1 --lr 0.05"

"$LRLAB" train $F --out "$T/a" >"$T/a.out" 2>&1
check "train a BatchNorm model (exit $?): $(tail -n 2 "$T/a.out")" [ -f "$T/a/model.safetensors" ]
"$LRLAB" train $F --out "$T/b" >/dev/null 2>&1
check "the same command gives byte-identical weights" cmp -s "$T/a/model.safetensors" "$T/b/model.safetensors"
"$LRLAB" train $F --out "$T/c" --stop-at-step 5 >/dev/null 2>&1
"$LRLAB" train --resume "$T/c" >"$T/c.out" 2>&1
check "stopped at step 5 and resumed: the same weights as straight through ($(tail -n 1 "$T/c.out"))" \
    cmp -s "$T/a/model.safetensors" "$T/c/model.safetensors"
"$LRLAB" eval "$T/a/model.safetensors" --model "$T/bn.model" --data "$SYNTH_DIR" --limit-test 64 --backend ref \
    >"$T/eval.out" 2>&1 || "$LRLAB" eval --model-file "$T/a/model.safetensors" --model "$T/bn.model" \
    --data "$SYNTH_DIR" --limit-test 64 --backend ref >"$T/eval.out" 2>&1
acc=$(sed -n 's/.*test_acc=\([0-9.]*\).*/\1/p; s/^test accuracy:* *\([0-9.]*\).*/\1/p' "$T/eval.out" | head -n 1)
last=$(tail -n 1 "$T/a/metrics.csv" | cut -d, -f7)
check "eval of the weights (eval mode) gives the run's last test accuracy: eval '$acc', metrics '$last'" \
    sh -c '[ -n "$1" ] && awk -v a="$1" -v b="$2" "BEGIN { exit !(a - b < 0.01 && b - a < 0.01) }"' - "$acc" "$last"

# --val in eval mode: a data copy whose test set starts with the 32 images
# --val 32 holds out of the first 128 (96..127), so each epoch's validation
# and test passes see the same images with the same weights and buffers:
# equal losses in eval mode (train mode would use the batch's statistics and
# dropout, and update the buffers between the two passes)
mkdir -p "$T/v"
for f in data_batch_1 data_batch_2 data_batch_3 data_batch_4 data_batch_5; do ln -s "$SYNTH_DIR/$f.bin" "$T/v/$f.bin"; done
{ tail -c +$((96 * 3073 + 1)) "$SYNTH_DIR/data_batch_1.bin"; head -c $((96 * 3073)) "$SYNTH_DIR/data_batch_1.bin"; } >"$T/v/test_batch.bin"
"$LRLAB" train --backend ref --model "$T/bn.model" --data "$T/v" --limit-train 128 --val 32 --limit-test 32 --batch 32 \
    --epochs 2 --threads 1 --lr 0.05 --out "$T/val" >"$T/val.out" 2>&1
rows=$(awk -F, 'NR > 1 && $6 == $8 && $7 == $9 {n++} END {print n + 0}' "$T/val/metrics.csv" 2>/dev/null)
check "--val runs in eval mode: validation equals the test pass on the same images, both epochs ($(cut -d, -f6-9 "$T/val/metrics.csv" 2>/dev/null | tr '\n' ' '))" \
    [ "$rows" = 2 ]

"$LRLAB" bench --model "$T/bn.model" --batch 8 --iters 1 --threads 1 --conv-algo direct >"$T/bench.out" 2>&1
check "bench runs a BatchNorm model (exit $?): $(tail -n 1 "$T/bench.out")" grep -q "^train_step images_per_s=" "$T/bench.out"

if ! have_torch; then
    skip "bn_train_test: python3-torch not installed: the file is not loaded into PyTorch"
    summary bn_train_test; exit
fi
"$PY" - "$T/a/model.safetensors" "$SYNTH_DIR" "$last" >"$T/py.out" 2>&1 <<'PY'
import json, struct, sys
import numpy as np, torch, torch.nn as nn
path, data, want_acc = sys.argv[1], sys.argv[2], float(sys.argv[3])
raw = open(path, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
dt = {"F32": np.float32, "I64": np.int64}
state = {k: torch.from_numpy(np.frombuffer(raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]],
         dtype=dt[v["dtype"]]).reshape(v["shape"]).copy()) for k, v in header.items() if k != "__metadata__"}
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, 2, 1, bias=True); self.bn1 = nn.BatchNorm2d(4, momentum=0.3)
        self.conv2 = nn.Conv2d(4, 6, 3, 1, 1, bias=False); self.bn2 = nn.BatchNorm2d(6, affine=False)
        self.drop = nn.Dropout(0.25); self.fc = nn.Linear(6, 10)
    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 2)
        x = nn.functional.gelu(self.bn2(self.conv2(x)))
        return self.fc(self.drop(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)))
net = Net()
net.load_state_dict(state, strict=True)
print("dtype", header["bn1.num_batches_tracked"]["dtype"], "steps", int(state["bn1.num_batches_tracked"]))
rec = np.fromfile(data + "/test_batch.bin", dtype=np.uint8).reshape(-1, 3073)[:64]
x = torch.from_numpy(rec[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32) / 255)
mean = torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1); std = torch.tensor([0.2023, 0.1994, 0.2010]).view(1, 3, 1, 1)
net.eval()
acc = 100.0 * (net((x - mean) / std).argmax(1) == torch.from_numpy(rec[:, 0].astype(np.int64))).float().mean().item()
print("acc", acc, "want", want_acc)
sys.exit(0 if abs(acc - want_acc) < 0.01 else 1)
PY
check "PyTorch loads the file (strict) and its eval accuracy equals lrlab's: $(tr '\n' ' ' <"$T/py.out")" [ $? -eq 0 ]
check "num_batches_tracked is I64 and counts the 8 steps" grep -q "^dtype I64 steps 8$" "$T/py.out"
summary bn_train_test
