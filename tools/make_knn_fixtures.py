#!/usr/bin/env python3
"""Golden values for tests/knn from scikit-learn (run by hand, never by CI).

Writes small seeded data and the reference results of sklearn's NearestNeighbors,
trustworthiness and KNeighborsClassifier to tests/data/knn/:
  high.f32      240 x 20 float32, little-endian, row-major (4 Gaussian clusters)
  low.f32       240 x 2  float32: a noisy 2-D "embedding" (PCA + noise), so metrics are < 1
  labels.i32    240 int32 cluster labels
  nn_euclidean.i32, nn_cosine.i32   240 x 10 int32 exact neighbours of high (self excluded)
  expected.txt  "name value" lines: trustworthiness, preservation, accuracies
Usage: /usr/bin/python3 tools/make_knn_fixtures.py [out_dir]
"""
import pathlib
import sys

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import trustworthiness
from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors

out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else
                   pathlib.Path(__file__).resolve().parent.parent / "tests/data/knn")
out.mkdir(parents=True, exist_ok=True)

rng = np.random.default_rng(20261122)
n, d, clusters = 240, 20, 4
labels = rng.permutation(np.repeat(np.arange(clusters), n // clusters)).astype(np.int32)
centres = rng.normal(scale=0.45, size=(clusters, d))
high = (centres[labels] + rng.normal(size=(n, d))).astype(np.float32)
low = PCA(n_components=2, random_state=0).fit_transform(high)
low = (low + rng.normal(scale=0.8, size=low.shape)).astype(np.float32)
high64, low64 = high.astype(np.float64), low.astype(np.float64)

high.tofile(out / "high.f32")
low.tofile(out / "low.f32")
labels.tofile(out / "labels.i32")
for metric in ("euclidean", "cosine"):
    nn = NearestNeighbors(n_neighbors=10, metric=metric, algorithm="brute").fit(high64)
    nn.kneighbors(return_distance=False).astype(np.int32).tofile(out / f"nn_{metric}.i32")


def preservation(a, b, k):
    ia = NearestNeighbors(n_neighbors=k).fit(a).kneighbors(return_distance=False)
    ib = NearestNeighbors(n_neighbors=k).fit(b).kneighbors(return_distance=False)
    return np.mean([len(set(x) & set(y)) / k for x, y in zip(ia, ib)])


def loo_accuracy(x, y, k):
    idx = NearestNeighbors(n_neighbors=k).fit(x).kneighbors(return_distance=False)
    # majority vote, ties to the smallest label (as scipy.stats.mode / KNeighborsClassifier)
    pred = [np.bincount(y[row], minlength=clusters).argmax() for row in idx]
    return np.mean(np.array(pred) == y)


def split_accuracy(x, y, k, n_train=180):
    clf = KNeighborsClassifier(n_neighbors=k).fit(x[:n_train], y[:n_train])
    return clf.score(x[n_train:], y[n_train:])


values = {
    "trustworthiness_k5": trustworthiness(high64, low64, n_neighbors=5),
    "trustworthiness_k10": trustworthiness(high64, low64, n_neighbors=10),
    "trustworthiness_k15": trustworthiness(high64, low64, n_neighbors=15),
    "preservation_k10": preservation(high64, low64, 10),
    "preservation_k15": preservation(high64, low64, 15),
    "accuracy_low_k10": split_accuracy(low64, labels, 10),
    "accuracy_low_k5": split_accuracy(low64, labels, 5),
    "accuracy_loo_low_k10": loo_accuracy(low64, labels, 10),
    "accuracy_loo_high_k10": loo_accuracy(high64, labels, 10),
}
with open(out / "expected.txt", "w") as f:
    for name, value in values.items():
        f.write(f"{name} {value:.17g}\n")
        print(name, value)
