// Winograd F(2x2, 3x3) and F(4x4, 3x3) against the im2col + GEMM reference and a direct
// convolution in double, on seeded random data: odd sizes, partial tiles, several bands,
// the fused residual add, and ConvKernel's routing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "tagmap/nn/conv.hpp"
#include "tagmap/nn/conv_winograd.hpp"
#include "tagmap/nn/residual.hpp"
#include "tagmap/nn/sequential.hpp"

namespace {

using namespace tagmap;
using namespace tagmap::nn;

float* aligned64(std::vector<float>& v) {
    auto p = reinterpret_cast<std::uintptr_t>(v.data());
    return reinterpret_cast<float*>((p + 63) / 64 * 64);
}

/// Runs both kernels on the same random weights and input (also through forward_add with
/// ReLU onto a random `out`) and checks each against the direct convolution in double,
/// within `ulps` float epsilons of the sum of |w x| of the output (the size-derived bound
/// of a dot product of 9 C terms, times the transform's growth).
template <std::size_t C, std::size_t H, std::size_t W, std::size_t OutC, std::size_t M,
          std::size_t S = 1>
void check(double winograd_ulps, std::uint32_t seed) {
    using In = Shape<C, H, W>;
    using Ref = ConvIm2colGemm<In, OutC, 3, 3, S, S, 1, 1, PostOps<>>;
    using Fast = ConvWinograd<In, OutC, M, S, PostOps<>>;
    static_assert(std::is_same_v<typename Ref::Out, typename Fast::Out>);
    static_assert(Fast::param_floats > Ref::param_floats);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(-1.0f, 1.0f);
    constexpr std::size_t bound = OutC * C * 9 + OutC;  // weights and bias as bound
    std::vector<float> params(Fast::param_floats), ref_params(Ref::param_floats), x(In::size),
        base(Ref::Out::size);
    for (std::size_t i = 0; i < bound; ++i) params[i] = ref_params[i] = d(rng);
    for (auto& v : x) v = d(rng);
    for (auto& v : base) v = d(rng);
    Fast::transform_weights(params.data());
    if constexpr (requires { Ref::transform_weights(ref_params.data()); })
        Ref::transform_weights(ref_params.data());  // dead taps left out, or packed
    Ref ref;
    Fast fast;
    ref.params = ref_params.data();
    fast.params = params.data();

    // Direct convolution in double, and the bound sum |bias| + sum |w x| per output.
    constexpr std::size_t OH = Ref::OH, OW = Ref::OW, N = OH * OW;
    std::vector<double> exact(OutC * N), magnitude(OutC * N);
    for (std::size_t o = 0; o < OutC; ++o)
        for (std::size_t y = 0; y < OH; ++y)
            for (std::size_t xo = 0; xo < OW; ++xo) {
                double s = params[OutC * C * 9 + o], m = std::abs(s);
                for (std::size_t c = 0; c < C; ++c)
                    for (std::size_t kh = 0; kh < 3; ++kh)
                        for (std::size_t kw = 0; kw < 3; ++kw) {
                            const std::ptrdiff_t iy = std::ptrdiff_t(S * y + kh) - 1;
                            const std::ptrdiff_t ix = std::ptrdiff_t(S * xo + kw) - 1;
                            if (iy < 0 || ix < 0 || iy >= std::ptrdiff_t(H) ||
                                ix >= std::ptrdiff_t(W))
                                continue;
                            const double t = double(params[((o * C + c) * 3 + kh) * 3 + kw]) *
                                             x[(c * H + std::size_t(iy)) * W + std::size_t(ix)];
                            s += t;
                            m += std::abs(t);
                        }
                exact[o * N + y * OW + xo] = s;
                magnitude[o * N + y * OW + xo] = m;
            }
    constexpr double eps = 1.0 / (1 << 23);
    const auto worst = [&](const std::vector<float>& got, bool added) {
        double r = 0;  // largest error in units of eps * magnitude
        for (std::size_t i = 0; i < OutC * N; ++i) {
            double want = exact[i];
            if (added) want = std::max(0.0, want + base[i]);
            r = std::max(r, std::abs(got[i] - want) / (eps * (magnitude[i] + std::abs(base[i]))));
        }
        return r;
    };

    std::vector<float> work(std::max(Ref::work_floats, Fast::work_floats) + 16);
    std::vector<float> out_ref(Ref::Out::size), out_fast(Ref::Out::size);
    ref.forward(x.data(), out_ref.data(), aligned64(work));
    fast.forward(x.data(), out_fast.data(), aligned64(work));
    const double ref_ulps = worst(out_ref, false), fast_ulps = worst(out_fast, false);
    EXPECT_LE(ref_ulps, 2.0 * 9 * C) << "im2col reference";  // a float dot product's bound
    EXPECT_LE(fast_ulps, winograd_ulps) << "Winograd F(" << M << "x" << M << ", 3x3), stride " << S;

    out_ref = base;
    out_fast = base;
    ref.template forward_add<Activation::relu>(x.data(), out_ref.data(), aligned64(work));
    fast.template forward_add<Activation::relu>(x.data(), out_fast.data(), aligned64(work));
    EXPECT_LE(worst(out_ref, true), 2.0 * 9 * C + 2) << "im2col forward_add";
    EXPECT_LE(worst(out_fast, true), winograd_ulps + 2) << "Winograd forward_add";
    ::testing::Test::RecordProperty("winograd_error_in_eps_seed" + std::to_string(seed),
                                    ::testing::PrintToString(fast_ulps));
}

// Bounds, in eps * (|bias| + sum |w x|) of each output: the worst errors measured on
// these shapes (2026-12-02) were 1.5 for F(2x2, 3x3), 28 for F(4x4, 3x3) and 13 for the
// stride-2 F(4x4, 2x2); the bounds leave 4-5x headroom. A wrong transform coefficient
// gives errors of order 1 / eps.
constexpr double f2_bound = 8, f4_bound = 120, stride2_bound = 64;

// TAGMAP_TEST_FEW_SHAPES (the portable copy): one shape per case, enough to run each
// dispatched GEMM loop with remainders; each shape costs seconds of compile time there.
TEST(ConvWinograd, F2MatchesDirectOnOddShapes) {
    check<3, 7, 9, 5, 2>(f2_bound, 1);
#ifndef TAGMAP_TEST_FEW_SHAPES
    check<8, 16, 29, 12, 2>(f2_bound, 2);
    check<1, 1, 5, 2, 2>(f2_bound, 3);
#endif
}

TEST(ConvWinograd, F4MatchesDirectOnOddShapes) {
    check<8, 16, 29, 12, 4>(f4_bound, 5);
#ifndef TAGMAP_TEST_FEW_SHAPES
    check<3, 7, 9, 5, 4>(f4_bound, 4);
    check<5, 13, 6, 3, 4>(f4_bound, 6);
#endif
}

TEST(ConvWinograd, Stride2PhasesMatchDirectOnOddShapes) {
    check<3, 7, 9, 5, 4, 2>(stride2_bound, 9);  // odd sides: the last phase rows are padding
#ifndef TAGMAP_TEST_FEW_SHAPES
    check<8, 16, 29, 12, 4, 2>(stride2_bound, 10);
    check<4, 10, 6, 3, 4, 2>(stride2_bound, 11);
#endif
}

TEST(ConvWinograd, PackedIm2colForWholeBlocksOfEightChannels) {
    // 16 output channels: the reference itself runs on the packed kernel (AVX-512 builds).
#if defined(__AVX512F__)
    static_assert(ConvIm2colGemm<Shape<8, 16, 29>, 16, 3, 3, 2, 2, 1, 1, PostOps<>>::packed);
#endif
    check<8, 16, 29, 16, 4>(f4_bound, 16);
#ifndef TAGMAP_TEST_FEW_SHAPES
    check<8, 16, 29, 16, 4, 2>(stride2_bound, 17);
    check<4, 2, 4, 8, 4, 2>(stride2_bound, 18);  // packed and pruned
    check<6, 4, 8, 24, 2>(f2_bound, 19);
#endif
}

TEST(ConvWinograd, TinyPlanesWithTapsThatOnlyReadPadding) {
    // im2col drops the dead taps here (VggMsd's layer7: 1x2 planes, 2x4 -> 1x2 at stride 2).
    static_assert(ConvIm2colGemm<Shape<5, 1, 2>, 7, 3, 3, 1, 1, 1, 1, PostOps<>>::LKH == 1);
    static_assert(ConvIm2colGemm<Shape<4, 2, 4>, 6, 3, 3, 2, 2, 1, 1, PostOps<>>::LKH == 2);
    check<4, 2, 4, 6, 4, 2>(stride2_bound, 14);
#ifndef TAGMAP_TEST_FEW_SHAPES
    check<5, 1, 2, 7, 2>(f2_bound, 13);
    check<3, 1, 1, 2, 2>(f2_bound, 15);
#endif
}

TEST(ConvWinograd, SeveralBandsOfTileRows) {
    // 1030 columns: more than band_tiles tiles per tile row, so one band per tile row.
    check<2, 17, 2070, 3, 4, 2>(stride2_bound, 12);
#ifndef TAGMAP_TEST_FEW_SHAPES
    check<2, 9, 1030, 3, 2>(f2_bound, 7);
    check<2, 9, 1030, 3, 4>(f4_bound, 8);
#endif
}

/// forward_pair (Res_2d's conv_1 with ReLU and conv_3 without, from one im2col or input
/// transform) gives exactly what two separate forward calls give.
template <class Kernel, class Second>
void check_pair(std::uint32_t seed) {
    static_assert(std::is_same_v<typename Kernel::pair_key, typename Second::pair_key>);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(-1.0f, 1.0f);
    constexpr std::size_t bound = Kernel::Out::channels * Kernel::C * 9 + Kernel::Out::channels;
    std::vector<float> p1(Kernel::param_floats + 16), p2(Second::param_floats + 16),
        x(Kernel::C * Kernel::H * Kernel::W), work(Kernel::work_floats + 16);
    for (std::size_t i = 0; i < bound; ++i) p1[i] = d(rng), p2[i] = d(rng);
    for (auto& v : x) v = d(rng);
    if constexpr (requires { Kernel::transform_weights(p1.data()); }) {
        Kernel::transform_weights(p1.data());
        Second::transform_weights(p2.data());
    }
    Kernel first;
    Second second;
    first.params = p1.data();
    second.params = p2.data();
    constexpr std::size_t n = Kernel::Out::size;
    std::vector<float> a(n), b(n), pa(n, 7.0f), pb(n, 7.0f);
    first.forward(x.data(), a.data(), aligned64(work));
    second.forward(x.data(), b.data(), aligned64(work));
    first.forward_pair(second, x.data(), pa.data(), pb.data(), aligned64(work));
    EXPECT_EQ(pa, a);
    EXPECT_EQ(pb, b);
    EXPECT_TRUE(std::any_of(a.begin(), a.end(), [](float v) { return v == 0.0f; }));  // ReLU'd
    EXPECT_TRUE(std::any_of(b.begin(), b.end(), [](float v) { return v < 0.0f; }));
}

TEST(ConvWinograd, PairedConvsMatchSeparateRuns) {
    using In = Shape<6, 17, 30>;
    check_pair<ConvWinograd<In, 9, 4, 2, PostOps<post::ReLU>>,
               ConvWinograd<In, 9, 4, 2, PostOps<>>>(21);
    check_pair<ConvWinograd<In, 9, 4, 1, PostOps<post::ReLU>>,
               ConvWinograd<In, 9, 4, 1, PostOps<>>>(22);
    check_pair<ConvIm2colGemm<In, 9, 3, 3, 2, 2, 1, 1, PostOps<post::ReLU>>,
               ConvIm2colGemm<In, 9, 3, 3, 2, 2, 1, 1, PostOps<>>>(23);
    using Tiny = Shape<5, 2, 4>;  // pruned taps
    check_pair<ConvIm2colGemm<Tiny, 8, 3, 3, 2, 2, 1, 1, PostOps<post::ReLU>>,
               ConvIm2colGemm<Tiny, 8, 3, 3, 2, 2, 1, 1, PostOps<>>>(24);
}

TEST(ConvWinograd, ResidualPairsConv1WithTheShortcut) {
    // Res_2d as VggMsd builds it: conv_1 and conv_3 share one read of the input.
    using Block = Residual<
        Sequential<Conv2d<"c1", 4, 8, Kernel<3, 3>, Stride<2, 2>, Padding<1, 1>, post::ReLU>,
                   Conv2d<"c2", 8, 8, Kernel<3, 3>, Stride<1, 1>, Padding<1, 1>>>,
        Conv2d<"c3", 4, 8, Kernel<3, 3>, Stride<2, 2>, Padding<1, 1>>, post::ReLU>;
    static_assert(Block::on<Shape<4, 64, 116>>::paired);  // stride-2 Winograd
    static_assert(Block::on<Shape<4, 9, 11>>::paired);    // im2col
    using Plain =
        Residual<Sequential<Conv2d<"c1", 4, 4, Kernel<3, 3>, Stride<1, 1>, Padding<1, 1>>>>;
    static_assert(!Plain::on<Shape<4, 9, 11>>::paired);  // identity shortcut
    SUCCEED();
}

TEST(ConvWinograd, ConvKernelRoutesLargePad1Planes) {
    using Big = Shape<128, 64, 116>;
    using Mid = Shape<256, 8, 15>;
    using Tiny = Shape<256, 4, 8>;
    static_assert(std::is_same_v<ConvKernel<Big, 128, 3, 3, 1, 1, 1, 1, PostOps<>>::type,
                                 ConvWinograd3x3<Big, 128, 4, PostOps<>>>);
    static_assert(std::is_same_v<ConvKernel<Mid, 256, 3, 3, 1, 1, 1, 1, PostOps<>>::type,
                                 ConvWinograd3x3<Mid, 256, 2, PostOps<>>>);
    static_assert(std::is_same_v<ConvKernel<Tiny, 256, 3, 3, 1, 1, 1, 1, PostOps<>>::type,
                                 ConvIm2colGemm<Tiny, 256, 3, 3, 1, 1, 1, 1, PostOps<>>>);
    static_assert(std::is_same_v<ConvKernel<Big, 128, 3, 3, 2, 2, 1, 1, PostOps<>>::type,
                                 ConvWinograd<Big, 128, 4, 2, PostOps<>>>);
    using Spectrogram = Shape<1, 128, 231>;  // 1 channel: im2col's depth is only 9
    static_assert(std::is_same_v<ConvKernel<Spectrogram, 128, 3, 3, 2, 2, 1, 1, PostOps<>>::type,
                                 ConvIm2colGemm<Spectrogram, 128, 3, 3, 2, 2, 1, 1, PostOps<>>>);
    using Few = Shape<128, 32, 58>;  // 32 tiles of 4x4 at stride 2
    static_assert(std::is_same_v<ConvKernel<Few, 256, 3, 3, 2, 2, 1, 1, PostOps<>>::type,
                                 ConvIm2colGemm<Few, 256, 3, 3, 2, 2, 1, 1, PostOps<>>>);
    static_assert(std::is_same_v<ConvKernel<Big, 128, 3, 3, 1, 1, 0, 0, PostOps<>>::type,
                                 ConvIm2colGemm<Big, 128, 3, 3, 1, 1, 0, 0, PostOps<>>>);
    SUCCEED();
}

}  // namespace
