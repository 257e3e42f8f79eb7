#!/usr/bin/python3
"""Side by side: torch.load(map_location="cpu") vs tagmap's read_pth and WeightFile::open
on the real checkpoints. Prints median CPU times and ratios. Run by hand:

    /usr/bin/python3 bench/weights/compare_torch_load.py build-weights/bin/bench_weights [../shared]
"""
import json
import pathlib
import statistics
import subprocess
import sys
import time

import torch

bench = sys.argv[1]
shared = pathlib.Path(sys.argv[2] if len(sys.argv) > 2 else pathlib.Path(__file__).resolve().parents[3] / "shared")


def torch_ms(path, repeats=30):
    """Median CPU time of torch.load: on a loaded, shared machine wall time mostly
    measures waiting for a core, so both sides are compared by CPU time."""
    torch.set_num_threads(1)
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        torch.load(path, map_location="cpu")
        times.append((time.process_time() - t0) * 1e3)
    return statistics.median(times)


out = subprocess.run([bench, "--benchmark_format=json", "--benchmark_repetitions=5",
                      "--benchmark_report_aggregates_only=true", "--benchmark_filter=ReadPth|OpenTmw"],
                     check=True, capture_output=True, text=True,
                     env={"TAGMAP_FIXTURES": str(shared)}).stdout
ours = {b["run_name"]: b["cpu_time"] for b in json.loads(out)["benchmarks"] if b["aggregate_name"] == "median"}
for name, key in (("musicnn-mtat.pth", "BM_ReadPth/musicnn_legacy"), ("crepe-tiny.pth", "BM_ReadPth/crepe_zip")):
    t = torch_ms(shared / "weights" / name)
    print(f"{name}: torch.load {t:.2f} ms, tagmap read_pth {ours[key]:.2f} ms, ratio torch/tagmap {t / ours[key]:.2f}")
t = torch_ms(shared / "weights" / "musicnn-mtat.pth")
o = ours["BM_OpenTmw/musicnn"]
print(f"musicnn: torch.load {t:.2f} ms, tagmap WeightFile::open(.tmw) {o:.2f} ms, ratio {t / o:.1f}")
