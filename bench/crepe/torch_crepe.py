#!/usr/bin/python3
"""CREPE tiny frames/s: tagmap's bench_crepe beside PyTorch (run by hand; needs
python3-torch, python3-soundfile).

    /usr/bin/python3 bench/crepe/torch_crepe.py --bench build/bin/bench_crepe --threads 1

Both sides run the real crepe-tiny checkpoint on the same 256 normalised frames (the
shared hedgewars-pirate.wav, every 3rd sample -> 16 kHz, centred 1024-sample frames
every 160 samples, each normalised to mean 0 / std 1). PyTorch runs the network of
tools/make_crepe_fixtures.py (torchcrepe's module layout) in float32, 256 frames per
forward, with torch.set_num_threads(--threads); tagmap runs BM_CrepeTiny_Network for
each batch size (single-threaded Eigen backend). Prints medians in frames/s and the
ratio tagmap / PyTorch.
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
sys.path.insert(0, str(REPO / "tools"))
import make_crepe_fixtures as fx  # noqa: E402


def shared():
    return Path(os.environ.get("TAGMAP_FIXTURES", REPO.parent / "shared"))


def frames(n):
    audio, rate = sf.read(str(shared() / "audio/hedgewars-pirate.wav"), dtype="float32",
                          always_2d=True)
    x = np.resize(audio[0::3, 0], 160 * n)
    return torch.from_numpy(fx.frames_of(x)[:n])


def torch_fps(threads, repeats, n=256):
    torch.set_num_threads(threads)
    model = fx.Crepe(4)
    model.load_state_dict(torch.load(str(shared() / "weights/crepe-tiny.pth"),
                                     map_location="cpu"))
    model.eval()
    x = frames(n)
    rates = []
    with torch.no_grad():
        model(x)  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates)


def tagmap_fps(bench, repeats):
    out = subprocess.run(
        [bench, "--benchmark_filter=BM_CrepeTiny_Network", "--benchmark_format=json",
         f"--benchmark_repetitions={repeats}", "--benchmark_report_aggregates_only=true"],
        check=True, capture_output=True, text=True, env=dict(os.environ)).stdout
    result = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name") == "median":
            result[b["run_name"]] = b["frames/s"]
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bench", required=True, help="path to bench_crepe")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=7)
    a = p.parse_args()
    t = torch_fps(a.threads, a.repeats)
    print(f"pytorch {torch.__version__} float32, {a.threads} thread(s): {t:.0f} frames/s")
    for name, fps in tagmap_fps(a.bench, a.repeats).items():
        print(f"tagmap {name}: {fps:.0f} frames/s ({fps / t:.2f} x pytorch)")


if __name__ == "__main__":
    main()
