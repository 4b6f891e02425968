#!/usr/bin/python3
"""One epoch of `locnet train`'s default network in PyTorch, for comparison with locnet's epoch time.

The same architecture (tools/locnet/train.cpp, kDefaultModel), batch size 64, Adam(0.002, eps=1e-7), 2 threads:
Conv2D(32, 3, same, no bias) > BN > ReLU > MaxPool(2) > Conv2D(32, 3, same, no bias) > BN > ReLU >
LRN(neupy: depth_radius=5, k=2, alpha=1e-4, beta=0.75) > MaxPool(2) > LocallyConnected2D(32, 3) (unshared
weights, via unfold) > BN > ReLU > Flatten > Dense(10). Data: Debian's dataset-fashion-mnist.
Usage: python3 bench/train_pytorch.py [--data DIR] [--threads 2] [--batch-size 64] [--epochs 1]
On a machine where other jobs hold the cores, set OMP_WAIT_POLICY=PASSIVE: PyTorch's OpenMP threads otherwise spin
against each other (measured on a loaded 2-core machine: 1.2 s per step with 2 threads, 81 ms passive, 79 ms with 1).
"""
import argparse
import gzip
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def load_idx(name):
    """<name>.gz or <name> (like locnet's load_mnist)."""
    try:
        with gzip.open(name + ".gz", "rb") as f:
            data = f.read()
    except FileNotFoundError:
        with open(name, "rb") as f:
            data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


class LocallyConnected2D(nn.Module):
    """Keras LocallyConnected2D, 'valid', stride 1: one (C*kh*kw, F) kernel per output position."""

    def __init__(self, in_ch, out_ch, k, in_hw):
        super().__init__()
        self.k, self.out_hw = k, in_hw - k + 1
        p = self.out_hw * self.out_hw
        fan_in, fan_out = in_ch * k * k, out_ch
        bound = (6.0 / (fan_in + fan_out)) ** 0.5
        self.weight = nn.Parameter(torch.empty(p, fan_in, out_ch).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(p, out_ch))

    def forward(self, x):  # (N, C, H, W)
        cols = F.unfold(x, self.k).transpose(1, 2).transpose(0, 1)  # (P, N, C*k*k)
        y = torch.baddbmm(self.bias.unsqueeze(1), cols, self.weight)  # (P, N, F)
        n = x.shape[0]
        return y.permute(1, 2, 0).reshape(n, -1, self.out_hw, self.out_hw)


def model():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32, eps=1e-3, momentum=0.01), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32, eps=1e-3, momentum=0.01), nn.ReLU(),
        nn.LocalResponseNorm(5, alpha=1e-4 * 5, beta=0.75, k=2.0),  # PyTorch divides alpha by the size
        nn.MaxPool2d(2),
        LocallyConnected2D(32, 32, 3, 7), nn.BatchNorm2d(32, eps=1e-3, momentum=0.01), nn.ReLU(),
        nn.Flatten(), nn.Linear(32 * 5 * 5, 10))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x = torch.from_numpy(load_idx(f"{a.data}/train-images-idx3-ubyte").astype(np.float32) / 255).unsqueeze(1)
    y = torch.from_numpy(load_idx(f"{a.data}/train-labels-idx1-ubyte").astype(np.int64))
    xt = torch.from_numpy(load_idx(f"{a.data}/t10k-images-idx3-ubyte").astype(np.float32) / 255).unsqueeze(1)
    yt = torch.from_numpy(load_idx(f"{a.data}/t10k-labels-idx1-ubyte").astype(np.int64))
    net = model()
    opt = torch.optim.Adam(net.parameters(), lr=0.002, eps=1e-7)
    for epoch in range(1, a.epochs + 1):
        net.train()
        start = time.perf_counter()
        order = torch.randperm(len(y))
        for lo in range(0, len(y), a.batch_size):
            idx = order[lo:lo + a.batch_size]
            opt.zero_grad()
            loss = F.cross_entropy(net(x[idx]), y[idx])
            loss.backward()
            opt.step()
        train_s = time.perf_counter() - start
        net.eval()
        with torch.no_grad():
            acc = sum((net(xt[i:i + 256]).argmax(1) == yt[i:i + 256]).sum().item() for i in range(0, len(yt), 256))
        print(f"epoch {epoch}: {train_s:.1f} s training ({len(y) / train_s:.0f} samples/s), "
              f"{time.perf_counter() - start:.1f} s with the test pass, test accuracy {acc / len(yt):.4f}, "
              f"{a.threads} threads, batch size {a.batch_size}")


if __name__ == "__main__":
    main()
