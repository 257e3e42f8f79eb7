// MusiCNN-MTAT throughput (chunks/s, real checkpoint) and the GFLOP/s of each of its
// layers on their real shapes. Run: bench_models [--benchmark_filter=...]; set
// TAGMAP_FIXTURES if the shared data is not at ../shared. bench/models/torch_ratio.py
// runs PyTorch on the same chunks and prints the ratio.
#include <benchmark/benchmark.h>
#include <sndfile.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <stdexcept>
#include <vector>

#include "tagmap/models/musicnn.hpp"
#include "tagmap/models/vgg.hpp"

namespace {

using namespace tagmap;
using namespace tagmap::nn;

std::filesystem::path shared_dir() {
    if (const char* env = std::getenv("TAGMAP_FIXTURES"); env && *env) return env;
    return "../shared";
}

/// The model fixtures' audio recipe (tests/data/models/manifest.json): the shared
/// hedgewars-pirate.wav, every 3rd sample -> 16 kHz; first n samples, repeated if short.
/// torch_ratio.py feeds PyTorch the very same chunks.
std::vector<float> fixture_audio(std::size_t n) {
    const auto path = shared_dir() / "audio/hedgewars-pirate.wav";
    SF_INFO info{};
    SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
    if (!f) throw std::runtime_error("cannot open " + path.string());
    std::vector<float> all(static_cast<std::size_t>(info.frames) * info.channels);
    sf_readf_float(f, all.data(), info.frames);
    sf_close(f);
    std::vector<float> out;
    for (std::size_t i = 0; out.size() < n; i = (i + 3) % all.size()) out.push_back(all[i]);
    return out;
}

std::vector<float> test_signal(std::size_t n) {
    std::mt19937 rng(42);
    std::normal_distribution<float> noise(0.0f, 0.05f);
    std::vector<float> x(n);
    for (std::size_t i = 0; i < n; ++i)
        x[i] = 0.3f * std::sin(0.07f * float(i)) * std::sin(0.0003f * float(i)) + noise(rng);
    return x;
}

void BM_MusicnnMtat_Chunk(benchmark::State& state) {
    auto model = std::make_unique<models::MusicnnMtat>();
    model->bind(weights::WeightFile::load(shared_dir() / "weights/musicnn-mtat.pth"));
    const std::size_t n = static_cast<std::size_t>(state.range(0));
    const auto chunks = fixture_audio(n * models::MusicnnMtat::input_samples);
    std::vector<float> tags(n * 50), emb(n * 200);
    for (auto _ : state) {
        model->forward_batch(chunks, n, tags, emb);
        benchmark::DoNotOptimize(tags.data());
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
    state.counters["chunks/s"] =
        benchmark::Counter(double(n), benchmark::Counter::kIsIterationInvariantRate);
    state.counters["GFLOP/s"] = benchmark::Counter(models::MusicnnMtat::flops * double(n) * 1e-9,
                                                   benchmark::Counter::kIsIterationInvariantRate);
    state.SetLabel(gemm::backend_name);
}
BENCHMARK(BM_MusicnnMtat_Chunk)->Arg(1)->Arg(4)->Unit(benchmark::kMillisecond)->UseRealTime();

/// One concrete layer on its MusiCNN input shape, random parameters and input.
template <class D, class In>
void layer_bench(benchmark::State& state) {
    using L = typename D::template on<In>;
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(-0.1f, 0.1f);
    std::vector<float> params(L::param_floats), in(In::size), out(L::Out::size),
        work(L::work_floats + 16);
    for (auto& v : params) v = u(rng);
    for (auto& v : in) v = u(rng);
    L layer;
    if constexpr (requires { layer.params; }) layer.params = params.data();
    for (auto _ : state) {
        layer.forward(in.data(), out.data(), work.data());
        benchmark::DoNotOptimize(out.data());
    }
    state.counters["GFLOP/s"] =
        benchmark::Counter(L::flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["MFLOP"] = L::flops * 1e-6;
}

using Spec = Shape<1, 96, 188>;
using Signal1 = Shape<1, 1, 188>;
void BM_Layer_layers0_conv_67x7(benchmark::State& s) {
    layer_bench<
        Conv2d<"layers.0.conv", 1, 204, Kernel<67, 7>, Stride<1, 1>, Padding<0, 3>, post::ReLU>,
        Spec>(s);
}
void BM_Layer_layers1_conv_38x7(benchmark::State& s) {
    layer_bench<
        Conv2d<"layers.1.conv", 1, 204, Kernel<38, 7>, Stride<1, 1>, Padding<0, 3>, post::ReLU>,
        Spec>(s);
}
void BM_Layer_layers2_conv1d_129(benchmark::State& s) {
    layer_bench<Conv1d<"layers.2.conv", 1, 51, 129, 1, 64, post::ReLU>, Signal1>(s);
}
void BM_Layer_layer1_conv1d_561to64(benchmark::State& s) {
    layer_bench<Conv1d<"layer1.conv", 561, 64, 7, 1, 3, post::ReLU>, Shape<561, 1, 188>>(s);
}
void BM_Layer_layer2_conv1d_64to64(benchmark::State& s) {
    layer_bench<Conv1d<"layer2.conv", 64, 64, 7, 1, 3, post::ReLU>, Shape<64, 1, 188>>(s);
}
void BM_Layer_dense1_1506to200(benchmark::State& s) {
    layer_bench<Linear<"dense1", 1506, 200, post::ReLU>, Shape<1506>>(s);
}
void BM_Layer_max_over_freq(benchmark::State& s) {
    layer_bench<MaxOver<Axis::height>, Shape<204, 59, 188>>(s);
}
BENCHMARK(BM_Layer_layers0_conv_67x7)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Layer_layers1_conv_38x7)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Layer_layers2_conv1d_129)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Layer_layer1_conv1d_561to64)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Layer_layer2_conv1d_64to64)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Layer_dense1_1506to200)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Layer_max_over_freq)->Unit(benchmark::kMicrosecond);

// The front end alone (STFT + mel + dB) for one chunk, to see its share.
void BM_MusicnnMtat_LogMel(benchmark::State& state) {
    const auto w = weights::WeightFile::load(shared_dir() / "weights/musicnn-mtat.pth");
    const auto win = w.get_f32("spec.spectrogram.window", {512});
    const auto fb = w.get_f32("spec.mel_scale.fb", {257, 96});
    audio::LogMelSpectrogram mel(512, 256, win, fb, 96, 48000);
    const auto x = test_signal(48000);
    std::vector<float> out(96 * 188);
    for (auto _ : state) {
        mel.compute(x, out);
        benchmark::DoNotOptimize(out.data());
    }
}
BENCHMARK(BM_MusicnnMtat_LogMel)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
