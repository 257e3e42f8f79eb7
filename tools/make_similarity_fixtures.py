#!/usr/bin/env python3
"""Golden values for tests/similarity from numpy and scikit-learn (run by hand, never by CI).

Computes every figure of include/tagmap/project/label_similarity.hpp independently, with
plain numpy loops that follow docs/label_similarity.md literally, and the silhouette with
sklearn.metrics.silhouette_score(metric="cosine"). Writes one JSON file per case to
tests/data/similarity/:
  synthetic.json  60 rows x 16 dims, float32 values, labels in 0..5: groups of 18, 14, 12,
                  9 and 1 rows (a singleton), group 5 empty, 6 unlabeled rows (-1); every
                  row carries a common offset, so uncentered cosines are all close to 1
  hand.json       7 rows x 2 dims that docs/label_similarity.md works through by hand
Each file: {"rows", "dims", "groups", "x" (rows x dims), "labels", "cases": [{"k", and the
expected figures}], "naive": figures computed the wrong ways (own row included in its own
centroid; no centering), which the tests use to show the fixture tells them apart}.
NaN is written as null. Usage: /usr/bin/python3 tools/make_similarity_fixtures.py [out_dir]
"""
import json
import math
import pathlib
import sys

import numpy as np
from sklearn.metrics import silhouette_score
from sklearn.metrics.pairwise import cosine_distances

out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else
                   pathlib.Path(__file__).resolve().parent.parent / "tests/data/similarity")
out.mkdir(parents=True, exist_ok=True)


def cosine(a, b):
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return math.nan
    return float(a @ b / (na * nb))


def centroid_table(Y, y, groups, leave_one_out=True):
    """n x G cosine of each centered row to each group centroid (own group without the row)."""
    n = len(y)
    sim = np.full((n, groups), math.nan)
    for i in range(n):
        for g in range(groups):
            members = [j for j in range(n) if y[j] == g and not (leave_one_out and j == i)]
            if members:
                sim[i, g] = cosine(Y[i], Y[members].mean(axis=0))
    return sim


def own_figures(sim, y):
    own = sim[np.arange(len(y)), y]
    scored = ~np.isnan(own)
    nearest = np.array([-1 if np.all(np.isnan(r)) else int(np.nanargmax(r)) for r in sim])
    values = own[scored]
    figures = {
        "mean_similarity_to_own_genre": values.mean() if values.size else math.nan,
        "std_similarity_to_own_genre": values.std() if values.size else math.nan,  # ddof=0
        "min_similarity_to_own_genre": values.min() if values.size else math.nan,
        "max_similarity_to_own_genre": values.max() if values.size else math.nan,
        "agreement_rate": (nearest[scored] == y[scored]).mean() if values.size else math.nan,
    }
    return own, scored, nearest, figures


def knn_precision(Y, y, k):
    """Share of each row's k nearest other rows (cosine distance, ties: lower index) with its
    label, averaged. Asserts that no near-tie across labels sits at the k-th place, so that
    rounding differences cannot change the golden value."""
    n = len(y)
    k = min(k, n - 1)
    D = cosine_distances(Y)  # 1 - cos clipped to [0, 2]; zero rows at distance 1
    shares = []
    for i in range(n):
        others = np.array([j for j in range(n) if j != i])
        order = others[np.lexsort((others, D[i, others]))]  # by distance, then index
        if k < len(order):
            gap = D[i, order[k]] - D[i, order[k - 1]]
            assert gap > 1e-9 or y[order[k]] == y[order[k - 1]], (i, gap)
        shares.append(np.mean(y[order[:k]] == y[i]))
    return float(np.mean(shares)), k


def silhouette(Y, y):
    try:
        return float(silhouette_score(Y, y, metric="cosine"))
    except ValueError:  # fewer than 2 labels, or every row its own label
        return math.nan


def silhouette_by_hand(Y, y):
    """The same silhouette without scikit-learn, as a check of the reading of its rules."""
    n = len(y)
    labels = sorted(set(y.tolist()))
    if not 2 <= len(labels) <= n - 1:
        return math.nan
    D = cosine_distances(Y)
    s = []
    for i in range(n):
        same = [j for j in range(n) if y[j] == y[i] and j != i]
        if not same:
            s.append(0.0)
            continue
        a = D[i, same].mean()
        b = min(D[i, y == g].mean() for g in labels if g != y[i])
        s.append(0.0 if max(a, b) == 0 else (b - a) / max(a, b))
    return float(np.mean(s))


def figures_for(X, labels, groups, ks):
    mask = labels >= 0
    Xl = X[mask].astype(np.float64)
    y = labels[mask]
    Y = Xl - Xl.mean(axis=0)
    sim_l = centroid_table(Y, y, groups)
    own_l, scored, nearest_l, figures = own_figures(sim_l, y)

    n_rows = len(labels)
    sim = np.full((n_rows, groups), math.nan)
    sim[mask] = sim_l
    own = np.full(n_rows, math.nan)
    own[mask] = own_l
    nearest = np.full(n_rows, -1)
    nearest[mask] = nearest_l
    confusion = np.zeros((groups, groups), dtype=int)
    for t, p in zip(y[scored], nearest_l[scored]):
        confusion[t, p] += 1

    sil = silhouette(Y, y)
    sil_check = silhouette_by_hand(Y, y)
    assert (math.isnan(sil) and math.isnan(sil_check)) or abs(sil - sil_check) < 1e-12

    cases = []
    for k in ks:
        precision, k_used = knn_precision(Y, y, k)
        cases.append({"k": k, "knn_k": k_used, "knn_genre_precision_at_k": precision})
    common = {
        **figures,
        "silhouette_score": sil,
        "labeled_count": int(mask.sum()),
        "scored_count": int(scored.sum()),
        "group_counts": np.bincount(y, minlength=groups).tolist(),
        "confusion": confusion.tolist(),
        "similarity": sim.tolist(),
        "similarity_to_own_group": own.tolist(),
        "nearest_group": nearest.tolist(),
    }
    for case in cases:
        case.update(common)

    # The two mistakes of the system this replaces, for the tests to tell apart.
    _, _, _, with_self = own_figures(centroid_table(Y, y, groups, leave_one_out=False), y)
    _, _, _, uncentered = own_figures(centroid_table(Xl, y, groups), y)
    naive = {
        "including_own_row": with_self,
        "uncentered": uncentered,
        "uncentered_silhouette_score": silhouette(Xl, y),
    }
    return cases, naive


def nan_to_null(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (np.floating,)):
        return nan_to_null(float(value))
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, dict):
        return {k: nan_to_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [nan_to_null(v) for v in value]
    return value


def write(name, X, labels, groups, ks):
    cases, naive = figures_for(X, labels, groups, ks)
    doc = {
        "rows": int(X.shape[0]),
        "dims": int(X.shape[1]),
        "groups": groups,
        # float32 values written as the shortest decimal that reads back to the same float32
        "x": [[float(np.format_float_positional(v, unique=True)) for v in row] for row in X],
        "labels": labels.tolist(),
        "cases": cases,
        "naive": naive,
    }
    text = json.dumps(nan_to_null(doc), separators=(",", ":"), allow_nan=False)
    (out / name).write_text(text + "\n")
    c = cases[0]
    print(f"{name}: {len(text)} bytes; own mean {c['mean_similarity_to_own_genre']:.6f}, "
          f"agreement {c['agreement_rate']:.4f}, silhouette {c['silhouette_score']:.6f}, "
          + ", ".join(f"knn@{c['knn_k']} {c['knn_genre_precision_at_k']:.6f}" for c in cases))
    print(f"  naive: with own row {naive['including_own_row']['mean_similarity_to_own_genre']:.6f}, "
          f"uncentered {naive['uncentered']['mean_similarity_to_own_genre']:.6f}")


# Synthetic: five groups around random centers, all shifted by a common offset.
rng = np.random.default_rng(20261201)
dims, groups = 16, 6
sizes = [18, 14, 12, 9, 1]  # group 4 is a singleton, group 5 stays empty
labels = np.concatenate([np.full(s, g) for g, s in enumerate(sizes)] + [np.full(6, -1)])
labels = rng.permutation(labels).astype(np.int64)
centers = rng.normal(scale=0.9, size=(len(sizes), dims))
offset = 6.0 + rng.normal(scale=0.5, size=dims)
X = offset + rng.normal(size=(len(labels), dims))
X[labels >= 0] += centers[labels[labels >= 0]]
X[labels < 0] += 40.0  # far away: any use of an unlabeled row would show
X = X.astype(np.float32)
write("synthetic.json", X, labels, groups, ks=[10, 3])

# Hand-checkable: centered vectors A..F (see docs/label_similarity.md) plus (10, 10), and
# one unlabeled row.
centered = np.array([[2, 0], [1, 1], [-2, 0], [-1, -1], [-1, -3], [1, 3], [990, -15]])
X = (centered + 10).astype(np.float32)
labels = np.array([0, 0, 1, 1, 1, 2, -1])
write("hand.json", X, labels, 3, ks=[10, 1])
