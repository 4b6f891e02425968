#!/usr/bin/python3
"""Checks ONNX files that locnet exported, with Python's onnx package and PyTorch (optional; CI has neither).

The C++ tests (tests/interop/test_onnx_export.cpp) already run ONNX's C++ checker and shape inference on every
model they export, and read each file back with locnet's importer. This script adds:
  1. onnx.checker.check_model(full_check=True) and strict shape inference in Python, on every file;
  2. where the test also wrote the input and locnet's output (NAME.x.npy, NAME.y.npy beside NAME.onnx), it runs
     the ONNX graph with PyTorch 1.13 functions (torch.nn.functional: conv, pooling, interpolate, pad, ...) that
     follow each operator's ONNX definition, and compares with locnet's output. This covers the operators
     locnet's importer does not read (Gather, Pad, Resize, Slice, Clip, Elu, ...), with real PyTorch kernels.
Usage, with Debian's python3-onnx and python3-torch:

    mkdir -p /tmp/onnx_export
    LOCNET_ONNX_EXPORT_DIR=/tmp/onnx_export build/bin/locnet_tests --gtest_filter='OnnxExport*'
    /usr/bin/python3 tests/interop/onnx_export/check.py /tmp/onnx_export

Exits 1 naming each file that fails, 0 when all pass.
"""
import pathlib
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper


def attrs(node):
    values = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    return {k: v.decode() if isinstance(v, bytes) else v for k, v in values.items()}


def pad_spatial(x, pads, value=0.0):
    """ONNX pads (begin..., end...) of the spatial axes -> F.pad (last axis first)."""
    r = len(pads) // 2
    torch_pads = []
    for i in reversed(range(r)):
        torch_pads += [pads[i], pads[i + r]]
    return F.pad(x, torch_pads, value=value)


def pool(x, a, op):
    r = x.dim() - 2
    if r == 1:  # as 2D over one row
        a2 = dict(a, kernel_shape=[1] + a["kernel_shape"], strides=[1] + a.get("strides", [1]),
                  pads=[0, a.get("pads", [0, 0])[0], 0, a.get("pads", [0, 0])[1]])
        return pool(x.unsqueeze(2), a2, op).squeeze(2)
    k, s = a["kernel_shape"], a.get("strides", [1] * r)
    p = a.get("pads", [0] * 2 * r)
    ceil = bool(a.get("ceil_mode", 0))
    if op == "MaxPool":
        return [F.max_pool2d, F.max_pool3d][r - 2](pad_spatial(x, p, -float("inf")), k, s, ceil_mode=ceil)
    # The sum over each window divided by its count of input cells (and pad cells with count_include_pad).
    sum_pool = lambda t: [F.avg_pool2d, F.avg_pool3d][r - 2](t, k, s, ceil_mode=ceil, divisor_override=1)
    mask = pad_spatial(torch.ones_like(x), p, 1.0 if a.get("count_include_pad", 0) else 0.0)
    return sum_pool(pad_spatial(x, p)) / sum_pool(mask)


def lrn(x, a):
    """ONNX's LRN: the squares of channels c - (n-1)//2 .. c + n//2 (zero outside), alpha divided by n."""
    n = a["size"]
    sq = F.pad(x * x, [0, 0] * (x.dim() - 2) + [(n - 1) // 2, n // 2])
    sums = sum(sq[:, j:j + x.shape[1]] for j in range(n))
    return x / (a.get("bias", 1.0) + a.get("alpha", 1e-4) / n * sums) ** a.get("beta", 0.75)


def run(model, x):
    v = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in model.graph.initializer}
    v[model.graph.input[0].name] = torch.from_numpy(x)
    v[""] = None
    unary = {"Relu": torch.relu, "Sigmoid": torch.sigmoid, "Tanh": torch.tanh, "Exp": torch.exp,
             "Identity": lambda t: t, "Softplus": F.softplus}
    for node in model.graph.node:
        i = [v[n] for n in node.input]
        a, op = attrs(node), node.op_type
        if op in unary:
            y = unary[op](i[0])
        elif op == "LeakyRelu":
            y = F.leaky_relu(i[0], a.get("alpha", 0.01))
        elif op == "Elu":
            y = F.elu(i[0], a.get("alpha", 1.0))
        elif op == "Selu":
            y = F.selu(i[0])
        elif op == "HardSigmoid":
            y = torch.clamp(a.get("alpha", 0.2) * i[0] + a.get("beta", 0.5), 0, 1)
        elif op == "ThresholdedRelu":
            y = torch.where(i[0] > a.get("alpha", 1.0), i[0], torch.zeros_like(i[0]))
        elif op == "PRelu":
            y = torch.where(i[0] >= 0, i[0], i[0] * i[1])
        elif op == "Clip":
            y = torch.clamp(i[0], i[1].item(), i[2].item())
        elif op == "Softmax":
            y = torch.softmax(i[0], a.get("axis", -1))
        elif op in ("Add", "Sub", "Mul", "Div", "Pow"):
            y = {"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": torch.div, "Pow": torch.pow}[op](*i)
        elif op in ("Sum", "Mean", "Max", "Min"):
            s = torch.stack(i)
            y = {"Sum": s.sum(0), "Mean": s.mean(0), "Max": s.max(0).values, "Min": s.min(0).values}[op]
        elif op == "Concat":
            y = torch.cat(i, a["axis"])
        elif op == "Transpose":
            y = i[0].permute(*a["perm"])
        elif op == "Flatten":
            y = i[0].reshape(i[0].shape[0], -1)
        elif op == "Reshape":
            shape = [i[0].shape[k] if d == 0 else int(d) for k, d in enumerate(i[1].tolist())]
            y = i[0].reshape(shape)
        elif op == "Gemm":
            y = i[0] @ i[1] + (i[2] if len(i) > 2 else 0)
        elif op == "MatMul":
            y = i[0] @ i[1]
        elif op == "Gather":
            y = torch.index_select(i[0], a.get("axis", 0), i[1])
        elif op == "Pad":
            pads = i[1].tolist()
            r = i[0].dim()
            y = pad_spatial(i[0], pads[2:r] + pads[r + 2:]) if pads[:2] + pads[r:r + 2] == [0] * 4 else None
        elif op == "Slice":
            y = i[0]
            for start, end, axis in zip(i[1].tolist(), i[2].tolist(), i[3].tolist()):
                y = y.narrow(axis, start, end - start)
        elif op == "Resize":
            scales = i[2].tolist()[2:]
            linear = a["mode"] == "linear"
            mode = ["linear", "bilinear", "trilinear"][len(scales) - 1] if linear else "nearest"
            y = F.interpolate(i[0], scale_factor=scales, mode=mode, align_corners=False if linear else None)
        elif op == "Conv":
            r = i[0].dim() - 2
            conv = [F.conv1d, F.conv2d, F.conv3d][r - 1]
            y = conv(pad_spatial(i[0], a.get("pads", [0] * 2 * r)), i[1], i[2] if len(i) > 2 else None,
                     a.get("strides", 1), 0, a.get("dilations", 1), a.get("group", 1))
        elif op in ("MaxPool", "AveragePool"):
            y = pool(i[0], a, op)
        elif op in ("GlobalAveragePool", "GlobalMaxPool"):
            dims = tuple(range(2, i[0].dim()))
            y = i[0].mean(dims, keepdim=True) if op == "GlobalAveragePool" else i[0].amax(dims, keepdim=True)
        elif op == "BatchNormalization":
            shape = [1, -1] + [1] * (i[0].dim() - 2)
            x0, scale, b, mean, var = i[0], *(t.reshape(shape) for t in i[1:])
            y = (x0 - mean) / torch.sqrt(var + a.get("epsilon", 1e-5)) * scale + b
        elif op == "LRN":
            y = lrn(i[0], a)
        else:
            raise NotImplementedError(op)
        if y is None:
            raise NotImplementedError(f"{op} with these attributes")
        v[node.output[0]] = y
    return v[model.graph.output[0].name].numpy()


def check(path: pathlib.Path) -> tuple:
    """(error message or "", whether the output was compared)."""
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model, full_check=True)
        onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
        x_path, y_path = path.with_suffix(".x.npy"), path.with_suffix(".y.npy")
        if not x_path.exists():
            return "", False
        x, want = np.load(x_path), np.load(y_path)
        got = run(model, x)
        tol = 1e-5 if want.dtype == np.float32 else 1e-10
        worst = float(np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want)))) if want.size else 0.0
        if got.shape != want.shape or not worst <= tol:
            return f"{path.name}: PyTorch's evaluation differs from locnet's output by {worst:g} (> {tol:g})", True
    except Exception as e:  # the checker raises several types
        return f"{path.name}: {type(e).__name__}: {e}", False
    return "", True


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    torch.set_grad_enabled(False)
    files = sorted(pathlib.Path(sys.argv[1]).glob("*.onnx"))
    results = [check(f) for f in files]
    failures = [msg for msg, _ in results if msg]
    for msg in failures:
        print(msg)
    compared = sum(1 for msg, ran in results if ran and not msg)
    print(f"{len(files) - len(failures)} of {len(files)} files pass onnx {onnx.__version__}'s checker; "
          f"{compared} outputs match PyTorch {torch.__version__}'s evaluation of the graph")
    return 1 if failures or not files else 0


if __name__ == "__main__":
    sys.exit(main())
