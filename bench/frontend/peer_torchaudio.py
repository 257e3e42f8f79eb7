#!/usr/bin/python3
"""Peer comparison (run by hand): torchaudio MelSpectrogram + AmplitudeToDB vs tagmap's
LogMelSpectrogram on the same input sizes, single-threaded, median CPU time of repeated
runs (CPU time, not wall time, because the machine this was written on is shared).

    /usr/bin/python3 bench/frontend/peer_torchaudio.py build/bin/bench_log_mel

Prints both medians per configuration and the ratio torchaudio / tagmap.
"""
import json
import statistics
import subprocess
import sys
import time

import torch
import torchaudio


def torchaudio_median_us(n_samples, n_mels, repeats=200):
    torch.set_num_threads(1)
    spec = torchaudio.transforms.MelSpectrogram(sample_rate=16000, n_fft=512, hop_length=256,
                                                f_min=0.0, f_max=8000.0, n_mels=n_mels)
    to_db = torchaudio.transforms.AmplitudeToDB()
    x = torch.randn(1, n_samples) * 0.1
    with torch.no_grad():
        for _ in range(10):
            to_db(spec(x))
        times = []
        for _ in range(repeats):
            t0 = time.thread_time()
            to_db(spec(x))
            times.append(time.thread_time() - t0)
    return statistics.median(times) * 1e6


def tagmap_medians_us(binary):
    out = subprocess.run([binary, "--benchmark_format=json", "--benchmark_repetitions=9",
                          "--benchmark_report_aggregates_only=true"],
                         check=True, capture_output=True, text=True).stdout
    result = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name") == "median":
            n_samples, n_mels = (int(v) for v in b["run_name"].split("/")[1:3])
            result[(n_samples, n_mels)] = b["cpu_time"]  # microseconds (kMicrosecond)
    return result


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    ours = tagmap_medians_us(sys.argv[1])
    for (n_samples, n_mels), ours_us in sorted(ours.items()):
        peer_us = torchaudio_median_us(n_samples, n_mels)
        print(f"{n_samples} samples, {n_mels} mels: tagmap {ours_us:.0f} us, "
              f"torchaudio {peer_us:.0f} us, torchaudio/tagmap = {peer_us / ours_us:.2f}")


if __name__ == "__main__":
    main()
