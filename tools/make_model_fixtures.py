#!/usr/bin/python3
"""Generate tagmap's PyTorch reference fixtures (run by hand, never by CI).

    /usr/bin/python3 tools/make_model_fixtures.py            # committed small fixtures
    /usr/bin/python3 tools/make_model_fixtures.py --full-width /tmp/full   # local only

Needs Debian python3-torch, python3-torchaudio, python3-soundfile, python3-numpy and the
shared test data (env TAGMAP_FIXTURES, default ../shared beside the checkout).

Writes tests/data/models/ (manifest.json, seeded-random small checkpoints <name>.pth,
<name>.taggram.npy, <name>.embedding.npy) and tests/data/frontend/ (log-mel of chunk 0
for 96 and 128 mel bands, torchaudio mel filterbanks). With --full-width DIR it writes
full-size MusiCNN-MSD / VGG (128 channels) fixtures, in the same layout, into DIR only.

Audio recipe (reproducible in C++ with libsndfile alone): read the shared file as
float32 (libsndfile float decoding, python3-soundfile dtype=float32), the file is mono
48 kHz float WAV; keep every 3rd sample ([0::3]) -> 16 kHz; chunks are consecutive
non-overlapping windows of input_samples starting at sample 0, trailing partial dropped.
"""

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference_models as rm  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
AUDIO_FILE = "audio/hedgewars-pirate.wav"
DECIMATE = 3
REAL_WEIGHTS = "$TAGMAP_FIXTURES/weights/musicnn-mtat.pth"

SMALL = [
    # name, model_id, widths (override defaults), seed
    ("musicnn-msd-small", "musicnn-msd",
     dict(front_vertical=12, front_horizontal=6, backend=24, dense=32), 1001),
    ("vgg-msd-small", "vgg-msd", dict(channels=8), 1002),
    ("vgg-mtat-small", "vgg-mtat", dict(channels=8), 1003),
]
FULL = [
    ("musicnn-msd-full", "musicnn-msd", {}, 2001),
    ("vgg-msd-full", "vgg-msd", {}, 2002),
    ("vgg-mtat-full", "vgg-mtat", {}, 2003),
]


def fixtures_dir():
    return Path(os.environ.get("TAGMAP_FIXTURES", REPO.parent / "shared"))


def load_audio_16k():
    samples, rate = sf.read(str(fixtures_dir() / AUDIO_FILE), dtype="float32",
                            always_2d=True)
    assert rate == 48000 and samples.shape[1] == 1, "recipe assumes 48 kHz mono"
    return np.ascontiguousarray(samples[0::DECIMATE, 0])


def chunks(audio, n):
    count = len(audio) // n
    return np.stack([audio[i * n:(i + 1) * n] for i in range(count)])


def randomize_batchnorm(model, gen):
    """Seeded non-trivial BN affine and running stats so that BN folding is exercised."""
    for name, mod in model.named_modules():
        if not isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            continue
        n = mod.num_features
        with torch.no_grad():
            mod.weight.copy_(torch.rand(n, generator=gen) + 0.5)
            mod.bias.copy_(torch.randn(n, generator=gen) * 0.1)
            if name == "spec_bn":  # dB input: realistic stats, like the real checkpoint's
                mod.running_mean.copy_(-20.0 * torch.rand(n, generator=gen))
                mod.running_var.copy_(200.0 + 300.0 * torch.rand(n, generator=gen))
            else:
                mod.running_mean.copy_(torch.randn(n, generator=gen) * 0.2)
                mod.running_var.copy_(torch.rand(n, generator=gen) * 1.5 + 0.5)
            mod.num_batches_tracked.fill_(100)
    # Default init leaves random taggrams squeezed around 0.5 (sigmoid's linear region,
    # where errors shrink 4x) and embeddings below 1: widen both so that the comparison
    # is made on values spread over (0, 1) and embeddings of a few units.
    with torch.no_grad():
        model.bn.weight.copy_(1.0 + 3.0 * torch.rand(model.bn.num_features, generator=gen))
        model.dense2.weight.mul_(6.0)


def run(model, x):
    model.eval()
    with torch.no_grad():
        tag32, emb32 = model(torch.from_numpy(x))
        m64 = model.double()
        tag64, emb64 = m64(torch.from_numpy(x).double())
        model.float()
    diff = {
        "taggram_max_abs": float((tag64 - tag32.double()).abs().max()),
        "embedding_max_abs": float((emb64 - emb32.double()).abs().max()),
        "embedding_max_abs_value": float(emb64.abs().max()),
    }
    return tag32.numpy(), emb32.numpy(), diff


def make_fixture(out_dir, name, model_id, widths, seed, audio, weights_file=None):
    ctor, defaults, input_samples = rm.MODELS[model_id]
    torch.manual_seed(0 if seed is None else seed)
    model, params = rm.build(model_id, **widths)
    if weights_file is None:
        randomize_batchnorm(model, torch.Generator().manual_seed(seed + 1))
        weights = f"{name}.pth"
        torch.save(model.state_dict(), out_dir / weights)
        seed_out = seed
    else:
        model.load_state_dict(torch.load(weights_file, map_location="cpu"), strict=True)
        weights = REAL_WEIGHTS
        seed_out = None
    x = chunks(audio, input_samples)
    tag, emb, diff = run(model, x)
    np.save(out_dir / f"{name}.taggram.npy", tag.astype(np.float32))
    np.save(out_dir / f"{name}.embedding.npy", emb.astype(np.float32))
    top5 = [list(map(int, np.argsort(-row, kind="stable")[:5])) for row in tag]
    print(f"{name}: chunks {len(x)}, embedding dim {emb.shape[1]}, float64 vs float32 {diff}")
    n_mels = params.pop("n_mels")
    params.pop("block", None)  # implied by model_id (vgg-msd: Res_2d, vgg-mtat: simple)
    return {
        "name": name,
        "model_id": model_id,
        "widths": params,
        "n_mels": n_mels,
        "input_samples": input_samples,
        "weights": weights,
        "audio": {
            "file": AUDIO_FILE,
            "decimate": DECIMATE,
            "decode": "libsndfile float32 (sf_readf_float), file is mono 48 kHz float WAV",
            "resample": "keep samples [0::3] -> 16 kHz, no filtering",
            "chunking": "consecutive non-overlapping windows of input_samples from sample 0;"
                        " trailing partial window dropped",
        },
        "n_chunks": int(len(x)),
        "taggram": f"{name}.taggram.npy",
        "embedding": f"{name}.embedding.npy",
        "embedding_dim": int(emb.shape[1]),
        "top5": top5,
        "seed": seed_out,
        "float64_vs_float32": diff,
    }


def make_frontend(out_dir, audio):
    """log-mel (dB, before spec_bn) of chunk 0 with torchaudio's own front end, and
    torchaudio mel filterbanks for the filterbank builder test."""
    out_dir.mkdir(parents=True, exist_ok=True)
    info = {"audio": AUDIO_FILE, "decimate": DECIMATE, "n_fft": rm.N_FFT, "hop": rm.HOP,
            "window": "torch.hann_window(512) (periodic, float32), in hann512.npy",
            "logmel_values": "torchaudio MelSpectrogram + AmplitudeToDB evaluated in float64 on"
                             " the float32 samples, window and filterbank, rounded to float32",
            "logmel": [], "filterbanks": []}
    for n_mels, n_samples, keep_frames in ((96, 48000, None), (128, 59049, 64)):
        front = rm.LogMel(n_mels).eval()
        # torchaudio's own float32 filterbank (== the checkpoint's spec.mel_scale.fb for 96
        # bands), stored sparsely as rows (bin, mel, weight) of its nonzero entries: the
        # C++ log-mel test uses it so that only the STFT/dB path is compared.
        fb = front.spec.mel_scale.fb.clone()
        nz = torch.nonzero(fb)
        sparse = np.stack([nz[:, 0].numpy(), nz[:, 1].numpy(), fb[nz[:, 0], nz[:, 1]].numpy()],
                          axis=1).astype(np.float32)
        np.save(out_dir / f"fb{n_mels}_sparse.npy", sparse)
        x = torch.from_numpy(audio[:n_samples]).unsqueeze(0)
        with torch.no_grad():
            lm32 = front.log_mel(x)[0].double()
            # float64 evaluation: the reference tagmap should approach (torch's float32 FFT
            # itself is off by up to 4e-4 dB in quiet bands).
            lm = front.double().log_mel(x.double())[0]
        frames = lm.shape[1]
        keep = frames if keep_frames is None else keep_frames
        name = f"logmel{n_mels}_chunk0.npy"
        np.save(out_dir / name, lm[:, :keep].numpy().astype(np.float32))
        d = float((lm - lm32).abs().max())
        print(f"{name}: ({n_mels}, {frames}) kept {keep} frames; torch float32 vs float64 max abs dB {d}")
        info["logmel"].append({"file": name, "n_mels": n_mels, "input_samples": n_samples,
                               "frames_total": int(frames), "frames_kept": int(keep),
                               "filterbank_sparse": f"fb{n_mels}_sparse.npy",
                               "f_min": rm.F_MIN, "f_max": rm.F_MAX,
                               "torch_float32_vs_float64_max_abs_db": d})
    # (the model configurations 96/128 x 257 bins are covered by fb*_sparse.npy above)
    for n_freqs, f_min, f_max, n_mels, rate in ((129, 50.0, 7000.0, 24, 16000),
                                                (257, 0.0, 8000.0, 8, 22050)):
        fb = torchaudio.functional.melscale_fbanks(n_freqs, f_min, f_max, n_mels, rate,
                                                   norm=None, mel_scale="htk")
        name = f"fbank_{n_freqs}_{int(f_min)}_{int(f_max)}_{n_mels}_{rate}.npy"
        np.save(out_dir / name, fb.numpy().astype(np.float32))
        zero_cols = int((fb.abs().sum(dim=0) == 0).sum())
        info["filterbanks"].append({"file": name, "n_freqs": n_freqs, "f_min": f_min,
                                    "f_max": f_max, "n_mels": n_mels, "sample_rate": rate,
                                    "all_zero_filters": zero_cols})
    np.save(out_dir / "hann512.npy", torch.hann_window(rm.N_FFT).numpy().astype(np.float32))
    info["window_file"] = "hann512.npy"
    (out_dir / "manifest.json").write_text(json.dumps(info, indent=2) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full-width", metavar="DIR", type=Path,
                    help="write full-size fixtures into DIR (not committed) and nothing else")
    args = ap.parse_args()
    torch.set_num_threads(1)  # deterministic reductions
    audio = load_audio_16k()
    if args.full_width:
        out = args.full_width
        specs = FULL
    else:
        out = REPO / "tests/data/models"
        specs = SMALL
        make_frontend(REPO / "tests/data/frontend", audio)
    out.mkdir(parents=True, exist_ok=True)
    manifest = [make_fixture(out, "musicnn-mtat", "musicnn-mtat", {}, None, audio,
                             weights_file=fixtures_dir() / "weights/musicnn-mtat.pth")]
    for name, model_id, widths, seed in specs:
        manifest.append(make_fixture(out, name, model_id, widths, seed, audio))
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {out / 'manifest.json'}")


if __name__ == "__main__":
    main()
