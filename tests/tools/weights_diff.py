#!/usr/bin/env python3
"""tests/tools/weights_diff.py A.safetensors B.safetensors: the largest
difference between the float32 tensors of two safetensors files of the
same tensors, as `max_abs=X max_rel=Y tensors=N`: max_abs the largest
|a - b| over every value, max_rel the largest |a - b| / max|a| per tensor
(its scale). numpy only; exit 2 when the files do not hold the same
tensors."""
import json
import struct
import sys

import numpy as np


def load(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        head = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in head.items():
        if name == "__metadata__" or t["dtype"] != "F32":
            continue
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype="<f4").astype(np.float64)
    return out


a, b = load(sys.argv[1]), load(sys.argv[2])
if sorted(a) != sorted(b) or any(a[k].shape != b[k].shape for k in a):
    print("the files hold different tensors")
    sys.exit(2)
max_abs = max_rel = 0.0
for k in a:
    d = np.abs(a[k] - b[k]).max(initial=0.0)
    scale = np.abs(a[k]).max(initial=0.0)
    max_abs = max(max_abs, d)
    if scale > 0:
        max_rel = max(max_rel, d / scale)
print("max_abs=%.3g max_rel=%.3g tensors=%d" % (max_abs, max_rel, len(a)))
