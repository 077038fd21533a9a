#!/usr/bin/python3
"""check_safetensors.py: lrlab's safetensors files against the format spec
and PyTorch, without the `safetensors` package (not in Debian 12): a
pure-Python reader/writer with struct + json, and the seed's VGG for
load_state_dict. Used by tests/safetensors_torch_test.sh; not a general tool.

  check FILE [--seed-values] [--lrlab-layout]
      Reads FILE strictly by the spec (8-byte LE header length, a JSON object
      with no duplicate keys, dtype/shape/data_offsets consistent, offsets
      tiling the data region exactly, padding only spaces), builds torch
      tensors, and loads the seed's 8 weights into the seed's model with
      load_state_dict(strict=True). --lrlab-layout also checks lrlab's writer's
      layout (docs/file-formats.md): compact JSON, __metadata__ first, keys in
      the order dtype, shape, data_offsets, data in header order, header padded
      with spaces to a multiple of 8. --seed-values checks every weight equals
      ((7 i + 13 k) mod 101 - 50) / 64 (test_safetensors --write-seed-shapes).
  write FILE
      Writes the state_dict of the seed's model initialised with
      torch.manual_seed(0), plus tensors of every other dtype lrlab reads, in
      the layout of the `safetensors` package (sorted by dtype size then name,
      json.dumps default separators, \\u escapes, 8-byte padding).
Both print one line per tensor, `tensor NAME DTYPE [SHAPE] NBYTES CHECKSUM`
with CHECKSUM = sum_i (byte_i + 1)(2 i + 1), then `meta KEY=VALUE`, exactly as
`test_safetensors --check` prints them.
"""
import json
import struct
import sys

import torch
import torch.nn as nn

DTYPES = {"F32": (torch.float32, 4), "F64": (torch.float64, 8), "I64": (torch.int64, 8), "U8": (torch.uint8, 1)}
TORCH_TO_ST = {v[0]: k for k, v in DTYPES.items()}

SEED_SHAPES = [
    ("conv1.weight", [32, 3, 3, 3]),
    ("conv2_1.weight", [64, 32, 3, 3]),
    ("conv2_2.weight", [64, 64, 3, 3]),
    ("conv3_1.weight", [128, 64, 3, 3]),
    ("conv3_2.weight", [128, 128, 3, 3]),
    ("conv3_3.weight", [128, 128, 3, 3]),
    ("fc1.weight", [128, 2048]),
    ("fc2.weight", [10, 128]),
]


class SeedVGG(nn.Module):
    """The seed's network (shared/seed/SUMMARY.md): 3x3 convolutions, stride 1,
    padding 1, no bias; ReLU after every layer but the last; 2x2 max-pool."""

    def __init__(self):
        super().__init__()
        conv = lambda i, o: nn.Conv2d(i, o, 3, 1, 1, bias=False)
        self.conv1 = conv(3, 32)
        self.conv2_1, self.conv2_2 = conv(32, 64), conv(64, 64)
        self.conv3_1, self.conv3_2, self.conv3_3 = conv(64, 128), conv(128, 128), conv(128, 128)
        self.fc1 = nn.Linear(2048, 128, bias=False)
        self.fc2 = nn.Linear(128, 10, bias=False)

    def forward(self, x):
        r, p = torch.relu, nn.functional.max_pool2d
        x = p(r(self.conv1(x)), 2)
        x = p(r(self.conv2_2(r(self.conv2_1(x)))), 2)
        x = p(r(self.conv3_3(r(self.conv3_2(r(self.conv3_1(x)))))), 2)
        return self.fc2(r(self.fc1(x.flatten(1))))


def fail(msg):
    print("FAIL check_safetensors.py: " + msg)
    sys.exit(1)


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        fail("duplicate JSON key among %r" % keys)
    return dict(pairs)


def checksum(raw):
    b = torch.frombuffer(bytearray(raw), dtype=torch.uint8).to(torch.int64) if raw else torch.zeros(0, dtype=torch.int64)
    i = torch.arange(len(raw), dtype=torch.int64)
    return int(((b + 1) * (2 * i + 1)).sum())


def escaped(s):
    return "".join("\\x%02x" % ord(c) if ord(c) < 0x20 or c == "\\" else c for c in s)


def describe(name, dtype, shape, raw):
    return "tensor %s %s [%s] %d %d" % (escaped(name), dtype, ",".join(map(str, shape)), len(raw), checksum(raw))


def read(path, lrlab_layout):
    blob = open(path, "rb").read()
    if len(blob) < 8:
        fail("%s: %d bytes" % (path, len(blob)))
    (n,) = struct.unpack("<Q", blob[:8])
    if 8 + n > len(blob):
        fail("%s: header length %d beyond the file" % (path, n))
    text = blob[8 : 8 + n].decode("utf-8")
    if not text.startswith("{"):
        fail("header does not start with '{'")
    header = json.loads(text, object_pairs_hook=no_duplicates)
    body = blob[8 : 8 + n].rstrip(b" ")  # padding is counted in bytes
    data = blob[8 + n :]
    meta = header.pop("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        fail("__metadata__ is not a map of strings to strings")
    tensors, spans = [], []
    for name, e in header.items():
        if set(e) != {"dtype", "shape", "data_offsets"}:
            fail("tensor %s has keys %r" % (name, list(e)))
        if e["dtype"] not in DTYPES:
            fail("tensor %s has dtype %r" % (name, e["dtype"]))
        tdtype, size = DTYPES[e["dtype"]]
        shape, (b, end) = e["shape"], e["data_offsets"]
        numel = 1
        for d in shape:
            numel *= d
        if numel * size != end - b:
            fail("tensor %s: shape %r needs %d bytes, offsets hold %d" % (name, shape, numel * size, end - b))
        spans.append((b, end, name))
        raw = data[b:end]
        t = torch.frombuffer(bytearray(raw), dtype=tdtype).reshape(shape) if raw else torch.zeros(shape, dtype=tdtype)
        tensors.append((name, e["dtype"], shape, raw, t))
    at = 0
    for b, end, name in sorted(spans):
        if b != at:
            fail("tensor %s begins at %d, expected %d (gap or overlap)" % (name, b, at))
        at = end
    if at != len(data):
        fail("tensors cover %d bytes of a %d-byte data region" % (at, len(data)))
    if lrlab_layout:
        if (8 + n) % 8 != 0:
            fail("header length %d: data does not start at a multiple of 8" % n)
        if not body.endswith(b"}") or n - len(body) > 7:
            fail("header padding is not 0..7 spaces after the object")
        want = {}
        if meta:
            want["__metadata__"] = meta
        at = 0
        for name, dtype, shape, raw, _ in tensors:
            want[name] = {"dtype": dtype, "shape": shape, "data_offsets": [at, at + len(raw)]}
            at += len(raw)
        compact = json.dumps(want, separators=(",", ":"), ensure_ascii=False)
        if body.decode("utf-8") != compact:
            fail("header is not lrlab's layout:\n got  %s\n want %s" % (body[:300].decode("utf-8", "replace"), compact[:300]))
    return tensors, meta


def check(path, seed_values, lrlab_layout):
    tensors, meta = read(path, lrlab_layout)
    for name, dtype, shape, raw, _ in tensors:
        print(describe(name, dtype, shape, raw))
    for k, v in meta.items():
        print("meta %s=%s" % (escaped(k), escaped(v)))
    state = {name: t for name, _, _, _, t in tensors}
    for k, (name, shape) in enumerate(SEED_SHAPES):
        if name not in state:
            fail("%s: missing %s" % (path, name))
        t = state[name]
        if list(t.shape) != shape or t.dtype != torch.float32:
            fail("%s: %s is %s %r, expected float32 %r" % (path, name, t.dtype, list(t.shape), shape))
        if seed_values:
            i = torch.arange(t.numel(), dtype=torch.int64)
            want = (((7 * i + 13 * k) % 101 - 50).to(torch.float32) / 64.0).reshape(shape)
            if not torch.equal(t, want):
                fail("%s: %s differs from the formula at %d elements" % (path, name, int((t != want).sum())))
    model = SeedVGG()
    model.load_state_dict({name: state[name] for name, _ in SEED_SHAPES}, strict=True)
    for name, _ in SEED_SHAPES:
        if not torch.equal(model.state_dict()[name], state[name]):
            fail("load_state_dict did not take %s" % name)
    y = model(torch.zeros(2, 3, 32, 32))
    if list(y.shape) != [2, 10]:
        fail("forward gives %r" % list(y.shape))
    print("ok load_state_dict(strict=True) took %d tensors" % len(SEED_SHAPES))


def write(path):
    torch.manual_seed(0)
    state = dict(SeedVGG().state_dict())
    state["extra.f64"] = torch.tensor([3.141592653589793, -1e300, 0.0], dtype=torch.float64)
    state["extra.i64"] = torch.tensor([[1, -2], [2**62, -(2**63)]], dtype=torch.int64)
    state["extra.u8"] = torch.tensor([0, 7, 255], dtype=torch.uint8)
    state["extra.scalar"] = torch.tensor(0.5, dtype=torch.float32)
    state["extra.empty"] = torch.zeros(0, 4, dtype=torch.float32)
    meta = {"format": "pt", "written by": "check_safetensors.py \u00e9\u4e2d\U0001f600", "quote\"back\\": "x"}
    # the safetensors package's order: larger dtypes first, then by name
    order = sorted(state, key=lambda k: (-state[k].element_size(), k))
    header, at, raws = {"__metadata__": meta}, 0, {}
    for name in order:
        t = state[name].contiguous()
        raws[name] = t.numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": TORCH_TO_ST[t.dtype], "shape": list(t.shape), "data_offsets": [at, at + len(raws[name])]}
        at += len(raws[name])
    text = json.dumps(header).encode("utf-8")
    text += b" " * (-(8 + len(text)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(raws[name] for name in order))
    for name in order:
        print(describe(name, header[name]["dtype"], header[name]["shape"], raws[name]))
    for k, v in meta.items():
        print("meta %s=%s" % (escaped(k), escaped(v)))


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) >= 2 and args[0] == "check" and set(args[2:]) <= {"--seed-values", "--lrlab-layout"}:
        check(args[1], "--seed-values" in args, "--lrlab-layout" in args)
    elif len(args) == 2 and args[0] == "write":
        write(args[1])
    else:
        print(__doc__)
        sys.exit(2)
