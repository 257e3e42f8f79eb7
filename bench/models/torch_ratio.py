#!/usr/bin/python3
"""Throughput of tagmap vs PyTorch on MusiCNN-MTAT (default) or VGG, side by side (run
by hand; needs python3-torch). Usually through bench/models/run_pytorch_ratio.sh:

    /usr/bin/python3 bench/models/torch_ratio.py --bench build/bin/bench_models \
        --threads 1 2 --repeats 5
    /usr/bin/python3 bench/models/torch_ratio.py --model vgg-msd --bench build/bin/bench_vgg \
        --weights /tmp/vgg-full

VGG has no trained checkpoint: --weights DIR is a make_model_fixtures.py --full-width
directory (vgg-msd-full.pth, vgg-mtat-full.pth, seeded random); both sides load the same
file (tagmap through TAGMAP_VGG_WEIGHTS=DIR), and the chunks are 59049 samples.

Both sides run the real checkpoint on the same 16 kHz chunks (the fixture recipe:
hedgewars-pirate.wav, every 3rd sample, consecutive 48000-sample chunks), 1 and 4
chunks per forward, with the same thread count: PyTorch with torch.set_num_threads(T)
(its intra-op pool, oneDNN); tagmap with T model instances on T threads, as `tagmap
embed --jobs T` runs them (the Eigen backend is single-threaded;
BM_MusicnnMtat_Chunk/<n>/real_time/threads:<T>). The two are measured alternately,
`--repeats` rounds, so that both see the same load; printed are the medians in
chunks/s and the median of the per-round ratios tagmap / PyTorch.

With the OpenBLAS bench binary (bench_models_openblas) OPENBLAS_NUM_THREADS=1 is set, so
that the T instances do not oversubscribe the cores. On a VM whose CPU OpenBLAS cannot
identify (OPENBLAS_VERBOSE=2 prints "Core: Prescott"), set OPENBLAS_CORETYPE (e.g.
SkylakeX); it is passed through.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

REPO = Path(__file__).resolve().parents[2]


def install_torchaudio_standin():
    """Without python3-torchaudio: the two transforms reference_models uses, in plain
    torch (torch.stft, as torchaudio computes them), with the same buffer names so the
    checkpoint's spec.spectrogram.window and spec.mel_scale.fb load strictly."""
    import types

    import torch.nn as nn

    class Spectrogram(nn.Module):
        def __init__(self, n_fft, hop):
            super().__init__()
            self.n_fft, self.hop = n_fft, hop
            self.register_buffer("window", torch.hann_window(n_fft))

        def forward(self, x):
            s = torch.stft(x, self.n_fft, self.hop, window=self.window, center=True,
                           pad_mode="reflect", return_complex=True)
            return s.abs().pow(2.0)

    class MelScale(nn.Module):
        def __init__(self, n_stft, n_mels):
            super().__init__()
            # torchaudio's own HTK filterbank, as make_model_fixtures.py stored it (sparse
            # rows bin, mel, weight), so seeded-random modules built here see a real log-mel;
            # a checkpoint's spec.mel_scale.fb replaces it on load.
            fb = torch.zeros(n_stft, n_mels)
            sparse = REPO / f"tests/data/frontend/fb{n_mels}_sparse.npy"
            if n_stft == 257 and sparse.exists():
                for b, m, w in np.load(sparse):
                    fb[int(b), int(m)] = float(w)
            self.register_buffer("fb", fb)

        def forward(self, spec):
            return torch.matmul(spec.transpose(-1, -2), self.fb).transpose(-1, -2)

    class MelSpectrogram(nn.Module):
        def __init__(self, n_fft, hop_length, n_mels, **_):
            super().__init__()
            self.spectrogram = Spectrogram(n_fft, hop_length)
            self.mel_scale = MelScale(n_fft // 2 + 1, n_mels)

        def forward(self, x):
            return self.mel_scale(self.spectrogram(x))

    class AmplitudeToDB(nn.Module):
        def forward(self, x):
            return 10.0 * torch.log10(torch.clamp(x, min=1e-10))

    module = types.ModuleType("torchaudio")
    module.transforms = types.SimpleNamespace(MelSpectrogram=MelSpectrogram,
                                              AmplitudeToDB=AmplitudeToDB)
    sys.modules["torchaudio"] = module


try:
    import torchaudio  # noqa: F401
except ImportError:
    install_torchaudio_standin()
sys.path.insert(0, str(REPO / "tools"))
import reference_models as rm  # noqa: E402


def shared():
    return Path(os.environ.get("TAGMAP_FIXTURES", REPO.parent / "shared"))


# model id -> (chunk samples, bench name prefix, state dict under --weights or shared/)
MODELS = {
    "musicnn-mtat": (48000, None, "weights/musicnn-mtat.pth"),
    "vgg-msd": (59049, "BM_VggMsd_Chunk", "vgg-msd-full.pth"),
    "vgg-mtat": (59049, "BM_VggMtat_Chunk", "vgg-mtat-full.pth"),
}
MODEL = "musicnn-mtat"
WEIGHTS = None  # --weights DIR (VGG)


def chunks(n):
    audio, rate = sf.read(str(shared() / "audio/hedgewars-pirate.wav"), dtype="float32",
                          always_2d=True)
    samples = MODELS[MODEL][0]
    x = audio[0::3, 0]
    x = np.resize(x, n * samples)  # repeats if short, as the C++ bench does
    return torch.from_numpy(np.ascontiguousarray(x.reshape(n, samples)))


def weights_path():
    name = MODELS[MODEL][2]
    return Path(WEIGHTS) / name if MODEL.startswith("vgg") else shared() / name


def torch_model():
    model, _ = rm.build(MODEL)
    state = torch.load(str(weights_path()), map_location="cpu")
    model.load_state_dict(state, strict=True)
    model.eval()
    return model


def torch_chunks_per_second(model, batch, threads, seconds):
    torch.set_num_threads(threads)
    x = chunks(batch)
    times, cpu = [], []
    with torch.no_grad():
        for _ in range(2):
            model(x)
        start = time.perf_counter()
        while time.perf_counter() - start < seconds or len(times) < 3:
            t0, c0 = time.perf_counter(), time.process_time()
            model(x)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    torch_chunks_per_second.per_cpu_second = batch / statistics.median(cpu)
    return batch / statistics.median(times)


def torch_processes_chunks_per_second(batch, processes, seconds):
    """PyTorch as tagmap runs: `processes` single-threaded workers at once, summed."""
    cmd = [sys.executable, __file__, "--model", MODEL, "--torch-worker", str(batch),
           str(seconds)]
    if WEIGHTS:
        cmd += ["--weights", str(WEIGHTS)]
    workers = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
               for _ in range(processes)]
    return sum(float(w.communicate()[0].split()[-1]) for w in workers)


def tagmap_chunks_per_second(bench, name, batch, threads, seconds):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", TAGMAP_FIXTURES=str(shared()))
    if WEIGHTS:
        env["TAGMAP_VGG_WEIGHTS"] = str(WEIGHTS)
    out = subprocess.run(
        [bench, f"--benchmark_filter=^{name}/{batch}/real_time/threads:{threads}$",
         "--benchmark_format=json", f"--benchmark_min_time={seconds}"],
        env=env, check=True, capture_output=True, text=True).stdout
    runs = json.loads(out)["benchmarks"]
    if not runs:
        raise RuntimeError(f"{bench}: no benchmark {name}/{batch}/threads:{threads}")
    unit = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[runs[0]["time_unit"]]
    tagmap_chunks_per_second.per_cpu_second = batch / (runs[0]["cpu_time"] * unit)
    return runs[0]["chunks/s"]


def main():
    global MODEL, WEIGHTS
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=sorted(MODELS), default="musicnn-mtat")
    ap.add_argument("--weights", metavar="DIR",
                    help="VGG: make_model_fixtures.py --full-width directory")
    ap.add_argument("--bench", help="bench binary (default build/bin/bench_models, "
                                    "build/bin/bench_vgg for VGG)")
    ap.add_argument("--kernel", choices=["spectral", "gemm", "bf16"], default="spectral",
                    help="tagmap's vertical-convolution kernel (gemm: the reference; bf16: "
                         "spectral in bf16, needs AVX512_BF16; PyTorch stays fp32)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--repeats", type=int, default=5, help="alternating rounds")
    ap.add_argument("--seconds", type=float, default=2.0, help="per side and round")
    ap.add_argument("--torch-worker", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    MODEL, WEIGHTS = args.model, args.weights
    if args.bench is None:
        args.bench = str(REPO / "build/bin" / ("bench_vgg" if MODEL.startswith("vgg")
                                               else "bench_models"))
    if MODEL.startswith("vgg") and not WEIGHTS:
        ap.error("--model vgg-*: --weights DIR (make_model_fixtures.py --full-width DIR)")
    if args.torch_worker:
        batch, seconds = int(args.torch_worker[0]), float(args.torch_worker[1])
        print(torch_chunks_per_second(torch_model(), batch, 1, seconds))
        return
    name = {"spectral": "BM_MusicnnMtat_Chunk", "gemm": "BM_MusicnnMtatGemm_Chunk",
            "bf16": "BM_MusicnnMtatBf16_Chunk"}[args.kernel]
    if MODELS[MODEL][1]:
        name = MODELS[MODEL][1]  # VGG: one kernel set (Winograd for stride 1)
    elif args.kernel == "gemm":
        args.batches = [1]  # the bench runs the reference at 1 chunk per call only
    model = torch_model()
    print(f"{MODEL}, bench={args.bench} ({name}), torch {torch.__version__}, "
          f"{args.repeats} alternating rounds of {args.seconds} s; load average "
          f"{os.getloadavg()[0]:.1f}")
    print("pytorch: T intra-op threads; pytorch xT: T single-threaded processes (summed);"
          " ratios: tagmap / each")
    print("cpu ratio (1 thread): chunks per CPU-second, tagmap / pytorch (steadier under load)")
    print(f"{'threads':>7} {'chunks/call':>11} {'pytorch':>8} {'pytorch xT':>10} "
          f"{'tagmap':>8} {'ratio':>6} {'ratio xT':>8} {'cpu ratio':>9}   (chunks/s, medians)")
    for threads in args.threads:
        for batch in args.batches:
            runs = {"t": [], "p": [], "m": [], "r": [], "rp": [], "c": []}
            for _ in range(args.repeats):
                t = torch_chunks_per_second(model, batch, threads, args.seconds)
                tc = torch_chunks_per_second.per_cpu_second
                p = (torch_processes_chunks_per_second(batch, threads, args.seconds)
                     if threads > 1 else t)
                m = tagmap_chunks_per_second(args.bench, name, batch, threads, args.seconds)
                mc = tagmap_chunks_per_second.per_cpu_second
                for k, v in (("t", t), ("p", p), ("m", m), ("r", m / t), ("rp", m / p),
                             ("c", mc / tc)):
                    runs[k].append(v)
            med = {k: statistics.median(v) for k, v in runs.items()}
            cpu = f"{med['c']:>9.2f}" if threads == 1 else f"{'-':>9}"
            print(f"{threads:>7} {batch:>11} {med['t']:>8.2f} {med['p']:>10.2f} "
                  f"{med['m']:>8.2f} {med['r']:>6.2f} {med['rp']:>8.2f} {cpu}", flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
