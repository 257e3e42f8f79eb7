#!/usr/bin/python3
"""Throughput of tagmap vs PyTorch on MusiCNN-MTAT (run by hand; needs python3-torch).

    /usr/bin/python3 bench/models/torch_ratio.py --bench build/bin/bench_models_native \
        --threads 1
    /usr/bin/python3 bench/models/torch_ratio.py --bench build/bin/bench_models_openblas \
        --threads 2

Both sides run the real checkpoint on the same 16 kHz chunks (the fixture recipe:
hedgewars-pirate.wav, every 3rd sample, consecutive 48000-sample chunks), one chunk
per forward and 4 chunks per forward, with the same thread count (torch.set_num_threads
for PyTorch; OPENBLAS_NUM_THREADS for tagmap's OpenBLAS backend; the Eigen backend is
single-threaded). Prints medians in chunks/s and the ratio tagmap / PyTorch.

On a VM whose CPU OpenBLAS cannot identify (it then says "Core: Prescott" with
OPENBLAS_VERBOSE=2 and runs a generic SSE kernel), set OPENBLAS_CORETYPE, e.g.
OPENBLAS_CORETYPE=SkylakeX; it is passed through to the benchmark.
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
import reference_models as rm  # noqa: E402


def shared():
    return Path(os.environ.get("TAGMAP_FIXTURES", REPO.parent / "shared"))


def chunks(n):
    audio, rate = sf.read(str(shared() / "audio/hedgewars-pirate.wav"), dtype="float32",
                          always_2d=True)
    x = audio[0::3, 0]
    need = n * 48000
    x = np.resize(x, need)  # repeats if short, as the C++ bench does
    return torch.from_numpy(np.ascontiguousarray(x.reshape(n, 48000)))


def torch_chunks_per_second(batch, threads, repeats):
    torch.set_num_threads(threads)
    model, _ = rm.build("musicnn-mtat")
    state = torch.load(str(shared() / "weights/musicnn-mtat.pth"), map_location="cpu")
    model.load_state_dict(state, strict=True)
    model.eval()
    x = chunks(batch)
    times = []
    with torch.no_grad():
        for _ in range(2):
            model(x)
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t0)
    return batch / statistics.median(times)


def tagmap_chunks_per_second(bench, batch, threads, repeats):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), TAGMAP_FIXTURES=str(shared()))
    out = subprocess.run(
        [bench, f"--benchmark_filter=BM_MusicnnMtat_Chunk/{batch}/",
         "--benchmark_format=json", f"--benchmark_repetitions={repeats}",
         "--benchmark_report_aggregates_only=true"],
        env=env, check=True, capture_output=True, text=True).stdout
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name") == "median":
            return b["chunks/s"]
    raise RuntimeError("no median in benchmark output")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", default=str(REPO / "build/bin/bench_models"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    print(f"MusiCNN-MTAT, threads={args.threads}, bench={args.bench}")
    print(f"{'chunks/forward':>15} {'pytorch c/s':>12} {'tagmap c/s':>12} {'ratio':>7}")
    for batch in (1, 4):
        t = torch_chunks_per_second(batch, args.threads, args.repeats)
        m = tagmap_chunks_per_second(args.bench, batch, args.threads, max(3, args.repeats // 2))
        print(f"{batch:>15} {t:>12.2f} {m:>12.2f} {m / t:>7.2f}")


if __name__ == "__main__":
    main()
