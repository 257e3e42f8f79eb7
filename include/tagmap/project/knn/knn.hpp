// k-nearest-neighbour graphs for the projections (UMAP, t-SNE): exact brute force for small
// inputs, approximate NN-descent for large ones, both deterministic for a seed at any thread
// count. Exact semantics and guarantees: docs/knn.md.
//
// API (namespace tagmap::project):
//   enum class Metric; struct KnnGraph;                      knn/graph.hpp
//   struct KnnSearch;     how to search (metric, method); nested in UMAP's and t-SNE's options
//   struct KnnOptions;    KnnSearch plus k, threads, seed
//   KnnGraph knn_graph(X, KnnOptions)                        automatic exact / approximate
//   KnnGraph exact_knn(X, k, metric, threads)                knn/exact.hpp
//   KnnGraph knn_query(reference, queries, k, metric, threads)   knn/exact.hpp
//   double   knn_recall(approx, exact)                       knn/exact.hpp
//   KnnGraph nn_descent(X, NnDescentOptions)                 knn/nn_descent.hpp, all knobs
#pragma once

#include <cstdint>
#include <optional>

#include "tagmap/project/knn/exact.hpp"
#include "tagmap/project/knn/graph.hpp"
#include "tagmap/project/knn/nn_descent.hpp"

namespace tagmap::project {

/// How a kNN graph is searched. The same struct is nested in UmapOptions and TsneOptions
/// (their `knn` field), which set k from n_neighbors or the perplexity themselves.
struct KnnSearch {
    Metric metric = Metric::euclidean;  ///< cosine = 1 - cos(angle)
    /// automatic: exact below kExactBelow points (like umap-learn), approximate from there on.
    enum class Method { automatic, exact, approximate } method = Method::automatic;
    static constexpr int kExactBelow = 4096;
    /// Approximate method: NN-descent's stopping threshold (NnDescentOptions::delta). Unset:
    /// 0.001 for knn_graph and UMAP, 0.01 for t-SNE (whose far neighbours weigh little).
    std::optional<double> nn_descent_delta;
};

/// Options of knn_graph(): the search, plus k and the run's resources.
struct KnnOptions : KnnSearch {
    int k = 15;               ///< neighbours per point (self excluded)
    int threads = 0;          ///< 0 = std::thread::hardware_concurrency()
    std::uint64_t seed = 42;  ///< approximate method only
};

/// The k-nearest-neighbour graph of the rows of X (rows are points, any float/double Eigen
/// expression). Deterministic for a given seed, whatever the thread count.
template <class Derived>
KnnGraph knn_graph(const Eigen::MatrixBase<Derived>& X, const KnnOptions& options = {}) {
    const bool approximate =
        options.method == KnnSearch::Method::approximate ||
        (options.method == KnnSearch::Method::automatic && X.rows() >= KnnSearch::kExactBelow);
    if (!approximate) return exact_knn(X, options.k, options.metric, options.threads);
    NnDescentOptions nn;
    nn.k = options.k;
    nn.metric = options.metric;
    nn.threads = options.threads;
    nn.seed = options.seed;
    nn.delta = options.nn_descent_delta.value_or(nn.delta);
    return nn_descent(X, nn);
}

/// KnnOptions for a search nested in another algorithm's options.
inline KnnOptions knn_options(const KnnSearch& search, int k, int threads, std::uint64_t seed) {
    KnnOptions out;
    static_cast<KnnSearch&>(out) = search;
    out.k = k;
    out.threads = threads;
    out.seed = seed;
    return out;
}

}  // namespace tagmap::project
