// Principal-component scores, deterministic for a seed at any thread count; used by t-SNE
// for its PCA pre-reduction (pca_dims) and its initialisation.
//
// Up to kPcaCovarianceMaxDims columns: the exact D x D covariance, accumulated by symmetric
// rank updates (one GEMM-class product per fixed block of rows, threaded over fixed chunks,
// chunk sums added in chunk order), then SelfAdjointEigenSolver. Float input wider than 64
// columns is multiplied in float (each block centred in double first, then the block Gram
// added in double), everything else in double. Wider inputs use a randomised range finder (Halko,
// Martinsson & Tropp 2011) with power iterations, which needs only products with X. Each
// component's sign is fixed so that its largest-magnitude score is positive (ties: the first such
// row), as scikit-learn's svd_flip does.
#pragma once

#include <Eigen/Core>
#include <Eigen/Eigenvalues>
#include <Eigen/QR>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "tagmap/core/error.hpp"
#include "tagmap/core/parallel.hpp"
#include "tagmap/core/random.hpp"

namespace tagmap::project {

/// Widest input whose D x D covariance is formed and fully eigendecomposed.
inline constexpr Eigen::Index kPcaCovarianceMaxDims = 2048;
/// Float input wider than this is multiplied in float (see pca_scores).
inline constexpr Eigen::Index kPcaFloatAboveDims = 64;

namespace tsne_detail {

// Fixed row blocking (never derived from the thread count): chunks are the parallel unit,
// blocks the unit of one rank update inside a chunk.
inline constexpr std::size_t kChunkRows = 8192;
inline constexpr Eigen::Index kBlockRows = 512;

template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Column means in double, summed per chunk and combined in chunk order.
template <class Derived>
Eigen::RowVectorXd column_means(const Eigen::MatrixBase<Derived>& X, int threads) {
    const Eigen::Index n = X.rows(), d = X.cols();
    const auto partial = parallel_map_blocks<Eigen::RowVectorXd>(
        static_cast<std::size_t>(n), kChunkRows, threads,
        [&](std::size_t, std::size_t begin, std::size_t end) {
            const auto rows = static_cast<Eigen::Index>(end - begin);
            return Eigen::RowVectorXd(X.middleRows(static_cast<Eigen::Index>(begin), rows)
                                          .template cast<double>()
                                          .colwise()
                                          .sum());
        });
    Eigen::RowVectorXd sum = Eigen::RowVectorXd::Zero(d);
    for (const auto& p : partial) sum += p;
    return sum / static_cast<double>(n);
}

/// Rows [first, first + rows) of X minus `mean`, centred in double, in the product type T.
template <class T, class Derived>
RowMatrix<T> centred_rows(const Eigen::MatrixBase<Derived>& X, Eigen::Index first,
                          Eigen::Index rows, const Eigen::RowVectorXd& mean) {
    Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> block =
        X.middleRows(first, rows).template cast<double>();
    block.rowwise() -= mean;
    return block.template cast<T>();
}

/// Lower triangle of (X - 1 mean)^T (X - 1 mean), in double.
template <class T, class Derived>
Eigen::MatrixXd covariance(const Eigen::MatrixBase<Derived>& X, const Eigen::RowVectorXd& mean,
                           int threads) {
    const Eigen::Index n = X.rows(), d = X.cols();
    const auto partial = parallel_map_blocks<Eigen::MatrixXd>(
        static_cast<std::size_t>(n), kChunkRows, threads,
        [&](std::size_t, std::size_t begin, std::size_t end) {
            Eigen::MatrixXd sum = Eigen::MatrixXd::Zero(d, d);
            Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> gram(d, d);
            for (auto r = static_cast<Eigen::Index>(begin); r < static_cast<Eigen::Index>(end);
                 r += kBlockRows) {
                const Eigen::Index rows = std::min(kBlockRows, static_cast<Eigen::Index>(end) - r);
                const RowMatrix<T> block = centred_rows<T>(X, r, rows, mean);
                gram.setZero();
                // Symmetric rank update: half the flops of a general product.
                gram.template selfadjointView<Eigen::Lower>().rankUpdate(block.transpose());
                sum.template triangularView<Eigen::Lower>() += gram.template cast<double>();
            }
            return sum;
        });
    Eigen::MatrixXd cov = Eigen::MatrixXd::Zero(d, d);
    for (const auto& p : partial) cov.template triangularView<Eigen::Lower>() += p;
    return cov;
}

/// (X - 1 mean) axes, N x axes.cols(), threaded over fixed chunks.
template <class T, class Derived>
Eigen::MatrixXd project(const Eigen::MatrixBase<Derived>& X, const Eigen::RowVectorXd& mean,
                        const Eigen::MatrixXd& axes, int threads) {
    const Eigen::Index n = X.rows();
    RowMatrix<double> scores(n, axes.cols());
    const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> axes_t = axes.template cast<T>();
    parallel_for_blocks(
        static_cast<std::size_t>(n), kChunkRows, threads,
        [&](std::size_t, std::size_t begin, std::size_t end) {
            for (auto r = static_cast<Eigen::Index>(begin); r < static_cast<Eigen::Index>(end);
                 r += kBlockRows) {
                const Eigen::Index rows = std::min(kBlockRows, static_cast<Eigen::Index>(end) - r);
                const RowMatrix<T> block = centred_rows<T>(X, r, rows, mean);
                scores.middleRows(r, rows) = (block * axes_t).template cast<double>();
            }
        });
    return scores;
}

}  // namespace tsne_detail

/// Scores (N x components, double) of the centred rows of X on its top principal axes.
/// `seed` is used only by the randomised method (D > kPcaCovarianceMaxDims).
template <class Derived>
Eigen::MatrixXd pca_scores(const Eigen::MatrixBase<Derived>& X, int components,
                           std::uint64_t seed = 42, int threads = 0) {
    using Scalar = typename Derived::Scalar;
    const Eigen::Index n = X.rows(), d = X.cols();
    // Products run in float for wide float input, where the O(N D^2) covariance dominates
    // (their rounding is far below what the float kNN graph resolves); in double otherwise,
    // so narrow float and double inputs give the same scores to the last bits.
    const bool in_float = std::is_same_v<Scalar, float> && d > kPcaFloatAboveDims;
    if (components < 1 || components > d || components > n)
        throw InvalidArgument("pca_scores: cannot take " + std::to_string(components) +
                              " components of a " + std::to_string(n) + " x " + std::to_string(d) +
                              " matrix");
    resolve_threads(threads);  // throws on negative thread counts
    const Eigen::RowVectorXd mean = tsne_detail::column_means(X, threads);
    Eigen::MatrixXd scores;
    if (d <= kPcaCovarianceMaxDims) {
        const Eigen::MatrixXd cov = in_float ? tsne_detail::covariance<float>(X, mean, threads)
                                             : tsne_detail::covariance<double>(X, mean, threads);
        // Reads the lower triangle only. Eigenvalues come in increasing order: the last
        // columns are the top axes.
        Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(cov);
        const Eigen::MatrixXd axes = eig.eigenvectors().rightCols(components).rowwise().reverse();
        scores = in_float ? tsne_detail::project<float>(X, mean, axes, threads)
                          : tsne_detail::project<double>(X, mean, axes, threads);
    } else {
        const Eigen::Index l = std::min<Eigen::Index>(components + 10, std::min(n, d));
        Rng rng(seed, 0x9ca);
        Eigen::MatrixXd omega(d, l);
        for (Eigen::Index j = 0; j < l; ++j)
            for (Eigen::Index i = 0; i < d; ++i) omega(i, j) = rng.normal();
        // (X - 1 mean) M = X M - 1 (mean M): centring without a centred copy.
        auto times_centred = [&](const Eigen::MatrixXd& M) {
            Eigen::MatrixXd out = (X.derived() * M.template cast<Scalar>()).template cast<double>();
            out.rowwise() -= mean * M;
            return out;
        };
        auto centred_t_times = [&](const Eigen::MatrixXd& Q) {  // (X - 1 mean)^T Q
            Eigen::MatrixXd out =
                (X.derived().transpose() * Q.template cast<Scalar>()).template cast<double>();
            out -= mean.transpose() * Q.colwise().sum();
            return out;
        };
        auto orthonormal = [](const Eigen::MatrixXd& A) {
            Eigen::HouseholderQR<Eigen::MatrixXd> qr(A);
            return Eigen::MatrixXd(qr.householderQ() *
                                   Eigen::MatrixXd::Identity(A.rows(), A.cols()));
        };
        Eigen::MatrixXd Q = orthonormal(times_centred(omega));
        for (int power = 0; power < 4; ++power)
            Q = orthonormal(times_centred(orthonormal(centred_t_times(Q))));
        const Eigen::MatrixXd B = centred_t_times(Q).transpose();  // l x d = Q^T Xc
        Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(B * B.transpose());
        const Eigen::MatrixXd U = eig.eigenvectors().rightCols(components).rowwise().reverse();
        // Scores = Xc V = Q B V = Q U S, with B^T U = V S.
        scores = Q * (B * (B.transpose() * U)).eval();
        for (int c = 0; c < components; ++c) {
            const double s2 = eig.eigenvalues()(l - 1 - c);
            if (s2 > 0) scores.col(c) /= std::sqrt(s2);
        }
    }
    for (int c = 0; c < components; ++c) {
        Eigen::Index at = 0;
        scores.col(c).cwiseAbs().maxCoeff(&at);
        if (scores(at, c) < 0) scores.col(c) = -scores.col(c);
    }
    return scores;
}

}  // namespace tagmap::project
