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
#include "tagmap/project/knn.hpp"
#include "tagmap/project/parallel.hpp"
#include "tagmap/project/pca.hpp"
#include "tagmap/project/random.hpp"
#include "tagmap/project/rp_tree.hpp"
#include "tagmap/project/tsne_affinities.hpp"
#include "tagmap/project/tsne_bh.hpp"
#include "tagmap/project/tsne_exact.hpp"
#include "tagmap/project/tsne_fft.hpp"

namespace tagmap::project {

struct TsneOptions {
    int dims = 2;            ///< 2 or 3
    double perplexity = 30;  ///< effective neighbours; uses k = min(N-1, 3 perplexity + 1)
    /// automatic: exact below 500 points; else Barnes-Hut below 10,000 points in 2D and below
    /// 5,000 in 3D, FFT interpolation above (where it is the faster; see docs/tsne.md).
    enum class Gradient { automatic, exact, barnes_hut, fft } gradient = Gradient::automatic;
    double theta = 0.5;                                ///< Barnes-Hut opening angle (0 = exact sum)
    enum class Init { pca, random } init = Init::pca;  ///< both scaled to std 1e-4
    int n_iter = 750;             ///< total iterations, early exaggeration included
    int exaggeration_iter = 250;  ///< first iterations with P x exaggeration, momentum 0.5
    double exaggeration = 12;
    double learning_rate = 0;  ///< 0 = max(200, N / exaggeration of the phase); see docs
    std::uint64_t seed = 42;   ///< random init and approximate kNN
    int threads = 0;           ///< 0 = all hardware threads; results do not depend on it
    Metric metric = Metric::euclidean;
    /// Euclidean metric: reduce the input to its top `pca_dims` principal components before
    /// the kNN graph and the affinities (as Rtsne and bhtsne do; scikit-learn's docs advise
    /// it). It cuts the neighbour search's cost by D / pca_dims and discards mostly noise.
    /// 0 = off; no effect when D <= pca_dims or N <= pca_dims, nor with the cosine metric.
    int pca_dims = 50;
    /// With pca_dims: search ceil(rerank_factor x k) neighbour candidates among the PCA scores,
    /// then keep the k nearest by distance in the input space, so that P follows the input's
    /// own neighbourhoods (FMNIST 70k: kNN preservation 0.296 -> 0.326, set-up ~3 s longer).
    /// 0 = PCA-space neighbours and distances as they are (Rtsne's behaviour); else >= 1.
    double rerank_factor = 1.33;
    /// Called every 50 iterations and after the last one with the iteration count and the
    /// KL divergence of the unexaggerated P (exact for the exact gradient, else estimated
    /// from the approximate normalisation Z, as openTSNE does).
    std::function<void(int iter, double kl)> progress;
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
/// FIt-SNE and openTSNE; Y (row-major N x D) is updated in place. Returns the last KL.
template <int D>
double optimise(const TsneAffinities& P, RowMatrixD& Y, const TsneOptions& o,
                TsneOptions::Gradient method) {
    const auto n = static_cast<std::size_t>(P.n);
    const std::size_t size = n * D;
    const double plogp = p_log_p(P);
    const std::vector<float> values(P.values.begin(), P.values.end());
    Repulsion<D> repulsion(method, o.theta);
    std::vector<double> attr(size), rep(size), update(size, 0.0), gains(size, 1.0);
    double* y = Y.data();
    double kl = NAN;
    for (int iter = 0; iter < o.n_iter; ++iter) {
        const bool early = iter < o.exaggeration_iter;
        if (iter == o.exaggeration_iter && iter > 0) {
            // A fresh optimiser for the second phase, like openTSNE's two optimize() calls.
            std::fill(update.begin(), update.end(), 0.0);
            std::fill(gains.begin(), gains.end(), 1.0);
        }
        const double exaggeration = early ? o.exaggeration : 1.0;
        const double momentum = early ? 0.5 : 0.8;
        // Automatic: Belkina et al.'s N / exaggeration per phase (N / 12 while exaggerated),
        // as openTSNE does; the main phase then converges in its 500 iterations.
        const double learning_rate = o.learning_rate > 0
                                         ? o.learning_rate
                                         : std::max(200.0, static_cast<double>(n) / exaggeration);
        // The KL's log terms cost ~10x the forces: only when someone will see the value.
        const bool last = iter + 1 == o.n_iter;
        const bool report = last || (o.progress && (iter + 1) % 50 == 0);
        const double z = repulsion(y, n, rep.data(), o.threads);
        const double p_log_w = attraction_csr<D>(n, P.row_ptr.data(), P.cols.data(), values.data(),
                                                 y, attr.data(), exaggeration, o.threads, report);
        if (!std::isfinite(z) || z <= 0)
            throw Error("t-SNE diverged at iteration " + std::to_string(iter) + " (normalisation " +
                        std::to_string(z) + "); try a smaller learning_rate");
        const double inv_z = 1.0 / z;
        parallel_for_blocks(
            size, kBlock * D, o.threads, [&](std::size_t, std::size_t begin, std::size_t end) {
                for (std::size_t k = begin; k < end; ++k) {
                    const double g = attr[k] - rep[k] * inv_z;
                    gains[k] = (g > 0) != (update[k] > 0) ? gains[k] + 0.2
                                                          : std::max(gains[k] * 0.8, 0.01);
                    update[k] = momentum * update[k] - learning_rate * gains[k] * g;
                    y[k] += update[k];
                }
            });
        // Keep the map centred (the gradient is translation invariant; this bounds the grid).
        double mean[D] = {};
        for (std::size_t i = 0; i < n; ++i)
            for (int c = 0; c < D; ++c) mean[c] += y[i * D + c];
        for (int c = 0; c < D; ++c) mean[c] /= static_cast<double>(n);
        for (std::size_t i = 0; i < n; ++i)
            for (int c = 0; c < D; ++c) y[i * D + c] -= mean[c];
        if (report) {
            kl = kl_divergence(plogp, p_log_w, z);
            if (o.progress) o.progress(iter + 1, kl);
        }
    }
    return kl;
}

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
    if (!(o.learning_rate >= 0) || !std::isfinite(o.learning_rate))
        fail("learning_rate must be >= 0 (0 = automatic), got " + std::to_string(o.learning_rate));
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
    return o.pca_dims > 0 && o.metric == Metric::euclidean && d > o.pca_dims && n > o.pca_dims;
}

/// The kNN graph for t-SNE's k (~3 perplexity, far above UMAP's 15): knn_graph's automatic
/// choice, with NN-descent stopped at a looser delta, since the perplexity weights make the
/// last, slow-to-find neighbours nearly irrelevant.
template <class Derived>
KnnGraph knn_for_tsne(const Eigen::MatrixBase<Derived>& X, int k, const TsneOptions& o) {
    KnnOptions knn;
    knn.k = k;
    knn.metric = o.metric;
    knn.threads = o.threads;
    knn.seed = o.seed;
    knn.nn_descent_delta = kTsneNnDescentDelta;
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

/// Fits t-SNE to the rows of X; see TsneOptions and docs/tsne.md.
template <class Derived>
TsneResult<typename Derived::Scalar> tsne_fit(const Eigen::MatrixBase<Derived>& X,
                                              const TsneOptions& options = {}) {
    using Scalar = typename Derived::Scalar;
    tsne_detail::Prepared input = tsne_detail::prepare(X, options, true);
    tsne_detail::RowMatrixD Y;
    if (input.reduced.size() > 0) {
        // The top `dims` of the pca_dims scores are the PCA initialisation itself.
        Eigen::MatrixXd init;
        if (options.init == TsneOptions::Init::pca && options.pca_dims >= options.dims)
            init = tsne_detail::scaled_initial_scores(input.reduced.leftCols(options.dims));
        input.reduced.resize(0, 0);  // free it before the optimisation
        Y = init.size() > 0 ? init : tsne_detail::random_initial_embedding(X.rows(), options);
    } else {
        Y = tsne_initial_embedding(X, options);
    }
    TsneResult<Scalar> result;
    result.gradient =
        options.gradient == TsneOptions::Gradient::automatic
            ? tsne_automatic_gradient(static_cast<std::size_t>(X.rows()), options.dims)
            : options.gradient;
    // Optimise in locality order (see locality_order), then restore the input order.
    const std::vector<int>& order = input.order;
    const TsneAffinities P = tsne_detail::permuted(input.P, order, options.threads);
    input.P = TsneAffinities{};
    tsne_detail::RowMatrixD Yp(Y.rows(), Y.cols());
    for (Eigen::Index r = 0; r < Y.rows(); ++r) Yp.row(r) = Y.row(order[r]);
    result.kl = options.dims == 2 ? tsne_detail::optimise<2>(P, Yp, options, result.gradient)
                                  : tsne_detail::optimise<3>(P, Yp, options, result.gradient);
    result.embedding.resize(Y.rows(), Y.cols());
    for (Eigen::Index r = 0; r < Y.rows(); ++r)
        result.embedding.row(order[r]) = Yp.row(r).template cast<Scalar>();
    return result;
}

/// The t-SNE embedding (N x dims) of the rows of X.
template <class Derived>
Eigen::Matrix<typename Derived::Scalar, Eigen::Dynamic, Eigen::Dynamic> tsne(
    const Eigen::MatrixBase<Derived>& X, const TsneOptions& options = {}) {
    return tsne_fit(X, options).embedding;
}

}  // namespace tagmap::project
