#!/usr/bin/env python3
"""Benchmarks of the music-library commands, run by hand (standard library only):

  1. index-audio over 10,000 synthetic tiny WAVs (0.25 s, 16 kHz mono PCM16, 100 folders):
     first index and an unchanged re-index, seconds (median of --repeat runs);
  2. preprocess-all over the shared clips (musicnn-mtat), --jobs 1 and --jobs 2: seconds of
     audio per second of wall time (median), whole process (decode, resample, network, SQLite);
  3. what the results add to the database per hour of audio (after a WAL checkpoint).

  bench/store/bench_library.py [--tagmap build/bin/tagmap] [--weights-dir weights]
                               [--files 10000] [--repeat 3]
Needs weights/musicnn-mtat.tmw (tools/demo.sh converts it) and ../shared (TAGMAP_FIXTURES).
"""
import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time
import wave

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))


def run(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def tiny_wavs(folder, n):
    frames = b"".join(int(1000 * ((i * 37) % 200 - 100) / 100).to_bytes(2, "little", signed=True)
                      for i in range(4000))
    for i in range(n):
        d = os.path.join(folder, f"d{i % 100:02d}")
        os.makedirs(d, exist_ok=True)
        with wave.open(os.path.join(d, f"t{i:05d}.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(16000)
            w.writeframes(frames)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tagmap", default=os.path.join(root, "build", "bin", "tagmap"))
    ap.add_argument("--weights-dir", default=os.path.join(root, "weights"))
    ap.add_argument("--fixtures", default=os.environ.get(
        "TAGMAP_FIXTURES", os.path.join(os.path.dirname(root), "shared")))
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    tm = a.tagmap
    work = tempfile.mkdtemp(prefix="tagmap-bench-library-")
    try:
        music = os.path.join(work, "tiny")
        tiny_wavs(music, a.files)
        first, again = [], []
        for r in range(a.repeat):
            db = os.path.join(work, f"index{r}.db")
            run([tm, "init-db", "--db", db, "--audio-dir", music])
            first.append(run([tm, "index-audio", "--db", db, "-q"]))
            again.append(run([tm, "index-audio", "--db", db, "-q"]))
        print(f"index-audio, {a.files} tiny WAVs: first {statistics.median(first):.2f} s "
              f"(runs {', '.join(f'{x:.2f}' for x in first)}), unchanged re-index "
              f"{statistics.median(again):.2f} s")

        audio = os.path.join(a.fixtures, "audio")
        for jobs in (1, 2):
            rates, sizes = [], []
            for r in range(a.repeat):
                db = os.path.join(work, f"pre{jobs}-{r}.db")
                run([tm, "init-db", "--db", db, "--audio-dir", audio])
                run([tm, "index-audio", "--db", db, "-q"])
                con = sqlite3.connect(db)
                con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                con.close()
                indexed_size = os.path.getsize(db)
                seconds = run([tm, "preprocess-all", "--db", db, "--weights-dir", a.weights_dir,
                               "--models", "musicnn-mtat", "--jobs", str(jobs), "-q"])
                con = sqlite3.connect(db)
                audio_s = con.execute("SELECT sum(audio_seconds) FROM embeddings").fetchone()[0]
                con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                con.close()
                rates.append(audio_s / seconds)
                # What the results add (the schema and the track rows are a fixed cost).
                sizes.append((os.path.getsize(db) - indexed_size) / (audio_s / 3600.0))
            print(f"preprocess-all musicnn-mtat --jobs {jobs}: {statistics.median(rates):.1f} s "
                  f"audio/s (runs {', '.join(f'{x:.1f}' for x in rates)}); database "
                  f"{statistics.median(sizes) / 1e6:.2f} MB per hour of audio")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
