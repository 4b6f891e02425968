#!/usr/bin/python3
"""Times GoogLeNet's inception (3a) block in PyTorch, the counterpart of bench/bench_inception.cpp.

The same block and sizes: a batch of 8, 192 x 28 x 28 in (NCHW, PyTorch's own layout), 1x1 64; 1x1 96 -> 3x3 128;
1x1 16 -> 5x5 32; 3x3 max pool stride 1 -> 1x1 32; every conv with ReLU; torch.cat to 256 channels; then
nn.LocalResponseNorm(5). f32, torch.set_num_threads(2) (override with --threads). Prints milliseconds per call,
the median of --repeats timed calls after a warm-up, for the rows of bench_inception:
  forward  (torch.no_grad)      variant 0: block + LRN, 1: block without LRN, 2: the four branches (no cat)
  train    forward + backward   (dx and every parameter gradient; the gradients accumulate, as in locnet's row)
  cat / lrn alone               torch.cat of the four branch outputs, and its forward + backward (the split of
                                dy, as autograd does it); LocalResponseNorm on the 8x256x28x28 output, the same
    /usr/bin/python3 bench/inception_pytorch.py [--threads 2] [--repeats 7]
"""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F

from lc_pytorch_recipe import time_ms  # one warm-up call, then the median of `repeats` timed calls


class Inception3a(nn.Module):
    def __init__(self, variant):
        super().__init__()
        self.variant = variant
        self.b1 = nn.Conv2d(192, 64, 1)
        self.b2r, self.b2 = nn.Conv2d(192, 96, 1), nn.Conv2d(96, 128, 3, padding=1)
        self.b3r, self.b3 = nn.Conv2d(192, 16, 1), nn.Conv2d(16, 32, 5, padding=2)
        self.pool, self.b4 = nn.MaxPool2d(3, 1, padding=1), nn.Conv2d(192, 32, 1)
        self.lrn = nn.LocalResponseNorm(5)

    def forward(self, x):
        outs = [F.relu(self.b1(x)), F.relu(self.b2(F.relu(self.b2r(x)))), F.relu(self.b3(F.relu(self.b3r(x)))),
                F.relu(self.b4(self.pool(x)))]
        if self.variant == 2:
            return outs
        y = torch.cat(outs, dim=1)
        return [y] if self.variant == 1 else [self.lrn(y)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {args.repeats} calls (ms)")
    x = torch.randn(8, 192, 28, 28)
    for variant in range(3):
        block = Inception3a(variant)
        with torch.no_grad():
            fwd = time_ms(lambda: block(x), args.repeats)
        xg = x.clone().requires_grad_(True)
        dys = [torch.randn_like(y) for y in block(xg)]

        def train():
            torch.autograd.backward(block(xg), dys)

        print(f"variant:{variant} forward {fwd:9.2f}   train {time_ms(train, args.repeats):9.2f}")
    parts = [torch.randn(8, c, 28, 28, requires_grad=True) for c in (64, 128, 32, 32)]
    with torch.no_grad():
        print(f"cat forward    {time_ms(lambda: torch.cat(parts, dim=1), args.repeats):9.3f}")
    dy = torch.randn(8, 256, 28, 28)
    cat_grad = time_ms(lambda: torch.autograd.grad(torch.cat(parts, dim=1), parts, dy), args.repeats)
    print(f"cat fwd+bwd    {cat_grad:9.3f}")
    lrn, y = nn.LocalResponseNorm(5), torch.randn(8, 256, 28, 28, requires_grad=True)
    with torch.no_grad():
        print(f"lrn forward    {time_ms(lambda: lrn(y), args.repeats):9.3f}")
    print(f"lrn fwd+bwd    {time_ms(lambda: torch.autograd.grad(lrn(y), y, dy), args.repeats):9.3f}")


if __name__ == "__main__":
    main()
