#!/usr/bin/python3
"""Exports small PyTorch nets to ONNX with torch.onnx.export (Debian's python3-torch 1.13) and writes PyTorch's
own outputs: the reference data of tests/interop/test_onnx_pytorch.cpp is real PyTorch output.

Nets (eval mode, seeded weights, BatchNorm running statistics set to non-trivial values):
  alexnet    Conv (groups=2), ReLU, LRN, MaxPool, Flatten, Linear (Gemm), Dropout (eval: exported as no node),
             Softmax
  inception  a GoogLeNet-style block: four branches (1x1, 1x1->3x3, 1x1->5x5, MaxPool->1x1), Concat, LRN, then
             AvgPool with count_include_pad and ceil_mode
  nearest    per-channel Mul/Add constants, Pad, a broadcast Mul (x times its per-channel maxima), Div by 2, Sub,
             nn.Upsample(scale_factor=(2, 3)) nearest (Upsample at opset 9, Resize later)
  bilinear   the same with bilinear upsampling (align_corners=False; opsets 11, 13, 17 only)
  resnet     a ResNet basic block: Conv, BatchNorm, ReLU, Conv, BatchNorm, Add skip, ReLU, GlobalAvgPool,
             Flatten, Linear; exported twice: with BatchNorm folded into Conv (torch's default) and with
             BatchNormalization nodes kept (do_constant_folding=False, training=PRESERVE)
torch has no ONNX symbolic for nn.LocalResponseNorm (its forward is a Python composition), so LRN goes through an
autograd Function whose forward is F.local_response_norm and whose symbolic emits ONNX's LRN (same formula for
odd sizes: b = a / (k + alpha/n * sum a^2)^beta).

Each net is exported at opsets 9, 11, 13 and 17 (see OPSETS) with a fixed batch of 2, plus batch 1 and a dynamic
batch axis (dynamic_axes, exported with a batch of 3) at opset 13. For each file NAME.onnx: NAME_x.npy (float32 input, seeded) and NAME_y.npy (PyTorch's
float32 output, stored as float64); cases.txt holds one "NAME" line per file.
Run: /usr/bin/python3 tests/interop/onnx_pytorch/generate.py
"""
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


class LRNFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, size, alpha, beta, k):
        return F.local_response_norm(x, size, alpha, beta, k)

    @staticmethod
    def symbolic(g, x, size, alpha, beta, k):
        return g.op("LRN", x, size_i=size, alpha_f=alpha, beta_f=beta, bias_f=k)


class LRN(nn.Module):
    def __init__(self, size=5, alpha=1e-2, beta=0.75, k=2.0):
        super().__init__()
        self.args = (size, alpha, beta, k)

    def forward(self, x):
        return LRNFunction.apply(x, *self.args)


class AlexNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 5, stride=2, padding=2), nn.ReLU(), LRN(5, 1e-2, 0.75, 2.0), nn.MaxPool2d(3, 2),
            nn.Conv2d(8, 12, 3, padding=1, groups=2), nn.ReLU(), LRN(3, 1e-2, 0.75, 1.0), nn.MaxPool2d(2, 2))
        self.classifier = nn.Sequential(
            nn.Dropout(0.5), nn.Linear(12 * 3 * 3, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 5),
            nn.Softmax(dim=1))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class Inception(nn.Module):
    def __init__(self, c=6):
        super().__init__()
        self.b1 = nn.Sequential(nn.Conv2d(c, 4, 1), nn.ReLU())
        self.b2 = nn.Sequential(nn.Conv2d(c, 3, 1), nn.ReLU(), nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
        self.b3 = nn.Sequential(nn.Conv2d(c, 2, 1), nn.ReLU(), nn.Conv2d(2, 3, 5, padding=2), nn.ReLU())
        self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, padding=1), nn.Conv2d(c, 3, 1), nn.ReLU())
        self.lrn = LRN(5, 1e-3, 0.75, 1.0)
        self.pool = nn.AvgPool2d(3, 2, padding=1, ceil_mode=True, count_include_pad=True)

    def forward(self, x):
        y = torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)
        return self.pool(self.lrn(y))


class ResNetBlock(nn.Module):
    def __init__(self, c=4):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.fc = nn.Linear(c, 3)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)) + x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(y, 1), 1))


class Resample(nn.Module):
    """Per-channel scale and shift, zero padding, a squeeze-excitation product, a division by 2 and an upsampling."""

    def __init__(self, mode, c=3):
        super().__init__()
        self.scale = nn.Parameter(torch.rand(c, 1, 1) + 0.5)
        self.shift = nn.Parameter(torch.rand(1, c, 1, 1) - 0.5)
        self.up = nn.Upsample(scale_factor=(2, 3), mode=mode, **({} if mode == "nearest" else {"align_corners": False}))

    def forward(self, x):
        y = F.pad(x * self.scale + self.shift, (1, 2, 0, 1))
        y = y * F.adaptive_max_pool2d(y, 1)
        return self.up(y / 2 - 1.5)


NETS = {"alexnet": (AlexNet, (3, 27, 27)), "inception": (Inception, (6, 9, 9)), "resnet": (ResNetBlock, (4, 6, 6)),
        "nearest": (lambda: Resample("nearest"), (3, 4, 5)), "bilinear": (lambda: Resample("bilinear"), (3, 4, 5))}
# ONNX's Upsample (opset 9) is asymmetric: PyTorch's bilinear (half-pixel) needs Resize (opset 11 on).
OPSETS = {"bilinear": (11, 13, 17)}


def make(name):
    torch.manual_seed(sum(map(ord, name)))
    net = NETS[name][0]()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    return net.eval()


def export(net, name, shape, batch, opset, dynamic=False, keep_bn=False, cases=None):
    file = f"{name}_op{opset}" + ("_dyn" if dynamic else f"_b{batch}") + ("_bn" if keep_bn else "")
    torch.manual_seed(7)
    x = torch.randn(batch, *shape)
    with torch.no_grad():
        y = net(x)
    kw = {"do_constant_folding": False, "training": torch.onnx.TrainingMode.PRESERVE} if keep_bn else {}
    if dynamic:
        kw["dynamic_axes"] = {"x": {0: "batch"}, "y": {0: "batch"}}
    torch.onnx.export(net, x, os.path.join(HERE, file + ".onnx"), opset_version=opset, input_names=["x"],
                      output_names=["y"], **kw)
    np.save(os.path.join(HERE, file + "_x.npy"), x.numpy())
    np.save(os.path.join(HERE, file + "_y.npy"), y.numpy().astype(np.float64))
    cases.append(file)


def main():
    cases = []
    for name, (_, shape) in NETS.items():
        net = make(name)
        for opset in OPSETS.get(name, (9, 11, 13, 17)):
            export(net, name, shape, 2, opset, cases=cases)
        export(net, name, shape, 1, 13, cases=cases)
        export(net, name, shape, 3, 13, dynamic=True, cases=cases)
        if name == "resnet":
            export(net, name, shape, 2, 13, keep_bn=True, cases=cases)
    with open(os.path.join(HERE, "cases.txt"), "w") as f:
        f.write("\n".join(cases) + "\n")


if __name__ == "__main__":
    main()
