// t-SNE (van der Maaten & Hinton 2008) over Eigen matrices, in 2D and 3D, with exact,
// Barnes-Hut and FFT-interpolated gradients; deterministic for a seed at any thread count.
//
//   auto Y = tagmap::project::tsne(X);                   // N x 2, X's scalar type
//   TsneOptions o; o.dims = 3; o.perplexity = 50;
//   auto fit = tagmap::project::tsne_fit(X, o);          // embedding, final KL, method used
//
// Pipeline: kNN graph (k = min(N-1, 3 perplexity + 1), knn.hpp) -> perplexity-calibrated,
// symmetrised sparse P (tsne_affinities.hpp) -> PCA initialisation scaled to std 1e-4 ->
// gradient descent with momentum and gains, early exaggeration (openTSNE's schedule).
// Semantics of every option: docs/tsne.md.
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "tagmap/core/error.hpp"
#include "tagmap/project/knn.hpp"
#include "tagmap/project/parallel.hpp"
#include "tagmap/project/pca.hpp"
#include "tagmap/project/random.hpp"
#include "tagmap/project/tsne_affinities.hpp"
#include "tagmap/project/tsne_bh.hpp"
#include "tagmap/project/tsne_exact.hpp"
#include "tagmap/project/tsne_fft.hpp"

namespace tagmap::project {

struct TsneOptions {
    int dims = 2;            ///< 2 or 3
    double perplexity = 30;  ///< effective neighbours; uses k = min(N-1, 3 perplexity + 1)
    /// automatic: exact below 500 points; else in 2D Barnes-Hut below 10,000 points and FFT
    /// above; in 3D always Barnes-Hut (the 3D FFT grid is too coarse at large extents).
    enum class Gradient { automatic, exact, barnes_hut, fft } gradient = Gradient::automatic;
    double theta = 0.5;                                ///< Barnes-Hut opening angle (0 = exact sum)
    enum class Init { pca, random } init = Init::pca;  ///< both scaled to std 1e-4
    int n_iter = 750;             ///< total iterations, early exaggeration included
    int exaggeration_iter = 250;  ///< first iterations with P x exaggeration, momentum 0.5
    double exaggeration = 12;
    double learning_rate = 0;  ///< 0 = max(200, N / 12)
    std::uint64_t seed = 42;   ///< random init and approximate kNN
    int threads = 0;           ///< 0 = all hardware threads; results do not depend on it
    Metric metric = Metric::euclidean;
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
    if (dims != 2 || n < 10000) return TsneOptions::Gradient::barnes_hut;
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
    const double learning_rate =
        o.learning_rate > 0 ? o.learning_rate : std::max(200.0, static_cast<double>(n) / 12.0);
    const double plogp = p_log_p(P);
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
        const double z = repulsion(y, n, rep.data(), o.threads);
        const double p_log_w = attraction<D>(P, y, attr.data(), exaggeration, o.threads);
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
        if ((iter + 1) % 50 == 0 || iter + 1 == o.n_iter) {
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

/// The initial embedding (N x dims, std 1e-4 along the first axis): PCA scores or Gaussian.
template <class Derived>
Eigen::MatrixXd tsne_initial_embedding(const Eigen::MatrixBase<Derived>& X, const TsneOptions& o) {
    const Eigen::Index n = X.rows();
    Eigen::MatrixXd Y;
    if (o.init == TsneOptions::Init::pca && X.cols() >= o.dims) {
        Y = pca_scores(X, o.dims, o.seed);
        const double sd = std::sqrt((Y.col(0).array() - Y.col(0).mean()).square().sum() /
                                    static_cast<double>(std::max<Eigen::Index>(n - 1, 1)));
        if (sd > 0 && std::isfinite(sd)) return Y * (1e-4 / sd);
    }
    // Random init (also the fallback when PCA is degenerate: all points equal, or D < dims).
    Rng rng(o.seed, 0x75e);
    Y.resize(n, o.dims);
    for (Eigen::Index i = 0; i < n; ++i)
        for (int c = 0; c < o.dims; ++c) Y(i, c) = 1e-4 * rng.normal();
    return Y;
}

/// Fits t-SNE to the rows of X; see TsneOptions and docs/tsne.md.
template <class Derived>
TsneResult<typename Derived::Scalar> tsne_fit(const Eigen::MatrixBase<Derived>& X,
                                              const TsneOptions& options = {}) {
    using Scalar = typename Derived::Scalar;
    tsne_detail::check_options(options, X.rows());
    KnnOptions knn;
    knn.k = tsne_neighbours_for(options.perplexity, static_cast<int>(X.rows()));
    knn.metric = options.metric;
    knn.threads = options.threads;
    knn.seed = options.seed;
    const TsneAffinities P =
        tsne_affinities(knn_graph(X, knn), options.perplexity, options.threads);
    tsne_detail::RowMatrixD Y = tsne_initial_embedding(X, options);
    TsneResult<Scalar> result;
    result.gradient =
        options.gradient == TsneOptions::Gradient::automatic
            ? tsne_automatic_gradient(static_cast<std::size_t>(X.rows()), options.dims)
            : options.gradient;
    result.kl = options.dims == 2 ? tsne_detail::optimise<2>(P, Y, options, result.gradient)
                                  : tsne_detail::optimise<3>(P, Y, options, result.gradient);
    result.embedding = Y.template cast<Scalar>();
    return result;
}

/// The t-SNE embedding (N x dims) of the rows of X.
template <class Derived>
Eigen::Matrix<typename Derived::Scalar, Eigen::Dynamic, Eigen::Dynamic> tsne(
    const Eigen::MatrixBase<Derived>& X, const TsneOptions& options = {}) {
    return tsne_fit(X, options).embedding;
}

}  // namespace tagmap::project
