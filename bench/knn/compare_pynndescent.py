#!/usr/bin/env python3
"""Side by side on Fashion-MNIST (70k x 784, /255): pynndescent with umap-learn's settings
(the peer) and tagmap's knn_graph (bench_knn_fmnist, built with -DTAGMAP_BUILD_BENCH=ON).
Prints time and recall@15 (self excluded) against exact neighbours of a seeded sample, and
the time ratio. Run by hand: /usr/bin/python3 bench/knn/compare_pynndescent.py <build>/bin
"""
import pathlib
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import fmnist  # noqa: E402

K = 15
THREADS = 2
SAMPLE = 1000


def exact_sample(X, rows, k):
    # squared distances in float64 from the sampled rows to all rows, self excluded
    Xd = X.astype(np.float64)
    norms = (Xd * Xd).sum(1)
    out = []
    for start in range(0, len(rows), 250):
        r = rows[start:start + 250]
        d = norms[r, None] + norms[None, :] - 2.0 * Xd[r] @ Xd.T
        d[np.arange(len(r)), r] = np.inf
        out.append(np.argsort(d, axis=1, kind="stable")[:, :k])
    return np.vstack(out)


def recall(found, truth):
    return np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(found, truth)])


def main():
    bindir = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path("build-knn/bin")
    X, _ = fmnist.load()
    n = X.shape[0]
    rows = np.sort(np.random.default_rng(0).choice(n, SAMPLE, replace=False))
    truth = exact_sample(X, rows, K)

    import pynndescent
    import numba
    numba.set_num_threads(THREADS)
    n_trees = min(64, 5 + int(round(n ** 0.5 / 20.0)))
    n_iters = max(5, int(round(np.log2(n))))
    # warm-up compile on a small slice so the timing excludes numba JIT
    pynndescent.NNDescent(X[:2000], n_neighbors=K + 1, n_trees=n_trees, n_iters=n_iters,
                          max_candidates=60, n_jobs=THREADS, random_state=42)
    t0 = time.perf_counter()
    index = pynndescent.NNDescent(X, n_neighbors=K + 1, n_trees=n_trees, n_iters=n_iters,
                                  max_candidates=60, n_jobs=THREADS, random_state=42,
                                  compressed=False)
    ind, _ = index.neighbor_graph
    t_peer = time.perf_counter() - t0
    peer = [[j for j in ind[r] if j != r][:K] for r in rows]
    r_peer = recall(peer, truth)

    data = pathlib.Path("/tmp/fmnist.f32")
    if not data.exists():
        X.tofile(data)
    out = pathlib.Path("/tmp/tagmap_knn_fmnist.i32")
    t0 = time.perf_counter()
    res = subprocess.run([str(bindir / "bench_knn_fmnist"), str(data), str(n), "784", str(K),
                          str(THREADS), str(out)], capture_output=True, text=True, check=True)
    t_ours_wall = time.perf_counter() - t0
    ours = np.fromfile(out, np.int32).reshape(n, K)
    r_ours = recall(ours[rows], truth)
    t_ours = float(res.stdout.split(" s wall")[0].rsplit(" ", 1)[1])
    print(res.stdout.strip())
    print(f"pynndescent (umap-learn settings, {THREADS} threads): {t_peer:.2f} s, "
          f"recall@15 {r_peer:.4f}")
    print(f"tagmap knn_graph ({THREADS} threads): {t_ours:.2f} s "
          f"(process incl. loading {t_ours_wall:.2f} s), recall@15 {r_ours:.4f}")
    print(f"time ratio pynndescent / tagmap: {t_peer / t_ours:.2f}x")

if __name__ == "__main__":
    main()
