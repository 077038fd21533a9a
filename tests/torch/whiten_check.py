#!/usr/bin/python3
"""whiten_check.py: lrlab's --whiten against airbench94's init_whitening_conv.

  whiten_check.py DATA_DIR WEIGHTS LAYER IMAGES EPS MEAN STD

The first IMAGES training images of the CIFAR-10 binary files in DATA_DIR,
ToTensor and Normalize(MEAN, STD) in float32 (MEAN and STD comma-separated),
then airbench's get_patches / get_whitening_parameters / init_whitening_conv
(KellerJordan/cifar10-airbench, legacy/airbench94.py) in float64: the
covariance of every 2x2 patch, torch.linalg.eigh, largest eigenvalue first,
eigenvectors / sqrt(eigenvalue + eps), then their negatives. Compared with
LAYER.weight of lrlab's WEIGHTS (safetensors): filter i equals PyTorch's
filter i (and i + d its negative), or, where LAPACK chose the other sign,
filter i + d (lrlab/model.h says why), to 1e-5 of the largest value.
Prints `whiten: N passed, N failed`.
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402


def main():
    if len(sys.argv) != 8:
        print(__doc__)
        sys.exit(2)
    data, weights, layer, n, eps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
    mean = torch.tensor([float(v) for v in sys.argv[6].split(",")])
    std = torch.tensor([float(v) for v in sys.argv[7].split(",")])
    raw = np.concatenate([np.fromfile(os.path.join(data, "data_batch_%d.bin" % i), dtype=np.uint8).reshape(-1, 3073)
                          for i in range(1, 6)])[:n]
    x = torch.from_numpy(raw[:, 1:].reshape(-1, 3, 32, 32).copy()).float().div(255)
    x = ((x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)).double()
    got = models.read_safetensors(weights)[layer + ".weight"][0].double()
    d2, c, h, w = got.shape
    patches = x.unfold(2, h, 1).unfold(3, w, 1).transpose(1, 3).reshape(-1, c, h, w)
    flat = patches.reshape(len(patches), -1)
    cov = flat.T @ flat / len(flat)
    values, vectors = torch.linalg.eigh(cov, UPLO="U")
    values, vectors = values.flip(0).view(-1, 1, 1, 1), vectors.T.reshape(c * h * w, c, h, w).flip(0)
    scaled = vectors / torch.sqrt(values + eps)
    want = torch.cat((scaled, -scaled))
    d = d2 // 2
    scale = want.abs().max().item()
    passed = failed = 0
    for i in range(d):
        same = (got[i] - want[i]).abs().max().item() / scale
        flipped = (got[i] + want[i]).abs().max().item() / scale
        pair = (got[i] + got[i + d]).abs().max().item() / scale
        ok = min(same, flipped) <= 1e-5 and pair == 0
        passed, failed = passed + ok, failed + (not ok)
        if not ok:
            print("FAIL filter %d: %.3g from PyTorch's (%.3g from its negative), %.3g from -filter %d"
                  % (i, same, flipped, pair, i + d))
    print("eigenvalues (largest first): %s" % " ".join("%.4g" % v for v in values.view(-1).tolist()))
    print("whiten: %d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
