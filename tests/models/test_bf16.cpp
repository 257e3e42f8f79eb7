// TallConv::spectral_bf16 (bf16 operands, fp32 accumulation) against the fp32 spectral
// kernel: one layer on seeded random data on each engine the CPU has (vdpbf16ps, AMX),
// the real MusiCNN-MTAT checkpoint on the fixture chunks, and no allocation in forward.
// Skipped without AVX512_BF16 (the AMX cases without AMX-BF16).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "allocation_counter.hpp"
#include "fidelity.hpp"
#include "tagmap/core/cpu_features.hpp"
#include "tagmap/models/musicnn.hpp"

namespace {

using namespace tagmap;
using namespace tagmap::nn;

#define SKIP_WITHOUT_BF16() \
    if (!cpu_has_avx512_bf16()) GTEST_SKIP() << "this CPU has no AVX512_BF16"

TEST(Bf16, WithoutTheCpuFeatureBindThrowsUnsupported) {
    if (cpu_has_avx512_bf16()) GTEST_SKIP() << "this CPU has AVX512_BF16";
    models::MusicnnMtatBf16 model;
    EXPECT_THROW(
        model.bind(weights::WeightFile::load(test::fixtures_dir() / "weights/musicnn-mtat.pth")),
        UnsupportedError);
}

TEST(Bf16, AmxEngineRefusedWithoutAmx) {
    if (cpu_has_amx_bf16()) GTEST_SKIP() << "this process may use AMX-BF16";
    nn::detail::ConvMaxSpectralBf16<Shape<1, 96, 8>, 16, 67, 7, 3, PostOps<>> layer;
    EXPECT_THROW(layer.select_engine(Bf16Engine::amx), UnsupportedError);
}

TEST(Bf16, RoundsToNearestEven) {
    EXPECT_EQ(bf16::from_float(1.0f), 0x3f80);
    EXPECT_EQ(bf16::to_float(bf16::from_float(1.0f + 0x1p-8f)), 1.0f);  // tie: even
    EXPECT_EQ(bf16::to_float(bf16::from_float(1.0f + 0x1p-8f + 0x1p-12f)), 1.0f + 0x1p-7f);
    EXPECT_EQ(bf16::to_float(bf16::from_float(-3.0f)), -3.0f);
}

/// One layer, MusiCNN's tall shape (96 x 40 input, 67 x 7 filters, 20 filters: a partial
/// block of 16), random weights and input. Each raw output is a sum of K = 469 products;
/// every operand is rounded once or twice to bf16 (relative 2^-9 each) on its way through
/// the transforms, so the error is bounded by a few units of 2^-8 times sum |w| |x|
/// (computed per filter and column below); the test asks for 4 * 2^-8 of that bound.
/// The AMX engine keeps every operand as a hi + lo pair (2^-17 each, the dropped lo.lo
/// term 2^-18): it is asked for 4 * 2^-16.
void expect_tall_layer_within_bf16_bound(Bf16Engine engine) {
    const double unit = engine == Bf16Engine::amx ? 0x1p-16 : 0x1p-8;
    constexpr std::size_t H = 96, W = 40, O = 20, KH = 67, KW = 7, PW = 3;
    using In = Shape<1, H, W>;
    using F = Conv2dMaxOverHeight<"v", 1, O, Kernel<KH, KW>, Padding<0, PW>, TallConv::spectral>;
    using B =
        Conv2dMaxOverHeight<"v", 1, O, Kernel<KH, KW>, Padding<0, PW>, TallConv::spectral_bf16>;
    std::mt19937 rng(7);
    std::normal_distribution<float> d(0.0f, 1.0f);
    std::vector<float> w(O * KH * KW), bias(O), in(H * W);
    for (auto& v : w) v = 0.05f * d(rng);
    for (auto& v : bias) v = 0.1f * d(rng);
    for (auto& v : in) v = d(rng) + 0.5f;  // a mean, as a log-mel has
    const std::vector<TensorView> views = {
        {"v.weight", "float32", {O, 1, KH, KW}, std::as_bytes(std::span<const float>(w))},
        {"v.bias", "float32", {O}, std::as_bytes(std::span<const float>(bias))}};
    const auto run = [&]<class D>(D) {
        using L = typename D::template on<In>;
        L layer;
        std::vector<float> store(L::param_floats);
        ParamBinder binder(views, store);
        layer.bind(binder);
        EXPECT_TRUE(binder.problems().empty());
        if constexpr (L::algorithm == TallConv::spectral_bf16) layer.select_engine(engine);
        std::vector<float> work(L::work_floats + 16, std::nanf("")), out(L::Out::size);
        auto p = reinterpret_cast<std::uintptr_t>(work.data());
        layer.forward(in.data(), out.data(), reinterpret_cast<float*>((p + 63) / 64 * 64));
        return out;
    };
    const auto want = run(F{}), got = run(B{});
    // sum |w| |x| over the filter's window, the largest over its rows, per output.
    double worst = 0;
    for (std::size_t o = 0; o < O; ++o)
        for (std::size_t t = 0; t < W; ++t) {
            double bound = 0;
            for (std::size_t h = 0; h + KH <= H; ++h) {
                double s = 0;
                for (std::size_t kh = 0; kh < KH; ++kh)
                    for (std::size_t kw = 0; kw < KW; ++kw) {
                        const std::ptrdiff_t c = std::ptrdiff_t(t + kw) - std::ptrdiff_t(PW);
                        if (c < 0 || c >= std::ptrdiff_t(W)) continue;
                        s += std::abs(w[(o * KH + kh) * KW + kw] * in[(h + kh) * W + c]);
                    }
                bound = std::max(bound, s);
            }
            const double err = std::abs(got[o * W + t] - want[o * W + t]);
            EXPECT_LE(err, 4.0 * unit * bound) << "filter " << o << " column " << t;
            worst = std::max(worst, err / bound);
        }
    ::testing::Test::RecordProperty("max_error_over_sum_abs", ::testing::PrintToString(worst));
    // Not the fp32 result by accident: bf16 rounding shows.
    EXPECT_GT(worst, 1e-6);
}

TEST(Bf16, TallLayerMatchesFp32WithinBf16Bound) {
    SKIP_WITHOUT_BF16();
    expect_tall_layer_within_bf16_bound(Bf16Engine::vdpbf16ps);
}

TEST(Bf16, TallLayerOnAmxMatchesFp32WithinBf16Bound) {
    if (!cpu_has_amx_bf16()) GTEST_SKIP() << "this process may not use AMX-BF16";
    expect_tall_layer_within_bf16_bound(Bf16Engine::amx);
}

/// The real checkpoint on the fixture's chunks, on the engine bind picks: every chunk keeps
/// its fp32 top-5 tags as a set, and the taggrams stay within 0.02 of fp32 (vdpbf16ps;
/// 0.0039 measured on all 13 shared clips, bench/models/results-2026-12-01-bf16.md) or
/// 1e-4 (AMX, hi + lo operands; bench/models/results-2026-12-02-bf16-amx.md).
TEST(Bf16, MusicnnMtatKeepsTopFiveTags) {
    SKIP_WITHOUT_BF16();
    const auto fx = test::model_fixture("musicnn-mtat");
    const auto chunks = test::fixture_chunks(fx);
    const std::size_t n = fx.at("n_chunks").get<std::size_t>();
    const auto w = test::fixture_weights(fx);
    auto ref = std::make_unique<models::MusicnnMtat>();
    auto bf = std::make_unique<models::MusicnnMtatBf16>();
    ref->bind(w);
    bf->bind(w);
    std::vector<float> t32(n * 50), e32(n * 200), t16(n * 50), e16(n * 200);
    ref->forward_batch(chunks, n, t32, e32);
    bf->forward_batch(chunks, n, t16, e16);
    float diff = 0;
    for (std::size_t i = 0; i < t32.size(); ++i) diff = std::max(diff, std::abs(t32[i] - t16[i]));
    EXPECT_LE(diff, cpu_has_amx_bf16() ? 1e-4f : 0.02f);
    EXPECT_GT(diff, 0.0f);  // the bf16 path ran
    for (std::size_t c = 0; c < n; ++c) {
        auto a = test::top5(t32.data() + c * 50, 50), b = test::top5(t16.data() + c * 50, 50);
        std::sort(a.begin(), a.end());
        std::sort(b.begin(), b.end());
        EXPECT_EQ(a, b) << "chunk " << c;
    }
    RecordProperty("taggram_max_abs_diff", ::testing::PrintToString(diff));
    EXPECT_EQ(test::allocations_during([&] { bf->forward_batch(chunks, n, t16, e16); }), 0);
}

}  // namespace
