#!/usr/bin/python3
"""Reference outputs for tagmap's audio/embed tests (run by hand, never by CI).

Decodes clips from ../shared/audio with python3-soundfile (libsndfile), down-mixes by
averaging channels, resamples to 16 kHz with libsoxr's one-shot API called through
ctypes (SOXR_HQ, default spec: what librosa's soxr_hq uses), cuts non-overlapping
48000-sample chunks (a clip shorter than one chunk is zero-padded to one) and runs
the PyTorch MusiCNN of tools/reference_models.py with the real musicnn-mtat weights.

Writes small files to tests/data/audio/:
  <clip>.musicnn-mtat.taggram.npy    (n_chunks, 50) float32
  <clip>.musicnn-mtat.embedding.npy  (n_chunks, 200) float32
  resample_digest.json               length and sample values of each 16 kHz signal

Usage: /usr/bin/python3 tools/make_audio_fixtures.py [--shared ../shared]
"""

import argparse
import ctypes
import ctypes.util
import json
import os
import sys

import numpy as np
import soundfile
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_models  # noqa: E402

CLIPS = ["wesnoth-knalgan-theme.wav", "wesnoth-silence-short.ogg"]
CHUNK = 48000


class IoSpec(ctypes.Structure):
    _fields_ = [("itype", ctypes.c_int), ("otype", ctypes.c_int), ("scale", ctypes.c_double),
                ("e", ctypes.c_void_p), ("flags", ctypes.c_ulong)]


class QualitySpec(ctypes.Structure):
    _fields_ = [("precision", ctypes.c_double), ("phase_response", ctypes.c_double),
                ("passband_end", ctypes.c_double), ("stopband_begin", ctypes.c_double),
                ("e", ctypes.c_void_p), ("flags", ctypes.c_ulong)]


def soxr_hq_oneshot(x, in_rate, out_rate=16000):
    lib = ctypes.CDLL(ctypes.util.find_library("soxr") or "libsoxr.so.0")
    lib.soxr_quality_spec.restype = QualitySpec
    lib.soxr_quality_spec.argtypes = [ctypes.c_ulong, ctypes.c_ulong]
    lib.soxr_oneshot.restype = ctypes.c_char_p
    SOXR_HQ, SOXR_FLOAT32_I = 4, 0
    io = IoSpec(SOXR_FLOAT32_I, SOXR_FLOAT32_I, 1.0, None, 0)
    q = lib.soxr_quality_spec(SOXR_HQ, 0)
    assert abs(q.passband_end - 0.913) < 1e-3 and q.phase_response == 50, (q.passband_end,
                                                                            q.phase_response)
    x = np.ascontiguousarray(x, dtype=np.float32)
    out = np.zeros(int(np.ceil(len(x) * out_rate / in_rate)) + 1, dtype=np.float32)
    idone, odone = ctypes.c_size_t(0), ctypes.c_size_t(0)
    err = lib.soxr_oneshot(ctypes.c_double(in_rate), ctypes.c_double(out_rate), 1,
                           x.ctypes.data_as(ctypes.c_void_p), ctypes.c_size_t(len(x)),
                           ctypes.byref(idone), out.ctypes.data_as(ctypes.c_void_p),
                           ctypes.c_size_t(len(out)), ctypes.byref(odone), ctypes.byref(io),
                           ctypes.byref(q), None)
    if err:
        raise RuntimeError(err.decode())
    return out[:odone.value]


def chunks(y):
    n = len(y) // CHUNK
    if n == 0:
        return np.pad(y, (0, CHUNK - len(y)))[None, :]
    return y[: n * CHUNK].reshape(n, CHUNK)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join(here, "..", "..", "shared"))
    args = ap.parse_args()
    out_dir = os.path.join(here, "..", "tests", "data", "audio")
    os.makedirs(out_dir, exist_ok=True)

    model, _ = reference_models.build("musicnn-mtat")
    state = torch.load(os.path.join(args.shared, "weights", "musicnn-mtat.pth"), map_location="cpu")
    model.load_state_dict(state, strict=True)
    model.eval()

    digest = {}
    for clip in CLIPS:
        data, rate = soundfile.read(os.path.join(args.shared, "audio", clip), dtype="float32",
                                    always_2d=True)
        mono = data.mean(axis=1, dtype=np.float32)
        y = soxr_hq_oneshot(mono, rate)
        idx = [0, 1, 1000, len(y) // 2, len(y) - 1]
        digest[clip] = {"source_rate": rate, "source_frames": int(len(mono)),
                        "length": int(len(y)), "indices": idx,
                        "values": [float(y[i]) for i in idx],
                        "sum_squares": float(np.sum(y.astype(np.float64) ** 2))}
        with torch.no_grad():
            tag, emb = model(torch.from_numpy(chunks(y)))
        np.save(os.path.join(out_dir, clip + ".musicnn-mtat.taggram.npy"), tag.numpy().astype(np.float32))
        np.save(os.path.join(out_dir, clip + ".musicnn-mtat.embedding.npy"), emb.numpy().astype(np.float32))
        print(clip, rate, len(mono), "->", len(y), "chunks", tag.shape[0])
    with open(os.path.join(out_dir, "resample_digest.json"), "w") as f:
        json.dump(digest, f, indent=1)


if __name__ == "__main__":
    main()
