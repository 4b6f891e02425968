#!/usr/bin/env python3
"""Writes Fashion-MNIST (the IDX files of Debian's dataset-fashion-mnist) as PNG files in class folders, the layout
`locnet train --data DIR` reads (docs/image-folders.md):

    DIR/train/<k>_<class name>/<index>.png    the first --train training images
    DIR/test/<k>_<class name>/<index>.png     the first --test test images

Class folders are numbered so that their sorted order is the labels' order ("T-shirt/top" becomes "0_T-shirt-top").
Only the standard library is used (gzip, zlib, struct): 8-bit grayscale PNGs, one IDAT chunk.
tests/cli/test_cli_image_folder.cpp writes the same layout with libpng for the acceptance test.

Run: python3 tests/data/fashion_png.py DIR [--train 6000] [--test 1000] [--source /usr/share/datasets/fashion-mnist]
"""
import argparse
import gzip
import os
import struct
import zlib

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def read_idx(path):
    with gzip.open(path) if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    rank = data[3]
    dims = struct.unpack(">" + "I" * rank, data[4:4 + 4 * rank])
    return dims, data[4 + 4 * rank:]


def png(width, height, pixels):
    def chunk(tag, body):
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))
    rows = b"".join(b"\0" + pixels[r * width:(r + 1) * width] for r in range(height))  # filter 0 on each row
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def write_split(source, prefix, count, out):
    path = lambda name: next(p for p in (f"{source}/{name}", f"{source}/{name}.gz") if os.path.exists(p))
    (n, h, w), images = read_idx(path(f"{prefix}-images-idx3-ubyte"))
    _, labels = read_idx(path(f"{prefix}-labels-idx1-ubyte"))
    for i in range(min(count, n)):
        folder = os.path.join(out, f"{labels[i]}_{CLASSES[labels[i]].replace('/', '-')}")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"{i:05d}.png"), "wb") as f:
            f.write(png(w, h, images[i * h * w:(i + 1) * h * w]))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dir")
    p.add_argument("--train", type=int, default=6000)
    p.add_argument("--test", type=int, default=1000)
    p.add_argument("--source", default="/usr/share/datasets/fashion-mnist")
    a = p.parse_args()
    write_split(a.source, "train", a.train, os.path.join(a.dir, "train"))
    write_split(a.source, "t10k", a.test, os.path.join(a.dir, "test"))


if __name__ == "__main__":
    main()
