#!/usr/bin/python3
"""Peak memory of `tagmap embed --per-chunk` on a long file (run by hand).

Generates a MINUTES-long 44.1 kHz stereo 16-bit WAV (a slowly changing mix of tones
and noise; not committed, written to a temp dir and deleted), runs the tagmap binary
under /usr/bin/time -v and prints its maximum resident set size. The decoder streams
blocks, so the peak must not grow with the file's length (goal: < 200 MB for 60 min).

Usage: /usr/bin/python3 bench/embed/long_file_rss.py BUILD/bin/tagmap WEIGHTS.pth [MINUTES]
"""

import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import soundfile


def main():
    tagmap, weights = sys.argv[1], sys.argv[2]
    minutes = float(sys.argv[3]) if len(sys.argv) > 3 else 60.0
    rate, block = 44100, 44100 * 10
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "long.wav")
        total = int(minutes * 60 * rate)
        with soundfile.SoundFile(path, "w", rate, 2, "PCM_16") as f:
            for start in range(0, total, block):
                n = min(block, total - start)
                t = (start + np.arange(n)) / rate
                f0 = 220 * 2 ** ((start // block) % 24 / 12)
                left = 0.3 * np.sin(2 * np.pi * f0 * t) + 0.05 * rng.standard_normal(n)
                right = 0.3 * np.sin(2 * np.pi * 1.5 * f0 * t) + 0.05 * rng.standard_normal(n)
                f.write(np.stack([left, right], axis=1).astype(np.float32))
        size_mb = os.path.getsize(path) / 1e6
        out = os.path.join(tmp, "out")
        cmd = ["/usr/bin/time", "-v", tagmap, "embed", "--model", "musicnn-mtat", "--weights",
               weights, "--per-chunk", "--quiet", "--out", out, path]
        res = subprocess.run(cmd, capture_output=True, text=True)
        rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", res.stderr)
        wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", res.stderr)
        shape = np.load(os.path.join(out, "musicnn-mtat", "long.wav.embedding.npy")).shape
        print(f"{minutes:g} min 44.1 kHz stereo WAV ({size_mb:.0f} MB): exit {res.returncode}, "
              f"embedding {shape}, max RSS {int(rss.group(1)) / 1024:.1f} MB, wall {wall.group(1)}")


if __name__ == "__main__":
    main()
