// Label (genre) similarity of labeled vectors: how close each row is to the centroid of its
// own group compared with the other groups, and how well the groups separate (silhouette,
// kNN precision). Exact definitions, edge cases and worked numbers: docs/label_similarity.md.
//
// API (namespace tagmap::project; rows are tracks; any float/double Eigen expression):
//   LabelSimilarity label_similarity(X, labels, groups, options = {})
//       X: N x D; labels: N ints in [-1, groups); -1 = unlabeled, excluded from everything
//       (unlabeled rows are never read). Computed in double:
//       - Y = labeled rows minus the mean of the labeled rows (centering);
//       - centroid of group g for row i = mean of Y over g's rows, without row i itself when g
//         is i's group (leave-one-out); none for the only row of a singleton group;
//       - similarity(i, g) = cos(Y_i, centroid), NaN if undefined (no centroid, zero vector or
//         zero centroid); nearest_group = argmax over defined entries (ties: lower group);
//       - "scored" rows: those whose own-group similarity is defined; the own-genre figures,
//         agreement_rate and the confusion matrix are over scored rows;
//       - silhouette_score: sklearn.metrics.silhouette_score(Y, labels, metric="cosine") over
//         all labeled rows (NaN unless 2 <= distinct labels <= n - 1);
//       - knn_genre_precision_at_k: mean over labeled rows of the share of its k = min(k, n-1)
//         nearest other labeled rows (cosine distance on Y, ties: lower row index) with the
//         same label.
//       Throws InvalidArgument for a label count that differs from N, a label outside
//       [-1, groups), groups < 1, k < 1, fewer than 2 labeled rows, no columns, or a labeled
//       row with a NaN, an infinity or a magnitude whose square overflows double.
//
// Cost: O(N D + n D G) time, n D doubles of memory, for the centroid figures (n labeled rows,
// G groups); the silhouette and the kNN precision add one O(n^2 D) pass of double GEMM blocks
// (skip either with the options). Threaded over fixed blocks (parallel.hpp) and reduced in
// block order: results are bit-identical for any thread count.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tagmap/core/error.hpp"
#include "tagmap/core/parallel.hpp"
#include "tagmap/project/knn/exact.hpp"

namespace tagmap::project {

struct LabelSimilarityOptions {
    int k = 10;                 ///< neighbors for knn_genre_precision_at_k (min(k, n - 1) used)
    int threads = 0;            ///< 0 = all cores; results do not depend on it
    bool silhouette = true;     ///< false: skip the O(n^2 D) silhouette (left NaN)
    bool knn_precision = true;  ///< false: skip the O(n^2 D) kNN precision (left NaN)
};

/// Rows are the input rows (N); columns are groups (G).
using SimilarityMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct LabelSimilarity {
    static constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

    // Per input row; unlabeled rows have NaN similarities and nearest group -1.
    SimilarityMatrix similarity;              ///< N x G cosine to each group centroid, or NaN
    Eigen::VectorXd similarity_to_own_group;  ///< N: similarity(i, label_i), or NaN
    Eigen::VectorXi nearest_group;            ///< N: argmax of the defined entries, or -1

    // Per group.
    Eigen::VectorXi group_counts;  ///< G: labeled rows per group
    Eigen::MatrixXi confusion;     ///< G x G over scored rows: (own group, nearest group)

    int labeled_count = 0;  ///< n: rows with a label
    int scored_count = 0;   ///< labeled rows with a defined own-group similarity

    // Figures (NaN when there is nothing to average, or when skipped).
    double mean_similarity_to_own_genre = kNaN;  ///< over scored rows
    double std_similarity_to_own_genre = kNaN;   ///< population std (ddof = 0)
    double min_similarity_to_own_genre = kNaN;
    double max_similarity_to_own_genre = kNaN;
    double agreement_rate = kNaN;    ///< share of scored rows whose nearest group is their own
    double silhouette_score = kNaN;  ///< cosine, as scikit-learn's
    double knn_genre_precision_at_k = kNaN;
    int knn_k = 0;  ///< the k used: min(options.k, n - 1) (0 when skipped)
};

namespace metrics_detail {

using RowMatrixD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Block sizes depend only on the problem size, never on the thread count (see parallel.hpp).
inline constexpr std::size_t kRowBlock = 2048;         // linear passes
inline constexpr Eigen::Index kQueryBlock = 64;        // pairwise pass: query rows per task
inline constexpr Eigen::Index kReferenceBlock = 1024;  // pairwise pass: GEMM width

/// Dot product with a fixed operation order that depends only on the length: two equal rows
/// get bit-identical products against any third row, so duplicates tie exactly in the kNN.
inline double ordered_dot(const double* a, const double* b, std::size_t n) {
    double lanes[4] = {0, 0, 0, 0};
    std::size_t d = 0;
    for (; d + 4 <= n; d += 4)
        for (std::size_t l = 0; l < 4; ++l) lanes[l] += a[d + l] * b[d + l];
    for (; d < n; ++d) lanes[d & 3] += a[d] * b[d];
    return (lanes[0] + lanes[2]) + (lanes[1] + lanes[3]);
}

/// Cosine distance of unit (or zero) rows from their dot product, clipped to [0, 2] like
/// sklearn.metrics.pairwise.cosine_distances.
inline double cosine_distance(double dot) {
    return std::clamp(1.0 - dot, 0.0, 2.0);
}

/// Labeled rows of X minus their mean, in double, checked; the first step of everything.
struct Centered {
    RowMatrixD Y;             ///< n x D
    std::vector<int> rows;    ///< input row of each labeled row
    std::vector<int> labels;  ///< label of each labeled row
    Eigen::VectorXd norms;    ///< |Y_i|
};

template <class Derived>
Centered center_labeled(const Eigen::MatrixBase<Derived>& X, std::span<const int> labels,
                        int groups, int threads) {
    const Eigen::Index N = X.rows(), D = X.cols();
    Centered c;
    for (Eigen::Index r = 0; r < N; ++r) {
        const int label = labels[static_cast<std::size_t>(r)];
        if (label < -1 || label >= groups)
            throw InvalidArgument("label_similarity: row " + std::to_string(r) + " has label " +
                                  std::to_string(label) + ", outside [-1, " +
                                  std::to_string(groups) + ") (-1 = unlabeled)");
        if (label >= 0) {
            c.rows.push_back(static_cast<int>(r));
            c.labels.push_back(label);
        }
    }
    const auto n = static_cast<Eigen::Index>(c.rows.size());
    if (n < 2)
        throw InvalidArgument("label_similarity: " + std::to_string(n) +
                              " labeled rows; at least 2 are needed");

    // Copy the labeled rows in double, checking them, with per-block sums for the mean.
    c.Y.resize(n, D);
    const auto& input = X.derived();
    struct Partial {
        Eigen::RowVectorXd sum;
        Eigen::Index bad = -1;
    };
    const auto partial = parallel_map_blocks<Partial>(
        static_cast<std::size_t>(n), kRowBlock, threads,
        [&](std::size_t, std::size_t begin, std::size_t end) {
            Partial p{Eigen::RowVectorXd::Zero(D)};
            for (std::size_t i = begin; i < end; ++i) {
                const auto row = static_cast<Eigen::Index>(i);
                c.Y.row(row) = input.row(c.rows[i]).template cast<double>();
                if (!c.Y.row(row).allFinite()) {
                    p.bad = c.rows[i];
                    return p;
                }
                p.sum += c.Y.row(row);
            }
            return p;
        });
    Eigen::RowVectorXd mean = Eigen::RowVectorXd::Zero(D);
    for (const Partial& p : partial) {
        if (p.bad >= 0)
            throw InvalidArgument("label_similarity: row " + std::to_string(p.bad) +
                                  " has a NaN or infinite value");
        mean += p.sum;
    }
    mean /= double(n);

    c.norms.resize(n);
    const auto overflow = parallel_map_blocks<Eigen::Index>(
        static_cast<std::size_t>(n), kRowBlock, threads,
        [&](std::size_t, std::size_t begin, std::size_t end) -> Eigen::Index {
            for (std::size_t i = begin; i < end; ++i) {
                const auto row = static_cast<Eigen::Index>(i);
                c.Y.row(row) -= mean;
                const double squared = c.Y.row(row).squaredNorm();
                if (!std::isfinite(squared)) return c.rows[i];
                c.norms[row] = std::sqrt(squared);
            }
            return -1;
        });
    for (const Eigen::Index bad : overflow)
        if (bad >= 0)
            throw InvalidArgument("label_similarity: row " + std::to_string(bad) +
                                  " is too large (its squared norm overflows double)");
    return c;
}

/// Per-row centroid similarities, nearest groups and the figures over scored rows.
inline void centroid_figures(const Centered& c, int groups, int threads, LabelSimilarity& out) {
    const auto n = static_cast<Eigen::Index>(c.rows.size());
    const Eigen::Index D = c.Y.cols();
    const int G = groups;
    constexpr double nan = LabelSimilarity::kNaN;

    out.group_counts = Eigen::VectorXi::Zero(G);
    for (const int label : c.labels) ++out.group_counts[label];

    // Group sums of the centered rows, in row order (O(n D), cheap next to the rest); a
    // centroid is a sum over a count, and the count does not change a cosine.
    RowMatrixD sums = RowMatrixD::Zero(G, D);
    for (Eigen::Index i = 0; i < n; ++i)
        sums.row(c.labels[static_cast<std::size_t>(i)]) += c.Y.row(i);
    Eigen::VectorXd sum_norms(G);
    for (int g = 0; g < G; ++g) sum_norms[g] = sums.row(g).norm();
    if (!sum_norms.allFinite())
        throw InvalidArgument("label_similarity: values too large (a group sum overflows double)");

    parallel_for_blocks(static_cast<std::size_t>(n), kRowBlock, threads,
                        [&](std::size_t, std::size_t begin, std::size_t end) {
                            const auto first = static_cast<Eigen::Index>(begin);
                            const auto rows = static_cast<Eigen::Index>(end - begin);
                            const RowMatrixD dots = c.Y.middleRows(first, rows) * sums.transpose();
                            Eigen::RowVectorXd own(D);
                            for (Eigen::Index r = 0; r < rows; ++r) {
                                const Eigen::Index i = first + r;
                                const int input_row = c.rows[static_cast<std::size_t>(i)];
                                const int label = c.labels[static_cast<std::size_t>(i)];
                                auto similarity = out.similarity.row(input_row);
                                const double norm = c.norms[i];
                                for (int g = 0; g < G; ++g) {
                                    if (g == label) {
                                        if (out.group_counts[g] < 2)
                                            continue;  // singleton: no own centroid
                                        own = sums.row(g) - c.Y.row(i);  // leave-one-out
                                        const double own_norm = own.norm();
                                        if (norm > 0 && own_norm > 0)
                                            similarity[g] = c.Y.row(i).dot(own) / (norm * own_norm);
                                    } else if (norm > 0 && sum_norms[g] > 0) {
                                        similarity[g] = dots(r, g) / (norm * sum_norms[g]);
                                    }
                                }
                                int best = -1;
                                for (int g = 0; g < G; ++g)
                                    if (!std::isnan(similarity[g]) &&
                                        (best < 0 || similarity[g] > similarity[best]))
                                        best = g;
                                out.nearest_group[input_row] = best;
                                out.similarity_to_own_group[input_row] = similarity[label];
                            }
                        });

    // Figures over scored rows, in row order.
    out.confusion = Eigen::MatrixXi::Zero(G, G);
    double total = 0, lowest = nan, highest = nan;
    int agree = 0, scored = 0;
    for (Eigen::Index i = 0; i < n; ++i) {
        const int row = c.rows[static_cast<std::size_t>(i)];
        const double own = out.similarity_to_own_group[row];
        if (std::isnan(own)) continue;
        const int label = c.labels[static_cast<std::size_t>(i)];
        const int nearest = out.nearest_group[row];
        ++scored;
        total += own;
        lowest = scored == 1 ? own : std::min(lowest, own);
        highest = scored == 1 ? own : std::max(highest, own);
        agree += nearest == label;
        ++out.confusion(label, nearest);
    }
    out.scored_count = scored;
    if (scored == 0) return;
    const double mean = total / scored;
    double squares = 0;  // two-pass variance
    for (const int row : c.rows) {
        const double own = out.similarity_to_own_group[row];
        if (!std::isnan(own)) squares += (own - mean) * (own - mean);
    }
    out.mean_similarity_to_own_genre = mean;
    out.std_similarity_to_own_genre = std::sqrt(squares / scored);
    out.min_similarity_to_own_genre = lowest;
    out.max_similarity_to_own_genre = highest;
    out.agreement_rate = double(agree) / scored;
}

/// One pass over all pairs of labeled rows: the silhouette (cosine) and the kNN precision.
/// Y is normalized in place.
inline void pairwise_figures(Centered& c, int groups, const Eigen::VectorXi& group_counts,
                             const LabelSimilarityOptions& options, LabelSimilarity& out) {
    const auto n = static_cast<Eigen::Index>(c.rows.size());
    const Eigen::Index D = c.Y.cols();
    const int G = groups;
    int distinct = 0;
    for (int g = 0; g < G; ++g) distinct += group_counts[g] > 0;
    const bool silhouette = options.silhouette && distinct >= 2 && distinct <= n - 1;
    const bool knn = options.knn_precision;
    if (!silhouette && !knn) return;

    for (Eigen::Index i = 0; i < n; ++i)  // unit rows; a zero row stays zero (distance 1)
        if (c.norms[i] > 0) c.Y.row(i) /= c.norms[i];
    const RowMatrixD& U = c.Y;

    const int k = static_cast<int>(std::min<Eigen::Index>(options.k, n - 1));
    const int capacity = static_cast<int>(
        std::min<Eigen::Index>(Eigen::Index{k} + knn_detail::kSpareCandidates, n - 1));
    // Bound on |candidate score - ordered distance|: the float rounding of the candidate score
    // (distances <= 2) plus the rounding of two double dot products of (nearly) unit rows.
    const double tolerance = 4.0 * FLT_EPSILON + (4.0 * double(D) + 8.0) * DBL_EPSILON;

    std::vector<double> row_silhouette(static_cast<std::size_t>(n), 0.0);
    std::vector<int> same_label(static_cast<std::size_t>(n), 0);

    parallel_for_blocks(
        static_cast<std::size_t>(n), static_cast<std::size_t>(kQueryBlock), options.threads,
        [&](std::size_t, std::size_t begin, std::size_t end) {
            const auto q0 = static_cast<Eigen::Index>(begin);
            const auto q_rows = static_cast<Eigen::Index>(end - begin);
            RowMatrixD distance_sums = RowMatrixD::Zero(q_rows, G);
            std::vector<knn_detail::TopK> best(static_cast<std::size_t>(q_rows),
                                               knn_detail::TopK(capacity));
            RowMatrixD dots(q_rows, std::min(kReferenceBlock, n));
            for (Eigen::Index r0 = 0; r0 < n; r0 += kReferenceBlock) {
                const Eigen::Index r_rows = std::min(kReferenceBlock, n - r0);
                auto block = dots.leftCols(r_rows);
                block.noalias() = U.middleRows(q0, q_rows) * U.middleRows(r0, r_rows).transpose();
                for (Eigen::Index qi = 0; qi < q_rows; ++qi) {
                    const Eigen::Index i = q0 + qi;
                    auto& top = best[static_cast<std::size_t>(qi)];
                    for (Eigen::Index rj = 0; rj < r_rows; ++rj) {
                        const Eigen::Index j = r0 + rj;
                        if (j == i) continue;
                        const double d = cosine_distance(block(qi, rj));
                        if (silhouette)
                            distance_sums(qi, c.labels[static_cast<std::size_t>(j)]) += d;
                        if (knn) top.push(static_cast<float>(d), static_cast<int>(j));
                    }
                }
            }
            std::vector<std::pair<double, int>> exact;
            std::vector<int> candidates;
            for (Eigen::Index qi = 0; qi < q_rows; ++qi) {
                const Eigen::Index i = q0 + qi;
                const int label = c.labels[static_cast<std::size_t>(i)];
                if (silhouette && group_counts[label] > 1) {  // singletons score 0
                    const double a = distance_sums(qi, label) / (group_counts[label] - 1);
                    double b = std::numeric_limits<double>::infinity();
                    for (int g = 0; g < G; ++g)
                        if (g != label && group_counts[g] > 0)
                            b = std::min(b, distance_sums(qi, g) / group_counts[g]);
                    const double scale = std::max(a, b);
                    row_silhouette[static_cast<std::size_t>(i)] = scale > 0 ? (b - a) / scale : 0;
                }
                if (!knn) continue;
                // Re-score the kept candidates with ordered_dot and sort by (distance, index).
                // If a candidate that was not kept could still tie with or beat the k-th, score
                // every row the same way instead (duplicates, zero rows).
                auto& top = best[static_cast<std::size_t>(qi)];
                candidates.clear();
                for (const auto& [score, j] : top.items()) candidates.push_back(j);
                const double worst_kept = top.worst().first;  // the heap is full when used
                for (int pass = 0;; ++pass) {
                    exact.clear();
                    for (const int j : candidates)
                        exact.emplace_back(
                            cosine_distance(ordered_dot(U.row(i).data(), U.row(j).data(),
                                                        static_cast<std::size_t>(D))),
                            j);
                    std::partial_sort(exact.begin(), exact.begin() + k, exact.end());
                    if (pass == 1 || capacity == n - 1 ||
                        worst_kept - tolerance > exact[k - 1].first)
                        break;
                    candidates.clear();
                    for (int j = 0; j < n; ++j)
                        if (j != i) candidates.push_back(j);
                }
                int same = 0;
                for (int m = 0; m < k; ++m)
                    same += c.labels[static_cast<std::size_t>(exact[m].second)] == label;
                same_label[static_cast<std::size_t>(i)] = same;
            }
        });

    if (silhouette) {
        double total = 0;
        for (const double s : row_silhouette) total += s;
        out.silhouette_score = total / double(n);
    }
    if (knn) {
        double total = 0;
        for (const int same : same_label) total += double(same) / k;
        out.knn_genre_precision_at_k = total / double(n);
        out.knn_k = k;
    }
}

}  // namespace metrics_detail

/// Own-group similarity, agreement, silhouette and kNN precision of labeled rows (see the
/// header comment and docs/label_similarity.md).
template <class Derived>
LabelSimilarity label_similarity(const Eigen::MatrixBase<Derived>& X, std::span<const int> labels,
                                 int groups, const LabelSimilarityOptions& options = {}) {
    using Scalar = typename Derived::Scalar;
    static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                  "label_similarity: rows must be float or double");
    if (static_cast<Eigen::Index>(labels.size()) != X.rows())
        throw InvalidArgument("label_similarity: " + std::to_string(X.rows()) + " rows but " +
                              std::to_string(labels.size()) + " labels");
    if (groups < 1)
        throw InvalidArgument("label_similarity: groups must be >= 1, got " +
                              std::to_string(groups));
    if (options.k < 1)
        throw InvalidArgument("label_similarity: k must be >= 1, got " + std::to_string(options.k));
    if (X.cols() == 0) throw InvalidArgument("label_similarity: the vectors have no columns");
    if (X.rows() > INT_MAX) throw InvalidArgument("label_similarity: more than 2^31-1 rows");
    const int threads = resolve_threads(options.threads);

    auto centered = metrics_detail::center_labeled(X, labels, groups, threads);
    LabelSimilarity out;
    out.labeled_count = static_cast<int>(centered.rows.size());
    out.similarity = SimilarityMatrix::Constant(X.rows(), groups, LabelSimilarity::kNaN);
    out.similarity_to_own_group = Eigen::VectorXd::Constant(X.rows(), LabelSimilarity::kNaN);
    out.nearest_group = Eigen::VectorXi::Constant(X.rows(), -1);
    metrics_detail::centroid_figures(centered, groups, threads, out);
    LabelSimilarityOptions resolved = options;
    resolved.threads = threads;
    metrics_detail::pairwise_figures(centered, groups, out.group_counts, resolved, out);
    return out;
}

}  // namespace tagmap::project
