#!/usr/bin/python3
"""Generates PyTorch reference data for the GoogLeNet/ResNet acceptance network (Debian's python3-torch).

The network is the one of tests/model/test_googlenet_resnet.cpp (its spec text is there too),
built here from torch.nn modules in NCHW: a GoogLeNet stem (Conv 5x5, MaxPool 3/2 ceil_mode, LocalResponseNorm(3),
Conv 1x1, Conv 3x3, LocalResponseNorm(4), MaxPool 3/2 ceil_mode), one Inception block (1x1; 1x1 -> 3x3;
1x1 -> 5x5; MaxPool 3/1 pad 1 -> 1x1; torch.cat on channels), a ResNet basic block (Conv-BN-ReLU-Conv-BN, + skip,
ReLU), global average pooling and Linear(10) + softmax. Every file is real PyTorch output, computed in float64:
  weights.safetensors  the parameters and BatchNorm running statistics under locnet's names in Keras layouts
                       (Conv2D kernel (kh, kw, cin, cout) = torch weight.permute(2, 3, 1, 0); Dense kernel (in,
                       out) = torch weight.T), written by hand (write_safetensors of
                       tests/conformance/bn_pytorch_state_dict/generate.py), as the safetensors package is not
                       in Debian. Running statistics are non-trivial. Stored as F32: the values are rounded to
                       f32 before the float64 run, so the file holds them exactly.
  x.npy, dy.npy        a batch of 2 inputs (N, 28, 28, 1) in [0, 1) and an upstream gradient (N, 10)
  y_eval.npy, dx_eval.npy            eval mode (BatchNorm uses running statistics): softmax output, d sum(y*dy)/dx
  y_train.npy, dx_train.npy          train mode (BatchNorm uses batch statistics), the same
  d<param>_train.npy   train-mode gradients of conv1.kernel, res_bn1.gamma and fc.kernel, in Keras layouts
x and dx are NHWC (the locnet model is channels_last); torch computes in NCHW and the script transposes.
Run: /usr/bin/python3 tests/conformance/googlenet_pytorch/generate.py
"""
import importlib.util
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
# write_safetensors (by hand, F32/I64) from the BatchNorm state_dict generator next door.
_spec = importlib.util.spec_from_file_location("bn_state_dict", os.path.join(HERE, "..", "bn_pytorch_state_dict",
                                                                            "generate.py"))
_bn_state_dict = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_bn_state_dict)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 5, padding=2)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.lrn1 = nn.LocalResponseNorm(3, alpha=0.3, beta=0.75, k=1.0)
        self.conv2_reduce = nn.Conv2d(8, 8, 1)
        self.conv2 = nn.Conv2d(8, 12, 3, padding=1)
        self.lrn2 = nn.LocalResponseNorm(4, alpha=0.3, beta=0.75, k=2.0)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.inc_1x1 = nn.Conv2d(12, 4, 1)
        self.inc_3x3_reduce = nn.Conv2d(12, 4, 1)
        self.inc_3x3 = nn.Conv2d(4, 4, 3, padding=1)
        self.inc_5x5_reduce = nn.Conv2d(12, 2, 1)
        self.inc_5x5 = nn.Conv2d(2, 2, 5, padding=2)
        self.inc_pool = nn.MaxPool2d(3, 1, padding=1)
        self.inc_pool_proj = nn.Conv2d(12, 2, 1)
        self.res_conv1 = nn.Conv2d(12, 12, 3, padding=1, bias=False)
        self.res_bn1 = nn.BatchNorm2d(12)
        self.res_conv2 = nn.Conv2d(12, 12, 3, padding=1, bias=False)
        self.res_bn2 = nn.BatchNorm2d(12)
        self.fc = nn.Linear(12, 10)

    def forward(self, x):
        x = self.pool1(F.relu(self.conv1(x)))
        x = self.lrn1(x)
        x = F.relu(self.conv2(F.relu(self.conv2_reduce(x))))
        x = self.pool2(self.lrn2(x))
        a = F.relu(self.inc_1x1(x))
        b = F.relu(self.inc_3x3(F.relu(self.inc_3x3_reduce(x))))
        c = F.relu(self.inc_5x5(F.relu(self.inc_5x5_reduce(x))))
        d = F.relu(self.inc_pool_proj(self.inc_pool(x)))
        x = torch.cat([a, b, c, d], dim=1)
        r = self.res_bn2(self.res_conv2(F.relu(self.res_bn1(self.res_conv1(x)))))
        x = F.relu(r + x)
        return torch.softmax(self.fc(x.mean(dim=(2, 3))), dim=1)


def keras_tensors(net):
    """locnet's parameter names and Keras layouts."""
    out = {}
    for name, m in net.named_children():
        if isinstance(m, nn.Conv2d):
            out[f"{name}.kernel"] = m.weight.permute(2, 3, 1, 0)
            if m.bias is not None:
                out[f"{name}.bias"] = m.bias
        elif isinstance(m, nn.Linear):
            out[f"{name}.kernel"] = m.weight.t()
            out[f"{name}.bias"] = m.bias
        elif isinstance(m, nn.BatchNorm2d):
            out.update({f"{name}.gamma": m.weight, f"{name}.beta": m.bias, f"{name}.moving_mean": m.running_mean,
                        f"{name}.moving_variance": m.running_var})
    return out


def main():
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)
    net = Net()
    with torch.no_grad():
        for bn in (net.res_bn1, net.res_bn2):
            bn.weight.copy_(torch.rand(12) + 0.5)
            bn.bias.copy_(torch.randn(12) * 0.3)
            bn.running_mean.copy_(torch.randn(12) * 0.3)
            bn.running_var.copy_(torch.rand(12) + 0.5)
        for t in list(net.parameters()) + list(net.buffers()):
            t.copy_(t.float().double())  # values f32 holds exactly, so the file can store them as F32
    tensors = {k: t.detach().float() for k, t in keras_tensors(net).items()}
    _bn_state_dict.write_safetensors(os.path.join(HERE, "weights.safetensors"), tensors)
    save = lambda tag, t: np.save(os.path.join(HERE, f"{tag}.npy"), np.ascontiguousarray(t.detach().numpy()))
    x_nhwc = torch.rand(2, 28, 28, 1)
    dy = torch.randn(2, 10)
    save("x", x_nhwc)
    save("dy", dy)
    for mode in ("eval", "train"):
        net.train(mode == "train")
        net.zero_grad()
        x = x_nhwc.clone().requires_grad_(True)
        y = net(x.permute(0, 3, 1, 2))
        (y * dy).sum().backward()
        save(f"y_{mode}", y)
        save(f"dx_{mode}", x.grad)
    grads = {"conv1.kernel": net.conv1.weight.grad.permute(2, 3, 1, 0), "res_bn1.gamma": net.res_bn1.weight.grad,
             "fc.kernel": net.fc.weight.grad.t()}
    for name, g in grads.items():
        save(f"d{name}_train", g)


if __name__ == "__main__":
    main()
