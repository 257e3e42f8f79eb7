// Google Benchmark: exact kNN (the 2,000 x 512 case of the UMAP issue), NN-descent on
// synthetic clusters, and the metrics. Counters report recall against exact neighbours.
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <vector>

#include "tagmap/project/knn/knn.hpp"
#include "tagmap/project/metrics/metrics.hpp"
#include "tagmap/core/random.hpp"

using namespace tagmap;
using namespace tagmap::project;
using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

namespace {

RowMatrixF clusters(int n, int dims, int n_clusters, std::uint64_t seed) {
    Rng rng(seed);
    RowMatrixF centres(n_clusters, dims), X(n, dims);
    for (int c = 0; c < n_clusters; ++c)
        for (int d = 0; d < dims; ++d) centres(c, d) = static_cast<float>(4.0 * rng.normal());
    for (int i = 0; i < n; ++i) {
        const int c = static_cast<int>(rng.below(n_clusters));
        for (int d = 0; d < dims; ++d) X(i, d) = centres(c, d) + static_cast<float>(rng.normal());
    }
    return X;
}

void BM_ExactKnn(benchmark::State& state) {
    const RowMatrixF X =
        clusters(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)), 10, 1);
    const int threads = static_cast<int>(state.range(2));
    for (auto _ : state) benchmark::DoNotOptimize(exact_knn(X, 15, Metric::euclidean, threads));
}
BENCHMARK(BM_ExactKnn)
    ->Args({2000, 512, 1})
    ->Args({2000, 512, 2})
    ->Args({10000, 128, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_NnDescent(benchmark::State& state) {
    const RowMatrixF X =
        clusters(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)), 20, 2);
    NnDescentOptions options;
    options.threads = static_cast<int>(state.range(2));
    KnnGraph graph;
    for (auto _ : state) graph = nn_descent(X, options);
    state.counters["recall@15"] = knn_recall(graph, exact_knn(X, 15, Metric::euclidean, 2));
}
BENCHMARK(BM_NnDescent)
    ->Args({20000, 64, 1})
    ->Args({20000, 64, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_Trustworthiness(benchmark::State& state) {
    const RowMatrixF X = clusters(3000, 200, 10, 3);
    const RowMatrixF Y = X.leftCols(2);
    for (auto _ : state) benchmark::DoNotOptimize(trustworthiness(X, Y, 10, 2));
}
BENCHMARK(BM_Trustworthiness)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
