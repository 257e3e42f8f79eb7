#!/usr/bin/python3
"""Generate tagmap's small madmom fixtures (run by hand, never by CI).

    /usr/bin/python3 tools/make_madmom_fixtures.py

Needs Debian python3-numpy only (no madmom). Writes tests/data/madmom/ and the madmom
seeds of the fuzz corpus (fuzz/corpus/madmom/). Nothing here is derived from madmom's
model files: every weight is seeded random.

1. A tiny network in madmom's pickle format (protocol 2 as Python 2 wrote it:
   SHORT_BINSTRING / BINSTRING strings, GLOBAL classes, NEWOBJ + BUILD objects,
   numpy.core.multiarray._reconstruct arrays), written opcode by opcode:
       NeuralNetwork(layers=[BidirectionalLayer(LSTMLayer(6 -> 4) x 2),
                             FeedForwardLayer(8 -> 2, sigmoid)])
   The script checks that Python's own unpickler, with stand-in classes, reads it back.
2. The reference outputs of that network, computed here in float32 numpy from madmom's
   LSTM formulation (peepholes; output peephole on the new state; additions in the
   order ((x W + b) + c p) + h R), for T = 11 and for the first 3 steps.
3. Hostile and malformed variants, for the refusal tests and as fuzz seeds.
"""

import io
import pickle
import struct
import sys
import types
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "tests/data/madmom"
FUZZ = REPO / "fuzz/corpus/madmom"
IN, HID, OUTF, T = 6, 4, 2, 11


class Writer:
    """Emits the opcodes madmom's Python 2 pickles use, with their memo pattern."""

    def __init__(self, big_endian_dtype=False, fortran=False, bad_size=False):
        self.b = io.BytesIO()
        self.memo = {}
        self.n = 0
        self.big_endian_dtype, self.fortran, self.bad_size = big_endian_dtype, fortran, bad_size
        self.op(b"\x80\x02")

    def op(self, raw):
        self.b.write(raw)

    def put(self):
        if self.n < 256:
            self.op(b"q" + bytes([self.n]))
        else:
            self.op(b"r" + struct.pack("<I", self.n))
        self.n += 1
        return self.n - 1

    def get(self, i):
        self.op(b"h" + bytes([i]) if i < 256 else b"j" + struct.pack("<I", i))

    def string(self, s):
        s = s if isinstance(s, bytes) else s.encode("latin1")
        if len(s) < 256:
            self.op(b"U" + bytes([len(s)]) + s)
        else:
            self.op(b"T" + struct.pack("<i", len(s)) + s)
        self.put()

    def glob(self, module, name):
        key = (module, name)
        if key in self.memo:
            self.get(self.memo[key])
        else:
            self.op(b"c" + module.encode() + b"\n" + name.encode() + b"\n")
            self.memo[key] = self.put()

    def int(self, v):
        if 0 <= v < 256:
            self.op(b"K" + bytes([v]))
        elif 0 <= v < 65536:
            self.op(b"M" + struct.pack("<H", v))
        else:
            self.op(b"J" + struct.pack("<i", v))

    def dtype(self):
        if "dtype" in self.memo:
            self.get(self.memo["dtype"])
            return
        self.glob("numpy", "dtype")
        self.string("f4")
        self.int(0)
        self.int(1)
        self.op(b"\x87R")
        self.memo["dtype"] = self.put()
        self.op(b"(")
        self.int(3)
        self.string(">" if self.big_endian_dtype else "<")
        self.op(b"NNN")
        self.int(-1)
        self.int(-1)
        self.int(0)
        self.op(b"tb")

    def array(self, a):
        a = np.ascontiguousarray(a, dtype="<f4")
        self.glob("numpy.core.multiarray", "_reconstruct")
        self.glob("numpy", "ndarray")
        self.int(0)
        self.op(b"\x85")
        self.string("b")
        self.op(b"\x87R")
        self.put()
        self.op(b"(")
        self.int(1)
        for d in a.shape:
            self.int(d)
        self.op({1: b"\x85", 2: b"\x86"}[a.ndim])
        self.dtype()
        self.op(b"\x88" if self.fortran and a.ndim == 2 else b"\x89")
        raw = a.tobytes()
        self.string(raw[:-4] if self.bad_size and a.ndim == 2 else raw)
        self.op(b"tb")

    def obj(self, module, cls, attrs):
        self.glob(module, cls)
        self.op(b")\x81")
        self.put()
        self.op(b"}")
        self.put()
        self.op(b"(")
        for k, v in attrs:
            self.string(k)
            self.value(v)
        self.op(b"ub")

    def value(self, v):
        if v is None:
            self.op(b"N")
        elif isinstance(v, np.ndarray):
            self.array(v)
        elif isinstance(v, tuple) and v[0] == "global":
            self.glob(v[1], v[2])
        elif isinstance(v, tuple) and v[0] == "obj":
            self.obj(*v[1:])
        elif isinstance(v, list):
            self.op(b"]")
            self.put()
            self.op(b"(")
            for e in v:
                self.value(e)
            self.op(b"e")
        else:
            raise TypeError(v)

    def bytes(self):
        return self.b.getvalue() + b"."


SIGMOID = ("global", "madmom.ml.nn.activations", "sigmoid")
TANH = ("global", "madmom.ml.nn.activations", "tanh")


def make_weights(seed=20151):
    rng = np.random.default_rng(seed)

    def r(*shape, scale=0.5):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    def lstm():
        gates = {}
        for g in ("input_gate", "forget_gate", "cell", "output_gate"):
            gates[g] = {
                "weights": r(IN, HID),
                "bias": r(HID),
                "recurrent_weights": r(HID, HID),
                "peephole_weights": None if g == "cell" else r(HID),
            }
        return gates

    return {"fwd": lstm(), "bwd": lstm(), "ff_w": r(2 * HID, OUTF), "ff_b": r(OUTF)}


def network(w):
    def gate(g, is_cell):
        zero = np.zeros(HID, np.float32)
        return ("obj", "madmom.ml.nn.layers", "Cell" if is_cell else "Gate", [
            ("peephole_weights", g["peephole_weights"]),
            ("recurrent_weights", g["recurrent_weights"]),
            ("cell", zero),  # madmom's legacy buffers: zeros, unused
            ("activation_fn", TANH if is_cell else SIGMOID),
            ("bias", g["bias"]),
            ("weights", g["weights"]),
            ("_tmp", zero),
        ])

    def lstm(p):
        return ("obj", "madmom.ml.nn.layers", "LSTMLayer", [
            ("input_gate", gate(p["input_gate"], False)),
            ("cell", gate(p["cell"], True)),
            ("activation_fn", TANH),
            ("forget_gate", gate(p["forget_gate"], False)),
            ("output_gate", gate(p["output_gate"], False)),
        ])

    return ("obj", "madmom.ml.nn", "NeuralNetwork", [("layers", [
        ("obj", "madmom.ml.nn.layers", "BidirectionalLayer",
         [("bwd_layer", lstm(w["bwd"])), ("fwd_layer", lstm(w["fwd"]))]),
        ("obj", "madmom.ml.nn.layers", "FeedForwardLayer",
         [("activation_fn", SIGMOID), ("bias", w["ff_b"]), ("weights", w["ff_w"])]),
    ])])


def write_pickle(w, **kw):
    wr = Writer(**kw)
    wr.value(network(w))
    return wr.bytes()


def expit(x):
    return (np.float32(1) / (np.float32(1) + np.exp(-x))).astype(np.float32)


def lstm_forward(p, x):
    h = np.zeros(HID, np.float32)
    c = np.zeros(HID, np.float32)
    out = np.zeros((len(x), HID), np.float32)
    g = {k: p[k] for k in p}
    for t in range(len(x)):
        def pre(name, state):
            v = x[t] @ g[name]["weights"] + g[name]["bias"]
            if state is not None:
                v = v + state * g[name]["peephole_weights"]
            return v + h @ g[name]["recurrent_weights"]
        i = expit(pre("input_gate", c))
        f = expit(pre("forget_gate", c))
        cc = np.tanh(pre("cell", None))
        c = cc * i + c * f
        o = expit(pre("output_gate", c))
        h = np.tanh(c) * o
        out[t] = h
    return out


def net_forward(w, x):
    fwd = lstm_forward(w["fwd"], x)
    bwd = lstm_forward(w["bwd"], x[::-1])[::-1]
    layer0 = np.hstack([fwd, bwd]).astype(np.float32)
    return layer0, expit(layer0 @ w["ff_w"] + w["ff_b"])


def check_with_python_unpickler(data, w):
    """Python's unpickler with stand-in madmom classes must read our bytes."""
    for mod in ("madmom", "madmom.ml", "madmom.ml.nn", "madmom.ml.nn.layers",
                "madmom.ml.nn.activations"):
        sys.modules.setdefault(mod, types.ModuleType(mod))
    for cls in ("BidirectionalLayer", "LSTMLayer", "Gate", "Cell", "FeedForwardLayer"):
        setattr(sys.modules["madmom.ml.nn.layers"], cls, type(cls, (), {}))
    sys.modules["madmom.ml.nn"].NeuralNetwork = type("NeuralNetwork", (), {})
    sys.modules["madmom.ml.nn.activations"].sigmoid = lambda x: x
    sys.modules["madmom.ml.nn.activations"].tanh = lambda x: x
    net = pickle.loads(data, encoding="latin1")
    blstm, ff = net.layers
    assert np.array_equal(blstm.fwd_layer.input_gate.weights, w["fwd"]["input_gate"]["weights"])
    assert np.array_equal(blstm.bwd_layer.cell.recurrent_weights, w["bwd"]["cell"]["recurrent_weights"])
    assert blstm.fwd_layer.cell.peephole_weights is None
    assert np.array_equal(ff.weights, w["ff_w"]) and ff.weights.dtype == np.float32


def hostile_variants(valid):
    """name -> bytes: each must be refused by tagmap's madmom reader."""
    v = {}
    # Python would call os.system('echo pwned') while loading this.
    v["hostile_os_system"] = b"\x80\x02cos\nsystem\nq\x00U\x0becho pwnedq\x01\x85R."
    v["hostile_builtins_eval"] = b"\x80\x02c__builtin__\neval\nU\x041+1\x85R."
    # An allow-listed madmom class called through REDUCE (Python would run its __init__).
    v["hostile_reduce_layer"] = b"\x80\x02cmadmom.ml.nn.layers\nLSTMLayer\n)R."
    # NEWOBJ of numpy.ndarray (a class, but not a madmom record).
    v["hostile_newobj_ndarray"] = b"\x80\x02cnumpy\nndarray\n)\x81."
    # A torch global is not on the madmom list.
    v["hostile_torch_global"] = b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n)R."
    # The valid network with its tanh global swapped for subprocess.Popen.
    v["hostile_swapped_global"] = valid.replace(b"madmom.ml.nn.activations\ntanh\n",
                                                b"subprocess\nPopen\n", 1)
    # Self-referencing list (memo cycle) in place of the layers.
    v["hostile_cycle"] = (b"\x80\x02cmadmom.ml.nn\nNeuralNetwork\n)\x81}U\x06layers]q\x00h\x00a"
                          b"sb.")
    return v


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    FUZZ.mkdir(parents=True, exist_ok=True)
    w = make_weights()
    valid = write_pickle(w)
    check_with_python_unpickler(valid, w)
    (OUT / "tiny_blstm.pkl").write_bytes(valid)
    (FUZZ / "tiny_blstm.pkl").write_bytes(valid)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((T, IN)).astype(np.float32)
    np.save(OUT / "tiny_blstm.input.npy", x)
    for steps in (T, 3):
        layer0, out = net_forward(w, x[:steps])
        np.save(OUT / f"tiny_blstm.t{steps}.layer0.npy", layer0)
        np.save(OUT / f"tiny_blstm.t{steps}.output.npy", out.astype(np.float32))
    malformed = {
        "malformed_big_endian": write_pickle(w, big_endian_dtype=True),
        "malformed_fortran": write_pickle(w, fortran=True),
        "malformed_bad_size": write_pickle(w, bad_size=True),
    }
    for name, data in {**hostile_variants(valid), **malformed}.items():
        (OUT / f"{name}.pkl").write_bytes(data)
        (FUZZ / f"{name}.pkl").write_bytes(data)
    print("wrote", sorted(p.name for p in OUT.iterdir()))


if __name__ == "__main__":
    main()
