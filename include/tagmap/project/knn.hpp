// k-nearest-neighbour graphs for the projections (UMAP, t-SNE): exact brute force for small
// inputs, approximate NN-descent for large ones, both deterministic for a seed at any thread
// count. See docs/knn.md for measurements and exact semantics.
//
// API (namespace tagmap::project):
//   enum class Metric { euclidean, cosine };
//   struct KnnGraph { IndexMatrix indices; DistanceMatrix distances; };   // N x k, row-major
//   struct KnnOptions;                                      // k, metric, threads, seed, method
//   KnnGraph knn_graph(X, KnnOptions)                       // automatic exact / approximate
//   KnnGraph exact_knn(X, k, metric, threads)               // knn_exact.hpp
//   KnnGraph knn_query(reference, queries, k, metric, threads)   // knn_exact.hpp
//   double   knn_recall(approx, exact)                      // knn_exact.hpp
//   KnnGraph nn_descent(X, NnDescentOptions)                // nn_descent.hpp, all knobs
#pragma once

#include <cstdint>

#include "tagmap/project/knn_exact.hpp"
#include "tagmap/project/nn_descent.hpp"

namespace tagmap::project {

struct KnnOptions {
    int k = 15;                         ///< neighbours per point (self excluded)
    Metric metric = Metric::euclidean;  ///< cosine = 1 - cos(angle)
    int threads = 0;                    ///< 0 = std::thread::hardware_concurrency()
    std::uint64_t seed = 42;            ///< approximate method only
    /// automatic: exact below kExactBelow points (like umap-learn), approximate above.
    enum class Method { automatic, exact, approximate } method = Method::automatic;
    static constexpr int kExactBelow = 4096;
    /// approximate method: NN-descent's stopping threshold (NnDescentOptions::delta)
    double nn_descent_delta = 0.001;
};

/// The k-nearest-neighbour graph of the rows of X (rows are points, any float/double Eigen
/// expression). Deterministic for a given seed, whatever the thread count.
template <class Derived>
KnnGraph knn_graph(const Eigen::MatrixBase<Derived>& X, const KnnOptions& options = {}) {
    const bool approximate =
        options.method == KnnOptions::Method::approximate ||
        (options.method == KnnOptions::Method::automatic && X.rows() >= KnnOptions::kExactBelow);
    if (!approximate) return exact_knn(X, options.k, options.metric, options.threads);
    NnDescentOptions nn;
    nn.k = options.k;
    nn.metric = options.metric;
    nn.threads = options.threads;
    nn.seed = options.seed;
    nn.delta = options.nn_descent_delta;
    return nn_descent(X, nn);
}

}  // namespace tagmap::project
