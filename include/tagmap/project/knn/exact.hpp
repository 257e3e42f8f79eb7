// Exact k-nearest neighbours by blocked brute force: float GEMM distance blocks, threaded over
// fixed query blocks, candidates re-scored exactly.
//
// Why this shape: ||q - r||^2 = ||q||^2 + ||r||^2 - 2 q.r turns the O(N^2 D) work into one
// GEMM-like product per (query block, reference block): a 2 x 4-tile AVX2+FMA kernel when the
// CPU has it (the library is not built with -mavx2, so Eigen would use SSE), else Eigen's GEMM.
// The identity loses precision for near neighbours (cancellation), so each query keeps a few
// spare candidates and the final list is re-scored from coordinate differences and sorted by
// (distance, index): ties and ordering are deterministic and the reported distances accurate
// to float rounding.
//
// Input of any scalar type is converted to float row-major (double input loses precision
// beyond float's 24 bits; this is documented in docs/knn.md). Euclidean rows are first centred
// in double (translation changes no distance but removes the offset that would cancel in
// float); cosine rows are normalised in double (a zero row stays zero and is at distance 1
// from everything, like scikit-learn).
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "tagmap/core/error.hpp"
#include "tagmap/core/parallel.hpp"
#include "tagmap/project/knn/graph.hpp"
#include "tagmap/project/knn/kernels.hpp"

namespace tagmap::project {

namespace knn_detail {

using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// The mean row of X in double; Euclidean inputs are centred on it before the float cast
/// because the GEMM identity cancels catastrophically far from the origin.
template <class Derived>
Eigen::RowVectorXd column_means(const Eigen::MatrixBase<Derived>& X) {
    if (X.rows() == 0) return Eigen::RowVectorXd::Zero(X.cols());
    if constexpr (Derived::IsRowMajor) {  // walk rows contiguously
        Eigen::RowVectorXd sum = Eigen::RowVectorXd::Zero(X.cols());
        for (Eigen::Index i = 0; i < X.rows(); ++i) sum += X.row(i).template cast<double>();
        return sum / double(X.rows());
    } else {
        return X.template cast<double>().colwise().mean();
    }
}

/// `X` as float row-major rows, checked finite and non-empty: minus `center` (Euclidean,
/// translation-invariant) or scaled to unit length (cosine), both computed in double.
template <class Derived>
RowMatrixF prepare_points(const Eigen::MatrixBase<Derived>& X, Metric metric,
                          const Eigen::RowVectorXd& center, const char* what, int threads = 0) {
    if (X.rows() == 0 || X.cols() == 0)
        throw InvalidArgument(std::string(what) + ": empty matrix (" + std::to_string(X.rows()) +
                              " x " + std::to_string(X.cols()) + ")");
    if (X.rows() > std::int64_t{INT32_MAX})
        throw InvalidArgument(std::string(what) + ": more than 2^31-1 points");
    RowMatrixF points(X.rows(), X.cols());
    const auto& input = X.derived();
    const auto first_bad = parallel_map_blocks<Eigen::Index>(
        static_cast<std::size_t>(X.rows()), 2048, threads,
        [&](std::size_t, std::size_t begin, std::size_t end) -> Eigen::Index {
            const auto first = static_cast<Eigen::Index>(begin);
            const auto rows = static_cast<Eigen::Index>(end - begin);
            Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> block =
                input.middleRows(first, rows).template cast<double>();
            // Before centring: a NaN anywhere makes the centre (a column mean) NaN, which
            // would then spread to every row and blame row 0.
            for (Eigen::Index r = 0; r < rows; ++r)
                if (!block.row(r).allFinite()) return first + r;
            if (metric == Metric::cosine) {
                for (Eigen::Index r = 0; r < rows; ++r) {
                    const double norm = block.row(r).norm();
                    if (norm > 0) block.row(r) /= norm;
                }
            } else {
                block.rowwise() -= center;
            }
            points.middleRows(first, rows) = block.cast<float>();
            // NaN, infinity and values beyond float range all end up non-finite here.
            for (Eigen::Index r = 0; r < rows; ++r)
                if (!points.row(first + r).allFinite()) return first + r;
            return -1;
        });
    for (const Eigen::Index bad : first_bad)
        if (bad >= 0)
            throw InvalidArgument(std::string(what) + ": row " + std::to_string(bad) +
                                  " has a NaN or infinite value (or one beyond float range)");
    return points;
}

inline void check_k(int k, Eigen::Index available, const char* what) {
    if (k <= 0)
        throw InvalidArgument(std::string(what) + ": k must be >= 1, got " + std::to_string(k));
    if (k > available)
        throw InvalidArgument(std::string(what) + ": k = " + std::to_string(k) + " but only " +
                              std::to_string(available) + " candidate neighbours exist");
}

/// Metric distance between two prepared rows from their squared difference, which keeps
/// full relative precision for near pairs. Unit rows: 1 - cos = ||a - b||^2 / 2; a zero row
/// (left zero by prepare_points) is at cosine distance 1 from everything.
inline float exact_distance(const DotKernel& kernel, const float* a, const float* b, Metric metric,
                            bool a_is_zero = false, bool b_is_zero = false) {
    const float squared = kernel.squared_distance(a, b);
    if (metric == Metric::euclidean) return std::sqrt(squared);
    return std::min(0.5f * squared + 0.5f * float(a_is_zero) + 0.5f * float(b_is_zero), 2.f);
}

/// Candidate (score, index): ordered by score then index, the deterministic tie-break.
using Candidate = std::pair<float, int>;

/// Bounded max-heap keeping the `capacity` smallest candidates seen.
class TopK {
  public:
    explicit TopK(int capacity = 0) : capacity_(capacity) { heap_.reserve(capacity); }
    void reset(int capacity) {
        capacity_ = capacity;
        heap_.clear();
        heap_.reserve(capacity);
    }
    bool full() const { return static_cast<int>(heap_.size()) == capacity_; }
    const Candidate& worst() const { return heap_.front(); }
    void push(float score, int index) {
        const Candidate c{score, index};
        if (!full()) {
            heap_.push_back(c);
            std::push_heap(heap_.begin(), heap_.end());
        } else if (c < heap_.front()) {
            std::pop_heap(heap_.begin(), heap_.end());
            heap_.back() = c;
            std::push_heap(heap_.begin(), heap_.end());
        }
    }
    std::vector<Candidate>& items() { return heap_; }

  private:
    int capacity_;
    std::vector<Candidate> heap_;
};

// Block sizes are constants (never derived from the thread count) so that every query sees
// the same GEMM shapes, hence bit-identical scores, whatever the number of threads.
inline constexpr Eigen::Index kQueryBlock = 128;
inline constexpr Eigen::Index kReferenceBlock = 1024;
// Spare candidates re-scored exactly, to undo the cancellation error of the GEMM identity.
inline constexpr int kSpareCandidates = 8;

/// Brute-force k nearest rows of `reference` for every row of `queries` (both prepared).
/// With `exclude_self`, query q is reference row query_self[q] (or q itself when query_self is
/// empty) and is skipped.
inline KnnGraph brute_force(const RowMatrixF& reference, const RowMatrixF& queries, int k,
                            Metric metric, bool exclude_self, int threads,
                            std::span<const int> query_self = {}) {
    const Eigen::Index n_ref = reference.rows();
    const Eigen::Index n_query = queries.rows();
    const Eigen::Index dims = reference.cols();
    const int available = static_cast<int>(n_ref - (exclude_self ? 1 : 0));
    const int capacity = std::min(k + kSpareCandidates, available);

    const DotKernel kernel(static_cast<std::size_t>(dims));
    Eigen::VectorXf ref_norms(n_ref);
    for (Eigen::Index j = 0; j < n_ref; ++j) ref_norms[j] = reference.row(j).squaredNorm();

    KnnGraph graph;
    graph.indices.resize(n_query, k);
    graph.distances.resize(n_query, k);

    parallel_for_blocks(
        static_cast<std::size_t>(n_query), kQueryBlock, threads,
        [&](std::size_t, std::size_t q_begin, std::size_t q_end) {
            const auto q0 = static_cast<Eigen::Index>(q_begin);
            const auto q_rows = static_cast<Eigen::Index>(q_end - q_begin);
            const auto q_block = queries.middleRows(q0, q_rows);
            std::vector<TopK> best(q_rows, TopK(capacity));
            RowMatrixF dots(q_rows, std::min(kReferenceBlock, n_ref));
            for (Eigen::Index r0 = 0; r0 < n_ref; r0 += kReferenceBlock) {
                const Eigen::Index r_rows = std::min(kReferenceBlock, n_ref - r0);
                auto block = dots.leftCols(r_rows);
                if (kernel.vectorised())
                    kernel.gram(q_block.data(), static_cast<std::size_t>(q_rows),
                                static_cast<std::size_t>(dims), reference.row(r0).data(),
                                static_cast<std::size_t>(r_rows), static_cast<std::size_t>(dims),
                                block.data(), static_cast<std::size_t>(dots.cols()));
                else
                    block.noalias() = q_block * reference.middleRows(r0, r_rows).transpose();
                for (Eigen::Index qi = 0; qi < q_rows; ++qi) {
                    const Eigen::Index global_q = q0 + qi;
                    const Eigen::Index self = !exclude_self        ? -1
                                              : query_self.empty() ? global_q
                                                                   : query_self[global_q];
                    const float q_norm =
                        metric == Metric::cosine ? 0.f : queries.row(global_q).squaredNorm();
                    TopK& top = best[qi];
                    const float* row = block.row(qi).data();
                    for (Eigen::Index rj = 0; rj < r_rows; ++rj) {
                        const Eigen::Index j = r0 + rj;
                        if (j == self) continue;
                        // Monotone in the true distance; exactness comes from re-scoring.
                        const float score = metric == Metric::cosine
                                                ? -row[rj]
                                                : q_norm + ref_norms[j] - 2.f * row[rj];
                        if (!top.full() || Candidate{score, int(j)} < top.worst())
                            top.push(score, static_cast<int>(j));
                    }
                }
            }
            std::vector<std::pair<float, int>> exact;
            for (Eigen::Index qi = 0; qi < q_rows; ++qi) {
                const Eigen::Index global_q = q0 + qi;
                const bool q_zero = queries.row(global_q).squaredNorm() == 0.f;
                exact.clear();
                for (const auto& [score, j] : best[qi].items())
                    exact.emplace_back(exact_distance(kernel, queries.row(global_q).data(),
                                                      reference.row(j).data(), metric, q_zero,
                                                      ref_norms[j] == 0.f),
                                       j);
                std::sort(exact.begin(), exact.end());
                for (int c = 0; c < k; ++c) {
                    graph.indices(global_q, c) = exact[c].second;
                    graph.distances(global_q, c) = exact[c].first;
                }
            }
        });
    return graph;
}

}  // namespace knn_detail

/// Exact k nearest neighbours of every row of X among the other rows (threads: 0 = all cores).
/// Deterministic: identical output for any thread count.
template <class Derived>
KnnGraph exact_knn(const Eigen::MatrixBase<Derived>& X, int k, Metric metric = Metric::euclidean,
                   int threads = 0) {
    knn_detail::check_k(k, X.rows() - 1, "exact_knn");
    const Eigen::RowVectorXd center = metric == Metric::euclidean
                                          ? knn_detail::column_means(X)
                                          : Eigen::RowVectorXd::Zero(X.cols());
    const auto points = knn_detail::prepare_points(X, metric, center, "exact_knn");
    return knn_detail::brute_force(points, points, k, metric, /*exclude_self=*/true, threads);
}

/// Exact k nearest rows of `reference` for each row of `queries` (used by transform()).
/// Nothing is excluded: a query equal to a reference row finds it at distance 0.
template <class D1, class D2>
KnnGraph knn_query(const Eigen::MatrixBase<D1>& reference, const Eigen::MatrixBase<D2>& queries,
                   int k, Metric metric = Metric::euclidean, int threads = 0) {
    knn_detail::check_k(k, reference.rows(), "knn_query");
    if (queries.cols() != reference.cols())
        throw InvalidArgument("knn_query: queries have " + std::to_string(queries.cols()) +
                              " columns but the reference has " + std::to_string(reference.cols()));
    const Eigen::RowVectorXd center = metric == Metric::euclidean
                                          ? knn_detail::column_means(reference)
                                          : Eigen::RowVectorXd::Zero(reference.cols());
    const auto ref = knn_detail::prepare_points(reference, metric, center, "knn_query (reference)");
    if (queries.rows() == 0) {
        KnnGraph empty;
        empty.indices.resize(0, k);
        empty.distances.resize(0, k);
        return empty;
    }
    const auto query = knn_detail::prepare_points(queries, metric, center, "knn_query (queries)");
    return knn_detail::brute_force(ref, query, k, metric, /*exclude_self=*/false, threads);
}

/// Mean over rows of |approx_i ∩ exact_i| / k, with k = exact.k(); approx may list more or
/// fewer neighbours per row than exact (recall@k of a wider or narrower list).
inline double knn_recall(const KnnGraph& approx, const KnnGraph& exact) {
    if (approx.indices.rows() != exact.indices.rows())
        throw InvalidArgument("knn_recall: graphs have " + std::to_string(approx.indices.rows()) +
                              " and " + std::to_string(exact.indices.rows()) + " rows");
    if (exact.indices.rows() == 0 || exact.indices.cols() == 0) return 1.0;
    std::size_t hits = 0;
    std::vector<int> truth;
    for (Eigen::Index i = 0; i < exact.indices.rows(); ++i) {
        truth.assign(exact.indices.row(i).data(),
                     exact.indices.row(i).data() + exact.indices.cols());
        std::sort(truth.begin(), truth.end());
        for (Eigen::Index c = 0; c < approx.indices.cols(); ++c)
            hits += std::binary_search(truth.begin(), truth.end(), approx.indices(i, c));
    }
    return double(hits) / (double(exact.indices.rows()) * double(exact.indices.cols()));
}

}  // namespace tagmap::project
