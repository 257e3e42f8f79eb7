#!/usr/bin/env python3
"""Fashion-MNIST loader shared by the kNN bench scripts (Debian dataset-fashion-mnist).

load() -> (X float32 70000 x 784 scaled to [0, 1], labels int32): train rows 0-59,999,
then test rows. save_f32(path) writes X raw (row-major float32) for the C++ bench.
"""
import gzip
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path("/usr/share/datasets/fashion-mnist")


def _images(name):
    with gzip.open(ROOT / name) as f:
        return np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)


def _labels(name):
    with gzip.open(ROOT / name) as f:
        return np.frombuffer(f.read(), np.uint8, offset=8)


def load():
    X = np.vstack([_images("train-images-idx3-ubyte.gz"), _images("t10k-images-idx3-ubyte.gz")])
    y = np.concatenate([_labels("train-labels-idx1-ubyte.gz"), _labels("t10k-labels-idx1-ubyte.gz")])
    return (X.astype(np.float32) / 255.0), y.astype(np.int32)


if __name__ == "__main__":
    X, y = load()
    out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/fmnist.f32")
    X.tofile(out)
    print(f"wrote {out}: {X.shape[0]} x {X.shape[1]} float32")
