#!/usr/bin/python3
"""Writes the weight-reader test fixtures (tests/data/weights/) and fuzz seeds
(fuzz/corpus/). Run by hand with Debian's python3-torch; CI never runs it.

    /usr/bin/python3 tools/make_weight_fixtures.py [--shared ../shared]

Outputs, all small:
  small_zip.pth / small_legacy.pth   a state_dict with known values in both formats:
                                     float32, float64, float16, int64 scalar,
                                     non-contiguous views, storage offsets, shared storage
  small_expected.json                what torch.load returns for them (exact values)
  nested.pth                         {"epoch": 3, "state_dict": {"module.a": ..}} (zip)
  hostile_os_system_{zip,legacy}.pth a reduce that calls os.system
  hostile_eval_stack_global.pth      builtins.eval named via STACK_GLOBAL (protocol 4)
  extent_overrun_{zip,legacy}.pth    a tensor view that reaches past its storage
  compressed.pth                     small_zip with DEFLATE entries
  int32.pth                          a dtype tagmap does not hold
  whole_module.pth                   torch.save(nn.Linear) instead of its state_dict
  truncated_{zip,legacy}.pth         first half of the small checkpoints
  real_digests.json                  per tensor of the two real checkpoints in
                                     <shared>/weights: dtype, shape, float64 sum and sum
                                     of squares, values at fixed flat indices (no weights)
"""
import argparse
import collections
import io
import json
import os
import pathlib
import pickle
import struct
import zipfile

import torch

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "weights"
CORPUS = ROOT / "fuzz" / "corpus"


def small_state_dict():
    g = torch.Generator().manual_seed(1234)
    base = torch.randn(3, 4, generator=g)
    shared = torch.arange(10, dtype=torch.float32) * 0.5
    sd = collections.OrderedDict()
    sd["conv.weight"] = torch.randn(2, 3, generator=g)
    sd["conv.bias"] = torch.tensor([1.5, -2.25, 3.0], dtype=torch.float64)
    sd["half"] = torch.tensor([0.5, -1.0, 65504.0, 6.1e-5], dtype=torch.float16)
    sd["bn.num_batches_tracked"] = torch.tensor(123456789012, dtype=torch.int64)
    sd["ids"] = torch.tensor([[-1, 2**40], [7, -(2**62)]], dtype=torch.int64)
    sd["transposed"] = base.t()                  # strides (1, 4)
    sd["column"] = base[:, 1]                    # offset 1, stride (4,)
    sd["shared.tail"] = shared[6:]               # offset 6 into a storage shared with...
    sd["shared.every_other"] = shared[::2]       # ...this strided view
    sd["scalar"] = torch.tensor(0.125)
    sd["empty"] = torch.zeros(0, 3)
    sd["permuted"] = torch.arange(24, dtype=torch.float64).reshape(2, 3, 4).permute(2, 0, 1)
    return sd


def expected_json(sd):
    out = []
    for name, t in sd.items():
        flat = t.contiguous().reshape(-1)
        values = [int(v) for v in flat.tolist()] if t.dtype == torch.int64 else [float(v) for v in flat.double().tolist()]
        out.append({"name": name, "dtype": {torch.float32: "float32", torch.float64: "float64",
                                            torch.float16: "float16", torch.int64: "int64"}[t.dtype],
                    "shape": list(t.shape), "values": values})
    return out


class FakeStorage:
    def __init__(self, key, type_, numel):
        self.key, self.type_, self.numel = key, type_, numel


class FakeTensor:
    """Pickles as torch's own _rebuild_tensor_v2 call, with any arguments we like."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


class EvilEval:
    def __reduce__(self):
        return (eval, ("1+1",))


def crafted_pickle(obj, protocol=2):
    buf = io.BytesIO()
    p = pickle.Pickler(buf, protocol=protocol)
    p.persistent_id = lambda o: (("storage", o.type_, o.key, "cpu", o.numel)
                                 if isinstance(o, FakeStorage) else None)
    p.dump(obj)
    return buf.getvalue()


def crafted_zip(path, obj, storages, protocol=2, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as z:
        z.writestr("archive/data.pkl", crafted_pickle(obj, protocol))
        for key, data in storages.items():
            z.writestr("archive/data/" + key, data)
        z.writestr("archive/version", b"3\n")


def crafted_legacy(path, obj, storages):
    """The pre-1.6 stream: magic, protocol, sys_info, object, keys, raw storages."""
    with open(path, "wb") as f:
        pickle.dump(0x1950A86A20F9469CFC6C, f, protocol=2)
        pickle.dump(1001, f, protocol=2)
        pickle.dump({"protocol_version": 1001, "little_endian": True,
                     "type_sizes": {"short": 2, "int": 4, "long": 4}}, f, protocol=2)
        f.write(crafted_pickle(obj))
        pickle.dump(list(storages), f, protocol=2)
        for key, (itemsize, data) in storages.items():
            f.write(struct.pack("<q", len(data) // itemsize))
            f.write(data)


def digest(t):
    flat = t.contiguous().reshape(-1)
    n = flat.numel()
    d = {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape)}
    if n:
        x = flat.double()
        d["sum"] = float(x.sum())
        d["sum_sq"] = float((x * x).sum())
        idx = sorted({0, n - 1, n // 2, n // 3, (n * 7) // 11})
        d["samples"] = [[i, int(flat[i]) if t.dtype == torch.int64 else float(flat[i])] for i in idx]
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for sub in ("pth", "tmw", "pickle"):
        (CORPUS / sub).mkdir(parents=True, exist_ok=True)

    sd = small_state_dict()
    torch.save(sd, OUT / "small_zip.pth")
    torch.save(sd, OUT / "small_legacy.pth", _use_new_zipfile_serialization=False)
    (OUT / "small_expected.json").write_text(json.dumps(expected_json(sd), indent=1) + "\n")

    nested = {"epoch": 3, "state_dict": collections.OrderedDict(
        [("module.a", torch.tensor([1.0, 2.0])), ("module.b.weight", torch.tensor([[3.0]])),
         ("head", torch.tensor([4.0]))])}
    torch.save(nested, OUT / "nested.pth")

    crafted_zip(OUT / "hostile_os_system_zip.pth", collections.OrderedDict([("x", Evil())]), {})
    crafted_legacy(OUT / "hostile_os_system_legacy.pth", collections.OrderedDict([("x", Evil())]), {})
    crafted_zip(OUT / "hostile_eval_stack_global.pth", {"x": EvilEval()}, {}, protocol=4)

    four = struct.pack("<4f", 1, 2, 3, 4)
    overrun = collections.OrderedDict(
        [("w", FakeTensor(FakeStorage("0", torch.FloatStorage, 4), 1, [2, 2], [2, 1]))])
    crafted_zip(OUT / "extent_overrun_zip.pth", overrun, {"0": four})
    crafted_legacy(OUT / "extent_overrun_legacy.pth", overrun, {"0": (4, four)})

    crafted_zip(OUT / "compressed.pth", collections.OrderedDict(
        [("w", FakeTensor(FakeStorage("0", torch.FloatStorage, 4), 0, [4], [1]))]), {"0": four},
        compression=zipfile.ZIP_DEFLATED)
    torch.save({"counts": torch.tensor([1, 2, 3], dtype=torch.int32)}, OUT / "int32.pth")
    torch.manual_seed(0)
    torch.save(torch.nn.Linear(2, 1), OUT / "whole_module.pth")  # a pickled nn.Module

    for fmt in ("zip", "legacy"):
        data = (OUT / f"small_{fmt}.pth").read_bytes()
        (OUT / f"truncated_{fmt}.pth").write_bytes(data[: len(data) // 2])

    digests = {}
    for name in ("musicnn-mtat.pth", "crepe-tiny.pth"):
        path = pathlib.Path(args.shared) / "weights" / name
        sdict = torch.load(path, map_location="cpu")
        digests[name] = [{"name": k, **digest(v)} for k, v in sdict.items()]
    (OUT / "real_digests.json").write_text(json.dumps(digests, indent=None) + "\n")

    # Fuzz seeds: small valid inputs of each reader, and the hostile ones.
    for name in ("small_zip.pth", "small_legacy.pth", "nested.pth", "hostile_os_system_legacy.pth",
                 "extent_overrun_legacy.pth"):
        # named *_pth.seed: weight files are kept out of the tree outside tests/data
        (CORPUS / "pth" / name.replace(".pth", "_pth.seed")).write_bytes((OUT / name).read_bytes())
    with zipfile.ZipFile(OUT / "small_zip.pth") as z:
        (CORPUS / "pickle" / "small_state_dict.pkl").write_bytes(z.read("small_zip/data.pkl"))
    (CORPUS / "pickle" / "hostile.pkl").write_bytes(pickle.dumps(Evil(), protocol=2))
    (CORPUS / "pickle" / "protocol4.pkl").write_bytes(
        pickle.dumps({"a": [1, 2.5, None, True, b"x" * 300, "y" * 300, 2**70, (1,)]}, protocol=4))
    # fuzz/corpus/tmw/ holds .tmw seeds made by tagmap-convert (see docs/fuzzing.md);
    # named *_tmw.seed because the repository ignores *.tmw.


if __name__ == "__main__":
    main()
