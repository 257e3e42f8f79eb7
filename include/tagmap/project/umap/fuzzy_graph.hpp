// UMAP's fuzzy simplicial set: the kNN graph turned into symmetric edge weights in [0, 1],
// as umap-learn computes them (smooth_knn_dist, compute_membership_strengths, fuzzy union
// with set_op_mix_ratio 1).
//
// API (namespace tagmap::project):
//   using FuzzyGraph = Eigen::SparseMatrix<float, Eigen::RowMajor, int>;
//   struct SmoothedDistance { double sigma, rho; };
//   SmoothedDistance smooth_knn_row(row, target, local_connectivity, mean_all_distances)
//       sigma, rho of one row of distances laid out as umap-learn sees it (when fitting, the
//       point itself comes first at distance 0; the first entry is never summed).
//   FuzzyGraph fuzzy_simplicial_set(knn, threads)
//       N x N symmetric graph from a kNN graph that excludes self (k = n_neighbors - 1).
//   FuzzyGraph transform_graph(knn_to_train, n_train, threads)
//       n_new x n_train bipartite membership strengths (local_connectivity 0), for transform().
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <vector>

#include <Eigen/Sparse>

#include "tagmap/core/parallel.hpp"
#include "tagmap/project/knn/knn.hpp"

namespace tagmap::project {

using FuzzyGraph = Eigen::SparseMatrix<float, Eigen::RowMajor, int>;

struct SmoothedDistance {
    double sigma = 1.0;  ///< bandwidth: sum_j exp(-(d_j - rho) / sigma) = log2(k)
    double rho = 0.0;    ///< distance to the local_connectivity-th non-zero neighbour
};

/// umap-learn's smooth_knn_dist for one row (64 bisection steps, tolerance 1e-5, sigma at
/// least 1e-3 times the mean distance).
inline SmoothedDistance smooth_knn_row(std::span<const float> row, double target,
                                       double local_connectivity, double mean_all_distances) {
    constexpr double kTolerance = 1e-5;
    constexpr double kMinScale = 1e-3;
    SmoothedDistance out;
    std::vector<double> non_zero;
    non_zero.reserve(row.size());
    double row_sum = 0;
    for (float d : row) {
        row_sum += d;
        if (d > 0) non_zero.push_back(d);
    }
    if (!non_zero.empty() && static_cast<double>(non_zero.size()) >= local_connectivity) {
        const auto index = static_cast<std::size_t>(std::floor(local_connectivity));
        const double interpolation = local_connectivity - static_cast<double>(index);
        if (index > 0) {
            out.rho = non_zero[index - 1];
            if (interpolation > kTolerance && index < non_zero.size())
                out.rho += interpolation * (non_zero[index] - non_zero[index - 1]);
        } else {
            out.rho = interpolation * non_zero[0];
        }
    } else if (!non_zero.empty()) {
        out.rho = *std::max_element(non_zero.begin(), non_zero.end());
    }
    double lo = 0, hi = std::numeric_limits<double>::infinity(), mid = 1.0;
    for (int iter = 0; iter < 64; ++iter) {
        double psum = 0;
        for (std::size_t j = 1; j < row.size(); ++j) {
            const double d = row[j] - out.rho;
            psum += d > 0 ? std::exp(-(d / mid)) : 1.0;
        }
        if (std::abs(psum - target) < kTolerance) break;
        if (psum > target) {
            hi = mid;
            mid = (lo + hi) / 2;
        } else {
            lo = mid;
            mid = std::isinf(hi) ? mid * 2 : (lo + hi) / 2;
        }
    }
    out.sigma = mid;
    const double mean_row = row.empty() ? 0.0 : row_sum / static_cast<double>(row.size());
    const double floor = kMinScale * (out.rho > 0 ? mean_row : mean_all_distances);
    if (out.sigma < floor) out.sigma = floor;
    return out;
}

namespace umap_detail {

/// Directed membership strengths exp(-(d - rho) / sigma), one row per kNN row.
inline FuzzyGraph membership_strengths(const KnnGraph& knn, Eigen::Index n_cols, bool self_column,
                                       double local_connectivity, int threads) {
    const Eigen::Index n = knn.indices.rows(), k = knn.indices.cols();
    const Eigen::Index width = k + (self_column ? 1 : 0);
    const double target = std::log2(static_cast<double>(width));
    double total = 0;
    for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index j = 0; j < k; ++j) total += knn.distances(i, j);
    const double mean_all = n * width > 0 ? total / static_cast<double>(n * width) : 0.0;

    std::vector<float> values(static_cast<std::size_t>(n * k));
    parallel_for(static_cast<std::size_t>(n), threads, [&](std::size_t i) {
        std::vector<float> row;
        row.reserve(static_cast<std::size_t>(width));
        if (self_column) row.push_back(0.0f);
        for (Eigen::Index j = 0; j < k; ++j) row.push_back(knn.distances(Eigen::Index(i), j));
        const auto s = smooth_knn_row(row, target, local_connectivity, mean_all);
        for (Eigen::Index j = 0; j < k; ++j) {
            const double d = knn.distances(Eigen::Index(i), j);
            values[i * std::size_t(k) + std::size_t(j)] =
                (d - s.rho <= 0 || s.sigma == 0)
                    ? 1.0f
                    : static_cast<float>(std::exp(-((d - s.rho) / s.sigma)));
        }
    });
    std::vector<Eigen::Triplet<float, int>> triplets;
    triplets.reserve(values.size());
    for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index j = 0; j < k; ++j) {
            const int col = knn.indices(i, j);
            const float v = values[std::size_t(i * k + j)];
            if (col < 0 || v <= 0) continue;  // missing neighbour, or underflow to 0
            if (self_column && col == i) continue;
            triplets.emplace_back(int(i), col, v);
        }
    FuzzyGraph graph(n, n_cols);
    graph.setFromTriplets(triplets.begin(), triplets.end(),
                          [](float a, float b) { return std::max(a, b); });
    return graph;
}

}  // namespace umap_detail

/// Symmetric fuzzy union A + A^T - A o A^T of the membership strengths of a kNN graph that
/// excludes self (so umap-learn's n_neighbors = knn.indices.cols() + 1).
inline FuzzyGraph fuzzy_simplicial_set(const KnnGraph& knn, int threads = 0) {
    const Eigen::Index n = knn.indices.rows();
    FuzzyGraph directed = umap_detail::membership_strengths(knn, n, true, 1.0, threads);
    FuzzyGraph transposed = directed.transpose();
    FuzzyGraph product = directed.cwiseProduct(transposed);
    FuzzyGraph result = directed + transposed - product;
    result.prune([](int, int, float v) { return v > 0; });
    result.makeCompressed();
    return result;
}

/// Bipartite strengths of new points to training points, like umap-learn's transform()
/// (local_connectivity 0, so rho = 0; knn has k = n_neighbors columns).
inline FuzzyGraph transform_graph(const KnnGraph& knn_to_train, Eigen::Index n_train,
                                  int threads = 0) {
    FuzzyGraph graph =
        umap_detail::membership_strengths(knn_to_train, n_train, false, 0.0, threads);
    graph.makeCompressed();
    return graph;
}

}  // namespace tagmap::project
