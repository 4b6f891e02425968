#!/usr/bin/python3
"""Generates PyTorch reference data for the image-folder resize (src/train/image_folder.cpp; Debian's
python3-torch; the data is real PyTorch output).

An image of random uint8 pixels (height, width, channels) is resized with F.interpolate on its float64 NCHW view:
mode="bilinear" with align_corners=False and no antialiasing (half-pixel centers, as tf.image.resize's default
bilinear, which Keras's image_dataset_from_directory uses) and mode="nearest-exact" (TensorFlow's half-pixel
nearest). The output size is given as size=, so the scale is in / out on each axis.

For each case: <name>_x.npy (the image, float64 holding whole numbers 0-255, HWC) and <name>_y.npy (the resized
image, float64, HWC, unscaled), next to this script; cases.txt holds one "name|mode|height|width" line per case.
Run: /usr/bin/python3 tests/conformance/image_resize_pytorch/generate.py
"""
import os

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))

# name, input (height, width, channels), mode, output (height, width)
CASES = [
    ("down_bilinear_rgb", (5, 7, 3), "bilinear", (3, 4)),
    ("up_bilinear_rgb", (5, 7, 3), "bilinear", (9, 11)),
    ("mixed_bilinear_gray", (4, 6, 1), "bilinear", (7, 3)),
    ("to_1x1_bilinear", (4, 5, 1), "bilinear", (1, 1)),
    ("down_nearest_rgb", (5, 7, 3), "nearest-exact", (3, 4)),
    ("up_nearest_gray", (3, 4, 1), "nearest-exact", (7, 9)),
]


def main():
    rng = np.random.default_rng(32)
    lines = []
    for name, shape, mode, size in CASES:
        x = rng.integers(0, 256, size=shape).astype(np.float64)
        t = torch.from_numpy(x).permute(2, 0, 1).unsqueeze(0)
        kw = {"align_corners": False} if mode == "bilinear" else {}
        y = F.interpolate(t, size=size, mode=mode, **kw)[0].permute(1, 2, 0).numpy()
        np.save(os.path.join(HERE, name + "_x.npy"), x)
        np.save(os.path.join(HERE, name + "_y.npy"), np.ascontiguousarray(y))
        lines.append(f"{name}|{'nearest' if mode == 'nearest-exact' else mode}|{size[0]}|{size[1]}")
    with open(os.path.join(HERE, "cases.txt"), "w") as f:
        f.write("# name|interpolation|height|width (generate.py)\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
