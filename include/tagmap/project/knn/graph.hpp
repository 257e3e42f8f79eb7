// The k-nearest-neighbour graph types shared by the kNN search, UMAP, t-SNE and the metrics:
// a point-to-point metric and an N x k neighbour list with its distances.
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <string>

#include "tagmap/core/error.hpp"

namespace tagmap::project {

enum class Metric { euclidean, cosine };

using IndexMatrix = Eigen::Matrix<int, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using DistanceMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// A k-nearest-neighbour graph. Row i lists the neighbours of point i, nearest first (ties by
/// smaller index); point i itself is never listed, exact duplicates of it are.
struct KnnGraph {
    IndexMatrix indices;       ///< N x k point indices
    DistanceMatrix distances;  ///< N x k: Euclidean (not squared) or cosine (1 - cos) distance
    int size() const { return static_cast<int>(indices.rows()); }
    int k() const { return static_cast<int>(indices.cols()); }
};

inline const char* metric_name(Metric metric) {
    return metric == Metric::cosine ? "cosine" : "euclidean";
}

/// Checks a precomputed graph handed to UMAP or t-SNE: one row per point (n), at least
/// `min_k` columns, indices in [0, n) and never the row itself, distances finite and >= 0.
/// Throws InvalidArgument naming `what` and the first bad row.
inline void check_knn_graph(const KnnGraph& graph, Eigen::Index n, int min_k, const char* what) {
    const std::string name(what);
    if (graph.indices.rows() != n || graph.distances.rows() != n ||
        graph.distances.cols() != graph.indices.cols())
        throw InvalidArgument(name + ": the kNN graph has " + std::to_string(graph.indices.rows()) +
                              " x " + std::to_string(graph.indices.cols()) + " indices and " +
                              std::to_string(graph.distances.rows()) + " x " +
                              std::to_string(graph.distances.cols()) + " distances for " +
                              std::to_string(n) + " points");
    if (graph.k() < min_k)
        throw InvalidArgument(name + ": the kNN graph has k = " + std::to_string(graph.k()) +
                              ", at least " + std::to_string(min_k) + " are needed");
    for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index c = 0; c < graph.indices.cols(); ++c) {
            const int j = graph.indices(i, c);
            const float d = graph.distances(i, c);
            if (j < 0 || j >= n || j == i || !std::isfinite(d) || d < 0)
                throw InvalidArgument(name + ": kNN graph row " + std::to_string(i) +
                                      " holds neighbour " + std::to_string(j) + " at distance " +
                                      std::to_string(d));
        }
}

}  // namespace tagmap::project
