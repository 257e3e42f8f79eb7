#!/usr/bin/env python3
"""Per-chunk fidelity of bf16 against fp32 from two `tagmap embed --per-chunk` trees.

usage: bf16_fidelity.py FP32_DIR BF16_DIR   (each OUT/musicnn-mtat of one precision)
Prints a Markdown table: chunks, top-5 set agreement (%), top-5 order agreement (%),
max |taggram difference|, max |embedding difference| / max(1, max |fp32 embedding|).
Pure Python (no numpy): reads the little-endian float32 .npy files itself.
"""
import ast
import glob
import os
import struct
import sys


def read_npy(path):
    with open(path, "rb") as f:
        data = f.read()
    assert data[:6] == b"\x93NUMPY", path
    major = data[6]
    hlen = struct.unpack("<H" if major == 1 else "<I", data[8:10] if major == 1 else data[8:12])[0]
    start = (10 if major == 1 else 12) + hlen
    header = ast.literal_eval(data[(10 if major == 1 else 12):start].decode())
    assert header["descr"] == "<f4" and not header["fortran_order"], path
    shape = header["shape"]
    count = 1
    for d in shape:
        count *= d
    return shape, struct.unpack(f"<{count}f", data[start:start + 4 * count])


def top5(row):
    return sorted(range(len(row)), key=lambda i: (-row[i], i))[:5]


def main(fp32_dir, bf16_dir):
    print("| clip | chunks | top-5 set = (%) | top-5 order = (%) | max abs taggram diff | max rel embedding diff |")
    print("|---|---:|---:|---:|---:|---:|")
    total = same_set = same_order = 0
    worst_tag = worst_emb = 0.0
    for path in sorted(glob.glob(os.path.join(fp32_dir, "*.taggram.npy"))):
        other = os.path.join(bf16_dir, os.path.basename(path))
        (n, tags), a = read_npy(path)
        _, b = read_npy(other)
        _, ea = read_npy(path.replace(".taggram.", ".embedding."))
        _, eb = read_npy(other.replace(".taggram.", ".embedding."))
        s = o = 0
        for c in range(n):
            ta, tb = top5(a[c * tags:(c + 1) * tags]), top5(b[c * tags:(c + 1) * tags])
            s += set(ta) == set(tb)
            o += ta == tb
        d = max(abs(x - y) for x, y in zip(a, b))
        de = max(abs(x - y) for x, y in zip(ea, eb)) / max(1.0, max(abs(x) for x in ea))
        total, same_set, same_order = total + n, same_set + s, same_order + o
        worst_tag, worst_emb = max(worst_tag, d), max(worst_emb, de)
        name = os.path.basename(path)[: -len(".taggram.npy")]
        print(f"| {name} | {n} | {100 * s / n:.1f} | {100 * o / n:.1f} | {d:.2e} | {de:.2e} |")
    print(f"| **all** | {total} | {100 * same_set / total:.2f} | {100 * same_order / total:.2f} "
          f"| {worst_tag:.2e} | {worst_emb:.2e} |")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
