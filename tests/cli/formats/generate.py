#!/usr/bin/python3
"""Writes the small ONNX file the CLI format tests use (Debian's python3-onnx 1.12, onnx.helper).

dense_8x8.onnx: x (N, 8, 8, 1) float -> Flatten (axis 1) -> Gemm (W (3, 64), transB=1, bias (3,)), opset 13,
IR version 8: a 3-class classifier of the 8x8 images tests/cli/test_cli_train.cpp writes. x.npy holds two seeded
samples (float32), logits.npy the logits x.reshape(2, 64) @ W.T + b (what predict writes for an imported model)
and probs.npy their softmax (what it writes for the converted locnet file), computed here with NumPy
(a synthetic reference of ONNX's documented Gemm semantics, in float64).
Run: /usr/bin/python3 tests/cli/formats/generate.py
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))

rng = np.random.default_rng(7)
W = (rng.standard_normal((3, 64)) * 0.1).astype(np.float32)
b = np.array([0.1, -0.2, 0.05], dtype=np.float32)
graph = helper.make_graph(
    [helper.make_node("Flatten", ["x"], ["f"], axis=1), helper.make_node("Gemm", ["f", "W", "b"], ["y"], transB=1)],
    "dense_8x8",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8, 8, 1])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
    [numpy_helper.from_array(W, "W"), numpy_helper.from_array(b, "b")])
model = helper.make_model(graph, producer_name="locnet tests", opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, os.path.join(HERE, "dense_8x8.onnx"))

x = rng.random((2, 8, 8, 1)).astype(np.float32)
z = x.reshape(2, 64).astype(np.float64) @ W.T.astype(np.float64) + b
p = np.exp(z - z.max(1, keepdims=True))
np.save(os.path.join(HERE, "x.npy"), x)
np.save(os.path.join(HERE, "logits.npy"), z)
np.save(os.path.join(HERE, "probs.npy"), p / p.sum(1, keepdims=True))
