#!/usr/bin/python3
"""Generates PyTorch conformance data for LocallyConnected1D/2D (Debian's python3-torch).

The locally connected product is computed the PyTorch way, independently of locnet: zero-pad the input, take
patches with F.unfold (channel-major (c, dy, dx) rows), multiply each position's patch by its own weight matrix
with einsum. The weights are drawn in Keras implementation-1 layout (kernel (P, K, F) with K ordered (dy, dx, c)
for channels_last and (c, dy, dx) for channels_first; bias (OL, F) / (OH, OW, F)) and converted to unfold's order
inside the autograd graph, so the gradients come back in Keras layout. The bias is added as Keras's bias_add does:
reshaped (never transposed) to (1, F, OH, OW) for channels_first and (1, OH, OW, F) for channels_last.

Padding per locnet's contract (Keras's locally-connected window rule, extended to dilation): with dilated extent
e = (k-1)*d + 1, 'same' pads floor(e/2) zeros before and gives ceil(n/s) outputs; 'causal' pads e-1 before.

For each case: x, dy, kernel, bias (inputs), y = layer(x), and dx, dkernel, dbias for L = sum(y * dy), float64,
written as .npy next to this script, with cases.txt holding one "name|spec" line per case.
Run: /usr/bin/python3 tests/conformance/lc_pytorch/generate.py
"""
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))

# name, rank, channels_last, input (batch, spatial..., channels), filters, kernel, strides, dilation, padding
CASES = [
    ("lc2d_valid_cl", 2, True, (2, 5, 6, 2), 3, (3, 2), (1, 1), (1, 1), "valid"),
    ("lc2d_same_cf_strided", 2, False, (2, 5, 6, 3), 2, (3, 3), (2, 1), (1, 1), "same"),
    ("lc2d_same_even_cl", 2, True, (1, 4, 7, 2), 3, (2, 4), (1, 2), (1, 1), "same"),
    ("lc2d_dilated_cl", 2, True, (2, 6, 6, 2), 2, (2, 3), (1, 2), (2, 1), "valid"),
    ("lc2d_explicit_cf", 2, False, (2, 4, 5, 2), 3, (2, 2), (1, 1), (1, 2), ((1, 0), (2, 1))),
    ("lc1d_valid_cl", 1, True, (3, 9, 3), 4, (3,), (2,), (1,), "valid"),
    ("lc1d_causal_cf", 1, False, (2, 8, 2), 3, (2,), (1,), (2,), "causal"),
    ("lc1d_same_even_cl", 1, True, (2, 10, 2), 2, (4,), (3,), (1,), "same"),
]


def axis_padding(n, k, s, d, mode, explicit):
    """(before, after, out) along one axis."""
    e = (k - 1) * d + 1
    if mode == "valid":
        before, out = 0, (n - e) // s + 1
    elif mode == "same":
        before, out = e // 2, math.ceil(n / s)
    elif mode == "causal":
        before, out = e - 1, math.ceil(n / s)
    else:
        before = explicit[0]
        out = (n + explicit[0] + explicit[1] - e) // s + 1
    after = max(0, (out - 1) * s + e - n - before)  # zeros needed on the far side for `out` windows
    return before, after, out


def spec(rank, last, filters, kernel, strides, dilation, padding):
    tup = lambda t: "(" + ", ".join(map(str, t)) + ("," if len(t) == 1 else "") + ")"
    pad = repr(padding) if isinstance(padding, str) else str(padding)
    fmt = "channels_last" if last else "channels_first"
    return (f"LocallyConnected{rank}D({filters}, {tup(kernel)}, strides={tup(strides)}, padding={pad}, "
            f"data_format='{fmt}', dilation_rate={tup(dilation)}, name='lc')")


def main():
    torch.manual_seed(0)
    lines = []
    for name, rank, last, shape, filters, kernel, strides, dilation, padding in CASES:
        n_batch, spatial, channels = shape[0], list(shape[1:-1]), shape[-1]
        # 1D as 2D with one row.
        ks = ([1] + list(kernel)) if rank == 1 else list(kernel)
        ss = ([1] + list(strides)) if rank == 1 else list(strides)
        ds = ([1] + list(dilation)) if rank == 1 else list(dilation)
        sz = ([1] + spatial) if rank == 1 else spatial
        if isinstance(padding, str):
            explicit = [(0, 0), (0, 0)]
            modes = ["valid" if (rank == 1 and a == 0) else padding for a in range(2)]
        else:
            explicit = [(0, 0), padding] if rank == 1 else list(padding)
            modes = ["explicit", "explicit"]
        pads = [axis_padding(sz[a], ks[a], ss[a], ds[a], modes[a], explicit[a]) for a in range(2)]
        oh, ow = pads[0][2], pads[1][2]
        P, K = oh * ow, ks[0] * ks[1] * channels

        x_shape = [n_batch] + spatial + [channels] if last else [n_batch, channels] + spatial
        x = torch.randn(*x_shape, dtype=torch.float64, requires_grad=True)
        w1 = (torch.randn(P, K, filters, dtype=torch.float64) * 0.5).requires_grad_(True)
        b_shape = (ow, filters) if rank == 1 else (oh, ow, filters)
        b = (torch.randn(*b_shape, dtype=torch.float64) * 0.5).requires_grad_(True)

        # NCHW view of x for unfold.
        x4 = x.permute(0, x.dim() - 1, *range(1, x.dim() - 1)) if last else x
        if rank == 1:
            x4 = x4.unsqueeze(2)
        xp = F.pad(x4, (pads[1][0], pads[1][1], pads[0][0], pads[0][1]))
        cols = F.unfold(xp, kernel_size=ks, dilation=ds, stride=ss)  # (N, C*kh*kw, P), rows (c, dy, dx)
        assert cols.shape[2] == P, (name, cols.shape, P)
        # Keras layout -> unfold's (c, dy, dx) order.
        if last:
            w_unf = w1.reshape(P, ks[0], ks[1], channels, filters).permute(0, 3, 1, 2, 4).reshape(P, K, filters)
        else:
            w_unf = w1
        y_pf = torch.einsum("nkp,pkf->npf", cols, w_unf)  # (N, P, F)
        if last:
            y = y_pf.reshape(n_batch, oh, ow, filters) + b.reshape(1, oh, ow, filters)
            if rank == 1:
                y = y.reshape(n_batch, ow, filters)
        else:
            y = y_pf.permute(0, 2, 1).reshape(n_batch, filters, oh, ow) + b.reshape(1, filters, oh, ow)
            if rank == 1:
                y = y.reshape(n_batch, filters, ow)
        dy = torch.randn(*y.shape, dtype=torch.float64)
        (y * dy).sum().backward()
        out = {"x": x, "dy": dy, "kernel": w1, "bias": b, "y": y, "dx": x.grad, "dkernel": w1.grad, "dbias": b.grad}
        for tag, t in out.items():
            np.save(os.path.join(HERE, f"{name}_{tag}.npy"), t.detach().numpy())
        lines.append(f"{name}|{spec(rank, last, filters, kernel, strides, dilation, padding)}")
    with open(os.path.join(HERE, "cases.txt"), "w") as f:
        f.write(f"# generated by generate.py with torch {torch.__version__}: name|layer spec\n")
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
