// Per-iteration cost of the t-SNE repulsion methods (exact, Barnes-Hut, FFT) in 2D and 3D
// on a clustered synthetic map of N points and a given extent (args: N, extent); and the
// affinity (P) construction. Extents: early maps span a few units, converged ones tens
// (2D 20k FMNIST: ~150, 3D: ~120), where the FFT method switches to its near-field split.
#include <benchmark/benchmark.h>

#include <vector>

#include "tagmap/core/random.hpp"
#include "tagmap/project/tsne/tsne.hpp"

namespace {

using namespace tagmap;
using namespace tagmap::project;
using namespace tagmap::project::tsne_detail;

// 30 Gaussian clusters in a cube of side `extent` (a typical late-optimisation t-SNE map).
RowMatrixD clustered_map(std::size_t n, int dims, double extent) {
    Rng rng(1);
    Eigen::MatrixXd centres(30, dims);
    for (Eigen::Index i = 0; i < centres.size(); ++i)
        centres.data()[i] = (rng.uniform() - 0.5) * extent;
    RowMatrixD Y(static_cast<Eigen::Index>(n), dims);
    for (std::size_t i = 0; i < n; ++i) {
        const auto c = static_cast<Eigen::Index>(rng.below(30));
        for (int d = 0; d < dims; ++d)
            Y(static_cast<Eigen::Index>(i), d) = centres(c, d) + rng.normal() * extent / 15;
    }
    return Y;
}

template <int D, class Repulsion>
void run(benchmark::State& state, Repulsion& repulsion) {
    const auto n = static_cast<std::size_t>(state.range(0));
    const auto extent = static_cast<double>(state.range(1));
    const RowMatrixD Y = clustered_map(n, D, extent);
    std::vector<double> rep(n * D);
    for (auto _ : state) benchmark::DoNotOptimize(repulsion(Y.data(), n, rep.data(), 2));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

template <int D>
void BM_Exact(benchmark::State& state) {
    auto exact = [](const double* y, std::size_t n, double* rep, int t) {
        return exact_repulsion<D>(y, n, rep, t);
    };
    run<D>(state, exact);
}
template <int D>
void BM_BarnesHut(benchmark::State& state) {
    BarnesHutRepulsion<D> bh(0.5);
    run<D>(state, bh);
}
template <int D>
void BM_Fft(benchmark::State& state) {
    FftRepulsion<D> fft;
    run<D>(state, fft);
}

void BM_Affinities(benchmark::State& state) {
    const auto n = static_cast<int>(state.range(0));
    Rng rng(2);
    Eigen::MatrixXf X(n, 50);
    for (Eigen::Index i = 0; i < X.size(); ++i) X.data()[i] = static_cast<float>(rng.normal());
    const auto graph = exact_knn(X, tsne_neighbours_for(30, n), Metric::euclidean, 2);
    for (auto _ : state) benchmark::DoNotOptimize(tsne_affinities(graph, 30, 2).nnz());
}

}  // namespace

BENCHMARK(BM_Exact<2>)->Args({5000, 80})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_BarnesHut<2>)
    ->ArgsProduct({{5000, 20000, 70000}, {10, 150}})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Fft<2>)->ArgsProduct({{5000, 20000, 70000}, {10, 150}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Exact<3>)->Args({5000, 40})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_BarnesHut<3>)
    ->ArgsProduct({{2000, 5000, 20000}, {5, 120}})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Fft<3>)->ArgsProduct({{2000, 5000, 20000}, {5, 120}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Affinities)->Arg(20000)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
