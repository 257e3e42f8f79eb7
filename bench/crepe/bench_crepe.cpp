// CREPE tiny throughput in frames/s (real checkpoint, the shared hedgewars-pirate.wav
// at 16 kHz by keeping every 3rd sample): the network alone for several batch sizes
// (frames per GEMM), the whole path from samples (framing, normalisation, network,
// Viterbi decoding), and the decoding alone. Run: bench_crepe [--benchmark_filter=...];
// set TAGMAP_FIXTURES if the shared data is not at ../shared. bench/crepe/torch_crepe.py
// runs PyTorch on the same frames and prints the ratio.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <vector>

#include "tagmap/models/crepe.hpp"

#include "bench_fixtures.hpp"

namespace {

using namespace tagmap;
using bench::fixture_audio;
using bench::shared_dir;

/// The first n normalised frames of the clip (what torch_crepe.py feeds PyTorch).
std::vector<float> frames(std::size_t n) {
    const auto x = fixture_audio(160 * n);
    std::vector<float> out(n * 1024);
    for (std::size_t f = 0; f < n; ++f)
        models::crepe::normalized_frame(x, f, true,
                                        std::span<float, 1024>(out.data() + f * 1024, 1024));
    return out;
}

weights::WeightFile tiny_weights() {
    return weights::WeightFile::load(shared_dir() / "weights/crepe-tiny.pth");
}

template <std::size_t Batch>
void BM_CrepeTiny_Network(benchmark::State& state) {
    auto model = std::make_unique<models::Crepe<models::crepe::tiny, Batch>>();
    model->bind(tiny_weights());
    const std::size_t n = 256;
    const auto in = frames(n);
    std::vector<float> out(n * 360);
    for (auto _ : state) {
        model->activations(in, n, out);
        benchmark::DoNotOptimize(out.data());
    }
    state.counters["frames/s"] =
        benchmark::Counter(double(n), benchmark::Counter::kIsIterationInvariantRate);
    state.counters["GFLOP/s"] = benchmark::Counter(model->flops_per_frame * double(n) * 1e-9,
                                                   benchmark::Counter::kIsIterationInvariantRate);
    state.SetLabel(nn::gemm::backend_name);
}
BENCHMARK(BM_CrepeTiny_Network<1>)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_CrepeTiny_Network<4>)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_CrepeTiny_Network<8>)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_CrepeTiny_Network<16>)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_CrepeTiny_PitchFromSamples(benchmark::State& state) {
    auto model = std::make_unique<models::CrepeTinyPitch>();
    model->bind(tiny_weights());
    const auto x = fixture_audio(160000);  // 10 s -> 1001 frames
    const std::size_t n = models::crepe::frame_count(x.size());
    for (auto _ : state) {
        auto rows = model->run(x);
        benchmark::DoNotOptimize(rows.data());
    }
    state.counters["frames/s"] =
        benchmark::Counter(double(n), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_CrepeTiny_PitchFromSamples)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Crepe_Decode(benchmark::State& state) {
    const bool viterbi = state.range(0) != 0;
    models::CrepeTiny model;
    model.bind(tiny_weights());
    const auto act = model.activations(fixture_audio(160000));
    const std::size_t n = act.size() / 360;
    for (auto _ : state) {
        auto rows = models::crepe::decode(act, n, viterbi);
        benchmark::DoNotOptimize(rows.data());
    }
    state.counters["frames/s"] =
        benchmark::Counter(double(n), benchmark::Counter::kIsIterationInvariantRate);
    state.SetLabel(viterbi ? "viterbi" : "argmax");
}
BENCHMARK(BM_Crepe_Decode)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
