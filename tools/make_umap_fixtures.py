#!/usr/bin/python3
"""Golden values for tests/umap from the reference implementation, umap-learn (Debian
package umap-learn 0.5.x). Run by hand with the system Python (/usr/bin/python3), never by CI:

    /usr/bin/python3 tools/make_umap_fixtures.py

Writes small CSV files to tests/data/umap/:
  ab_params.csv      spread,min_dist,a,b            umap.umap_.find_ab_params
  graph_input.csv    80 x 4 points (seeded)
  graph_weights.csv  i,j,w of fuzzy_simplicial_set(graph_input, n_neighbors=10)
  spectral_input.csv 400 x 3 points on a noisy curve (seeded)
  spectral_layout.csv 400 x 2 umap.spectral.spectral_layout of that graph (n_neighbors=15)
"""
import os
import sys

import numpy as np
import umap
from umap.umap_ import find_ab_params, fuzzy_simplicial_set
from umap.spectral import spectral_layout

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "umap")
os.makedirs(out, exist_ok=True)
print("umap-learn", umap.__version__ if hasattr(umap, "__version__") else "?", file=sys.stderr)

with open(os.path.join(out, "ab_params.csv"), "w") as f:
    f.write("spread,min_dist,a,b\n")
    for spread, min_dist in [(1.0, 0.1), (1.0, 0.0), (1.0, 0.5), (1.0, 0.99), (2.0, 0.1),
                             (0.5, 0.05), (3.0, 1.0), (1.0, 0.001)]:
        a, b = find_ab_params(spread, min_dist)
        f.write(f"{spread!r},{min_dist!r},{a:.10g},{b:.10g}\n")

rng = np.random.RandomState(7)
X = np.vstack([rng.normal(0, 1, (40, 4)), rng.normal(4, 1.5, (40, 4))]).astype(np.float32)
np.savetxt(os.path.join(out, "graph_input.csv"), X, fmt="%.7g", delimiter=",")
graph, sigmas, rhos = fuzzy_simplicial_set(X, 10, np.random.RandomState(0), "euclidean")
graph = graph.tocoo()
with open(os.path.join(out, "graph_weights.csv"), "w") as f:
    f.write("i,j,w\n")
    for i, j, w in sorted(zip(graph.row, graph.col, graph.data)):
        f.write(f"{i},{j},{w:.8g}\n")

t = np.sort(rng.uniform(0, 3 * np.pi, 400))
Y = np.stack([t * np.cos(t), t * np.sin(t), 0.3 * t], axis=1) + rng.normal(0, 0.2, (400, 3))
Y = Y.astype(np.float32)
np.savetxt(os.path.join(out, "spectral_input.csv"), Y, fmt="%.7g", delimiter=",")
graph2, _, _ = fuzzy_simplicial_set(Y, 15, np.random.RandomState(0), "euclidean")
layout = spectral_layout(Y, graph2, 2, np.random.RandomState(0))
np.savetxt(os.path.join(out, "spectral_layout.csv"), layout, fmt="%.8g", delimiter=",")
