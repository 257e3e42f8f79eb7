// MusiCNN-MTAT throughput (chunks/s, real checkpoint) at 1 and 2 threads, each layer's
// GFLOP/s and share of a chunk's time, for both kernels of the vertical convolutions
// (spectral, the default, and the GEMM reference). Run: bench_models
// [--benchmark_filter=...]; set TAGMAP_FIXTURES if the shared data is not at ../shared.
// bench/models/run_pytorch_ratio.sh runs PyTorch on the same chunks and prints the ratio.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "tagmap/core/cpu_features.hpp"
#include "tagmap/models/musicnn.hpp"

#include "bench_fixtures.hpp"

namespace {

using namespace tagmap;
using bench::fixture_audio;
using bench::shared_dir;
using namespace tagmap::nn;

using Spectral = models::MusicnnWith<TallConv::spectral, 204, 51, 64, 200>;
using GemmRef = models::MusicnnWith<TallConv::gemm, 204, 51, 64, 200>;
using Bf16 = models::MusicnnMtatBf16;  // TallConv::spectral_bf16, needs AVX512_BF16
static_assert(std::is_same_v<Spectral, models::MusicnnMtat>);

const weights::WeightFile& checkpoint() {
    static const auto w = weights::WeightFile::load(shared_dir() / "weights/musicnn-mtat.pth");
    return w;
}

/// Chunks per second of one model instance per benchmark thread (as `tagmap embed
/// --jobs N` runs them: the Eigen backend is single-threaded), `range(0)` chunks per call.
/// One body for every kernel; the bf16 model skips on CPUs without AVX512_BF16.
template <class Model>
void BM_Chunks(benchmark::State& state) {
    if constexpr (std::is_same_v<Model, Bf16>)
        if (!cpu_has_avx512_bf16()) return state.SkipWithError("this CPU has no AVX512_BF16");
    auto model = std::make_unique<Model>();
    model->bind(checkpoint());
    const std::size_t n = static_cast<std::size_t>(state.range(0));
    const auto chunks = fixture_audio(n * Model::input_samples);
    std::vector<float> tags(n * 50), emb(n * 200);
    for (auto _ : state) {
        model->forward_batch(chunks, n, tags, emb);
        benchmark::DoNotOptimize(tags.data());
    }
    // The whole process's chunks per wall second: the iterations are summed over threads,
    // and so is each thread's counter value, hence kAvgThreads (without it the rate at
    // T threads reads T times too high).
    state.counters["chunks/s"] = benchmark::Counter(
        double(n), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kAvgThreads);
    state.counters["GFLOP/s"] = benchmark::Counter(
        Model::flops * double(n) * 1e-9,
        benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kAvgThreads);
    state.counters["arena_MB"] = double(Model::arena_bytes) / 1e6;
    state.SetLabel(std::is_same_v<Model, Bf16> ? std::string(gemm::backend_name) +
                                                     (cpu_has_amx_bf16() ? ", AMX" : ", vdpbf16ps")
                                               : std::string(gemm::backend_name));
}
// torch_ratio.py runs these by name: BM_MusicnnMtat{,Gemm,Bf16}_Chunk/<n>/real_time/threads:<T>.
BENCHMARK_TEMPLATE(BM_Chunks, Spectral)
    ->Name("BM_MusicnnMtat_Chunk")
    ->Arg(1)
    ->Arg(4)
    ->Threads(1)
    ->Threads(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_Chunks, Bf16)
    ->Name("BM_MusicnnMtatBf16_Chunk")
    ->Arg(1)
    ->Arg(4)
    ->Threads(1)
    ->Threads(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_Chunks, GemmRef)
    ->Name("BM_MusicnnMtatGemm_Chunk")
    ->Arg(1)
    ->Threads(1)
    ->Threads(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

/// One chunk through the model's own layers, each timed on CPU time: counters "<layer> ms"
/// (per chunk), "<layer> %" (share of the chunk) and "<layer> GFLOP/s" (its FLOP count;
/// for the vertical convolutions that of the direct convolution they compute).
template <class Model>
void BM_Layers(benchmark::State& state) {
    using Body = typename Model::Body;
    using Head = typename Model::Head;
    const auto& w = checkpoint();
    std::vector<float> store(Body::param_floats + Head::param_floats);
    ParamBinder binder(models::tensor_views(w), store);
    Body body;
    Head head;
    body.bind(binder);
    head.bind(binder);  // the binder notes the unused front-end tensors; not an error here
    audio::LogMelSpectrogram mel(512, 256, w.get_f32("spec.spectrogram.window", {512}),
                                 w.get_f32("spec.mel_scale.fb", {257, 96}), 96, 48000);
    const auto chunk = fixture_audio(48000);

    auto& bn = std::get<0>(body.layers);
    auto& front = std::get<1>(body.layers);
    auto& back = std::get<2>(body.layers);
    auto& pool = std::get<3>(body.layers);
    auto& dense1 = std::get<4>(body.layers);
    using Front = std::remove_cvref_t<decltype(front)>;
    using Back = std::remove_cvref_t<decltype(back)>;
    const auto aligned = [](std::size_t n) { return std::vector<float>(n + 16); };
    auto spec = aligned(96 * 188), spec_bn = aligned(96 * 188),
         front_out = aligned(Front::Out::size), back_out = aligned(Back::Out::size),
         pooled = aligned(1506), emb = aligned(200), tags = aligned(50),
         work = aligned(Body::work_floats);
    const auto a64 = [](std::vector<float>& v) {
        auto p = reinterpret_cast<std::uintptr_t>(v.data());
        return reinterpret_cast<float*>((p + 63) / 64 * 64);
    };

    constexpr int n_parts = 13;
    const char* names[n_parts] = {"log-mel",  "spec_bn",  "layers.0", "layers.1", "layers.2",
                                  "layers.3", "layers.4", "layer1",   "layer2",   "layer3",
                                  "pool",     "dense1",   "dense2"};
    double flops[n_parts] = {0};
    double seconds[n_parts] = {0};
    // This thread's CPU time: steadier than wall time on a machine shared with others.
    const auto now = [] {
        timespec ts{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
    };
    int part = 0;
    double t0 = 0;
    const auto tick = [&](double f) {
        const double t1 = now();
        seconds[part] += t1 - t0;
        flops[part] = f;
        ++part;
        t0 = t1;
    };
    for (auto _ : state) {
        part = 0;
        t0 = now();
        mel.compute(chunk, {a64(spec), 96 * 188});
        tick(0);
        bn.forward(a64(spec), a64(spec_bn), a64(work));
        tick(std::remove_cvref_t<decltype(bn)>::flops);
        float* slice = a64(front_out);
        std::apply(
            [&](const auto&... layer) {
                ((layer.forward(a64(spec_bn), slice, a64(work)),
                  slice += std::remove_cvref_t<decltype(layer)>::Out::size,
                  tick(std::remove_cvref_t<decltype(layer)>::flops)),
                 ...);
            },
            front.layers);
        std::copy_n(a64(front_out), Front::Out::size, a64(back_out));
        std::apply(
            [&](const auto&... layer) {
                const float* prev = a64(back_out);
                float* next = a64(back_out) + Front::Out::size;
                ((layer.forward(prev, next, a64(work)), prev = next,
                  next += std::remove_cvref_t<decltype(layer)>::Out::size,
                  tick(std::remove_cvref_t<decltype(layer)>::flops)),
                 ...);
            },
            back.layers);
        pool.forward(a64(back_out), a64(pooled), a64(work));
        tick(std::remove_cvref_t<decltype(pool)>::flops);
        dense1.forward(a64(pooled), a64(emb), a64(work));
        tick(std::remove_cvref_t<decltype(dense1)>::flops);
        head.forward(a64(emb), a64(tags), a64(work));
        tick(Head::flops);
        benchmark::DoNotOptimize(tags.data());
    }
    double total = 0;
    for (double s : seconds) total += s;
    const double iters = double(state.iterations());
    for (int i = 0; i < n_parts; ++i) {
        state.counters[std::string(names[i]) + " ms"] = 1e3 * seconds[i] / iters;
        state.counters[std::string(names[i]) + " %"] = 100.0 * seconds[i] / total;
        if (flops[i] > 1e6)
            state.counters[std::string(names[i]) + " GFLOP/s"] =
                1e-9 * flops[i] * iters / seconds[i];
    }
    state.SetLabel(gemm::backend_name);
}
void BM_MusicnnMtat_Layers(benchmark::State& s) {
    BM_Layers<Spectral>(s);
}
void BM_MusicnnMtatGemm_Layers(benchmark::State& s) {
    BM_Layers<GemmRef>(s);
}
void BM_MusicnnMtatBf16_Layers(benchmark::State& s) {  // on the engine bind picks
    if (!cpu_has_avx512_bf16()) return s.SkipWithError("this CPU has no AVX512_BF16");
    BM_Layers<Bf16>(s);
}
BENCHMARK(BM_MusicnnMtatBf16_Layers)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MusicnnMtat_Layers)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MusicnnMtatGemm_Layers)->Unit(benchmark::kMillisecond);

/// One concrete layer on its MusiCNN input shape, random parameters and input.
template <class D, class In, Bf16Engine Engine = Bf16Engine::vdpbf16ps>
void layer_bench(benchmark::State& state) {
    using L = typename D::template on<In>;
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(-0.1f, 0.1f);
    std::vector<float> params(L::param_floats), in(In::size), out(L::Out::size),
        work(L::work_floats + 16);
    for (auto& v : params) v = u(rng);
    for (auto& v : in) v = u(rng);
    L layer;
    if constexpr (requires { layer.derive(params.data()); }) layer.derive(params.data());
    if constexpr (requires { layer.select_engine(Engine); }) layer.select_engine(Engine);
    if constexpr (requires { layer.params; }) layer.params = params.data();
    if constexpr (requires { std::get<0>(layer.layers).params; })
        std::get<0>(layer.layers).params = params.data();  // the unfused conv + max
    float* w =
        reinterpret_cast<float*>((reinterpret_cast<std::uintptr_t>(work.data()) + 63) / 64 * 64);
    for (auto _ : state) {
        layer.forward(in.data(), out.data(), w);
        benchmark::DoNotOptimize(out.data());
    }
    state.counters["GFLOP/s"] =
        benchmark::Counter(L::flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["MFLOP"] = L::flops * 1e-6;
    if constexpr (requires { L::executed_flops; })
        state.counters["executed MFLOP"] = L::executed_flops * 1e-6;
    state.counters["work_MB"] = double(L::work_floats) * 4e-6;
}

using Spec = Shape<1, 96, 188>;
using Signal1 = Shape<1, 1, 188>;
template <std::size_t KH, TallConv A>
using Vert = Conv2dMaxOverHeight<"v", 1, 204, Kernel<KH, 7>, Padding<0, 3>, A, post::ReLU>;
// The vertical convolutions + max over frequency: both kernels, and the unfused form
// (whole-plane im2col GEMM, then MaxOver) they replaced.
void BM_Layer_layers0_67x7_spectral(benchmark::State& s) {
    layer_bench<Vert<67, TallConv::spectral>, Spec>(s);
}
/// The bf16 kernel on one engine (_bf16: vdpbf16ps, _bf16_amx: AMX tiles).
template <std::size_t KH, Bf16Engine Engine>
void bf16_layer_bench(benchmark::State& s) {
    if (!cpu_has_avx512_bf16()) return s.SkipWithError("this CPU has no AVX512_BF16");
    if (Engine == Bf16Engine::amx && !cpu_has_amx_bf16())
        return s.SkipWithError("this process may not use AMX-BF16");
    layer_bench<Vert<KH, TallConv::spectral_bf16>, Spec, Engine>(s);
}
void BM_Layer_layers0_67x7_gemm(benchmark::State& s) {
    layer_bench<Vert<67, TallConv::gemm>, Spec>(s);
}
void BM_Layer_layers0_67x7_unfused(benchmark::State& s) {
    layer_bench<
        Sequential<Conv2d<"c", 1, 204, Kernel<67, 7>, Stride<1, 1>, Padding<0, 3>, post::ReLU>,
                   MaxOver<Axis::height>>,
        Spec>(s);
}
void BM_Layer_layers1_38x7_spectral(benchmark::State& s) {
    layer_bench<Vert<38, TallConv::spectral>, Spec>(s);
}
void BM_Layer_layers1_38x7_gemm(benchmark::State& s) {
    layer_bench<Vert<38, TallConv::gemm>, Spec>(s);
}
void BM_Layer_layers1_38x7_unfused(benchmark::State& s) {
    layer_bench<
        Sequential<Conv2d<"c", 1, 204, Kernel<38, 7>, Stride<1, 1>, Padding<0, 3>, post::ReLU>,
                   MaxOver<Axis::height>>,
        Spec>(s);
}
void BM_Layer_layers2_conv1d_129(benchmark::State& s) {
    layer_bench<Conv1d<"layers.2.conv", 1, 51, 129, 1, 64, post::ReLU>, Signal1>(s);
}
void BM_Layer_layer1_conv1d_561to64(benchmark::State& s) {
    layer_bench<Conv1d<"layer1.conv", 561, 64, 7, 1, 3, post::ReLU>, Shape<561, 1, 188>>(s);
}
void BM_Layer_dense1_1506to200(benchmark::State& s) {
    layer_bench<Linear<"dense1", 1506, 200, post::ReLU>, Shape<1506>>(s);
}
BENCHMARK(BM_Layer_layers0_67x7_spectral)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(bf16_layer_bench, 67, Bf16Engine::vdpbf16ps)
    ->Name("BM_Layer_layers0_67x7_spectral_bf16")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(bf16_layer_bench, 67, Bf16Engine::amx)
    ->Name("BM_Layer_layers0_67x7_spectral_bf16_amx")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(bf16_layer_bench, 38, Bf16Engine::vdpbf16ps)
    ->Name("BM_Layer_layers1_38x7_spectral_bf16")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(bf16_layer_bench, 38, Bf16Engine::amx)
    ->Name("BM_Layer_layers1_38x7_spectral_bf16_amx")
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Layer_layers0_67x7_gemm)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Layer_layers0_67x7_unfused)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Layer_layers1_38x7_spectral)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Layer_layers1_38x7_gemm)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Layer_layers1_38x7_unfused)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Layer_layers2_conv1d_129)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Layer_layer1_conv1d_561to64)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Layer_dense1_1506to200)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
