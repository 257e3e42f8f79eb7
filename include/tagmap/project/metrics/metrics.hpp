// Quality metrics of a projection: how well a low-dimensional map keeps the neighbourhoods of
// the original points. All neighbours are exact (blocked float GEMM, see knn_exact.hpp) and
// Euclidean; work is split into fixed blocks and reduced in order, so results do not depend
// on the thread count.
//
// API (namespace tagmap::project; rows are points; any float/double Eigen expression):
//   double trustworthiness(high, low, k = 10, threads = 0)
//       Venna & Kaski, as scikit-learn's sklearn.manifold.trustworthiness:
//       1 - 2 / (n k (2n - 3k - 1)) * sum_i sum_{j in lowNN_k(i)} max(0, rank_high(i, j) - k),
//       rank 1 = nearest. Needs k < n / 2. O(n^2 D) time, O(n) memory per thread.
//   double knn_preservation(high, low, k = 15, threads = 0, max_points = 0, seed = 42)
//       mean over points of |highNN_k(i) ∩ lowNN_k(i)| / k; neighbours are searched among all
//       n points, but only max_points points (a seeded sample without replacement) are scored
//       when 0 < max_points < n.
//   double knn_accuracy(train, train_labels, test, test_labels, k = 10, threads = 0)
//       fraction of test points whose majority label among their k nearest train points is
//       right (ties: the smallest label wins, like scikit-learn's KNeighborsClassifier).
//   double knn_accuracy_loo(points, labels, k = 10, threads = 0)
//       the same, leave-one-out on one set (each point voted on by its k nearest others).
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "tagmap/core/error.hpp"
#include "tagmap/core/parallel.hpp"
#include "tagmap/core/random.hpp"
#include "tagmap/project/knn/exact.hpp"

namespace tagmap::project {

namespace metrics_detail {

/// Majority label among `neighbour_labels` (ties: smallest label).
inline int vote(std::vector<int>& neighbour_labels) {
    std::sort(neighbour_labels.begin(), neighbour_labels.end());
    int best = neighbour_labels.front(), best_count = 0;
    for (std::size_t a = 0; a < neighbour_labels.size();) {
        std::size_t b = a;
        while (b < neighbour_labels.size() && neighbour_labels[b] == neighbour_labels[a]) ++b;
        if (static_cast<int>(b - a) > best_count) {
            best_count = static_cast<int>(b - a);
            best = neighbour_labels[a];
        }
        a = b;
    }
    return best;
}

inline double vote_accuracy(const KnnGraph& graph, std::span<const int> reference_labels,
                            std::span<const int> query_labels) {
    std::size_t correct = 0;
    std::vector<int> votes;
    for (Eigen::Index i = 0; i < graph.indices.rows(); ++i) {
        votes.clear();
        for (Eigen::Index c = 0; c < graph.indices.cols(); ++c)
            votes.push_back(reference_labels[graph.indices(i, c)]);
        correct += vote(votes) == query_labels[i];
    }
    return double(correct) / double(graph.indices.rows());
}

template <class DX, class DY>
void check_same_points(const Eigen::MatrixBase<DX>& high, const Eigen::MatrixBase<DY>& low,
                       const char* what) {
    if (high.rows() != low.rows())
        throw InvalidArgument(std::string(what) + ": the high-dimensional data has " +
                              std::to_string(high.rows()) + " rows but the embedding has " +
                              std::to_string(low.rows()));
}

}  // namespace metrics_detail

/// Trustworthiness@k of the embedding `low` of `high` (see the header comment).
template <class DX, class DY>
double trustworthiness(const Eigen::MatrixBase<DX>& high, const Eigen::MatrixBase<DY>& low,
                       int k = 10, int threads = 0) {
    metrics_detail::check_same_points(high, low, "trustworthiness");
    const Eigen::Index n = high.rows();
    if (k < 1 || 2 * Eigen::Index{k} >= n)
        throw InvalidArgument("trustworthiness: k = " + std::to_string(k) +
                              " must be >= 1 and < n / 2 (n = " + std::to_string(n) + ")");
    const KnnGraph low_nn = exact_knn(low, k, Metric::euclidean, threads);
    const auto points = knn_detail::prepare_points(
        high, Metric::euclidean, knn_detail::column_means(high), "trustworthiness (high)");
    Eigen::VectorXf norms(n);
    for (Eigen::Index j = 0; j < n; ++j) norms[j] = points.row(j).squaredNorm();
    const auto dims = static_cast<std::size_t>(points.cols());
    const knn_detail::DotKernel kernel(dims);

    // One full row of high-dimensional scores per query gives every rank exactly once.
    constexpr std::size_t kBlock = 32;
    const auto partial = parallel_map_blocks<std::int64_t>(
        static_cast<std::size_t>(n), kBlock, threads,
        [&](std::size_t, std::size_t begin, std::size_t end) {
            const auto q0 = static_cast<Eigen::Index>(begin);
            const auto rows = static_cast<Eigen::Index>(end - begin);
            knn_detail::RowMatrixF scores(rows, n);
            for (Eigen::Index r0 = 0; r0 < n; r0 += knn_detail::kReferenceBlock) {
                const Eigen::Index cols = std::min(knn_detail::kReferenceBlock, n - r0);
                if (kernel.vectorised())
                    kernel.gram(points.row(q0).data(), static_cast<std::size_t>(rows), dims,
                                points.row(r0).data(), static_cast<std::size_t>(cols), dims,
                                scores.data() + r0, static_cast<std::size_t>(n));
                else
                    scores.middleCols(r0, cols).noalias() =
                        points.middleRows(q0, rows) * points.middleRows(r0, cols).transpose();
            }
            std::int64_t penalty = 0;
            std::vector<knn_detail::Candidate> row, thresholds;
            std::vector<std::int64_t> below;
            for (Eigen::Index qi = 0; qi < rows; ++qi) {
                const Eigen::Index i = q0 + qi;
                row.clear();
                for (Eigen::Index j = 0; j < n; ++j)
                    if (j != i)
                        row.emplace_back(norms[j] - 2.f * scores(qi, j), static_cast<int>(j));
                // The k-th nearest in high space: low neighbours at or before it cost nothing.
                std::nth_element(row.begin(), row.begin() + (k - 1), row.end());
                const knn_detail::Candidate kth = row[k - 1];
                thresholds.clear();
                for (Eigen::Index c = 0; c < k; ++c) {
                    const int j = low_nn.indices(i, c);
                    const knn_detail::Candidate key{norms[j] - 2.f * scores(qi, j), j};
                    if (kth < key) thresholds.push_back(key);
                }
                if (thresholds.empty()) continue;
                std::sort(thresholds.begin(), thresholds.end());
                // rank(j) = 1 + #{l : key_l < key_j}; count every l once against the sorted keys.
                below.assign(thresholds.size() + 1, 0);
                for (const auto& key : row) {
                    const auto at = std::upper_bound(thresholds.begin(), thresholds.end(), key);
                    ++below[at - thresholds.begin()];
                }
                std::int64_t closer = 0;
                for (std::size_t t = 0; t < thresholds.size(); ++t) {
                    closer += below[t];  // keys strictly before threshold t
                    penalty += (closer + 1) - k;
                }
            }
            return penalty;
        });
    const double total = std::accumulate(partial.begin(), partial.end(), 0.0);
    const double nd = double(n), kd = double(k);
    return 1.0 - total * (2.0 / (nd * kd * (2.0 * nd - 3.0 * kd - 1.0)));
}

/// Fraction of each point's k nearest neighbours in `high` that stay among its k nearest in
/// `low`, averaged over all points or over a seeded sample of max_points of them.
template <class DX, class DY>
double knn_preservation(const Eigen::MatrixBase<DX>& high, const Eigen::MatrixBase<DY>& low,
                        int k = 15, int threads = 0, int max_points = 0, std::uint64_t seed = 42) {
    metrics_detail::check_same_points(high, low, "knn_preservation");
    const Eigen::Index n = high.rows();
    knn_detail::check_k(k, n - 1, "knn_preservation");
    if (max_points < 0)
        throw InvalidArgument("knn_preservation: max_points must be >= 0, got " +
                              std::to_string(max_points));
    std::vector<int> sample(static_cast<std::size_t>(n));
    std::iota(sample.begin(), sample.end(), 0);
    if (max_points > 0 && max_points < n) {
        Rng rng(seed);
        for (int s = 0; s < max_points; ++s)  // partial Fisher-Yates: a uniform subset
            std::swap(sample[s], sample[s + rng.below(static_cast<std::uint32_t>(n - s))]);
        sample.resize(static_cast<std::size_t>(max_points));
        std::sort(sample.begin(), sample.end());
    }
    auto neighbours = [&](const auto& X, const char* what) {
        const auto points =
            knn_detail::prepare_points(X, Metric::euclidean, knn_detail::column_means(X), what);
        knn_detail::RowMatrixF queries(static_cast<Eigen::Index>(sample.size()), points.cols());
        for (std::size_t s = 0; s < sample.size(); ++s)
            queries.row(static_cast<Eigen::Index>(s)) = points.row(sample[s]);
        return knn_detail::brute_force(points, queries, k, Metric::euclidean, true, threads,
                                       sample);
    };
    const KnnGraph high_nn = neighbours(high, "knn_preservation (high)");
    const KnnGraph low_nn = neighbours(low, "knn_preservation (low)");
    return knn_recall(low_nn, high_nn);
}

/// k-nearest-neighbour classifier accuracy: train on (train, train_labels), score on test.
template <class DTrain, class DTest>
double knn_accuracy(const Eigen::MatrixBase<DTrain>& train, std::span<const int> train_labels,
                    const Eigen::MatrixBase<DTest>& test, std::span<const int> test_labels,
                    int k = 10, int threads = 0) {
    if (static_cast<Eigen::Index>(train_labels.size()) != train.rows() ||
        static_cast<Eigen::Index>(test_labels.size()) != test.rows())
        throw InvalidArgument("knn_accuracy: " + std::to_string(train.rows()) +
                              " train rows with " + std::to_string(train_labels.size()) +
                              " labels, " + std::to_string(test.rows()) + " test rows with " +
                              std::to_string(test_labels.size()) + " labels");
    if (test.rows() == 0) throw InvalidArgument("knn_accuracy: no test points");
    const KnnGraph graph = knn_query(train, test, k, Metric::euclidean, threads);
    return metrics_detail::vote_accuracy(graph, train_labels, test_labels);
}

/// Leave-one-out k-nearest-neighbour classifier accuracy on one labelled set.
template <class D>
double knn_accuracy_loo(const Eigen::MatrixBase<D>& points, std::span<const int> labels, int k = 10,
                        int threads = 0) {
    if (static_cast<Eigen::Index>(labels.size()) != points.rows())
        throw InvalidArgument("knn_accuracy_loo: " + std::to_string(points.rows()) + " rows but " +
                              std::to_string(labels.size()) + " labels");
    const KnnGraph graph = exact_knn(points, k, Metric::euclidean, threads);
    return metrics_detail::vote_accuracy(graph, labels, labels);
}

}  // namespace tagmap::project
