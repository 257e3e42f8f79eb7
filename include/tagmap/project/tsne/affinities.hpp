// t-SNE input affinities: perplexity calibration on a kNN graph, symmetrised and normalised
// into a sparse joint distribution P (van der Maaten 2014; the same algorithm as
// sklearn.manifold._utils._binary_search_perplexity and _joint_probabilities_nn).
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "tagmap/core/error.hpp"
#include "tagmap/core/parallel.hpp"
#include "tagmap/project/knn/exact.hpp"

namespace tagmap::project {

/// Symmetric sparse joint probabilities in CSR form; the values sum to 1.
struct TsneAffinities {
    int n = 0;
    std::vector<std::int64_t> row_ptr;  // n + 1 offsets into cols/values
    std::vector<int> cols;              // column indices, ascending within a row
    std::vector<double> values;         // p_ij

    std::size_t nnz() const { return values.size(); }
};

/// Neighbours per point used for a perplexity, as in sklearn: min(N - 1, floor(3 P + 1)).
inline int tsne_neighbours_for(double perplexity, int n_points) {
    return std::min(n_points - 1, static_cast<int>(3.0 * perplexity + 1.0));
}

/// Conditional probabilities p_{j|i} (row-major N x k, aligned with graph.indices): for each
/// row, a Gaussian over the squared neighbour distances whose precision is found by binary
/// search so that the row's entropy is log(perplexity) (tolerance 1e-5, at most 100 steps).
inline std::vector<double> tsne_conditional_probabilities(const KnnGraph& graph, double perplexity,
                                                          int threads = 0) {
    const auto n = static_cast<std::size_t>(graph.distances.rows());
    const auto k = static_cast<std::size_t>(graph.distances.cols());
    if (!(perplexity > 0.0) || !std::isfinite(perplexity))
        throw InvalidArgument("t-SNE perplexity must be a positive number, got " +
                              std::to_string(perplexity));
    std::vector<double> conditional(n * k);
    const double desired_entropy = std::log(perplexity);
    constexpr double tolerance = 1e-5;
    constexpr int max_steps = 100;
    constexpr double tiny = 1e-8;  // sklearn's EPSILON_DBL: keeps an all-zero row finite
    parallel_for(n, threads, [&](std::size_t i) {
        // Eigen arrays: the exponentials, ~all of the cost, run as vectors. An array of its
        // own, not a Map into `conditional`: Eigen's sums start their vector lanes at the
        // first aligned element, so over a Map the rounding would follow the heap address.
        Eigen::ArrayXd p(static_cast<Eigen::Index>(k));
        const Eigen::ArrayXd sq = graph.distances.row(static_cast<Eigen::Index>(i))
                                      .transpose()
                                      .template cast<double>()
                                      .array()
                                      .square();
        double beta = 1.0;
        double beta_min = -std::numeric_limits<double>::infinity();
        double beta_max = std::numeric_limits<double>::infinity();
        for (int step = 0; step < max_steps; ++step) {
            p = (-beta * sq).exp();
            double sum_p = p.sum();
            if (sum_p == 0.0) sum_p = tiny;
            p /= sum_p;
            const double sum_dp = (sq * p).sum();
            const double entropy = std::log(sum_p) + beta * sum_dp;
            const double diff = entropy - desired_entropy;
            if (std::abs(diff) <= tolerance) break;
            if (diff > 0.0) {
                beta_min = beta;
                beta = std::isinf(beta_max) ? beta * 2.0 : (beta + beta_max) / 2.0;
            } else {
                beta_max = beta;
                beta = std::isinf(beta_min) ? beta / 2.0 : (beta + beta_min) / 2.0;
            }
        }
        std::copy(p.data(), p.data() + k, conditional.data() + i * k);
    });
    return conditional;
}

/// P = (C + C^T) / sum(C + C^T) from row-wise conditionals C on the kNN graph.
inline TsneAffinities tsne_symmetrize(const KnnGraph& graph,
                                      const std::vector<double>& conditional) {
    const auto n = static_cast<int>(graph.indices.rows());
    const auto k = static_cast<int>(graph.indices.cols());
    TsneAffinities P;
    P.n = n;
    // Each conditional lands twice, at (i, j) and (j, i); bucket by row, then merge per row.
    std::vector<std::int64_t> count(static_cast<std::size_t>(n) + 1, 0);
    for (int i = 0; i < n; ++i)
        for (int c = 0; c < k; ++c) {
            const int j = graph.indices(i, c);
            if (j < 0 || j >= n)
                throw InvalidArgument("t-SNE: kNN graph row " + std::to_string(i) +
                                      " holds neighbour index " + std::to_string(j) +
                                      " outside [0, " + std::to_string(n) + ")");
            ++count[static_cast<std::size_t>(i) + 1];
            ++count[static_cast<std::size_t>(j) + 1];
        }
    std::partial_sum(count.begin(), count.end(), count.begin());
    std::vector<std::pair<int, double>> entries(static_cast<std::size_t>(count.back()));
    std::vector<std::int64_t> fill(count.begin(), count.end() - 1);
    for (int i = 0; i < n; ++i)
        for (int c = 0; c < k; ++c) {
            const int j = graph.indices(i, c);
            const double v = conditional[static_cast<std::size_t>(i) * k + c];
            entries[static_cast<std::size_t>(fill[i]++)] = {j, v};
            entries[static_cast<std::size_t>(fill[j]++)] = {i, v};
        }
    P.row_ptr.assign(static_cast<std::size_t>(n) + 1, 0);
    P.cols.reserve(entries.size());
    P.values.reserve(entries.size());
    for (int i = 0; i < n; ++i) {
        auto first = entries.begin() + count[i];
        auto last = entries.begin() + count[i + 1];
        std::sort(first, last, [](const auto& a, const auto& b) {
            return a.first != b.first ? a.first < b.first : a.second < b.second;
        });
        for (auto it = first; it != last; ++it) {
            if (it->first == i) continue;  // a point is never its own neighbour
            if (!P.cols.empty() && static_cast<std::int64_t>(P.cols.size()) > P.row_ptr[i] &&
                P.cols.back() == it->first)
                P.values.back() += it->second;
            else {
                P.cols.push_back(it->first);
                P.values.push_back(it->second);
            }
        }
        P.row_ptr[static_cast<std::size_t>(i) + 1] = static_cast<std::int64_t>(P.cols.size());
    }
    double total = 0.0;
    for (double v : P.values) total += v;
    total = std::max(total, std::numeric_limits<double>::epsilon());
    for (double& v : P.values) v /= total;
    return P;
}

/// Calibrated, symmetrised, normalised affinities from a kNN graph (Euclidean distances).
inline TsneAffinities tsne_affinities(const KnnGraph& graph, double perplexity, int threads = 0) {
    return tsne_symmetrize(graph, tsne_conditional_probabilities(graph, perplexity, threads));
}

}  // namespace tagmap::project
