// UMAP (McInnes, Healy & Melville 2018) over Eigen matrices, following umap-learn 0.5:
// kNN graph (knn/knn.hpp) -> fuzzy simplicial set (fuzzy_graph.hpp) -> spectral initialisation
// (spectral.hpp) -> SGD with negative sampling (sgd.hpp); a, b from min_dist and spread
// (ab.hpp). Deterministic: one seed gives bitwise-identical output at any thread count and
// for any split of the optimisation into run() calls. See docs/umap.md.
//
//   auto Y = tagmap::project::umap(X);                        // N x 2, in one call
//   auto status = Umap<float>::initialize(X, options);        // or (X, knn_graph, options)
//   while (!status.done()) { status.run(50); draw(status.embedding()); }
//   Umap<float> map = std::move(status).map();                // transform() new points
//
// API (namespace tagmap::project):
//   struct UmapOptions;                                   // defaults as umap-learn
//   template <class Scalar> class Umap {
//     static UmapStatus<Scalar> initialize(X [, knn], options);   // step by step
//     static Umap fit(X [, knn], options);                // = initialize(...).run()
//     static Umap from_embedding(X, embedding, options);  // a cached map, for transform()
//     const Matrix& embedding() const;                    // N x dims
//     Matrix transform(Xnew) const;                       // new points into the fitted map
//     double a() const, b() const; ... };
//   template <class Scalar> class UmapStatus { run(epochs), run(), epoch(), n_epochs(),
//     done(), embedding(), map() };
//   Matrix umap(X, options);                              // = Umap::fit(X).embedding()
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Dense>

#include "tagmap/core/error.hpp"
#include "tagmap/core/random.hpp"
#include "tagmap/project/knn/knn.hpp"
#include "tagmap/project/umap/ab.hpp"
#include "tagmap/project/umap/fuzzy_graph.hpp"
#include "tagmap/project/umap/sgd.hpp"
#include "tagmap/project/umap/spectral.hpp"

namespace tagmap::project {

struct UmapOptions {
    int dims = 2;             ///< output dimensions (>= 1; 2 and 3 are unrolled)
    int n_neighbors = 15;     ///< as umap-learn: counts the point itself (the kNN graph's k + 1)
    double min_dist = 0.1;    ///< minimum distance of points in the map
    double spread = 1.0;      ///< scale of embedded points
    KnnSearch knn;            ///< input-space metric and neighbour search of the kNN graph
    std::uint64_t seed = 42;  ///< same seed -> same bits, whatever `threads`
    int threads = 0;          ///< 0 = std::thread::hardware_concurrency()
    /// SGD epochs; unset = like umap-learn: 500 up to 10,000 points, else 200.
    std::optional<int> n_epochs;
    double learning_rate = 1.0;    ///< initial SGD step (decays linearly to 0)
    int negative_sample_rate = 5;  ///< negative samples per positive sample
    /// Called after every SGD epoch with (epoch, n_epochs), from the thread calling run().
    std::function<void(int epoch, int n_epochs)> progress;

    /// The number of epochs a fit of n points runs.
    int epochs_for(Eigen::Index n) const { return n_epochs.value_or(n <= 10000 ? 500 : 200); }
};

template <class Scalar>
class UmapStatus;

namespace umap_detail {

inline void check_options(const UmapOptions& o) {
    if (o.dims < 1) throw InvalidArgument("UMAP: dims must be >= 1, got " + std::to_string(o.dims));
    if (o.n_neighbors < 2)
        throw InvalidArgument("UMAP: n_neighbors must be >= 2, got " +
                              std::to_string(o.n_neighbors));
    if (o.n_epochs && *o.n_epochs < 1)
        throw InvalidArgument("UMAP: n_epochs must be >= 1 (or unset = automatic), got " +
                              std::to_string(*o.n_epochs));
    if (!(o.learning_rate > 0) || !std::isfinite(o.learning_rate))
        throw InvalidArgument("UMAP: learning_rate must be > 0, got " +
                              std::to_string(o.learning_rate));
    if (o.negative_sample_rate < 0)
        throw InvalidArgument("UMAP: negative_sample_rate must be >= 0, got " +
                              std::to_string(o.negative_sample_rate));
    if (o.threads < 0)
        throw InvalidArgument("UMAP: threads must be >= 0 (0 = all cores), got " +
                              std::to_string(o.threads));
    (void)find_ab_params(o.spread, o.min_dist);  // validates spread and min_dist
}

/// umap-learn's initial layout: spectral (or its fallback) scaled to max |x| = 10, plus
/// N(0, 1e-4) noise, then each coordinate rescaled to [0, 10].
inline std::vector<float> initial_embedding(const SpectralLayout& layout, std::uint64_t seed) {
    const Eigen::Index n = layout.coords.rows(), dims = layout.coords.cols();
    Eigen::MatrixXf emb(n, dims);
    const double extent = layout.coords.cwiseAbs().maxCoeff();
    const double expansion = extent > 0 ? 10.0 / extent : 1.0;
    Rng rng = Rng::for_stream(seed, 0x1a1d0, 1);
    for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index d = 0; d < dims; ++d) {
            const float noise = layout.kind == SpectralLayout::Kind::random
                                    ? 0.0f
                                    : static_cast<float>(rng.normal() * 1e-4);
            emb(i, d) = static_cast<float>(layout.coords(i, d) * expansion) + noise;
        }
    std::vector<float> out(std::size_t(n * dims));
    for (Eigen::Index d = 0; d < dims; ++d) {
        const float lo = emb.col(d).minCoeff(), hi = emb.col(d).maxCoeff();
        const float range = hi - lo;
        for (Eigen::Index i = 0; i < n; ++i)
            out[std::size_t(i * dims + d)] = range > 0 ? 10.0f * (emb(i, d) - lo) / range : 5.0f;
    }
    return out;
}

}  // namespace umap_detail

/// A fitted UMAP map: the embedding of the training points and what transform() needs.
template <class Scalar>
class Umap {
  public:
    using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
    /// The training points kept for transform(): row-major, so that keeping a row-major
    /// input is a contiguous copy (a column-major copy of 70,000 x 784 was ~0.4 s).
    using RowMatrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

    /// Prepares a fit of the rows of X (N x D, N >= 2, finite values): kNN graph, fuzzy
    /// graph, spectral initialisation; the returned status then runs the SGD epochs. Throws
    /// InvalidArgument on bad options or input.
    template <class Derived>
    static UmapStatus<Scalar> initialize(const Eigen::MatrixBase<Derived>& X,
                                         const UmapOptions& options = {}) {
        check_input(X.rows(), options);
        const KnnOptions knn =
            knn_options(options.knn, graph_k(options, X.rows()), options.threads, options.seed);
        // Searched in X's own storage order: the search copies the rows into row-major floats,
        // which from a column-major copy is a second strided pass over the data.
        const KnnGraph graph = knn_graph(X.template cast<Scalar>(), knn);
        return start(X.template cast<Scalar>(), graph, options);
    }

    /// As initialize(X, options), from a precomputed kNN graph of X's rows (knn_graph(),
    /// self excluded, nearest first), e.g. one shared with t-SNE. Its first n_neighbors - 1
    /// columns are used (extra columns are ignored), so it needs at least that many. X is
    /// still needed by transform() and for placing disconnected components.
    template <class Derived>
    static UmapStatus<Scalar> initialize(const Eigen::MatrixBase<Derived>& X, const KnnGraph& knn,
                                         const UmapOptions& options = {}) {
        check_input(X.rows(), options);
        return start(X.template cast<Scalar>(), knn, options);
    }

    /// Fits UMAP to the rows of X: initialize(X, options) run to the last epoch.
    template <class Derived>
    static Umap fit(const Eigen::MatrixBase<Derived>& X, const UmapOptions& options = {}) {
        auto status = initialize(X, options);
        status.run();
        return std::move(status).map();
    }

    /// Fits UMAP from a precomputed kNN graph of X (see initialize(X, knn, options)).
    template <class Derived>
    static Umap fit(const Eigen::MatrixBase<Derived>& X, const KnnGraph& knn,
                    const UmapOptions& options = {}) {
        auto status = initialize(X, knn, options);
        status.run();
        return std::move(status).map();
    }

    /// A fitted map restored from its training points and their map positions (e.g. a
    /// cached map), so transform() can place new points exactly as the original fit would:
    /// transform() depends only on X, the embedding and the options. Throws InvalidArgument
    /// on mismatched sizes or bad options.
    template <class DerivedX, class DerivedE>
    static Umap from_embedding(const Eigen::MatrixBase<DerivedX>& X,
                               const Eigen::MatrixBase<DerivedE>& embedding,
                               const UmapOptions& options = {}) {
        umap_detail::check_options(options);
        if (X.rows() < 2 || embedding.rows() != X.rows() || embedding.cols() != options.dims)
            throw InvalidArgument("UMAP from_embedding: " + std::to_string(X.rows()) +
                                  " points and a " + std::to_string(embedding.rows()) + " x " +
                                  std::to_string(embedding.cols()) + " map for dims " +
                                  std::to_string(options.dims));
        Umap model;
        model.options_ = options;
        model.options_.progress = nullptr;
        const auto curve = find_ab_params(options.spread, options.min_dist);
        model.a_ = curve.a;
        model.b_ = curve.b;
        model.train_ = X.template cast<Scalar>();
        model.knn_k_ = graph_k(options, X.rows());
        model.embedding_float_.resize(std::size_t(X.rows() * options.dims));
        for (Eigen::Index i = 0; i < X.rows(); ++i)
            for (int d = 0; d < options.dims; ++d)
                model.embedding_float_[std::size_t(i * options.dims + d)] =
                    static_cast<float>(embedding(i, d));
        model.embedding_ = to_matrix(model.embedding_float_, X.rows(), options.dims);
        return model;
    }

    /// The map of the training points, N x dims.
    const Matrix& embedding() const { return embedding_; }

    /// Places new points (rows of Xnew, same D as training) into the fitted map without
    /// changing it, like umap-learn's transform(): their n_neighbors nearest training
    /// points, membership strengths, start at the weighted mean of those neighbours' map
    /// positions, then SGD moving only the new points (n_epochs / 3 epochs, or 100 for up
    /// to 10,000 new points and 30 beyond; learning rate / 4). Deterministic for the seed.
    template <class Derived>
    Matrix transform(const Eigen::MatrixBase<Derived>& Xnew) const {
        if (Xnew.cols() != train_.cols())
            throw InvalidArgument("UMAP transform: new points have " + std::to_string(Xnew.cols()) +
                                  " columns, the map was fitted on " +
                                  std::to_string(train_.cols()));
        const Eigen::Index m = Xnew.rows(), n = train_.rows();
        const int dims = options_.dims;
        if (m == 0) return Matrix(0, dims);
        const int k = static_cast<int>(std::min<Eigen::Index>(options_.n_neighbors, n));
        const KnnGraph knn = knn_query(train_, Xnew, k, options_.knn.metric, options_.threads);
        const FuzzyGraph graph = transform_graph(knn, n, options_.threads);

        std::vector<float> emb(std::size_t(m * dims), 0.0f);
        for (Eigen::Index i = 0; i < m; ++i) {
            float* out = &emb[std::size_t(i * dims)];
            double total = 0;
            std::vector<double> acc(std::size_t(dims), 0.0);
            int exact_match = -1;
            for (FuzzyGraph::InnerIterator it(graph, i); it; ++it) {
                if (it.value() == 1.0f && exact_match < 0) exact_match = it.col();
                total += it.value();
                for (int d = 0; d < dims; ++d)
                    acc[std::size_t(d)] +=
                        double(it.value()) * embedding_float_[std::size_t(it.col()) * dims + d];
            }
            for (int d = 0; d < dims; ++d) {
                // umap-learn: a point with weight 1 to a training point starts on it
                if (exact_match >= 0)
                    out[d] = embedding_float_[std::size_t(exact_match) * dims + d];
                else
                    out[d] = total > 0 ? float(acc[std::size_t(d)] / total) : 0.0f;
            }
        }
        const int n_epochs =
            options_.n_epochs ? std::max(1, *options_.n_epochs / 3) : (m <= 10000 ? 100 : 30);
        umap_detail::SgdSettings settings;
        settings.a = a_;
        settings.b = b_;
        settings.initial_alpha = options_.learning_rate / 4.0;
        settings.negative_sample_rate = options_.negative_sample_rate;
        settings.n_epochs = n_epochs;
        settings.same_set = false;
        settings.seed = derive_seed(options_.seed, 0x7a45f0, std::uint64_t(m));
        settings.threads = options_.threads;
        umap_detail::optimize_layout(emb, embedding_float_, dims,
                                     umap_detail::make_sgd_graph(graph, n_epochs), settings);
        return to_matrix(emb, m, dims);
    }

    double a() const { return a_; }  ///< fitted curve parameter a
    double b() const { return b_; }  ///< fitted curve parameter b
    const UmapOptions& options() const { return options_; }
    /// How the layout was initialised (spectral, per-component, or the random fallback).
    SpectralLayout::Kind initialisation() const { return init_kind_; }
    int graph_components() const { return components_; }

  private:
    friend class UmapStatus<Scalar>;

    static void check_input(Eigen::Index n, const UmapOptions& options) {
        umap_detail::check_options(options);
        if (n < 2) throw InvalidArgument("UMAP: need at least 2 points, got " + std::to_string(n));
    }
    // umap-learn's n_neighbors counts the point itself; our kNN graph excludes it.
    static int graph_k(const UmapOptions& options, Eigen::Index n) {
        return static_cast<int>(std::min<Eigen::Index>(options.n_neighbors - 1, n - 1));
    }

    static UmapStatus<Scalar> start(RowMatrix train, const KnnGraph& knn,
                                    const UmapOptions& options) {
        const Eigen::Index n = train.rows();
        const int k = graph_k(options, n);
        check_knn_graph(knn, n, k, "UMAP");
        UmapStatus<Scalar> status;
        Umap& model = status.map_;
        model.options_ = options;
        model.options_.progress = nullptr;  // the callback belongs to the status only
        const auto curve = find_ab_params(options.spread, options.min_dist);
        model.a_ = curve.a;
        model.b_ = curve.b;
        model.train_ = std::move(train);
        model.knn_k_ = k;
        KnnGraph used;
        if (knn.k() == k) {
            used = knn;
        } else {
            used.indices = knn.indices.leftCols(k);
            used.distances = knn.distances.leftCols(k);
        }
        const FuzzyGraph graph = fuzzy_simplicial_set(used, options.threads);
        const int n_epochs = options.epochs_for(n);
        const auto layout =
            spectral_layout(model.train_, graph, options.dims, options.seed, options.threads);
        model.init_kind_ = layout.kind;
        model.components_ = layout.components;
        umap_detail::SgdSettings settings;
        settings.a = model.a_;
        settings.b = model.b_;
        settings.initial_alpha = options.learning_rate;
        settings.negative_sample_rate = options.negative_sample_rate;
        settings.n_epochs = n_epochs;
        settings.same_set = true;
        settings.seed = options.seed;
        settings.threads = options.threads;
        settings.progress = options.progress;
        status.optimizer_ = umap_detail::LayoutOptimizer(
            umap_detail::initial_embedding(layout, options.seed), {}, options.dims,
            umap_detail::make_sgd_graph(graph, n_epochs), std::move(settings));
        status.sync();
        return status;
    }

    static Matrix to_matrix(const std::vector<float>& data, Eigen::Index rows, int dims) {
        Matrix out(rows, dims);
        for (Eigen::Index i = 0; i < rows; ++i)
            for (int d = 0; d < dims; ++d)
                out(i, d) = static_cast<Scalar>(data[std::size_t(i * dims + d)]);
        return out;
    }

    UmapOptions options_;
    double a_ = 0, b_ = 0;
    RowMatrix train_;
    int knn_k_ = 0;
    std::vector<float> embedding_float_;  // row-major, what SGD and transform() work on
    Matrix embedding_;
    SpectralLayout::Kind init_kind_ = SpectralLayout::Kind::spectral;
    int components_ = 1;
};

/// A UMAP fit in progress (Umap::initialize): the layout after epoch() of n_epochs() SGD
/// epochs. run() calls may be split anyhow: run(100); run(200) gives the same bits as
/// run(300), at any thread count. The progress callback of the options is called from run().
template <class Scalar>
class UmapStatus {
  public:
    using Matrix = typename Umap<Scalar>::Matrix;

    /// Runs up to `epochs` more epochs (fewer when the last epoch comes first); returns *this.
    UmapStatus& run(int epochs) {
        if (epochs < 0)
            throw InvalidArgument("UMAP run: epochs must be >= 0, got " + std::to_string(epochs));
        optimizer_.run_until(epochs > n_epochs() - epoch() ? n_epochs() : epoch() + epochs);
        sync();
        return *this;
    }
    /// Runs to the last epoch.
    UmapStatus& run() { return run(n_epochs() - epoch()); }

    int epoch() const { return optimizer_.epoch(); }        ///< epochs run so far
    int n_epochs() const { return optimizer_.n_epochs(); }  ///< epochs of the whole fit
    bool done() const { return epoch() >= n_epochs(); }
    /// The current layout, N x dims (the initial layout before the first run()).
    const Matrix& embedding() const { return map_.embedding_; }
    /// The fit as it is now (usually once done()): its embedding() and transform().
    Umap<Scalar> map() const& { return map_; }
    Umap<Scalar> map() && { return std::move(map_); }

  private:
    friend class Umap<Scalar>;
    UmapStatus() = default;
    void sync() {
        map_.embedding_float_ = optimizer_.heads();
        map_.embedding_ =
            Umap<Scalar>::to_matrix(map_.embedding_float_, map_.train_.rows(), map_.options_.dims);
    }

    Umap<Scalar> map_;
    umap_detail::LayoutOptimizer optimizer_;
};

/// The UMAP map (N x dims) of the rows of X; see Umap::fit.
template <class Derived>
Eigen::Matrix<typename Derived::Scalar, Eigen::Dynamic, Eigen::Dynamic> umap(
    const Eigen::MatrixBase<Derived>& X, const UmapOptions& options = {}) {
    return Umap<typename Derived::Scalar>::fit(X, options).embedding();
}

}  // namespace tagmap::project
