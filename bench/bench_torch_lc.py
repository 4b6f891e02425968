#!/usr/bin/python3
"""Times locnet.torch.LocallyConnected2d/1d against PyTorch's unfold recipes on bench_locally_connected's shapes.

For each shape of bench/bench_locally_connected.cpp (f32, NCHW, valid padding): forward (under torch.no_grad)
and forward + backward (input, weight and bias gradients of sum(y * g)) of locnet.torch's module and of three
unfold recipes (bench/lc_pytorch_recipe.py's broadcast matmul and einsum, and a batched matmul over positions);
the fastest recipe per shape and pass is the reference. Milliseconds per call, the median of --repeats calls
after a warm-up; torch and locnet use the same thread count (torch.set_num_threads, OMP_NUM_THREADS and
OPENBLAS_NUM_THREADS, set before locnet loads). Figures: docs/python-torch.md.

    PYTHONPATH=build/python /usr/bin/python3 bench/bench_torch_lc.py [--threads 2] [--repeats 5]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def bmm_recipe(x, w, b, kh, kw):
    """unfold + one batched matmul per position: weight (P, K, F) in (c, dy, dx) order, bias (F, OH, OW)."""
    n = x.shape[0]
    f, oh, ow = b.shape
    cols = F.unfold(x, (kh, kw)).permute(2, 0, 1)  # (P, N, K)
    return torch.bmm(cols, w).permute(1, 2, 0).reshape(n, f, oh, ow) + b


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    global torch, F
    import torch
    import torch.nn.functional as F

    import locnet.torch as lt
    from lc_pytorch_recipe import SHAPES, einsum_recipe, matmul_recipe, problem, time_ms

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    recipes = {"matmul": matmul_recipe, "einsum": einsum_recipe, "bmm": bmm_recipe}
    print(f"torch {torch.__version__}, {args.threads} threads, median of {args.repeats} calls (ms); "
          "ratio = best recipe / locnet (> 1: locnet faster)")
    print(f"{'shape':34} {'pass':9} {'locnet':>8} {'best recipe':>16} {'ratio':>6}")
    for name, rank, n, h, w, c, f, k in SHAPES:
        kh, kw, oh, ow, _, _, x, b, weights = problem(rank, n, h, w, c, f, k)
        weights["bmm"] = weights["einsum"]  # the same (P, K, F) layout
        if rank == 1:
            module = lt.LocallyConnected1d(c, f, k, input_size=w)
            xl = torch.randn(n, c, w, requires_grad=True)
        else:
            module = lt.LocallyConnected2d(c, f, k, input_size=(h, w))
            xl = x
        g = torch.randn(n, f, ow) if rank == 1 else torch.randn(n, f, oh, ow)

        def train_step(fn, grad):
            x.grad = xl.grad = None
            module.zero_grad()
            fn().backward(grad)

        locnet_call = lambda: module(xl)  # noqa: E731
        times = {}
        for rname, recipe in recipes.items():
            call = lambda r=recipe, wt=weights[rname]: r(x, wt, b, kh, kw)  # noqa: E731
            with torch.no_grad():
                fwd = time_ms(call, args.repeats)
            times[rname] = (fwd, time_ms(lambda c=call: train_step(c, g.reshape(n, f, oh, ow)), args.repeats))
        with torch.no_grad():
            ours_fwd = time_ms(locnet_call, args.repeats)
        ours = (ours_fwd, time_ms(lambda: train_step(locnet_call, g), args.repeats))
        for i, label in enumerate(("forward", "fwd+bwd")):
            best = min(times, key=lambda r: times[r][i])
            print(f"{name:34} {label:9} {ours[i]:8.2f} {times[best][i]:9.2f} {best:>6} {times[best][i] / ours[i]:6.2f}")


if __name__ == "__main__":
    main()
