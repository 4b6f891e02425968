#!/usr/bin/python3
"""Generates PyTorch conformance data for Conv1D, Conv2D (grouped, explicit padding) and DepthwiseConv2D.

Real PyTorch output (Debian's python3-torch 1.13): y comes from torch.nn.functional.conv1d / conv2d, the gradients
from autograd. The weights are drawn in Keras layout (Conv1D (k, C/groups, F), Conv2D (kh, kw, C/groups, F),
DepthwiseConv2D (kh, kw, C, M)) and transposed to PyTorch's (F, C/groups, [kh,] kw) inside the autograd graph, so
dkernel comes back in Keras layout; DepthwiseConv2D is conv2d with groups = C on the kernel reshaped to
(kh, kw, 1, C*M), output channel c*M + m. channels_last inputs are permuted to PyTorch's NC(H)W and back.

Padding as locnet's contract: with dilated extent e = (k-1)*d + 1, 'same' is TensorFlow's SAME (out = ceil(n/s),
total = max((out-1)*s + e - n, 0), floor(total/2) before, the rest after), 'causal' pads e-1 before; explicit
padding is (before, after) per axis. The zeros are added with F.pad (PyTorch's own padding argument is symmetric
only), then the convolution runs with padding=0.

For each case: x, dy, kernel, bias (inputs), y, and dx, dkernel, dbias for L = sum(y * dy), float64, written as
.npy next to this script, with cases.txt holding one "name|spec" line per case.
Run: /usr/bin/python3 tests/conformance/conv_pytorch/generate.py
"""
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))

# name, type, channels_last, input (batch, spatial..., channels), filters (depthwise: depth_multiplier), kernel,
# strides, dilation, padding, groups
CASES = [
    ("conv1d_valid_cl", "Conv1D", True, (2, 9, 3), 4, (3,), (1,), (1,), "valid", 1),
    ("conv1d_same_even_cf", "Conv1D", False, (2, 8, 2), 3, (4,), (1,), (1,), "same", 1),
    ("conv1d_causal_dilated_cl", "Conv1D", True, (2, 7, 2), 2, (3,), (1,), (2,), "causal", 1),
    ("conv1d_strided_cl", "Conv1D", True, (1, 10, 3), 2, (3,), (3,), (1,), "valid", 1),
    ("conv1d_grouped_dilated_cf", "Conv1D", False, (2, 9, 4), 6, (2,), (2,), (3,), "same", 2),
    ("conv1d_explicit_cl", "Conv1D", True, (2, 6, 2), 2, (3,), (1,), (1,), (2, 0), 1),
    ("conv2d_groups2_cl", "Conv2D", True, (2, 6, 5, 4), 6, (3, 3), (1, 1), (1, 1), "same", 2),
    ("conv2d_groups2_strided_dilated_cf", "Conv2D", False, (2, 7, 7, 6), 4, (3, 2), (2, 2), (1, 2), "valid", 2),
    ("conv2d_explicit_cl", "Conv2D", True, (2, 4, 5, 3), 2, (2, 3), (1, 2), (1, 1), ((1, 0), (2, 1)), 1),
    ("conv2d_explicit_grouped_cf", "Conv2D", False, (2, 5, 4, 3), 6, (2, 2), (1, 1), (2, 1), ((0, 2), (1, 1)), 3),
    ("depthwise_same_cl", "DepthwiseConv2D", True, (2, 5, 6, 3), 2, (3, 3), (1, 1), (1, 1), "same", None),
    ("depthwise_strided_cf", "DepthwiseConv2D", False, (1, 6, 6, 4), 1, (2, 3), (2, 2), (1, 1), "valid", None),
    ("depthwise_explicit_dilated_cl", "DepthwiseConv2D", True, (2, 5, 4, 2), 3, (2, 2), (1, 1), (2, 2),
     ((1, 1), (0, 2)), None),
]


def axis_padding(n, k, s, d, padding):
    """(before, after) zeros along one axis."""
    e = (k - 1) * d + 1
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return e - 1, 0
    if padding == "same":
        total = max((math.ceil(n / s) - 1) * s + e - n, 0)
        return total // 2, total - total // 2
    return padding


def spec(kind, last, filters, kernel, strides, dilation, padding, groups):
    tup = lambda t: t[0] if len(t) == 1 else "(" + ", ".join(map(str, t)) + ")"
    pad = repr(padding) if isinstance(padding, str) else str(padding)
    fmt = "channels_last" if last else "channels_first"
    common = (f"{tup(kernel)}, strides={tup(strides)}, padding={pad}, data_format='{fmt}', "
              f"dilation_rate={tup(dilation)}")
    if kind == "DepthwiseConv2D":
        return f"DepthwiseConv2D({common}, depth_multiplier={filters}, name='c')"
    return f"{kind}({filters}, {common}, groups={groups}, name='c')"


def main():
    torch.manual_seed(0)
    lines = []
    for name, kind, last, shape, filters, kernel, strides, dilation, padding, groups in CASES:
        rank, channels = len(kernel), shape[-1]
        spatial = list(shape[1:-1])
        depthwise = kind == "DepthwiseConv2D"
        if depthwise:
            groups, multiplier, filters = channels, filters, channels * filters
            k_shape = (*kernel, channels, multiplier)
        else:
            k_shape = (*kernel, channels // groups, filters)
        x_shape = [shape[0]] + spatial + [channels] if last else [shape[0], channels] + spatial
        x = torch.randn(*x_shape, dtype=torch.float64, requires_grad=True)
        w = (torch.randn(*k_shape, dtype=torch.float64) * 0.5).requires_grad_(True)
        b = (torch.randn(filters, dtype=torch.float64) * 0.5).requires_grad_(True)

        # Keras layout -> PyTorch (F, C/groups, [kh,] kw).
        w_keras = w.reshape(*kernel, 1, filters) if depthwise else w
        w_torch = w_keras.permute(rank + 1, rank, *range(rank))
        x_ncw = x.permute(0, rank + 1, *range(1, rank + 1)) if last else x
        if isinstance(padding, tuple) and rank == 2:
            sides = list(padding)
        elif isinstance(padding, tuple):
            sides = [padding]
        else:
            sides = [axis_padding(spatial[a], kernel[a], strides[a], dilation[a], padding) for a in range(rank)]
        flat = [z for side in reversed(sides) for z in side]  # F.pad: last axis first
        conv = F.conv1d if rank == 1 else F.conv2d
        y_ncw = conv(F.pad(x_ncw, flat), w_torch, b, stride=strides, dilation=dilation, groups=groups)
        y = y_ncw.permute(0, *range(2, rank + 2), 1) if last else y_ncw
        dy = torch.randn(*y.shape, dtype=torch.float64)
        (y * dy).sum().backward()
        out = {"x": x, "dy": dy, "kernel": w, "bias": b, "y": y, "dx": x.grad, "dkernel": w.grad, "dbias": b.grad}
        for tag, t in out.items():
            np.save(os.path.join(HERE, f"{name}_{tag}.npy"), np.ascontiguousarray(t.detach().numpy()))
        per_layer = multiplier if depthwise else filters
        lines.append(f"{name}|{spec(kind, last, per_layer, kernel, strides, dilation, padding, groups)}")
    with open(os.path.join(HERE, "cases.txt"), "w") as f:
        f.write(f"# generated by generate.py with torch {torch.__version__}: name|layer spec\n")
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
