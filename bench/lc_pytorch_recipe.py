#!/usr/bin/env python3
"""Times the PyTorch community recipes for a locally connected layer on bench_locally_connected's shapes.

PyTorch has no locally connected layer (pytorch/pytorch#499); people use F.unfold followed by either a
broadcast matmul (conv2d_local from PR #1583 / guillefix's gist) or an einsum over positions. Both are timed
here, forward and backward (input, weight and bias gradients of sum(y * g)), f32, NCHW as the recipes expect,
torch.set_num_threads(2) (this machine's cores; override with --threads). Prints milliseconds per call, the
median of --repeats timed calls after a warm-up.

    /usr/bin/python3 bench/lc_pytorch_recipe.py [--threads 2] [--repeats 5]

Compare with build/bin/bench_locally_connected (same shapes, same thread count: OMP_NUM_THREADS and
OPENBLAS_NUM_THREADS). Figures: src/kernels/locally_connected/README.md.
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

# (name, rank, N, H, W, C, filters, kernel): the rows of bench/bench_locally_connected.cpp.
SHAPES = [
    ("shape:0 64x32x32x3 -> 64, 3x3", 2, 64, 32, 32, 3, 64, 3),
    ("shape:1 64x30x30x64 -> 32, 3x3", 2, 64, 30, 30, 64, 32, 3),
    ("shape:2 1D 64x128x32 -> 64, k=5", 1, 64, 1, 128, 32, 64, 5),
    ("shape:3 1x30x30x64 -> 32, 3x3", 2, 1, 30, 30, 64, 32, 3),
]


def matmul_recipe(x, w, b, kh, kw):
    """conv2d_local (PR #1583): weight (OH, OW, F, C, kh, kw), bias (F, OH, OW)."""
    n = x.shape[0]
    oh, ow, f = w.shape[0], w.shape[1], w.shape[2]
    cols = F.unfold(x, (kh, kw))  # (N, K, P), K in (c, dy, dx) order
    k, p = cols.shape[1], cols.shape[2]
    cols = cols.view(n, k, p).permute(0, 2, 1).unsqueeze(2)  # (N, P, 1, K)
    out = torch.matmul(cols, w.view(p, f, k).permute(0, 2, 1))  # (N, P, 1, F)
    return out.view(n, oh, ow, f).permute(0, 3, 1, 2) + b


def einsum_recipe(x, w, b, kh, kw):
    """unfold + einsum over positions: weight (P, K, F) in (c, dy, dx) order, bias (F, OH, OW)."""
    n = x.shape[0]
    f, oh, ow = b.shape
    cols = F.unfold(x, (kh, kw))  # (N, K, P)
    return torch.einsum("nkp,pkf->nfp", cols, w).reshape(n, f, oh, ow) + b


def problem(rank, n, h, w, c, f, k):
    """One shape's kernel (kh, kw), output (oh, ow), positions P, patch size K, and random x (N, C, H, W), bias
    and each recipe's weight, all requiring gradients."""
    kh, kw = (1, k) if rank == 1 else (k, k)
    oh, ow = h - kh + 1, w - kw + 1
    p, kk = oh * ow, c * kh * kw
    x = torch.randn(n, c, h, w, requires_grad=True)
    b = torch.randn(f, oh, ow, requires_grad=True)
    weights = {"matmul": torch.randn(oh, ow, f, c, kh, kw, requires_grad=True),
               "einsum": torch.randn(p, kk, f, requires_grad=True)}
    return kh, kw, oh, ow, p, kk, x, b, weights


def time_ms(fn, repeats):
    fn()  # warm-up (allocator, thread pool)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {args.repeats} calls (ms)")
    print(f"{'shape':36} {'recipe':8} {'forward':>10} {'backward':>10} {'GFLOP/s fwd':>12}")
    for name, rank, n, h, w, c, f, k in SHAPES:
        kh, kw, oh, ow, p, kk, x, b, weights = problem(rank, n, h, w, c, f, k)
        recipes = {"matmul": matmul_recipe, "einsum": einsum_recipe}
        flops = 2.0 * n * p * kk * f
        for rname, fn in recipes.items():
            wt = weights[rname]
            with torch.no_grad():
                fwd = time_ms(lambda: fn(x, wt, b, kh, kw), args.repeats)
            y = fn(x, wt, b, kh, kw)
            g = torch.randn_like(y)

            def backward():
                x.grad = wt.grad = b.grad = None
                fn(x, wt, b, kh, kw).backward(g)

            # backward() runs the forward too (autograd needs its graph): subtract the forward time.
            bwd = time_ms(backward, args.repeats) - fwd
            print(f"{name:36} {rname:8} {fwd:10.2f} {bwd:10.2f} {flops / fwd / 1e6:12.1f}")


if __name__ == "__main__":
    main()
