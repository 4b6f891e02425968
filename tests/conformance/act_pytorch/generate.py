#!/usr/bin/python3
"""Generates PyTorch conformance data for the activation layers (Debian's python3-torch, PyTorch 1.13).

Every value here is computed by PyTorch (forward by torch.nn.functional, gradients by autograd), independently of
locnet. The locnet layer of each case is given by its spec; its PyTorch counterpart:
  Softmax(axis=a)                 F.softmax(x, dim=a)  (Keras's axis counts the batch axis, as dim does)
  ReLU(max_value=m)               F.hardtanh(x, 0, m)  (F.relu6 for m = 6)
  ReLU(max_value, negative_slope, threshold)
                                  torch.where(x > threshold, x.clamp(max=max_value), slope * (x - threshold))
  ThresholdedReLU(theta)          F.threshold(x, theta, 0)
  LeakyReLU(alpha)                F.leaky_relu(x, alpha)
  ELU(alpha)                      F.elu(x, alpha)
  PReLU(shared_axes=...)          F.prelu(x, weight): weight (C,) on (N, C, H, W) is shared_axes=(2, 3) with
                                  alpha (C, 1, 1); channels_last (N, H, W, C) runs F.prelu on the permuted input,
                                  alpha (1, 1, C); one weight is every axis shared, alpha (1, 1, 1).
Inputs keep 0.05 away from every kink (0, threshold, max_value), where the one-sided derivatives differ.

For each case: x, dy (inputs), y, and dx for L = sum(y * dy), float64, plus alpha and dalpha for PReLU (in
Keras's layout), written as .npy next to this script; cases.txt holds one "name|spec" line per case.
Run: /usr/bin/python3 tests/conformance/act_pytorch/generate.py
"""
import os

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


def away_from(x, kinks):
    """x with every element at least 0.05 from each kink (pushed up)."""
    for k in kinks:
        near = (x - k).abs() < 0.05
        x = torch.where(near, k + 0.05 + (x - k).abs(), x)
    return x


def prelu_cl(x, w):
    return F.prelu(x.permute(0, 3, 1, 2), w).permute(0, 2, 3, 1)


# name, spec, input shape, function of (x, alpha), kinks, PyTorch alpha shape, Keras alpha shape
CASES = [
    ("softmax_axis1_rank4", "Softmax(axis=1)", (2, 3, 4, 5), lambda x, a: F.softmax(x, dim=1), [], None, None),
    ("softmax_last_rank3", "Softmax()", (3, 2, 6), lambda x, a: F.softmax(x, dim=-1), [], None, None),
    ("softmax_neg2_rank4", "Softmax(axis=-2)", (2, 3, 4, 2), lambda x, a: F.softmax(x, dim=-2), [], None, None),
    ("relu6", "ReLU(max_value=6.0)", (2, 40), lambda x, a: F.relu6(x), [0, 6], None, None),
    ("relu_max2_5", "ReLU(max_value=2.5)", (3, 4, 5), lambda x, a: F.hardtanh(x, 0.0, 2.5), [0, 2.5], None, None),
    ("relu_max_slope_threshold", "ReLU(max_value=3.0, negative_slope=0.1, threshold=0.5)", (2, 5, 6),
     lambda x, a: torch.where(x > 0.5, x.clamp(max=3.0), 0.1 * (x - 0.5)), [0.5, 3.0], None, None),
    ("thresholded_relu", "ThresholdedReLU(theta=0.7)", (2, 30), lambda x, a: F.threshold(x, 0.7, 0.0), [0.7],
     None, None),
    ("leaky_relu_default", "LeakyReLU()", (2, 3, 7), lambda x, a: F.leaky_relu(x, 0.3), [0], None, None),
    ("leaky_relu_0_1", "LeakyReLU(alpha=0.1)", (3, 11), lambda x, a: F.leaky_relu(x, 0.1), [0], None, None),
    ("elu_default", "ELU()", (2, 3, 7), lambda x, a: F.elu(x), [0], None, None),
    ("elu_0_5", "ELU(alpha=0.5)", (4, 9), lambda x, a: F.elu(x, 0.5), [0], None, None),
    ("prelu_cf_channel", "PReLU(shared_axes=(2, 3))", (2, 3, 4, 5), lambda x, a: F.prelu(x, a), [0], (3,),
     (3, 1, 1)),
    ("prelu_cl_channel", "PReLU(shared_axes=(1, 2))", (2, 4, 5, 3), prelu_cl, [0], (3,), (1, 1, 3)),
    ("prelu_one", "PReLU(shared_axes=(1, 2, 3))", (2, 3, 2, 4), lambda x, a: F.prelu(x, a), [0], (1,), (1, 1, 1)),
]


def main():
    torch.manual_seed(0)
    lines = []
    for name, spec, shape, fn, kinks, torch_alpha, keras_alpha in CASES:
        x = away_from(torch.randn(*shape, dtype=torch.float64) * 2, kinks).requires_grad_(True)
        alpha = None
        if torch_alpha:
            alpha = (torch.rand(*torch_alpha, dtype=torch.float64) * 0.5).requires_grad_(True)
        y = fn(x, alpha)
        dy = torch.randn(*y.shape, dtype=torch.float64)
        (y * dy).sum().backward()
        out = {"x": x, "dy": dy, "y": y, "dx": x.grad}
        if alpha is not None:
            out["alpha"] = alpha.reshape(keras_alpha)
            out["dalpha"] = alpha.grad.reshape(keras_alpha)
        for tag, t in out.items():
            np.save(os.path.join(HERE, f"{name}_{tag}.npy"), t.detach().numpy())
        lines.append(f"{name}|{spec}")
    with open(os.path.join(HERE, "cases.txt"), "w") as f:
        f.write(f"# PyTorch {torch.__version__}: name|locnet layer spec (tests/conformance/act_pytorch/generate.py)\n")
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
