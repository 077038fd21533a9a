#!/usr/bin/python3
"""models.py: the PyTorch modules lrlab's shipped models equal, and a check.

  models.py compare TEST_MODEL MODEL WORK_DIR [ref|dnnl]
  models.py load MODEL FILE.safetensors

Builds MODEL in PyTorch (resnet20/32/56/110: akamaster/pytorch_resnet_cifar10's
ResNet with option A shortcuts; airbench94-net: airbench94's make_net();
resnet18, vgg11-bn: kuangliu/pytorch-cifar's ResNet18() and VGG('VGG11'); the
same state_dict names), then checks against lrlab (TEST_MODEL is
build/tests/test_model) through the executor named (ref: the default):
  1. the state_dict: every name, shape, and which are buffers (test_model --list);
  2. one training-mode forward and backward from the same weights on the same
     batch (test_model --run): logits, loss, every parameter's gradient, and
     the running statistics BatchNorm updated (num_batches_tracked too).
Tolerances: lrlab's executors sum in another order than PyTorch's
kernels and accumulates BatchNorm's statistics in double, so values agree to
float rounding through ~20-30 layers: relative 1e-4 of each tensor's largest
value (the forward), 1e-3 (gradients, which pass twice as many layers), on
a batch whose gradients do not hinge on rounding (stable_batch).
Prints `models_MODEL_BACKEND: N passed, N failed`.

`load` reads a model.safetensors lrlab wrote for MODEL into the module with
load_state_dict(strict=True): every name, shape and dtype (num_batches_tracked
I64, the rest F32); prints `load_MODEL: N passed, N failed`.
"""
import struct
import json
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class LambdaLayer(nn.Module):
    def __init__(self, f):
        super().__init__()
        self.f = f

    def forward(self, x):
        return self.f(x)


class BasicBlock(nn.Module):  # akamaster/pytorch_resnet_cifar10, option A
    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = LambdaLayer(lambda x: F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4), "constant", 0))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, n, num_classes=10):
        super().__init__()
        self.in_planes = 16
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._make_layer(16, n, 1)
        self.layer2 = self._make_layer(32, n, 2)
        self.layer3 = self._make_layer(64, n, 2)
        self.linear = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                nn.init.kaiming_normal_(m.weight)

    def _make_layer(self, planes, n, stride):
        layers = []
        for s in [stride] + [1] * (n - 1):
            layers.append(BasicBlock(self.in_planes, planes, s))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.avg_pool2d(out, out.size()[3])
        return self.linear(out.view(out.size(0), -1))


class Flatten(nn.Module):
    def forward(self, x):
        return x.view(x.size(0), -1)


class Mul(nn.Module):
    def __init__(self, scale):
        super().__init__()
        self.scale = scale

    def forward(self, x):
        return x * self.scale


class AirbenchConv(nn.Conv2d):  # airbench94's Conv: 'same' padding, no bias; dirac on the first in_channels filters
    def __init__(self, c_in, c_out, kernel_size=3, padding="same", bias=False):
        super().__init__(c_in, c_out, kernel_size=kernel_size, padding=padding, bias=bias)

    def reset_parameters(self):
        super().reset_parameters()
        if self.bias is not None:
            self.bias.data.zero_()
        w = self.weight.data
        nn.init.dirac_(w[:w.size(1)])


class ConvGroup(nn.Module):  # airbench94's ConvGroup: BatchNorm eps 1e-12, momentum 1 - 0.6
    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv1 = AirbenchConv(c_in, c_out)
        self.pool = nn.MaxPool2d(2)
        self.norm1 = nn.BatchNorm2d(c_out, eps=1e-12, momentum=1 - 0.6)
        self.conv2 = AirbenchConv(c_out, c_out)
        self.norm2 = nn.BatchNorm2d(c_out, eps=1e-12, momentum=1 - 0.6)
        self.activ = nn.GELU()

    def forward(self, x):
        x = self.activ(self.norm1(self.pool(self.conv1(x))))
        return self.activ(self.norm2(self.conv2(x)))


def airbench94_net():
    """airbench94's make_net() (KellerJordan/cifar10-airbench, legacy/airbench94.py) in float32 on the CPU."""
    return nn.Sequential(AirbenchConv(3, 24, 2, padding=0, bias=True), nn.GELU(), ConvGroup(24, 64),
                         ConvGroup(64, 256), ConvGroup(256, 256), nn.MaxPool2d(3), Flatten(),
                         nn.Linear(256, 10, bias=False), Mul(1 / 9))


class KBasicBlock(nn.Module):  # kuangliu/pytorch-cifar's BasicBlock: 1x1 conv + BN shortcut (option B)
    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class KResNet18(nn.Module):  # kuangliu/pytorch-cifar's ResNet18()
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        layers, in_planes = [], 64
        for planes, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            layers.append(nn.Sequential(KBasicBlock(in_planes, planes, stride), KBasicBlock(planes, planes, 1)))
            in_planes = planes
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.linear = nn.Linear(512, num_classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        out = F.avg_pool2d(out, 4)
        return self.linear(out.view(out.size(0), -1))


class KVGG(nn.Module):  # kuangliu/pytorch-cifar's VGG('VGG11')
    def __init__(self, widths=(64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")):
        super().__init__()
        layers, c = [], 3
        for w in widths:
            if w == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
                c = w
        layers.append(nn.AvgPool2d(1, 1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(512, 10)

    def forward(self, x):
        out = self.features(x)
        return self.classifier(out.view(out.size(0), -1))


MODELS = {"resnet20": lambda: ResNet(3), "resnet32": lambda: ResNet(5), "resnet56": lambda: ResNet(9),
          "resnet110": lambda: ResNet(18), "airbench94-net": airbench94_net,
          "resnet18": KResNet18, "vgg11-bn": KVGG}


def write_safetensors(path, tensors, int64=False):
    """F32 tensors (int64 ones as I64 with int64=True, as PyTorch saves num_batches_tracked)."""
    header, at, raws = {}, 0, []
    for name, t in tensors.items():
        dtype = "I64" if int64 and t.dtype == torch.int64 else "F32"
        raw = t.detach().to(torch.int64 if dtype == "I64" else torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [at, at + len(raw)]}
        at += len(raw)
        raws.append(raw)
    text = json.dumps(header).encode()
    text += b" " * (-(8 + len(text)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(raws))


def read_safetensors(path):
    """name -> (tensor, dtype string) of a safetensors file."""
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    dtypes = {"F32": np.float32, "I64": np.int64}
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        t = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=dtypes[v["dtype"]]).reshape(v["shape"])
        out[k] = (torch.from_numpy(t.copy()), v["dtype"])
    return out


def load(name, path):
    """load_state_dict(strict=True) of lrlab's file, with PyTorch's dtypes."""
    net = MODELS[name]()
    tensors = read_safetensors(path)
    wrong = ["%s is %s" % (k, tensors[k][1]) for k, v in net.state_dict().items()
             if k in tensors and tensors[k][1] != ("I64" if v.dtype == torch.int64 else "F32")]
    if wrong:
        print("FAIL load %s: dtypes other than PyTorch's: %s" % (name, ", ".join(wrong[:5])))
    try:
        net.load_state_dict({k: t for k, (t, _) in tensors.items()}, strict=True)
        loaded = True
    except RuntimeError as e:
        print("FAIL load %s: load_state_dict(strict=True): %s" % (name, e))
        loaded = False
    failed = int(bool(wrong)) + int(not loaded)
    print("load_%s: %d passed, %d failed" % (name, 2 - failed, failed))
    sys.exit(1 if failed else 0)


def grads(net, x, y):
    net.zero_grad()
    F.cross_entropy(net(x), y).backward()
    return [p.grad.clone() for p in net.parameters()]


# A tensor's gradient is compared relative to its largest value, but at least
# GRAD_FLOOR of the largest gradient of any tensor: a gradient that is 0 in
# exact arithmetic (a conv's bias before BatchNorm, which subtracts the mean)
# is rounding noise in both programs.
GRAD_FLOOR = 1e-2


def stable_batch(net, B, y):
    """A batch whose gradients do not hinge on float rounding. A ReLU input
    within rounding of 0 goes either way, and BatchNorm spreads the one
    element's difference over its whole channel: lrlab and PyTorch, summing
    in other orders, can then disagree by 1% on a correct gradient. So take
    the first batch on which PyTorch itself is stable: inputs nudged by 1e-6
    (more than the two programs' rounding differences) give the same
    gradients to 2e-4 (GRAD_FLOOR below)."""
    state = {k: v.clone() for k, v in net.state_dict().items()}
    for seed in range(1, 40):
        x = torch.randn(B, 3, 32, 32, generator=torch.Generator().manual_seed(seed))
        base = grads(net, x, y)
        floor = GRAD_FLOOR * max(float(a.abs().max()) for a in base)
        stable = True
        for k in range(3):
            nudge = 1 + 1e-6 * torch.randn(x.shape, generator=torch.Generator().manual_seed(100 + k))
            for a, b in zip(base, grads(net, x * nudge, y)):
                stable &= bool(((a - b).abs().max() / a.abs().max().clamp_min(floor)) < 2e-4)
        net.load_state_dict(state)  # the running statistics as they were
        net.zero_grad()
        if stable:
            return x
    raise SystemExit("models.py: no batch with stable gradients in 39 tries")


def compare(test_model, net, model, work, backend, label):
    """Checks lrlab's MODEL (a shipped name or a description's path) against
    the module net: the state_dict, then one training-mode forward and
    backward (test_model --run through backend). Returns (passed, failed);
    prints each failure with label."""
    passed = failed = 0

    def check(ok, what):
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
            print("FAIL %s %s: %s" % (label, backend, what))

    state = net.state_dict()
    params = dict(net.named_parameters())
    listed = subprocess.run([test_model, "--list", model], capture_output=True, text=True)
    check(listed.returncode == 0, "test_model --list: " + listed.stderr.strip())
    got = [line.split() for line in listed.stdout.splitlines()]
    want = [[k, "0" if k in params else "1"] + [str(d) for d in v.shape] for k, v in state.items()]
    check(got == want, "state_dict names/shapes/buffers differ: first lrlab %s, torch %s" % (
        next((g for g, w in zip(got, want) if g != w), got[len(want):len(want) + 1]),
        next((w for g, w in zip(got, want) if g != w), want[len(got):len(got) + 1])))
    check(sum(p.numel() for p in params.values()) == sum(int(np.prod([int(d) for d in g[2:]])) for g in got if g[1] == "0"),
          "parameter counts differ")

    # one training step's forward and backward from the same weights and batch
    with torch.no_grad():  # running statistics, BatchNorm weights and biases that are not the defaults
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(7)
                if m.affine:
                    m.weight.uniform_(0.5, 1.5)
            if getattr(m, "bias", None) is not None:
                m.bias.uniform_(-0.1, 0.1)
    B = 4
    y = torch.tensor([3, 1, 4, 1])
    x = stable_batch(net, B, y)
    tensors = {k: v.clone() for k, v in state.items()}
    tensors["input.x"] = x
    tensors["input.y"] = y.float()
    write_safetensors(work + "/in.safetensors", tensors)
    net.train()
    logits = net(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    run = subprocess.run([test_model, "--run", model, work + "/in.safetensors", backend], capture_output=True, text=True)
    check(run.returncode == 0, "test_model --run: " + run.stderr.strip())
    rows = {}
    for line in run.stdout.splitlines():
        f = line.split()
        rows[(f[0], f[1] if len(f) > 1 and f[0] != "loss" else "")] = np.array([float(v) for v in f[2 if f[0] != "loss" else 1:]])

    def close(what, got_v, want_t, rtol, floor=1e-30):
        want_v = want_t.detach().double().numpy().ravel()
        if got_v is None or got_v.shape != want_v.shape:
            check(False, "%s: missing or wrong size" % what)
            return
        scale = max(np.abs(want_v).max(), floor)
        err = np.abs(got_v - want_v).max() / scale
        check(err <= rtol, "%s: largest difference %.3g of its largest value (tolerance %g)" % (what, err, rtol))

    close("loss", rows.get(("loss", "")), loss, 1e-5)
    close("logits", rows.get(("logits", "-")), logits, 1e-4)
    floor = GRAD_FLOOR * max(float(p.grad.abs().max()) for p in params.values())
    for k, p in params.items():
        close("grad " + k, rows.get(("grad", k)), p.grad, 1e-3, floor)
    for k, v in net.state_dict().items():
        if k not in params:
            close("buffer " + k, rows.get(("buffer", k)), v, 1e-4)
    return passed, failed


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "load" and sys.argv[2] in MODELS:
        load(sys.argv[2], sys.argv[3])
    if len(sys.argv) not in (5, 6) or sys.argv[1] != "compare" or sys.argv[3] not in MODELS or \
            sys.argv[5:] not in ([], ["ref"], ["dnnl"]):
        print(__doc__)
        sys.exit(2)
    test_model, name, work = sys.argv[2], sys.argv[3], sys.argv[4]
    backend = (sys.argv[5:] or ["ref"])[0]
    torch.manual_seed(0)
    passed, failed = compare(test_model, MODELS[name](), name, work, backend, name)
    print("models_%s_%s: %d passed, %d failed" % (name, backend, passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
