// t-SNE (van der Maaten & Hinton 2008) over Eigen matrices, in 2D and 3D, with exact,
// Barnes-Hut and FFT-interpolated gradients; deterministic for a seed at any thread count.
//
//   auto Y = tagmap::project::tsne(X);                   // N x 2, X's scalar type
//   TsneOptions o; o.dims = 3; o.perplexity = 50;
//   auto fit = tagmap::project::tsne_fit(X, o);          // embedding, final KL, method used
//
// Pipeline: PCA to pca_dims dimensions (as Rtsne/bhtsne) -> kNN graph (k = min(N-1,
// 3 perplexity + 1), knn.hpp; candidates from the PCA scores re-ranked by input distance)
// -> perplexity-calibrated, symmetrised sparse P
// (tsne_affinities.hpp) -> PCA initialisation scaled to std 1e-4 -> gradient descent with
// momentum and gains, early exaggeration (openTSNE's schedule).
// Semantics of every option: docs/tsne.md.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "tagmap/core/error.hpp"
#include "tagmap/core/parallel.hpp"
#include "tagmap/core/random.hpp"
#include "tagmap/project/knn/knn.hpp"
#include "tagmap/project/knn/rp_tree.hpp"
#include "tagmap/project/tsne/affinities.hpp"
#include "tagmap/project/tsne/barnes_hut.hpp"
#include "tagmap/project/tsne/exact.hpp"
#include "tagmap/project/tsne/fft.hpp"
#include "tagmap/project/tsne/pca.hpp"

namespace tagmap::project {

struct TsneOptions {
    int dims = 2;            ///< 2 or 3
    double perplexity = 30;  ///< effective neighbours; uses k = min(N-1, 3 perplexity + 1)
    /// Input-space metric and neighbour search; NN-descent stops at delta 0.01 unless set.
    KnnSearch knn;
    /// automatic: exact below 500 points; else Barnes-Hut below 10,000 points in 2D and below
    /// 5,000 in 3D, FFT interpolation above (where it is the faster; see docs/tsne.md).
    enum class Gradient { automatic, exact, barnes_hut, fft } gradient = Gradient::automatic;
    double theta = 0.5;                                ///< Barnes-Hut opening angle (0 = exact sum)
    enum class Init { pca, random } init = Init::pca;  ///< both scaled to std 1e-4
    int n_iter = 750;             ///< total iterations, early exaggeration included
    int exaggeration_iter = 250;  ///< first iterations with P x exaggeration, momentum 0.5
    double exaggeration = 12;
    /// Step size; unset = max(200, N / exaggeration of the phase) (Belkina et al.; openTSNE).
    std::optional<double> learning_rate;
    std::uint64_t seed = 42;  ///< random init, PCA and approximate kNN
    int threads = 0;          ///< 0 = all hardware threads; results do not depend on it
    /// Euclidean metric: reduce the input to its top `pca_dims` principal components before
    /// the kNN graph and the affinities (as Rtsne and bhtsne do; scikit-learn's docs advise
    /// it). It cuts the neighbour search's cost by D / pca_dims and discards mostly noise.
    /// 0 = off; no effect when D <= pca_dims or N <= pca_dims, nor with the cosine metric.
    int pca_dims = 50;
    /// With pca_dims: search ceil(rerank_factor x k) neighbour candidates among the PCA scores,
    /// then keep the k nearest by distance in the input space, so that P follows the input's
    /// own neighbourhoods (measurements: docs/tsne.md). 0 = PCA-space neighbours and distances
    /// as they are (Rtsne's behaviour); else in [1, 100].
    double rerank_factor = 1.33;
    /// Called every 50 iterations and after the last one with the iteration count and the
    /// KL divergence of the unexaggerated P (exact for the exact gradient, else estimated
    /// from the approximate normalisation Z, as openTSNE does), from the thread calling run().
    std::function<void(int iter, double kl)> progress;
};

/// Options of Tsne::transform(), openTSNE's defaults for placing new points: each new point
/// is optimised alone against the fixed map (its own affinities to the training points and
/// repulsion from them), from the median position of its k_init nearest training points.
struct TsneTransformOptions {
    double perplexity = 5;      ///< of the new points' affinities (k = 3 perplexity)
    int k_init = 25;            ///< neighbours whose median position starts a point
    int n_iter = 250;           ///< iterations (no early exaggeration phase)
    double exaggeration = 1.5;  ///< on the new points' affinities
    double learning_rate = 0.1;
    double momentum = 0.8;
    double max_grad_norm = 0.25;  ///< per point, the gradient is clipped to this length
};

inline const char* gradient_name(TsneOptions::Gradient g) {
    switch (g) {
        case TsneOptions::Gradient::exact:
            return "exact";
        case TsneOptions::Gradient::barnes_hut:
            return "barnes_hut";
        case TsneOptions::Gradient::fft:
            return "fft";
        default:
            return "automatic";
    }
}

/// The method `automatic` picks for n points in `dims` dimensions.
inline TsneOptions::Gradient tsne_automatic_gradient(std::size_t n, int dims) {
    if (n < 500) return TsneOptions::Gradient::exact;
    if (n < (dims == 2 ? 10000u : 5000u)) return TsneOptions::Gradient::barnes_hut;
    return TsneOptions::Gradient::fft;
}

template <class Scalar>
struct TsneResult {
    Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> embedding;  ///< N x dims
    double kl = 0;                     ///< KL at the last iteration (see progress)
    TsneOptions::Gradient gradient{};  ///< the method actually used
};

/// Gradient of KL(P || Q) at Y (rows are points, 2 or 3 columns) by a chosen method, for
/// tests and diagnostics. `kl` uses that method's Z (exact for Gradient::exact).
struct TsneGradient {
    Eigen::MatrixXd gradient;  ///< N x dims, dKL/dY (including the factor 4)
    double kl = 0;
    double z = 0;  ///< sum_{i != j} 1 / (1 + |y_i - y_j|^2)
};

namespace tsne_detail {

/// NN-descent's stopping threshold for t-SNE's graph (UMAP keeps the default 0.001).
inline constexpr double kTsneNnDescentDelta = 0.01;

using RowMatrixD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// One of the three repulsion methods for D dimensions, behind one call.
template <int D>
class Repulsion {
  public:
    Repulsion(TsneOptions::Gradient method, double theta) {
        if (method == TsneOptions::Gradient::barnes_hut)
            bh_ = std::make_unique<BarnesHutRepulsion<D>>(theta);
        if (method == TsneOptions::Gradient::fft) fft_ = std::make_unique<FftRepulsion<D>>();
    }
    double operator()(const double* y, std::size_t n, double* rep, int threads) {
        if (bh_) return (*bh_)(y, n, rep, threads);
        if (fft_) return (*fft_)(y, n, rep, threads);
        return exact_repulsion<D>(y, n, rep, threads);
    }

  private:
    std::unique_ptr<BarnesHutRepulsion<D>> bh_;
    std::unique_ptr<FftRepulsion<D>> fft_;
};

template <int D>
TsneGradient gradient(const TsneAffinities& P, const RowMatrixD& Y, TsneOptions::Gradient method,
                      double theta, int threads) {
    const auto n = static_cast<std::size_t>(P.n);
    std::vector<double> attr(n * D), rep(n * D);
    Repulsion<D> repulsion(method, theta);
    const double z = repulsion(Y.data(), n, rep.data(), threads);
    const double p_log_w = attraction<D>(P, Y.data(), attr.data(), 1.0, threads);
    TsneGradient out;
    out.gradient.resize(static_cast<Eigen::Index>(n), D);
    for (std::size_t i = 0; i < n; ++i)
        for (int c = 0; c < D; ++c)
            out.gradient(static_cast<Eigen::Index>(i), c) =
                4.0 * (attr[i * D + c] - rep[i * D + c] / z);
    out.z = z;
    out.kl = kl_divergence(p_log_p(P), p_log_w, z);
    return out;
}

/// Gradient descent with momentum and per-coordinate gains (Jacobs 1988), as in bhtsne,
/// FIt-SNE and openTSNE, on row-major N x D positions, kept between run_until() calls so
/// that the optimisation can go in steps: every iteration depends only on the state the one
/// before left, so any split of the iterations gives the same bits.
template <int D>
class Optimizer {
  public:
    Optimizer(TsneAffinities P, RowMatrixD Y, const TsneOptions& o, TsneOptions::Gradient method)
        : n_(static_cast<std::size_t>(P.n)),
          row_ptr_(std::move(P.row_ptr)),
          cols_(std::move(P.cols)),
          values_(P.values.begin(), P.values.end()),
          narrow_cols_(n_ <= 65536 ? cols_.size() : 0),
          plogp_(p_log_p(P)),
          o_(o),
          repulsion_(method, o.theta),
          y_(std::move(Y)),
          attr_(n_ * D),
          rep_(n_ * D),
          update_(n_ * D, 0.0),
          gains_(n_ * D, 1.0) {
        if (!narrow_cols_.empty()) {
            std::copy(cols_.begin(), cols_.end(), narrow_cols_.begin());
            cols_ = {};
        }
    }

    int iteration() const { return iter_; }
    double kl() const { return kl_; }  ///< at kl_iteration(), NaN before
    int kl_iteration() const { return kl_iter_; }
    const RowMatrixD& positions() const { return y_; }
    RowMatrixD release_positions() && { return std::move(y_); }

    /// Runs the iterations [iteration(), min(end, n_iter)); the KL is evaluated at the last.
    void run_until(int end) {
        end = std::min(end, o_.n_iter);
        const std::size_t size = n_ * D;
        double* y = y_.data();
        for (; iter_ < end; ++iter_) {
            const int iter = iter_;
            const bool early = iter < o_.exaggeration_iter;
            if (iter == o_.exaggeration_iter && iter > 0) {
                // A fresh optimiser for the second phase, like openTSNE's two optimize() calls.
                std::fill(update_.begin(), update_.end(), 0.0);
                std::fill(gains_.begin(), gains_.end(), 1.0);
            }
            const double exaggeration = early ? o_.exaggeration : 1.0;
            const double momentum = early ? 0.5 : 0.8;
            // Automatic: Belkina et al.'s N / exaggeration per phase (N / 12 while
            // exaggerated), as openTSNE does; the main phase then converges in its 500.
            const double learning_rate =
                o_.learning_rate.value_or(std::max(200.0, static_cast<double>(n_) / exaggeration));
            // The KL's log terms cost ~10x the forces: only when someone will see the value.
            const bool report = iter + 1 == end || (o_.progress && (iter + 1) % 50 == 0);
            const double z = repulsion_(y, n_, rep_.data(), o_.threads);
            const double p_log_w =
                narrow_cols_.empty()
                    ? attraction_csr<D>(n_, row_ptr_.data(), cols_.data(), values_.data(), y,
                                        attr_.data(), exaggeration, o_.threads, report)
                    : attraction_csr<D>(n_, row_ptr_.data(), narrow_cols_.data(), values_.data(), y,
                                        attr_.data(), exaggeration, o_.threads, report);
            if (!std::isfinite(z) || z <= 0)
                throw Error("t-SNE diverged at iteration " + std::to_string(iter) +
                            " (normalisation " + std::to_string(z) +
                            "); try a smaller learning_rate");
            const double inv_z = 1.0 / z;
            parallel_for_blocks(
                size, kBlock * D, o_.threads,
                [&](std::size_t, std::size_t begin, std::size_t stop) {
                    for (std::size_t k = begin; k < stop; ++k) {
                        const double g = attr_[k] - rep_[k] * inv_z;
                        gains_[k] = (g > 0) != (update_[k] > 0) ? gains_[k] + 0.2
                                                                : std::max(gains_[k] * 0.8, 0.01);
                        update_[k] = momentum * update_[k] - learning_rate * gains_[k] * g;
                        y[k] += update_[k];
                    }
                });
            // Keep the map centred (the gradient is translation invariant; this bounds the grid).
            double mean[D] = {};
            for (std::size_t i = 0; i < n_; ++i)
                for (int c = 0; c < D; ++c) mean[c] += y[i * D + c];
            for (int c = 0; c < D; ++c) mean[c] /= static_cast<double>(n_);
            for (std::size_t i = 0; i < n_; ++i)
                for (int c = 0; c < D; ++c) y[i * D + c] -= mean[c];
            if (report) {
                kl_ = kl_divergence(plogp_, p_log_w, z);
                kl_iter_ = iter + 1;
                if (o_.progress && ((iter + 1) % 50 == 0 || iter + 1 == o_.n_iter))
                    o_.progress(iter + 1, kl_);
            }
        }
    }

  private:
    std::size_t n_;
    std::vector<std::int64_t> row_ptr_;
    std::vector<int> cols_;  // empty when narrow_cols_ holds them
    std::vector<float> values_;
    std::vector<std::uint16_t> narrow_cols_;  // the columns as 16 bits, for N <= 65,536
    double plogp_;
    TsneOptions o_;
    Repulsion<D> repulsion_;
    RowMatrixD y_;
    std::vector<double> attr_, rep_, update_, gains_;
    int iter_ = 0, kl_iter_ = 0;
    double kl_ = NAN;
};

inline void check_options(const TsneOptions& o, Eigen::Index n) {
    auto fail = [](const std::string& what) { throw InvalidArgument("t-SNE: " + what); };
    if (o.dims != 2 && o.dims != 3) fail("dims must be 2 or 3, got " + std::to_string(o.dims));
    if (n < 2) fail("need at least 2 points, got " + std::to_string(n));
    if (!(o.perplexity > 0) || !std::isfinite(o.perplexity))
        fail("perplexity must be positive, got " + std::to_string(o.perplexity));
    if (o.perplexity >= static_cast<double>(n))
        fail("perplexity (" + std::to_string(o.perplexity) +
             ") must be less than the number of points (" + std::to_string(n) + ")");
    if (!(o.theta >= 0) || !std::isfinite(o.theta))
        fail("theta must be >= 0, got " + std::to_string(o.theta));
    if (o.n_iter < 0 || o.exaggeration_iter < 0) fail("n_iter and exaggeration_iter must be >= 0");
    if (!(o.exaggeration > 0) || !std::isfinite(o.exaggeration))
        fail("exaggeration must be positive, got " + std::to_string(o.exaggeration));
    if (o.learning_rate && (!(*o.learning_rate > 0) || !std::isfinite(*o.learning_rate)))
        fail("learning_rate must be > 0 (or unset = automatic), got " +
             std::to_string(*o.learning_rate));
    if (o.pca_dims < 0) fail("pca_dims must be >= 0 (0 = off), got " + std::to_string(o.pca_dims));
    if (!(o.rerank_factor == 0 || (o.rerank_factor >= 1 && o.rerank_factor <= 100)))
        fail("rerank_factor must be 0 (off) or in [1, 100], got " +
             std::to_string(o.rerank_factor));
    resolve_threads(o.threads);  // throws on negative thread counts
}

}  // namespace tsne_detail

/// Gradient of KL(P || Q) at Y (see TsneGradient).
template <class Derived>
TsneGradient tsne_gradient(const TsneAffinities& P, const Eigen::MatrixBase<Derived>& Y,
                           TsneOptions::Gradient method, double theta = 0.5, int threads = 0) {
    if (Y.rows() != P.n)
        throw InvalidArgument("tsne_gradient: Y has " + std::to_string(Y.rows()) +
                              " rows but P has " + std::to_string(P.n) + " points");
    const tsne_detail::RowMatrixD y = Y.template cast<double>();
    if (method == TsneOptions::Gradient::automatic)
        method = tsne_automatic_gradient(static_cast<std::size_t>(P.n), static_cast<int>(Y.cols()));
    if (Y.cols() == 2) return tsne_detail::gradient<2>(P, y, method, theta, threads);
    if (Y.cols() == 3) return tsne_detail::gradient<3>(P, y, method, theta, threads);
    throw InvalidArgument("tsne_gradient: Y must have 2 or 3 columns, got " +
                          std::to_string(Y.cols()));
}

namespace tsne_detail {

/// PCA scores scaled so that column 0 has std 1e-4; empty when degenerate (all points equal).
inline Eigen::MatrixXd scaled_initial_scores(Eigen::MatrixXd Y) {
    const double sd = std::sqrt((Y.col(0).array() - Y.col(0).mean()).square().sum() /
                                static_cast<double>(std::max<Eigen::Index>(Y.rows() - 1, 1)));
    if (sd > 0 && std::isfinite(sd)) return Y * (1e-4 / sd);
    return {};
}

inline Eigen::MatrixXd random_initial_embedding(Eigen::Index n, const TsneOptions& o) {
    Rng rng(o.seed, 0x75e);
    Eigen::MatrixXd Y(n, o.dims);
    for (Eigen::Index i = 0; i < n; ++i)
        for (int c = 0; c < o.dims; ++c) Y(i, c) = 1e-4 * rng.normal();
    return Y;
}

/// Whether tsne_fit reduces X by PCA first (see TsneOptions::pca_dims).
inline bool reduces_by_pca(const TsneOptions& o, Eigen::Index n, Eigen::Index d) {
    return o.pca_dims > 0 && o.knn.metric == Metric::euclidean && d > o.pca_dims && n > o.pca_dims;
}

/// The kNN graph for t-SNE's k (~3 perplexity, far above UMAP's 15): knn_graph's automatic
/// choice, with NN-descent stopped at a looser delta, since the perplexity weights make the
/// last, slow-to-find neighbours nearly irrelevant.
template <class Derived>
KnnGraph knn_for_tsne(const Eigen::MatrixBase<Derived>& X, int k, const TsneOptions& o) {
    KnnOptions knn = knn_options(o.knn, k, o.threads, o.seed);
    knn.nn_descent_delta = o.knn.nn_descent_delta.value_or(kTsneNnDescentDelta);
    return knn_graph(X, knn);
}

/// The k nearest of each row's `candidates` (found in a reduced space) by Euclidean distance
/// between the rows of X itself; ties broken by index, so the result is deterministic.
/// `visit` (a permutation, optional) is the order rows are processed in: a locality order
/// makes consecutive rows share candidates in cache (2.3x faster on FMNIST).
template <class Derived>
KnnGraph rerank_by_input_distance(const Eigen::MatrixBase<Derived>& X, const KnnGraph& candidates,
                                  int k, int threads, const std::vector<int>& visit = {}) {
    using knn_detail::RowMatrixF;
    // Float rows are used in place, other float layouts copied as they are; wider scalars
    // become float rows centred in double first (as the kNN search does), so that a large
    // offset costs no precision.
    constexpr bool float_rows =
        std::is_same_v<typename Derived::Scalar, float> && bool(Derived::IsRowMajor) &&
        bool(Eigen::internal::traits<Derived>::Flags & Eigen::DirectAccessBit) &&
        Derived::InnerStrideAtCompileTime == 1;
    RowMatrixF copy;
    const float* data = nullptr;
    std::size_t stride = static_cast<std::size_t>(X.cols());
    if constexpr (float_rows) {
        data = X.derived().data();
        stride = static_cast<std::size_t>(X.derived().outerStride());
    } else if constexpr (std::is_same_v<typename Derived::Scalar, float>) {
        copy = X;
        data = copy.data();
    } else {
        copy = knn_detail::prepare_points(X, Metric::euclidean, knn_detail::column_means(X),
                                          "t-SNE", threads);
        data = copy.data();
    }
    const auto n = static_cast<std::size_t>(candidates.indices.rows());
    const auto kc = static_cast<std::size_t>(candidates.indices.cols());
    const auto kk = static_cast<std::size_t>(k);
    KnnGraph out;
    out.indices.resize(candidates.indices.rows(), k);
    out.distances.resize(candidates.indices.rows(), k);
    const knn_detail::DotKernel kernel(static_cast<std::size_t>(X.cols()));
    parallel_for_blocks(n, 256, threads, [&](std::size_t, std::size_t begin, std::size_t end) {
        std::vector<std::pair<float, int>> ranked(kc);
        for (std::size_t r = begin; r < end; ++r) {
            // Visiting points in locality order lets consecutive rows share candidates in cache.
            const std::size_t i = visit.empty() ? r : static_cast<std::size_t>(visit[r]);
            const float* xi = data + i * stride;
            for (std::size_t c = 0; c < kc; ++c) {
                const int j = candidates.indices(Eigen::Index(i), Eigen::Index(c));
                ranked[c] = {kernel.squared_distance(xi, data + std::size_t(j) * stride), j};
            }
            std::partial_sort(ranked.begin(), ranked.begin() + std::ptrdiff_t(kk), ranked.end());
            for (std::size_t c = 0; c < kk; ++c) {
                out.indices(Eigen::Index(i), Eigen::Index(c)) = ranked[c].second;
                out.distances(Eigen::Index(i), Eigen::Index(c)) = std::sqrt(ranked[c].first);
            }
        }
    });
    return out;
}

/// A cache-friendly order of the points (order[new] = old): the leaf order of one
/// random-projection tree over the data the kNN graph was built from, so that most of a
/// point's neighbours in P sit near it in memory and the attraction's reads of y hit cache.
/// Fixed seed: the order only changes rounding, and must not make results depend on `seed`.
template <class Derived>
std::vector<int> locality_order(const Eigen::MatrixBase<Derived>& Z) {
    knn_detail::RowMatrixF points = Z.template cast<float>();
    points.rowwise() -= points.colwise().mean();
    const Eigen::VectorXf norms = points.rowwise().squaredNorm();
    return knn_detail::build_rp_tree(points, norms, 64, Rng::for_stream(0, 0x0DE7)).order;
}

/// P with rows and columns renumbered by `order` (order[new] = old).
inline TsneAffinities permuted(const TsneAffinities& P, const std::vector<int>& order,
                               int threads) {
    const auto n = static_cast<std::size_t>(P.n);
    std::vector<int> renumber(n);
    for (std::size_t r = 0; r < n; ++r) renumber[static_cast<std::size_t>(order[r])] = int(r);
    TsneAffinities out;
    out.n = P.n;
    out.row_ptr.resize(n + 1, 0);
    out.cols.resize(P.cols.size());
    out.values.resize(P.values.size());
    for (std::size_t r = 0; r < n; ++r) {
        const auto old = static_cast<std::size_t>(order[r]);
        out.row_ptr[r + 1] = out.row_ptr[r] + (P.row_ptr[old + 1] - P.row_ptr[old]);
    }
    parallel_for(n, threads, [&](std::size_t r) {
        const auto old = static_cast<std::size_t>(order[r]);
        std::int64_t to = out.row_ptr[r];
        for (std::int64_t e = P.row_ptr[old]; e < P.row_ptr[old + 1]; ++e, ++to) {
            out.cols[static_cast<std::size_t>(to)] = renumber[static_cast<std::size_t>(P.cols[e])];
            out.values[static_cast<std::size_t>(to)] = P.values[static_cast<std::size_t>(e)];
        }
    });
    return out;
}

}  // namespace tsne_detail

/// The initial embedding (N x dims, std 1e-4 along the first axis): PCA scores or Gaussian.
template <class Derived>
Eigen::MatrixXd tsne_initial_embedding(const Eigen::MatrixBase<Derived>& X, const TsneOptions& o) {
    if (o.init == TsneOptions::Init::pca && X.cols() >= o.dims && X.rows() >= o.dims) {
        Eigen::MatrixXd Y =
            tsne_detail::scaled_initial_scores(pca_scores(X, o.dims, o.seed, o.threads));
        if (Y.size() > 0) return Y;
    }
    // Random init (also the fallback when PCA is degenerate: all points equal, or D < dims).
    return tsne_detail::random_initial_embedding(X.rows(), o);
}

namespace tsne_detail {

struct Prepared {
    TsneAffinities P;
    Eigen::MatrixXd reduced;  ///< the pca_dims PCA scores, empty when not reduced
    std::vector<int> order;   ///< locality_order(), when asked for
};

template <class Derived>
Prepared prepare(const Eigen::MatrixBase<Derived>& X, const TsneOptions& o, bool with_order) {
    check_options(o, X.rows());
    // Before the PCA, which would spread one NaN over every row's scores.
    for (Eigen::Index i = 0; i < X.rows(); ++i)
        if (!X.row(i).allFinite())
            throw InvalidArgument("t-SNE: row " + std::to_string(i) +
                                  " has a NaN or infinite value");
    const int k = tsne_neighbours_for(o.perplexity, static_cast<int>(X.rows()));
    Prepared out;
    if (reduces_by_pca(o, X.rows(), X.cols())) {
        out.reduced = pca_scores(X, o.pca_dims, o.seed, o.threads);
        // The re-ranking visits points in this order too (cheap next to the kNN search).
        if (with_order || o.rerank_factor > 0) out.order = locality_order(out.reduced);
        if (o.rerank_factor > 0) {
            const auto searched = static_cast<int>(std::min<double>(
                static_cast<double>(X.rows() - 1), std::ceil(k * o.rerank_factor)));
            const KnnGraph candidates = knn_for_tsne(out.reduced, searched, o);
            out.P =
                tsne_affinities(rerank_by_input_distance(X, candidates, k, o.threads, out.order),
                                o.perplexity, o.threads);
        } else {
            out.P = tsne_affinities(knn_for_tsne(out.reduced, k, o), o.perplexity, o.threads);
        }
    } else {
        out.P = tsne_affinities(knn_for_tsne(X, k, o), o.perplexity, o.threads);
        if (with_order) out.order = locality_order(X);
    }
    return out;
}

}  // namespace tsne_detail

/// The input affinities P tsne_fit builds for X: PCA reduction (pca_dims), kNN graph,
/// perplexity calibration, symmetrisation.
template <class Derived>
TsneAffinities tsne_input_affinities(const Eigen::MatrixBase<Derived>& X,
                                     const TsneOptions& options = {}) {
    return tsne_detail::prepare(X, options, false).P;
}

template <class Scalar>
class Tsne;

namespace tsne_detail {

/// What a t-SNE run starts from: P and the initial positions in input order, the locality
/// order to optimise in (empty = input order) and, for transform(), the training points.
template <class Scalar>
struct Start {
    TsneAffinities P;
    RowMatrixD Y;
    std::vector<int> order;
    Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> train;
};

/// The initial positions and locality order of the data path (tsne_fit's pipeline).
template <class Scalar, class Derived>
Start<Scalar> start_from_data(const Eigen::MatrixBase<Derived>& X, const TsneOptions& o) {
    Prepared input = prepare(X, o, true);
    Start<Scalar> out;
    if (input.reduced.size() > 0) {
        // The top `dims` of the pca_dims scores are the PCA initialisation itself.
        Eigen::MatrixXd init;
        if (o.init == TsneOptions::Init::pca && o.pca_dims >= o.dims)
            init = scaled_initial_scores(input.reduced.leftCols(o.dims));
        input.reduced.resize(0, 0);  // free it before the optimisation
        out.Y = init.size() > 0 ? init : random_initial_embedding(X.rows(), o);
    } else {
        out.Y = tsne_initial_embedding(X, o);
    }
    out.P = std::move(input.P);
    out.order = std::move(input.order);
    return out;
}

inline void check_affinities(const TsneAffinities& P) {
    const auto n = static_cast<std::size_t>(std::max(P.n, 0));
    bool ok = P.n >= 2 && P.row_ptr.size() == n + 1 && P.row_ptr.front() == 0 &&
              P.cols.size() == P.values.size() &&
              P.row_ptr.back() == static_cast<std::int64_t>(P.cols.size());
    for (std::size_t i = 0; ok && i < n; ++i) ok = P.row_ptr[i] <= P.row_ptr[i + 1];
    for (std::size_t e = 0; ok && e < P.cols.size(); ++e)
        ok = P.cols[e] >= 0 && P.cols[e] < P.n && P.values[e] >= 0 && std::isfinite(P.values[e]);
    if (!ok)
        throw InvalidArgument("t-SNE: the affinities are not a CSR matrix of " +
                              std::to_string(P.n) +
                              " points with finite non-negative values (see TsneAffinities)");
}

/// One new point optimised alone against the fixed reference map (openTSNE's transform()
/// with per-point normalisation): y (D) moves, `tree` holds the reference positions.
template <int D>
void place_point(double* y, const int* neighbours, const double* p, int k, const double* reference,
                 const BarnesHutRepulsion<D>& tree, const TsneTransformOptions& t,
                 std::vector<int>& stack) {
    double update[D] = {}, gains[D], rep[D], g[D];
    for (int c = 0; c < D; ++c) gains[c] = 1.0;
    for (int iter = 0; iter < t.n_iter; ++iter) {
        const double z = tree.query(y, rep, stack);
        double norm2 = 0;
        for (int c = 0; c < D; ++c) g[c] = -rep[c] / std::max(z, 1e-12);
        for (int e = 0; e < k; ++e) {
            const double* yj = reference + static_cast<std::size_t>(neighbours[e]) * D;
            double diff[D], d2 = 0;
            for (int c = 0; c < D; ++c) {
                diff[c] = y[c] - yj[c];
                d2 += diff[c] * diff[c];
            }
            const double w = t.exaggeration * p[e] / (1.0 + d2);
            for (int c = 0; c < D; ++c) g[c] += w * diff[c];
        }
        for (int c = 0; c < D; ++c) norm2 += g[c] * g[c];
        const double norm = std::sqrt(norm2);
        if (norm > t.max_grad_norm)
            for (int c = 0; c < D; ++c) g[c] *= t.max_grad_norm / norm;
        for (int c = 0; c < D; ++c) {
            gains[c] =
                (g[c] > 0) != (update[c] > 0) ? gains[c] + 0.2 : std::max(gains[c] * 0.8, 0.01);
            update[c] = t.momentum * update[c] - t.learning_rate * gains[c] * g[c];
            y[c] += update[c];
        }
    }
}

template <int D>
void place_points(RowMatrixD& Y, const KnnGraph& knn, const std::vector<double>& p, int k,
                  const RowMatrixD& reference, double theta, const TsneTransformOptions& t,
                  int threads) {
    BarnesHutRepulsion<D> tree(theta);
    tree.build(reference.data(), static_cast<std::size_t>(reference.rows()));
    const auto stride = static_cast<std::size_t>(knn.indices.cols());
    parallel_for_blocks(static_cast<std::size_t>(Y.rows()), 16, threads,
                        [&](std::size_t, std::size_t begin, std::size_t end) {
                            std::vector<int> stack;
                            for (std::size_t i = begin; i < end; ++i)
                                place_point<D>(Y.data() + i * D, knn.indices.data() + i * stride,
                                               p.data() + i * static_cast<std::size_t>(k), k,
                                               reference.data(), tree, t, stack);
                        });
}

}  // namespace tsne_detail

/// A t-SNE fit in progress (Tsne::initialize): the map after iteration() of n_iter()
/// iterations. run() calls may be split anyhow: run(100); run(200) gives the same bits as
/// run(300), at any thread count. The options' progress callback is called from run().
template <class Scalar>
class TsneStatus {
  public:
    using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;

    /// Runs up to `iterations` more iterations (fewer when the last comes first).
    TsneStatus& run(int iterations) {
        if (iterations < 0)
            throw InvalidArgument("t-SNE run: iterations must be >= 0, got " +
                                  std::to_string(iterations));
        const int end = iterations > n_iter() - iteration() ? n_iter() : iteration() + iterations;
        std::visit(
            [&](auto& optimizer) {
                if constexpr (!std::is_same_v<std::decay_t<decltype(optimizer)>, std::monostate>)
                    optimizer.run_until(end);
            },
            optimizer_);
        return *this;
    }
    /// Runs to the last iteration.
    TsneStatus& run() { return run(n_iter() - iteration()); }

    int iteration() const {
        return std::visit(
            [](const auto& optimizer) {
                if constexpr (std::is_same_v<std::decay_t<decltype(optimizer)>, std::monostate>)
                    return 0;
                else
                    return optimizer.iteration();
            },
            optimizer_);
    }
    int n_iter() const { return options_.n_iter; }
    bool done() const { return iteration() >= n_iter(); }
    /// The KL divergence at iteration() (as TsneOptions::progress reports it); NaN before
    /// the first run().
    double kl() const {
        return std::visit(
            [](const auto& optimizer) {
                if constexpr (std::is_same_v<std::decay_t<decltype(optimizer)>, std::monostate>)
                    return double(NAN);
                else
                    return optimizer.kl();
            },
            optimizer_);
    }
    TsneOptions::Gradient gradient() const { return gradient_; }  ///< the method used
    const TsneOptions& options() const { return options_; }

    /// The current map, N x dims, rows in input order.
    Matrix embedding() const {
        const tsne_detail::RowMatrixD& Y = positions();
        Matrix out(Y.rows(), Y.cols());
        for (Eigen::Index r = 0; r < Y.rows(); ++r)
            out.row(order_.empty() ? r : order_[static_cast<std::size_t>(r)]) =
                Y.row(r).template cast<Scalar>();
        return out;
    }

    /// The map as it is now (usually once done()), with transform().
    Tsne<Scalar> map() const& {
        return Tsne<Scalar>(train_, embedding(), options_, kl(), gradient_);
    }
    Tsne<Scalar> map() && {
        Matrix Y = embedding();
        return Tsne<Scalar>(std::move(train_), std::move(Y), options_, kl(), gradient_);
    }

    /// Built by Tsne::initialize.
    TsneStatus(tsne_detail::Start<Scalar> start, const TsneOptions& options)
        : options_(options), train_(std::move(start.train)), order_(std::move(start.order)) {
        const auto n = static_cast<std::size_t>(start.P.n);
        gradient_ = options.gradient == TsneOptions::Gradient::automatic
                        ? tsne_automatic_gradient(n, options.dims)
                        : options.gradient;
        // Optimise in locality order (see locality_order); embedding() restores input order.
        TsneAffinities P = order_.empty() ? std::move(start.P)
                                          : tsne_detail::permuted(start.P, order_, options.threads);
        start.P = TsneAffinities{};
        tsne_detail::RowMatrixD Yp(start.Y.rows(), start.Y.cols());
        for (Eigen::Index r = 0; r < Yp.rows(); ++r)
            Yp.row(r) = start.Y.row(order_.empty() ? r : order_[static_cast<std::size_t>(r)]);
        if (options.dims == 2)
            optimizer_.template emplace<1>(std::move(P), std::move(Yp), options, gradient_);
        else
            optimizer_.template emplace<2>(std::move(P), std::move(Yp), options, gradient_);
    }

  private:
    const tsne_detail::RowMatrixD& positions() const {
        if (optimizer_.index() == 1) return std::get<1>(optimizer_).positions();
        return std::get<2>(optimizer_).positions();
    }

    TsneOptions options_;
    TsneOptions::Gradient gradient_{};
    Matrix train_;
    std::vector<int> order_;
    std::variant<std::monostate, tsne_detail::Optimizer<2>, tsne_detail::Optimizer<3>> optimizer_;
};

/// A fitted t-SNE map: the embedding of the training points and what transform() needs.
template <class Scalar>
class Tsne {
  public:
    using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;

    /// Prepares a fit of the rows of X (N x D, N >= 2, finite): PCA reduction, kNN graph,
    /// affinities P and the initial map (see TsneOptions); the status runs the iterations.
    /// Throws InvalidArgument on bad options or input.
    template <class Derived>
    static TsneStatus<Scalar> initialize(const Eigen::MatrixBase<Derived>& X,
                                         const TsneOptions& options = {}) {
        auto start = tsne_detail::start_from_data<Scalar>(X, options);
        start.train = X.template cast<Scalar>();
        return TsneStatus<Scalar>(std::move(start), options);
    }

    /// As initialize(X, options), from a precomputed kNN graph of X's rows (knn_graph(): self
    /// excluded, nearest first, input-space distances), e.g. one shared with UMAP. Its first
    /// min(N - 1, 3 perplexity + 1) columns are used, so it needs at least that many; no PCA
    /// reduction or re-ranking is done. The initial map is the PCA of X (or random).
    template <class Derived>
    static TsneStatus<Scalar> initialize(const Eigen::MatrixBase<Derived>& X, const KnnGraph& knn,
                                         const TsneOptions& options = {}) {
        tsne_detail::check_options(options, X.rows());
        const int k = tsne_neighbours_for(options.perplexity, static_cast<int>(X.rows()));
        check_knn_graph(knn, X.rows(), k, "t-SNE");
        tsne_detail::Start<Scalar> start;
        if (knn.k() == k) {
            start.P = tsne_affinities(knn, options.perplexity, options.threads);
        } else {
            KnnGraph used;
            used.indices = knn.indices.leftCols(k);
            used.distances = knn.distances.leftCols(k);
            start.P = tsne_affinities(used, options.perplexity, options.threads);
        }
        start.Y = tsne_initial_embedding(X, options);
        start.order = tsne_detail::locality_order(X);
        start.train = X.template cast<Scalar>();
        return TsneStatus<Scalar>(std::move(start), options);
    }

    /// From affinities alone (tsne_input_affinities() or one's own TsneAffinities) and an
    /// initial map (N x dims; empty = Gaussian with std 1e-4). The map has no training
    /// points, so its transform() throws.
    template <class Derived>
    static TsneStatus<Scalar> initialize(const TsneAffinities& P,
                                         const Eigen::MatrixBase<Derived>& init,
                                         const TsneOptions& options = {}) {
        tsne_detail::check_affinities(P);
        tsne_detail::check_options(options, P.n);
        tsne_detail::Start<Scalar> start;
        if (init.size() == 0) {
            start.Y = tsne_detail::random_initial_embedding(P.n, options);
        } else {
            if (init.rows() != P.n || init.cols() != options.dims || !init.allFinite())
                throw InvalidArgument("t-SNE: the initial map is " + std::to_string(init.rows()) +
                                      " x " + std::to_string(init.cols()) + " (finite?) for " +
                                      std::to_string(P.n) + " points in " +
                                      std::to_string(options.dims) + " dims");
            start.Y = init.template cast<double>();
        }
        start.P = P;
        return TsneStatus<Scalar>(std::move(start), options);
    }
    static TsneStatus<Scalar> initialize(const TsneAffinities& P, const TsneOptions& options = {}) {
        return initialize(P, Eigen::MatrixXd(), options);
    }

    /// Fits t-SNE to the rows of X: initialize(X, options) run to the last iteration.
    template <class Derived>
    static Tsne fit(const Eigen::MatrixBase<Derived>& X, const TsneOptions& options = {}) {
        return std::move(initialize(X, options).run()).map();
    }

    /// A fitted map restored from its training points and their map positions (e.g. a cached
    /// map), for transform(), which depends only on X, the embedding and the options.
    template <class DerivedX, class DerivedE>
    static Tsne from_embedding(const Eigen::MatrixBase<DerivedX>& X,
                               const Eigen::MatrixBase<DerivedE>& embedding,
                               const TsneOptions& options = {}) {
        tsne_detail::check_options(options, X.rows());
        if (embedding.rows() != X.rows() || embedding.cols() != options.dims)
            throw InvalidArgument("t-SNE from_embedding: " + std::to_string(X.rows()) +
                                  " points and a " + std::to_string(embedding.rows()) + " x " +
                                  std::to_string(embedding.cols()) + " map for dims " +
                                  std::to_string(options.dims));
        return Tsne(X.template cast<Scalar>(), embedding.template cast<Scalar>(), options, NAN,
                    tsne_automatic_gradient(static_cast<std::size_t>(X.rows()), options.dims));
    }

    const Matrix& embedding() const { return embedding_; }  ///< N x dims
    double kl() const { return kl_; }                       ///< at the end of the fit
    TsneOptions::Gradient gradient() const { return gradient_; }
    const TsneOptions& options() const { return options_; }

    /// Places new points (rows of Xnew, same D as training) into the fitted map without
    /// changing it, as openTSNE's transform(): affinities of each new point to its
    /// 3 perplexity nearest training points (input space, the fit's metric), start at the
    /// median map position of its k_init nearest, then gradient descent on that point alone
    /// against the fixed map (Barnes-Hut repulsion with the fit's theta). Each point is
    /// independent of the others: a batch gives the bits of one-by-one calls, at any thread
    /// count. Throws InvalidArgument for a map without training points or a column mismatch.
    template <class Derived>
    Matrix transform(const Eigen::MatrixBase<Derived>& Xnew,
                     const TsneTransformOptions& t = {}) const {
        if (train_.rows() == 0)
            throw InvalidArgument("t-SNE transform: the map was fitted from affinities alone");
        if (Xnew.cols() != train_.cols())
            throw InvalidArgument("t-SNE transform: new points have " +
                                  std::to_string(Xnew.cols()) + " columns, the map was fitted on " +
                                  std::to_string(train_.cols()));
        if (!(t.perplexity > 0) || t.k_init < 1 || t.n_iter < 0 || !(t.learning_rate > 0) ||
            !(t.max_grad_norm > 0) || !(t.exaggeration > 0))
            throw InvalidArgument(
                "t-SNE transform: perplexity, k_init, learning_rate, "
                "exaggeration and max_grad_norm must be positive");
        const Eigen::Index m = Xnew.rows(), n = train_.rows();
        const int dims = options_.dims;
        if (m == 0) return Matrix(0, dims);
        const int k = static_cast<int>(std::min<Eigen::Index>(
            n, std::max<Eigen::Index>(1, static_cast<Eigen::Index>(3 * t.perplexity))));
        const int k_init = static_cast<int>(std::min<Eigen::Index>(n, t.k_init));
        const KnnGraph knn =
            knn_query(train_, Xnew, std::max(k, k_init), options_.knn.metric, options_.threads);
        KnnGraph affinity_knn;
        affinity_knn.indices = knn.indices.leftCols(k);
        affinity_knn.distances = knn.distances.leftCols(k);
        const std::vector<double> p =
            tsne_conditional_probabilities(affinity_knn, t.perplexity, options_.threads);
        const tsne_detail::RowMatrixD reference = embedding_.template cast<double>();
        tsne_detail::RowMatrixD Y(m, dims);
        std::vector<double> column(static_cast<std::size_t>(k_init));
        for (Eigen::Index i = 0; i < m; ++i)
            for (int c = 0; c < dims; ++c) {
                for (int e = 0; e < k_init; ++e)
                    column[static_cast<std::size_t>(e)] = reference(knn.indices(i, e), c);
                std::sort(column.begin(), column.end());
                const auto h = static_cast<std::size_t>(k_init / 2);
                Y(i, c) = k_init % 2 ? column[h] : 0.5 * (column[h - 1] + column[h]);
            }
        KnnGraph neighbours;
        neighbours.indices = affinity_knn.indices;
        if (dims == 2)
            tsne_detail::place_points<2>(Y, neighbours, p, k, reference, options_.theta, t,
                                         options_.threads);
        else
            tsne_detail::place_points<3>(Y, neighbours, p, k, reference, options_.theta, t,
                                         options_.threads);
        return Y.template cast<Scalar>();
    }

    /// Built by TsneStatus::map() and from_embedding().
    Tsne(Matrix train, Matrix embedding, const TsneOptions& options, double kl,
         TsneOptions::Gradient gradient)
        : train_(std::move(train)),
          embedding_(std::move(embedding)),
          options_(options),
          kl_(kl),
          gradient_(gradient) {
        options_.progress = nullptr;  // a callback must not outlive the fit
    }

  private:
    Matrix train_, embedding_;
    TsneOptions options_;
    double kl_ = NAN;
    TsneOptions::Gradient gradient_{};
};

/// Fits t-SNE to the rows of X; see TsneOptions and docs/tsne.md. (Tsne::fit also keeps X for
/// transform(); this keeps only the result.)
template <class Derived>
TsneResult<typename Derived::Scalar> tsne_fit(const Eigen::MatrixBase<Derived>& X,
                                              const TsneOptions& options = {}) {
    using Scalar = typename Derived::Scalar;
    TsneStatus<Scalar> status(tsne_detail::start_from_data<Scalar>(X, options), options);
    status.run();
    TsneResult<Scalar> result;
    result.embedding = status.embedding();
    result.kl = status.kl();
    result.gradient = status.gradient();
    return result;
}

/// The t-SNE embedding (N x dims) of the rows of X.
template <class Derived>
Eigen::Matrix<typename Derived::Scalar, Eigen::Dynamic, Eigen::Dynamic> tsne(
    const Eigen::MatrixBase<Derived>& X, const TsneOptions& options = {}) {
    return tsne_fit(X, options).embedding;
}

}  // namespace tagmap::project
