// UMAP fit time on 2,000 x 512 (10 Gaussian clusters, seeded), the small-input target
// (<= 0.3 s), by output dims and thread count; plus transform() of 500 new points.
//   build-*/bin/bench_umap --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <Eigen/Dense>

#include "tagmap/core/random.hpp"
#include "tagmap/project/umap/umap.hpp"

namespace tp = tagmap::project;

namespace {

Eigen::MatrixXf clusters(int n, int dims, std::uint64_t seed) {
    tagmap::Rng rng(seed);
    Eigen::MatrixXf centres(10, dims);
    for (int c = 0; c < 10; ++c)
        for (int d = 0; d < dims; ++d) centres(c, d) = float(rng.normal());
    Eigen::MatrixXf X(n, dims);
    for (int i = 0; i < n; ++i)
        for (int d = 0; d < dims; ++d) X(i, d) = centres(i % 10, d) + float(rng.normal());
    return X;
}

const Eigen::MatrixXf& data() {
    static const Eigen::MatrixXf X = clusters(2000, 512, 1);
    return X;
}

void BM_UmapFit_2000x512(benchmark::State& state) {
    tp::UmapOptions options;
    options.dims = int(state.range(0));
    options.threads = int(state.range(1));
    for (auto _ : state) {
        auto Y = tp::umap(data(), options);
        benchmark::DoNotOptimize(Y.data());
    }
    state.counters["points/s"] =
        benchmark::Counter(2000.0 * double(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_UmapFit_2000x512)
    ->ArgNames({"dims", "threads"})
    ->Args({2, 1})
    ->Args({2, 2})
    ->Args({3, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_UmapTransform_500_into_2000x512(benchmark::State& state) {
    tp::UmapOptions options;
    options.threads = int(state.range(0));
    static const auto model = tp::Umap<float>::fit(data(), options);
    static const Eigen::MatrixXf fresh = clusters(500, 512, 1).eval();
    for (auto _ : state) {
        auto Y = model.transform(fresh);
        benchmark::DoNotOptimize(Y.data());
    }
}
BENCHMARK(BM_UmapTransform_500_into_2000x512)
    ->ArgNames({"threads"})
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
