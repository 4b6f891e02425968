#!/usr/bin/python3
"""Writes PyTorch state_dicts in the safetensors layout, with real PyTorch outputs (Debian's python3-torch 1.13).

The Python `safetensors` package is not in Debian, so the layout is written by hand (the writer of
tests/conformance/bn_pytorch_state_dict/generate.py: 8-byte little-endian header length, JSON header with dtype,
shape and data_offsets, raw data), keys in state_dict() order. Each model is trained for a few steps (so the running statistics
and num_batches_tracked, an I64 scalar of shape (), are not their initial values), then run in eval mode on a
seeded input. For each case: <name>.safetensors (the state_dict), <name>_x.npy and <name>_y.npy (float64; y is
PyTorch's output), and one "name|locnet spec" line in cases.txt (the locnet model with the same layers).
Run: /usr/bin/python3 tests/interop/state_dict/generate.py
"""
import os
import sys

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "conformance", "bn_pytorch_state_dict"))
from generate import write_safetensors  # noqa: E402 (the same hand-written safetensors layout)


class ConvNet(nn.Module):
    """Conv2d -> BatchNorm2d -> ReLU -> LocalResponseNorm -> MaxPool -> Linear (NCHW, flattened as C, H, W)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1, groups=1)
        self.bn = nn.BatchNorm2d(4)
        self.lrn = nn.LocalResponseNorm(3, alpha=0.1, beta=0.75, k=2.0)
        self.fc = nn.Linear(4 * 2 * 3, 5)

    def forward(self, x):
        x = self.lrn(torch.relu(self.bn(self.conv(x))))
        return self.fc(torch.flatten(nn.functional.max_pool2d(x, 2), 1))


CONV_SPEC = ("Input((3, 4, 6)) >> Conv2D(4, 3, padding=1, data_format='channels_first', name='conv')"
             " >> BatchNorm2D.pytorch(4, name='bn') >> Activation('relu')"
             " >> LocalResponseNorm.pytorch(3, alpha=0.1, beta=0.75, k=2.0)"
             " >> MaxPooling2D(2, data_format='channels_first') >> Flatten() >> Dense(5, name='fc')")

# Sequential: module paths "0", "1", "3"; BatchNorm1d with momentum=None (cumulative average) and grouped Conv1d.
MLP_SPEC = ("Input((2, 7)) >> Conv1D(4, 3, groups=2, data_format='channels_first')"
            " >> BatchNorm1D.pytorch(4, momentum=None) >> Activation('relu') >> Flatten() >> Dense(3)"
            " >> BatchNorm1D.pytorch(3, eps=0.001)")


def mlp():
    return nn.Sequential(nn.Conv1d(2, 4, 3, groups=2), nn.BatchNorm1d(4, momentum=None), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * 5, 3), nn.BatchNorm1d(3, eps=0.001))


def make(name, model, spec, in_shape, dtype):
    g = torch.Generator().manual_seed(len(name))
    model = model.to(dtype)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model.train()
    for _ in range(3):  # moves the weights and running statistics away from their initial values
        x = torch.randn((4,) + in_shape, generator=g, dtype=dtype)
        opt.zero_grad()
        model(x).square().mean().backward()
        opt.step()
    model.eval()
    x = torch.randn((2,) + in_shape, generator=g, dtype=dtype)
    with torch.no_grad():
        y = model(x)
    write_safetensors(os.path.join(HERE, name + ".safetensors"), model.state_dict())
    np.save(os.path.join(HERE, name + "_x.npy"), x.double().numpy())
    np.save(os.path.join(HERE, name + "_y.npy"), y.double().numpy())
    return f"{name}|{spec}"


if __name__ == "__main__":
    torch.manual_seed(0)
    lines = [make("convnet_f64", ConvNet(), CONV_SPEC, (3, 4, 6), torch.float64),
             make("sequential_f32", mlp(), MLP_SPEC, (2, 7), torch.float32)]
    with open(os.path.join(HERE, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
