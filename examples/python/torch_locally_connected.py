#!/usr/bin/python3
"""A PyTorch model with locnet's LocallyConnected2d, trained a few steps on random data (docs/python-torch.md).

    PYTHONPATH=build/python /usr/bin/python3 examples/python/torch_locally_connected.py
"""
import torch

import locnet.torch as lt

torch.manual_seed(0)
model = torch.nn.Sequential(
    torch.nn.Conv2d(3, 8, 3),                       # (N, 3, 16, 16) -> (N, 8, 14, 14)
    lt.LocallyConnected2d(8, 16, 3, stride=2),      # its own 3x3 filters at each of the 6x6 positions
    lt.BatchNorm2d(16),                             # PyTorch's BatchNorm semantics, locnet's kernels
    torch.nn.ReLU(),
    torch.nn.Flatten(),
    torch.nn.Linear(16 * 6 * 6, 10),
)
# No input_size given: the LocallyConnected2d's parameters are lazy (torch's UninitializedParameter) and take
# their shape from the first batch, (14, 14); the optimizer holds them already.
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

images, labels = torch.randn(64, 3, 16, 16), torch.randint(0, 10, (64,))
for step in range(10):
    optimizer.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(images), labels)
    loss.backward()
    optimizer.step()  # updates the weights locnet computes with: they share storage
    print(f"step {step}: loss {loss.item():.4f}")

model.eval()
with torch.no_grad():
    accuracy = (model(images).argmax(1) == labels).float().mean().item()
print(f"training accuracy {accuracy:.2f}")
