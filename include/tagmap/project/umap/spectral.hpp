// Spectral initialisation for UMAP: the eigenvectors of the normalised graph Laplacian
// L = I - D^-1/2 W D^-1/2 with the smallest non-trivial eigenvalues, as umap-learn's
// spectral_layout. Computed as the largest eigenvectors of D^-1/2 W D^-1/2 (same vectors)
// with Spectra's implicitly restarted Lanczos (Debian libspectra-dev; umap-learn uses scipy's
// ARPACK eigsh), or a dense solver for tiny graphs.
//
// A disconnected graph gets a per-component layout (as umap-learn's multi_component_layout):
// each component is laid out spectrally around its own centre, centres being +-unit vectors
// when there are at most 2 * dims components, otherwise the PCA of the components' centroids
// in data space (umap-learn uses a spectral embedding of the centroids there). If the solver
// fails or returns non-finite values, the layout falls back to uniform random in [-10, 10],
// like umap-learn. The result never contains NaN.
//
// API (namespace tagmap::project):
//   struct SpectralLayout { Eigen::MatrixXd coords; Kind kind; int components; };
//   SpectralLayout spectral_layout(X, graph, dims, seed, threads = 1)   // coords: N x dims
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include <Spectra/SymEigsSolver.h>
#include <Eigen/Dense>
#include <Eigen/Sparse>

#include "tagmap/core/error.hpp"
#include "tagmap/core/parallel.hpp"
#include "tagmap/core/random.hpp"
#include "tagmap/project/umap/fuzzy_graph.hpp"

namespace tagmap::project {

struct SpectralLayout {
    enum class Kind { spectral, components, random };
    Eigen::MatrixXd coords;  ///< N x dims
    Kind kind = Kind::spectral;
    int components = 1;  ///< connected components of the graph
};

namespace umap_detail {

/// Connected component label of every vertex (labels in order of first vertex) and count.
inline int connected_components(const FuzzyGraph& graph, std::vector<int>& labels) {
    const auto n = static_cast<std::size_t>(graph.rows());
    labels.assign(n, -1);
    int count = 0;
    std::vector<int> stack;
    for (std::size_t start = 0; start < n; ++start) {
        if (labels[start] >= 0) continue;
        labels[start] = count;
        stack.assign(1, int(start));
        while (!stack.empty()) {
            const int v = stack.back();
            stack.pop_back();
            for (FuzzyGraph::InnerIterator it(graph, v); it; ++it) {
                if (labels[std::size_t(it.col())] < 0) {
                    labels[std::size_t(it.col())] = count;
                    stack.push_back(it.col());
                }
            }
        }
        ++count;
    }
    return count;
}

/// y = A x for the Lanczos solver, A row-major: each row's sum is one thread's, in a fixed
/// order, so the product has the same bits at any thread count. (Spectra's SparseSymMatProd
/// multiplies through a self-adjoint view of a column-major matrix, on one thread; the
/// products are most of the solver's time.)
class RowBlockProduct {
  public:
    using Scalar = double;
    RowBlockProduct(const Eigen::SparseMatrix<double, Eigen::RowMajor>& matrix, int threads)
        : matrix_(matrix), threads_(threads) {}
    Eigen::Index rows() const { return matrix_.rows(); }
    Eigen::Index cols() const { return matrix_.cols(); }
    void perform_op(const double* x, double* y) const {
        const int* outer = matrix_.outerIndexPtr();
        const int* inner = matrix_.innerIndexPtr();
        const double* value = matrix_.valuePtr();
        parallel_for_blocks(std::size_t(matrix_.rows()), 1024, threads_,
                            [&](std::size_t, std::size_t begin, std::size_t end) {
                                for (std::size_t r = begin; r < end; ++r) {
                                    double sum = 0;
                                    for (int k = outer[r]; k < outer[r + 1]; ++k)
                                        sum += value[k] * x[inner[k]];
                                    y[r] = sum;
                                }
                            });
    }

  private:
    const Eigen::SparseMatrix<double, Eigen::RowMajor>& matrix_;
    int threads_;
};

/// The `dims` non-trivial Laplacian eigenvectors of a connected graph, or nothing when the
/// solver does not converge.
inline std::optional<Eigen::MatrixXd> laplacian_eigenmap(const FuzzyGraph& graph, int dims,
                                                         int threads = 1) {
    const Eigen::Index n = graph.rows();
    const int nev = dims + 1;
    if (n <= nev) return std::nullopt;
    Eigen::VectorXd inv_sqrt_degree(n);
    for (Eigen::Index i = 0; i < n; ++i) {
        double degree = 0;
        for (FuzzyGraph::InnerIterator it(graph, i); it; ++it) degree += it.value();
        if (!(degree > 0)) return std::nullopt;
        inv_sqrt_degree[i] = 1.0 / std::sqrt(degree);
    }
    std::vector<Eigen::Triplet<double>> triplets;
    triplets.reserve(std::size_t(graph.nonZeros()));
    for (Eigen::Index i = 0; i < n; ++i)
        for (FuzzyGraph::InnerIterator it(graph, i); it; ++it)
            triplets.emplace_back(int(i), it.col(),
                                  inv_sqrt_degree[i] * it.value() * inv_sqrt_degree[it.col()]);
    Eigen::SparseMatrix<double, Eigen::RowMajor> normalized(n, n);
    normalized.setFromTriplets(triplets.begin(), triplets.end());

    Eigen::MatrixXd vectors;
    if (n <= 256) {
        // Tiny graphs: a dense solve is exact and cheaper than Lanczos set-up.
        const Eigen::MatrixXd dense = normalized;
        Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(dense);
        if (solver.info() != Eigen::Success) return std::nullopt;
        // Ascending eigenvalues: the largest (trivial, 1) is last.
        vectors.resize(n, dims);
        for (int d = 0; d < dims; ++d) vectors.col(d) = solver.eigenvectors().col(n - 2 - d);
    } else {
        using Op = RowBlockProduct;
        Op op(normalized, threads);
        // A short basis (at most 32 vectors; ARPACK in umap-learn takes sqrt(N)): each restart
        // costs O(N ncv^2), and at this tolerance fewer, cheaper restarts win (see the notes).
        const Eigen::Index ncv = std::min<Eigen::Index>(
            n, std::max<Eigen::Index>(2 * nev + 1,
                                      std::min<Eigen::Index>(32, Eigen::Index(std::sqrt(n)))));
        Spectra::SymEigsSolver<Op> solver(op, nev, ncv);
        solver.init();  // Spectra's fixed-seed start vector: deterministic
        // Bounded restarts: a graph that does not converge falls back instead of stalling.
        solver.compute(Spectra::SortRule::LargestAlge, 1000, 1e-4);
        if (solver.info() != Spectra::CompInfo::Successful) return std::nullopt;
        // Descending eigenvalues: drop the first (trivial) eigenvector.
        vectors = solver.eigenvectors().middleCols(1, dims);
    }
    if (!vectors.allFinite()) return std::nullopt;
    return vectors;
}

inline Eigen::MatrixXd random_layout(Eigen::Index n, int dims, double half_width,
                                     std::uint64_t seed, std::uint64_t stream) {
    Rng rng = Rng::for_stream(seed, 0x5bec7a1, stream);
    Eigen::MatrixXd out(n, dims);
    for (Eigen::Index i = 0; i < n; ++i)
        for (int d = 0; d < dims; ++d) out(i, d) = (2 * rng.uniform() - 1) * half_width;
    return out;
}

/// Centres of the components: +-unit vectors when few, else PCA of their data centroids.
template <class Derived>
std::optional<Eigen::MatrixXd> component_centres(const Eigen::MatrixBase<Derived>& X,
                                                 const std::vector<int>& labels, int count,
                                                 int dims) {
    Eigen::MatrixXd centres = Eigen::MatrixXd::Zero(count, dims);
    if (count <= 2 * dims) {
        for (int c = 0; c < count; ++c) centres(c, c % dims) = c < dims ? 1.0 : -1.0;
        return centres;
    }
    const Eigen::Index features = X.cols();
    constexpr Eigen::Index kMaxDenseSide = 2048;
    if (std::min<Eigen::Index>(count, features) > kMaxDenseSide) return std::nullopt;
    Eigen::MatrixXd centroids = Eigen::MatrixXd::Zero(count, features);
    Eigen::VectorXd sizes = Eigen::VectorXd::Zero(count);
    for (Eigen::Index i = 0; i < X.rows(); ++i) {
        centroids.row(labels[std::size_t(i)]) += X.row(i).template cast<double>();
        sizes[labels[std::size_t(i)]] += 1;
    }
    for (int c = 0; c < count; ++c) centroids.row(c) /= sizes[c];
    centroids.rowwise() -= centroids.colwise().mean();
    // Principal axes from the smaller of the two Gram matrices.
    if (count <= features) {
        Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(centroids * centroids.transpose());
        if (solver.info() != Eigen::Success) return std::nullopt;
        for (int d = 0; d < dims && d < count; ++d) {
            const double lambda = std::max(0.0, solver.eigenvalues()[count - 1 - d]);
            centres.col(d) = solver.eigenvectors().col(count - 1 - d) * std::sqrt(lambda);
        }
    } else {
        Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(centroids.transpose() * centroids);
        if (solver.info() != Eigen::Success) return std::nullopt;
        for (int d = 0; d < dims && d < features; ++d)
            centres.col(d) = centroids * solver.eigenvectors().col(features - 1 - d);
    }
    const double scale = centres.cwiseAbs().maxCoeff();
    if (!(scale > 0) || !centres.allFinite()) return std::nullopt;
    return centres / scale;
}

}  // namespace umap_detail

/// Spectral layout of `graph` (N x N, symmetric), N x dims, never NaN; see header comment.
/// X (N x D) is used only for the centroids of disconnected components.
/// `threads` (0 = all cores) runs the solver's matrix products in parallel, same bits.
template <class Derived>
SpectralLayout spectral_layout(const Eigen::MatrixBase<Derived>& X, const FuzzyGraph& graph,
                               int dims, std::uint64_t seed, int threads = 1) {
    if (dims < 1) throw InvalidArgument("spectral_layout: dims must be >= 1");
    if (graph.rows() != graph.cols() || graph.rows() != X.rows())
        throw InvalidArgument("spectral_layout: graph is " + std::to_string(graph.rows()) + " x " +
                              std::to_string(graph.cols()) + " but X has " +
                              std::to_string(X.rows()) + " rows");
    const Eigen::Index n = graph.rows();
    SpectralLayout out;
    std::vector<int> labels;
    out.components = umap_detail::connected_components(graph, labels);
    auto fallback = [&] {
        out.kind = SpectralLayout::Kind::random;
        out.coords = umap_detail::random_layout(n, dims, 10.0, seed, 0);
        return out;
    };
    if (out.components == 1) {
        auto vectors = umap_detail::laplacian_eigenmap(graph, dims, threads);
        if (!vectors) return fallback();
        out.coords = std::move(*vectors);
        return out;
    }
    auto centres = umap_detail::component_centres(X, labels, out.components, dims);
    if (!centres) return fallback();
    out.kind = SpectralLayout::Kind::components;
    out.coords.resize(n, dims);
    std::vector<std::vector<int>> members(std::size_t(out.components));
    for (Eigen::Index i = 0; i < n; ++i)
        members[std::size_t(labels[std::size_t(i)])].push_back(int(i));
    for (int c = 0; c < out.components; ++c) {
        const auto& vertices = members[std::size_t(c)];
        double nearest = std::numeric_limits<double>::infinity();
        for (int o = 0; o < out.components; ++o) {
            const double d = (centres->row(o) - centres->row(c)).norm();
            if (o != c && d > 0) nearest = std::min(nearest, d);
        }
        const double half_width = std::isfinite(nearest) ? nearest / 2 : 1.0;
        const auto size = static_cast<Eigen::Index>(vertices.size());
        std::optional<Eigen::MatrixXd> local;
        if (size >= 2 * dims && size > dims + 1) {
            std::vector<int> local_index(std::size_t(n), -1);
            for (std::size_t v = 0; v < vertices.size(); ++v)
                local_index[std::size_t(vertices[v])] = int(v);
            std::vector<Eigen::Triplet<float, int>> triplets;
            for (int v : vertices)
                for (FuzzyGraph::InnerIterator it(graph, v); it; ++it)
                    triplets.emplace_back(local_index[std::size_t(v)],
                                          local_index[std::size_t(it.col())], it.value());
            FuzzyGraph sub(size, size);
            sub.setFromTriplets(triplets.begin(), triplets.end());
            local = umap_detail::laplacian_eigenmap(sub, dims, threads);
            if (local) {
                const double extent = local->cwiseAbs().maxCoeff();
                if (extent > 0) *local *= half_width / extent;
            }
        }
        if (!local)
            local = umap_detail::random_layout(size, dims, half_width, seed, std::uint64_t(c) + 1);
        for (Eigen::Index v = 0; v < size; ++v)
            out.coords.row(vertices[std::size_t(v)]) = local->row(v) + centres->row(c);
    }
    if (!out.coords.allFinite()) return fallback();
    return out;
}

}  // namespace tagmap::project
