// VGG (short-chunk CNN) throughput: chunks/s of VggMsd and VggMtat at 1 and 2 threads,
// each block's GFLOP/s and share of a chunk's time, the heavy 3x3 convolutions alone
// with both kernels (Winograd for stride 1, the im2col + GEMM reference), and the
// full-width fidelity against PyTorch. No trained VGG checkpoint exists: the weights are
// the seeded-random full-width modules of tools/make_model_fixtures.py --full-width DIR,
// read from $TAGMAP_VGG_WEIGHTS (= DIR: vgg-msd-full.pth, vgg-mtat-full.pth, and the
// references in manifest.json). bench/models/run_pytorch_ratio.sh ... --model vgg-msd
// runs PyTorch on the same module and chunks and prints the ratio.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "../../tests/common/npy.hpp"
#include "tagmap/models/vgg.hpp"
#include "tagmap/nn/conv_winograd.hpp"

#include "bench_fixtures.hpp"

namespace {

using namespace tagmap;
using bench::fixture_audio;
using namespace tagmap::nn;

/// The full-width fixture directory, or empty (the benchmarks then skip).
std::filesystem::path weights_dir() {
    if (const char* env = std::getenv("TAGMAP_VGG_WEIGHTS"); env && *env) return env;
    return {};
}

template <class Model>
constexpr const char* fixture_name() {
    return std::is_same_v<Model, models::VggMsd> ? "vgg-msd-full" : "vgg-mtat-full";
}

template <class Model>
const weights::WeightFile& checkpoint() {
    static const auto w =
        weights::WeightFile::load(weights_dir() / (std::string(fixture_name<Model>()) + ".pth"));
    return w;
}

bool skip_without_weights(benchmark::State& state) {
    if (!weights_dir().empty()) return false;
    state.SkipWithError("set TAGMAP_VGG_WEIGHTS to a make_model_fixtures.py --full-width dir");
    return true;
}

/// Chunks per second of one model instance per benchmark thread (as `tagmap embed
/// --jobs N` runs them), `range(0)` chunks per call.
template <class Model>
void BM_Chunks(benchmark::State& state) {
    if (skip_without_weights(state)) return;
    auto model = std::make_unique<Model>();
    model->bind(checkpoint<Model>());
    const std::size_t n = static_cast<std::size_t>(state.range(0));
    const auto chunks = fixture_audio(n * Model::input_samples);
    std::vector<float> tags(n * Model::n_tags), emb(n * Model::embedding_dim);
    for (auto _ : state) {
        model->forward_batch(chunks, n, tags, emb);
        benchmark::DoNotOptimize(tags.data());
    }
    // Chunks per wall second of the process (kAvgThreads: see bench_musicnn.cpp).
    state.counters["chunks/s"] = benchmark::Counter(
        double(n), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kAvgThreads);
    state.counters["GFLOP/s"] = benchmark::Counter(
        Model::flops * double(n) * 1e-9,
        benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kAvgThreads);
    state.counters["arena_bytes"] = double(Model::arena_bytes);
    state.counters["param_floats"] = double(Model::param_floats);
    state.SetLabel(gemm::backend_name);
}
void BM_VggMsd_Chunk(benchmark::State& s) {
    BM_Chunks<models::VggMsd>(s);
}
void BM_VggMtat_Chunk(benchmark::State& s) {
    BM_Chunks<models::VggMtat>(s);
}
BENCHMARK(BM_VggMsd_Chunk)
    ->Arg(1)
    ->Arg(4)
    ->Threads(1)
    ->Threads(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_VggMtat_Chunk)
    ->Arg(1)
    ->Arg(4)
    ->Threads(1)
    ->Threads(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

float* align64(std::vector<float>& v) {
    auto p = reinterpret_cast<std::uintptr_t>(v.data());
    return reinterpret_cast<float*>((p + 63) / 64 * 64);
}

/// One chunk through the model's own blocks, each timed on this thread's CPU time:
/// counters "<block> ms" (per chunk), "<block> %" (share of the chunk), "<block> GFLOP/s".
template <class Model>
void BM_Layers(benchmark::State& state) {
    if (skip_without_weights(state)) return;
    using Body = typename Model::Body;
    using Head = typename Model::Head;
    const auto& w = checkpoint<Model>();
    std::vector<float> store(Body::param_floats + Head::param_floats);
    ParamBinder binder(models::tensor_views(w), store);
    Body body;
    Head head;
    body.bind(binder);
    head.bind(binder);  // the binder notes the unused front-end tensors; not an error here
    constexpr std::size_t mels = Model::n_mels, frames = Model::frames;
    audio::LogMelSpectrogram mel(512, 256, w.get_f32("spec.spectrogram.window", {512}),
                                 w.get_f32("spec.mel_scale.fb", {257, mels}), mels,
                                 Model::input_samples);
    const auto chunk = fixture_audio(Model::input_samples);
    std::vector<float> a(Body::work_floats + 16), b(Body::work_floats + 16),
        work(Body::work_floats + 16), tags(Model::n_tags + 16);

    constexpr std::size_t n_parts = std::tuple_size_v<typename Body::Layers> + 2;
    const char* names[n_parts] = {"log-mel", "spec_bn", "layer1", "layer2", "layer3", "layer4",
                                  "layer5",  "layer6",  "layer7", "pool",   "dense1", "dense2"};
    static_assert(n_parts == 12);
    double flops[n_parts] = {0}, seconds[n_parts] = {0};
    const auto now = [] {
        timespec ts{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
    };
    for (auto _ : state) {
        std::size_t part = 0;
        double t0 = now();
        const auto tick = [&](double f) {
            const double t1 = now();
            seconds[part] += t1 - t0;
            flops[part++] = f;
            t0 = t1;
        };
        mel.compute(chunk, {align64(a), mels * frames});
        tick(0);
        float* src = align64(a);
        float* dst = align64(b);
        std::apply(
            [&](const auto&... layer) {
                ((layer.forward(src, dst, align64(work)), std::swap(src, dst),
                  tick(std::remove_cvref_t<decltype(layer)>::flops)),
                 ...);
            },
            body.layers);
        head.forward(src, align64(tags), align64(work));
        tick(Head::flops);
        benchmark::DoNotOptimize(tags.data());
    }
    double total = 0;
    for (double s : seconds) total += s;
    const double iters = double(state.iterations());
    for (std::size_t i = 0; i < n_parts; ++i) {
        state.counters[std::string(names[i]) + " ms"] = 1e3 * seconds[i] / iters;
        state.counters[std::string(names[i]) + " %"] = 100.0 * seconds[i] / total;
        if (flops[i] > 1e6)
            state.counters[std::string(names[i]) + " GFLOP/s"] =
                1e-9 * flops[i] * iters / seconds[i];
    }
    state.SetLabel(gemm::backend_name);
}
void BM_VggMsd_Layers(benchmark::State& s) {
    BM_Layers<models::VggMsd>(s);
}
void BM_VggMtat_Layers(benchmark::State& s) {
    BM_Layers<models::VggMtat>(s);
}
BENCHMARK(BM_VggMsd_Layers)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_VggMtat_Layers)->Unit(benchmark::kMillisecond);

/// One 3x3 pad-1 convolution kernel on its VggMsd shape, random parameters and input.
template <class L>
void conv_bench(benchmark::State& state) {
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(-0.1f, 0.1f);
    std::vector<float> params(L::param_floats + 16), in(L::C * L::H * L::W), out(L::Out::size),
        work(L::work_floats + 16);
    for (auto& v : params) v = u(rng);
    for (auto& v : in) v = u(rng);
    L layer;
    layer.params = params.data();
    if constexpr (requires { L::transform_weights(params.data()); })
        L::transform_weights(params.data());
    for (auto _ : state) {
        layer.forward(in.data(), out.data(), align64(work));
        benchmark::DoNotOptimize(out.data());
    }
    state.counters["GFLOP/s"] =
        benchmark::Counter(L::flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["MFLOP"] = L::flops * 1e-6;
    state.counters["work_MB"] = double(L::work_floats) * 4e-6;
}

template <std::size_t C, std::size_t H, std::size_t W, std::size_t OutC, std::size_t S>
using Im2col = ConvIm2colGemm<Shape<C, H, W>, OutC, 3, 3, S, S, 1, 1, PostOps<post::ReLU>>;
template <std::size_t C, std::size_t H, std::size_t W, std::size_t OutC, std::size_t M,
          std::size_t S = 1>
using Winograd = ConvWinograd<Shape<C, H, W>, OutC, M, S, PostOps<post::ReLU>>;

// VggMsd's stride-1 conv_2 layers (layer1 holds 40 % of the model's FLOPs), then the
// heaviest stride-2 ones.
#define TAGMAP_VGG_CONV2(NAME, C, H, W)                                         \
    void BM_Conv_##NAME##_conv2_im2col(benchmark::State& s) {                   \
        conv_bench<Im2col<C, H, W, C, 1>>(s);                                   \
    }                                                                           \
    void BM_Conv_##NAME##_conv2_winograd2(benchmark::State& s) {                \
        conv_bench<Winograd<C, H, W, C, 2>>(s);                                 \
    }                                                                           \
    void BM_Conv_##NAME##_conv2_winograd4(benchmark::State& s) {                \
        conv_bench<Winograd<C, H, W, C, 4>>(s);                                 \
    }                                                                           \
    BENCHMARK(BM_Conv_##NAME##_conv2_im2col)->Unit(benchmark::kMillisecond);    \
    BENCHMARK(BM_Conv_##NAME##_conv2_winograd2)->Unit(benchmark::kMillisecond); \
    BENCHMARK(BM_Conv_##NAME##_conv2_winograd4)->Unit(benchmark::kMillisecond);
TAGMAP_VGG_CONV2(layer1, 128, 64, 116)
TAGMAP_VGG_CONV2(layer2, 128, 32, 58)
TAGMAP_VGG_CONV2(layer3, 256, 16, 29)
TAGMAP_VGG_CONV2(layer4, 256, 8, 15)
#undef TAGMAP_VGG_CONV2

void BM_Conv_layer2_conv1_stride2_im2col(benchmark::State& s) {
    conv_bench<Im2col<128, 64, 116, 128, 2>>(s);
}
void BM_Conv_layer3_conv1_stride2_im2col(benchmark::State& s) {
    conv_bench<Im2col<128, 32, 58, 256, 2>>(s);
}
void BM_Conv_layer1_conv1_stride2_im2col(benchmark::State& s) {
    conv_bench<Im2col<1, 128, 231, 128, 2>>(s);
}
void BM_Conv_layer7_conv1_stride2_im2col(benchmark::State& s) {
    conv_bench<Im2col<256, 2, 4, 512, 2>>(s);
}
void BM_Conv_layer7_conv2_im2col(benchmark::State& s) {
    conv_bench<Im2col<512, 1, 2, 512, 1>>(s);
}
#define TAGMAP_VGG_CONV1(NAME, C, H, W, OutC)                            \
    void BM_Conv_##NAME##_conv1_stride2_winograd4(benchmark::State& s) { \
        conv_bench<Winograd<C, H, W, OutC, 4, 2>>(s);                    \
    }                                                                    \
    BENCHMARK(BM_Conv_##NAME##_conv1_stride2_winograd4)->Unit(benchmark::kMillisecond);
TAGMAP_VGG_CONV1(layer1, 1, 128, 231, 128)
TAGMAP_VGG_CONV1(layer2, 128, 64, 116, 128)
TAGMAP_VGG_CONV1(layer3, 128, 32, 58, 256)
TAGMAP_VGG_CONV1(layer4, 256, 16, 29, 256)
TAGMAP_VGG_CONV1(layer5, 256, 8, 15, 256)
#undef TAGMAP_VGG_CONV1
void BM_Conv_layer4_conv1_stride2_im2col(benchmark::State& s) {
    conv_bench<Im2col<256, 16, 29, 256, 2>>(s);
}
void BM_Conv_layer5_conv1_stride2_im2col(benchmark::State& s) {
    conv_bench<Im2col<256, 8, 15, 256, 2>>(s);
}
BENCHMARK(BM_Conv_layer4_conv1_stride2_im2col)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Conv_layer5_conv1_stride2_im2col)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Conv_layer1_conv1_stride2_im2col)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Conv_layer7_conv1_stride2_im2col)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Conv_layer7_conv2_im2col)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Conv_layer2_conv1_stride2_im2col)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Conv_layer3_conv1_stride2_im2col)->Unit(benchmark::kMillisecond);

/// Full-width fidelity (by hand): max |taggram diff| and max |embedding diff| against the
/// PyTorch references of make_model_fixtures.py --full-width, as counters.
template <class Model>
void BM_Fidelity(benchmark::State& state) {
    if (skip_without_weights(state)) return;
    const auto dir = weights_dir();
    const std::string name = fixture_name<Model>();
    const auto ref_tags = test::read_npy(dir / (name + ".taggram.npy"));
    const auto ref_emb = test::read_npy(dir / (name + ".embedding.npy"));
    const std::size_t n = ref_tags.rows();
    // The fixture chunks: consecutive windows from sample 0 (not repeated).
    const auto chunks = fixture_audio(n * Model::input_samples);
    auto model = std::make_unique<Model>();
    model->bind(checkpoint<Model>());
    std::vector<float> tags(n * Model::n_tags), emb(n * Model::embedding_dim);
    for (auto _ : state) model->forward_batch(chunks, n, tags, emb);
    double tag_diff = 0, emb_diff = 0, emb_max = 0;
    for (std::size_t i = 0; i < tags.size(); ++i)
        tag_diff = std::max(tag_diff, double(std::abs(tags[i] - ref_tags.values[i])));
    for (std::size_t i = 0; i < emb.size(); ++i) {
        emb_diff = std::max(emb_diff, double(std::abs(emb[i] - ref_emb.values[i])));
        emb_max = std::max(emb_max, double(std::abs(ref_emb.values[i])));
    }
    state.counters["taggram_max_abs_diff"] = tag_diff;
    state.counters["embedding_max_abs_diff"] = emb_diff;
    state.counters["embedding_max_abs"] = emb_max;
}
void BM_VggMsd_FullWidthFidelity(benchmark::State& s) {
    BM_Fidelity<models::VggMsd>(s);
}
void BM_VggMtat_FullWidthFidelity(benchmark::State& s) {
    BM_Fidelity<models::VggMtat>(s);
}
BENCHMARK(BM_VggMsd_FullWidthFidelity)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_VggMtat_FullWidthFidelity)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
