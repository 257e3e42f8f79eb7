// Every layer and combinator against a straightforward reference loop (direct
// convolution, separate BatchNorm, explicit concatenation) on seeded random weights.
// The whole networks are checked against PyTorch in tests/models.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "tagmap/nn/activation.hpp"
#include "tagmap/nn/batch_norm.hpp"
#include "tagmap/nn/concat.hpp"
#include "tagmap/nn/conv.hpp"
#include "tagmap/nn/conv_max.hpp"
#include "tagmap/nn/linear.hpp"
#include "tagmap/nn/pool.hpp"
#include "tagmap/nn/residual.hpp"
#include "tagmap/nn/sequential.hpp"

namespace {

using namespace tagmap;
using namespace tagmap::nn;

using Vec = std::vector<float>;

Vec random_vec(std::size_t n, std::mt19937& rng, float lo = -1.0f, float hi = 1.0f) {
    std::uniform_real_distribution<float> d(lo, hi);
    Vec v(n);
    for (auto& x : v) x = d(rng);
    return v;
}

/// The first 64-byte aligned float of `v` (which has 16 floats of slack): the GEMM's
/// packing buffers are written with aligned AVX stores.
float* aligned64(std::vector<float>& v) {
    auto p = reinterpret_cast<std::uintptr_t>(v.data());
    return reinterpret_cast<float*>((p + 63) / 64 * 64);
}

/// A named set of float32 tensors, as a checkpoint would hold them.
struct Checkpoint {
    std::map<std::string, std::pair<std::vector<std::int64_t>, Vec>> tensors;
    std::mt19937 rng{1234};

    const Vec& add(const std::string& name, std::vector<std::int64_t> shape, float lo = -1,
                   float hi = 1) {
        std::size_t n = 1;
        for (auto d : shape) n *= static_cast<std::size_t>(d);
        return (tensors[name] = {shape, random_vec(n, rng, lo, hi)}).second;
    }
    // BatchNorm with non-trivial statistics; returns (scale, shift) per channel.
    std::pair<Vec, Vec> add_bn(const std::string& name, std::int64_t c) {
        const Vec& g = add(name + ".weight", {c}, 0.5f, 1.5f);
        const Vec& b = add(name + ".bias", {c});
        const Vec& m = add(name + ".running_mean", {c});
        const Vec& v = add(name + ".running_var", {c}, 0.2f, 2.0f);
        Vec scale(c), shift(c);
        for (std::int64_t i = 0; i < c; ++i) {
            scale[i] = g[i] / std::sqrt(v[i] + 1e-5f);
            shift[i] = b[i] - m[i] * scale[i];
        }
        return {scale, shift};
    }
    std::vector<TensorView> views() const {
        std::vector<TensorView> out;
        for (const auto& [name, t] : tensors)
            out.push_back(
                {name, "float32", t.first, std::as_bytes(std::span<const float>(t.second))});
        return out;
    }
};

/// Binds layer L (descriptor D on In) to `ck` and runs it on `in`.
template <class D, class In>
Vec run(const Checkpoint& ck, const Vec& in) {
    using L = typename D::template on<In>;
    EXPECT_EQ(in.size(), In::size);
    L layer;
    Vec store(L::param_floats);
    ParamBinder binder(ck.views(), store);
    layer.bind(binder);
    EXPECT_TRUE(binder.problems().empty())
        << (binder.problems().empty() ? "" : binder.problems()[0]);
    std::vector<float> work(L::work_floats + 16);
    Vec out(L::Out::size, std::nanf(""));
    layer.forward(in.data(), out.data(), aligned64(work));
    return out;
}

struct Dims {
    std::size_t c, h, w;
};

/// Direct convolution, (C,H,W) -> (O,OH,OW), then per-channel affine and optional ReLU.
Vec conv_ref(const Vec& in, Dims d, const Vec& weight, const Vec& bias, std::size_t o,
             std::size_t kh, std::size_t kw, std::size_t sh, std::size_t sw, std::size_t ph,
             std::size_t pw, const Vec* scale = nullptr, const Vec* shift = nullptr,
             bool relu = false) {
    const std::size_t oh = (d.h + 2 * ph - kh) / sh + 1, ow = (d.w + 2 * pw - kw) / sw + 1;
    Vec out(o * oh * ow);
    for (std::size_t f = 0; f < o; ++f)
        for (std::size_t y = 0; y < oh; ++y)
            for (std::size_t x = 0; x < ow; ++x) {
                double acc = bias[f];
                for (std::size_t c = 0; c < d.c; ++c)
                    for (std::size_t i = 0; i < kh; ++i)
                        for (std::size_t j = 0; j < kw; ++j) {
                            const long iy = long(y * sh + i) - long(ph);
                            const long ix = long(x * sw + j) - long(pw);
                            if (iy < 0 || ix < 0 || iy >= long(d.h) || ix >= long(d.w)) continue;
                            acc += double(weight[((f * d.c + c) * kh + i) * kw + j]) *
                                   in[(c * d.h + iy) * d.w + ix];
                        }
                float v = float(acc);
                if (scale) v = v * (*scale)[f] + (*shift)[f];
                if (relu) v = std::max(v, 0.0f);
                out[(f * oh + y) * ow + x] = v;
            }
    return out;
}

void expect_near(const Vec& got, const Vec& want, float tol = 1e-4f) {
    ASSERT_EQ(got.size(), want.size());
    float worst = 0;
    std::size_t at = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        const float e = std::abs(got[i] - want[i]) / std::max(1.0f, std::abs(want[i]));
        if (!(e <= worst)) worst = e, at = i;
    }
    EXPECT_LE(worst, tol) << "worst at " << at << ": got " << got[at] << " want " << want[at];
}

TEST(Conv2d, StridedPaddedWithFoldedBatchNormAndRelu) {
    Checkpoint ck;
    const Vec& w = ck.add("c.weight", {5, 3, 3, 4});
    const Vec& b = ck.add("c.bias", {5});
    auto [scale, shift] = ck.add_bn("c.bn", 5);
    const Vec in = random_vec(3 * 9 * 11, ck.rng);
    using D = Conv2d<"c", 3, 5, Kernel<3, 4>, Stride<2, 1>, Padding<1, 2>, post::BatchNorm<"c.bn">,
                     post::ReLU>;
    static_assert(std::is_same_v<D::on<Shape<3, 9, 11>>::Out, Shape<5, 5, 12>>);
    expect_near(run<D, Shape<3, 9, 11>>(ck, in),
                conv_ref(in, {3, 9, 11}, w, b, 5, 3, 4, 2, 1, 1, 2, &scale, &shift, true));
}

TEST(Conv2d, StrideTwoInBothAxesAsInVgg) {
    Checkpoint ck;
    const Vec& w = ck.add("c.weight", {4, 2, 3, 3});
    const Vec& b = ck.add("c.bias", {4});
    const Vec in = random_vec(2 * 7 * 10, ck.rng);
    using D = Conv2d<"c", 2, 4, Kernel<3, 3>, Stride<2, 2>, Padding<1, 1>>;
    static_assert(std::is_same_v<D::on<Shape<2, 7, 10>>::Out, Shape<4, 4, 5>>);
    expect_near(run<D, Shape<2, 7, 10>>(ck, in),
                conv_ref(in, {2, 7, 10}, w, b, 4, 3, 3, 2, 2, 1, 1));
}

TEST(Conv2d, OneByOneSkipsIm2col) {
    Checkpoint ck;
    const Vec& w = ck.add("c.weight", {3, 4, 1, 1});
    const Vec& b = ck.add("c.bias", {3});
    const Vec in = random_vec(4 * 5 * 6, ck.rng);
    using D = Conv2d<"c", 4, 3, Kernel<1, 1>>;
    static_assert(!D::on<Shape<4, 5, 6>>::needs_im2col);
    expect_near(run<D, Shape<4, 5, 6>>(ck, in), conv_ref(in, {4, 5, 6}, w, b, 3, 1, 1, 1, 1, 0, 0));
}

// Each extent in turn beyond the cap on Eigen's cache blocking, so that every
// partial-panel path of the arena-backed GEMM runs.
TEST(Gemm, MatchesNaiveProductBeyondEachBlockingCap) {
    std::mt19937 rng(5);
    const std::size_t cases[][3] = {{gemm::max_nc + 7, 33, 21},
                                    {29, gemm::max_mc + 9, 17},
                                    {19, 23, gemm::max_kc + 11},
                                    {5, 1, 3}};
    for (const auto& mnk : cases) {
        const std::size_t M = mnk[0], N = mnk[1], K = mnk[2];
        const Vec A = random_vec(M * K, rng), B = random_vec(K * N, rng);
        Vec C = random_vec(M * N, rng), want = C;
        for (std::size_t i = 0; i < M; ++i)
            for (std::size_t j = 0; j < N; ++j) {
                double acc = want[i * N + j];
                for (std::size_t k = 0; k < K; ++k) acc += double(A[i * K + k]) * B[k * N + j];
                want[i * N + j] = float(acc);
            }
        std::vector<float> work(gemm::work_floats(M, N, K) + 16);
        gemm::multiply_add(M, N, K, A.data(), B.data(), C.data(), aligned64(work));
        SCOPED_TRACE(std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K));
        expect_near(C, want, 1e-5f);
    }
}

TEST(Conv1d, PaddedWithBatchNormAndRelu) {
    Checkpoint ck;
    const Vec& w = ck.add("c.weight", {6, 4, 5});
    const Vec& b = ck.add("c.bias", {6});
    auto [scale, shift] = ck.add_bn("c.bn", 6);
    const Vec in = random_vec(4 * 20, ck.rng);
    using D = Conv1d<"c", 4, 6, 5, 1, 2, post::BatchNorm<"c.bn">, post::ReLU>;
    static_assert(std::is_same_v<D::on<Shape<4, 1, 20>>::Out, Shape<6, 1, 20>>);
    expect_near(run<D, Shape<4, 1, 20>>(ck, in),
                conv_ref(in, {4, 1, 20}, w, b, 6, 1, 5, 1, 1, 0, 2, &scale, &shift, true));
}

// 80 channels x 7 taps is deeper than one GEMM depth block: im2col in two channel groups.
TEST(Conv1d, ManyChannelsInGroups) {
    Checkpoint ck;
    const Vec& w = ck.add("c.weight", {9, 80, 7});
    const Vec& b = ck.add("c.bias", {9});
    const Vec in = random_vec(80 * 1 * 23, ck.rng);
    using D = Conv1d<"c", 80, 9, 7, 1, 3, post::ReLU>;
    static_assert(D::on<Shape<80, 1, 23>>::group < 80);
    expect_near(run<D, Shape<80, 1, 23>>(ck, in),
                conv_ref(in, {80, 1, 23}, w, b, 9, 1, 7, 1, 1, 0, 3, nullptr, nullptr, true),
                1e-5f);
}

/// conv_ref followed by the max over the whole height: the unfused reference.
Vec conv_max_ref(const Vec& in, Dims d, const Vec& w, const Vec& b, std::size_t o, std::size_t kh,
                 std::size_t kw, std::size_t pw, const Vec& scale, const Vec& shift) {
    const Vec full = conv_ref(in, d, w, b, o, kh, kw, 1, 1, 0, pw, &scale, &shift, true);
    const std::size_t oh = d.h - kh + 1, ow = d.w + 2 * pw - kw + 1;
    Vec out(o * ow, -1.0f);
    for (std::size_t f = 0; f < o; ++f)
        for (std::size_t y = 0; y < oh; ++y)
            for (std::size_t x = 0; x < ow; ++x)
                out[f * ow + x] = std::max(out[f * ow + x], full[(f * oh + y) * ow + x]);
    return out;
}

// Conv + BN + ReLU + max over the height, fused, on both kernels: BatchNorm scales of
// both signs (the max of the folded output is then the min of the raw convolution),
// several row blocks and column passes with a partial last one, an odd height (no
// Nyquist bin) and an even one.
/// A bound spectral layer's output with vectors of `Width` floats.
template <std::size_t Width, class L>
Vec with_width(const L& layer, const Vec& in, std::vector<float>& work) {
    Vec out(L::Out::size, std::nanf(""));
    layer.template forward_with_width<Width>(in.data(), out.data(), aligned64(work));
    return out;
}

template <std::size_t H, std::size_t W, std::size_t O, std::size_t KH>
void check_conv_max() {
    Checkpoint ck;
    const Vec& w = ck.add("v.weight", {O, 1, KH, 5});
    const Vec& b = ck.add("v.bias", {O});
    ck.add_bn("v.bn", O);
    auto& gamma = ck.tensors["v.bn.weight"].second;
    for (std::size_t i = 0; i < O; i += 2) gamma[i] = -gamma[i];
    Vec scale(O), shift(O);
    for (std::size_t i = 0; i < O; ++i) {
        scale[i] = gamma[i] / std::sqrt(ck.tensors["v.bn.running_var"].second[i] + 1e-5f);
        shift[i] = ck.tensors["v.bn.bias"].second[i] -
                   ck.tensors["v.bn.running_mean"].second[i] * scale[i];
    }
    const Vec in = random_vec(H * W, ck.rng);
    const Vec want = conv_max_ref(in, {1, H, W}, w, b, O, KH, 5, 2, scale, shift);
    using In = Shape<1, H, W>;
    using G = Conv2dMaxOverHeight<"v", 1, O, Kernel<KH, 5>, Padding<0, 2>, TallConv::gemm,
                                  post::BatchNorm<"v.bn">, post::ReLU>;
    using F = Conv2dMaxOverHeight<"v", 1, O, Kernel<KH, 5>, Padding<0, 2>, TallConv::spectral,
                                  post::BatchNorm<"v.bn">, post::ReLU>;
    static_assert(std::is_same_v<typename G::template on<In>::Out, Shape<O, 1, W>>);
    static_assert(G::template on<In>::rows_per_block < H - KH + 1);
    static_assert(F::template on<In>::cols_per_block < W);
    std::size_t positive = 0;
    for (float v : want) positive += v > 0;
    EXPECT_GT(positive, want.size() / 4);  // the ReLU does not hide the comparison
    expect_near(run<G, In>(ck, in), want, 1e-5f);
    const Vec spectral = run<F, In>(ck, in);
    expect_near(spectral, want, 1e-5f);
    // The spectral kernel's vector width follows the running ISA; every width gives the
    // same bits (a width wider than this CPU's runs lowered: slow, still exact).
    using L = typename F::template on<In>;
    L layer;
    Vec store(L::param_floats);
    ParamBinder binder(ck.views(), store);
    layer.bind(binder);
    std::vector<float> work(L::work_floats + 16);
    EXPECT_EQ(with_width<4>(layer, in, work), spectral) << "vectors of 4 floats";
    EXPECT_EQ(with_width<8>(layer, in, work), spectral) << "vectors of 8 floats";
    EXPECT_EQ(with_width<16>(layer, in, work), spectral) << "vectors of 16 floats";
}

TEST(Conv2dMaxOverHeight, BothKernelsMatchConvThenMax) {
    check_conv_max<21, 19, 10, 9>();  // odd height: 11 bins, no Nyquist
    check_conv_max<24, 13, 7, 17>();  // even height
}

TEST(Linear, BatchNormReluAndSigmoid) {
    Checkpoint ck;
    const Vec& w = ck.add("d.weight", {7, 9});
    const Vec& b = ck.add("d.bias", {7});
    auto [scale, shift] = ck.add_bn("bn", 7);
    const Vec in = random_vec(9, ck.rng);
    Vec relu(7), sig(7);
    for (std::size_t o = 0; o < 7; ++o) {
        double acc = b[o];
        for (std::size_t i = 0; i < 9; ++i) acc += double(w[o * 9 + i]) * in[i];
        relu[o] = std::max(0.0f, float(acc) * scale[o] + shift[o]);
        sig[o] = float(1.0 / (1.0 + std::exp(-acc)));
    }
    expect_near(run<Linear<"d", 9, 7, post::BatchNorm<"bn">, post::ReLU>, Shape<9>>(ck, in), relu);
    Checkpoint plain;
    plain.tensors["d.weight"] = ck.tensors["d.weight"];
    plain.tensors["d.bias"] = ck.tensors["d.bias"];
    expect_near(run<Linear<"d", 9, 7, post::Sigmoid>, Shape<9>>(plain, in), sig);
}

TEST(BatchNorm, StandaloneIsPerChannelAffine) {
    Checkpoint ck;
    auto [scale, shift] = ck.add_bn("spec_bn", 2);
    ck.tensors["spec_bn.num_batches_tracked"] = {{}, {}};
    const Vec in = random_vec(2 * 3 * 4, ck.rng);
    Vec want(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) want[i] = in[i] * scale[i / 12] + shift[i / 12];
    expect_near(run<BatchNorm<"spec_bn", 2>, Shape<2, 3, 4>>(ck, in), want);
}

TEST(Pooling, MaxPoolReductionsAndGlobalMaxMean) {
    std::mt19937 rng(7);
    const Vec in = random_vec(2 * 4 * 7, rng);
    Checkpoint none;
    // MaxPool2d(2, 3): (2,4,7) -> (2,2,2), the last column dropped as in PyTorch.
    Vec mp(8);
    for (std::size_t c = 0; c < 2; ++c)
        for (std::size_t y = 0; y < 2; ++y)
            for (std::size_t x = 0; x < 2; ++x) {
                float m = -1e9f;
                for (std::size_t i = 0; i < 2; ++i)
                    for (std::size_t j = 0; j < 3; ++j)
                        m = std::max(m, in[(c * 4 + y * 2 + i) * 7 + x * 3 + j]);
                mp[(c * 2 + y) * 2 + x] = m;
            }
    expect_near(run<MaxPool2d<2, 3>, Shape<2, 4, 7>>(none, in), mp, 0);
    Vec maxh(14, -1e9f), meanh(14, 0), maxw(8, -1e9f), meanw(8, 0);
    for (std::size_t c = 0; c < 2; ++c)
        for (std::size_t y = 0; y < 4; ++y)
            for (std::size_t x = 0; x < 7; ++x) {
                const float v = in[(c * 4 + y) * 7 + x];
                maxh[c * 7 + x] = std::max(maxh[c * 7 + x], v);
                meanh[c * 7 + x] += v / 4;
                maxw[c * 4 + y] = std::max(maxw[c * 4 + y], v);
                meanw[c * 4 + y] += v / 7;
            }
    expect_near(run<MaxOver<Axis::height>, Shape<2, 4, 7>>(none, in), maxh, 0);
    expect_near(run<MeanOver<Axis::height>, Shape<2, 4, 7>>(none, in), meanh, 1e-6f);
    expect_near(run<MaxOver<Axis::width>, Shape<2, 4, 7>>(none, in), maxw, 0);
    expect_near(run<MeanOver<Axis::width>, Shape<2, 4, 7>>(none, in), meanw, 1e-6f);
    // (8, 1, 7) -> [max of each of 8 channels | mean of each].
    Vec gm(16);
    for (std::size_t c = 0; c < 8; ++c) {
        gm[c] = maxw[c];
        gm[8 + c] = meanw[c];
    }
    expect_near(run<GlobalMaxMeanPool, Shape<8, 1, 7>>(none, in), gm, 1e-6f);
}

TEST(Activation, StandaloneReluAndSigmoid) {
    std::mt19937 rng(9);
    const Vec in = random_vec(10, rng, -3, 3);
    Vec r(10), s(10);
    for (std::size_t i = 0; i < 10; ++i) {
        r[i] = std::max(0.0f, in[i]);
        s[i] = float(1 / (1 + std::exp(-double(in[i]))));
    }
    Checkpoint none;
    expect_near(run<ReLU, Shape<10>>(none, in), r, 0);
    expect_near(run<Sigmoid, Shape<10>>(none, in), s, 1e-6f);
}

// Combinators: a small graph with every one of them, against the composition by hand.
TEST(Combinators, ConcatStackResidualSequence) {
    Checkpoint ck;
    const Vec& wa = ck.add("a.weight", {3, 2, 3, 1});
    const Vec& ba = ck.add("a.bias", {3});
    const Vec& wb = ck.add("b.weight", {2, 2, 1, 1});
    const Vec& bb = ck.add("b.bias", {2});
    const Vec& w1 = ck.add("l1.weight", {4, 5, 3});
    const Vec& b1 = ck.add("l1.bias", {4});
    const Vec& w2 = ck.add("l2.weight", {4, 4, 3});
    const Vec& b2 = ck.add("l2.bias", {4});
    const Vec in = random_vec(2 * 3 * 6, ck.rng);

    using Graph = Sequential<
        ConcatChannels<Sequential<Conv2d<"a", 2, 3, Kernel<3, 1>>, MaxOver<Axis::height>>,
                       Sequential<MeanOver<Axis::height>, Conv2d<"b", 2, 2, Kernel<1, 1>>>>,
        StackConcat<Conv1d<"l1", 5, 4, 3, 1, 1, post::ReLU>,
                    Residual<Conv1d<"l2", 4, 4, 3, 1, 1, post::ReLU>>>,
        GlobalMaxMeanPool>;
    using G = Graph::on<Shape<2, 3, 6>>;
    static_assert(std::is_same_v<G::Out, Shape<2 * (5 + 4 + 4), 1, 1>>);

    // By hand: branch a = max_h(conv a), branch b = conv b(mean_h x).
    const Vec ya = conv_ref(in, {2, 3, 6}, wa, ba, 3, 3, 1, 1, 1, 0, 0);  // (3,1,6)
    Vec mean(2 * 6, 0);
    for (std::size_t c = 0; c < 2; ++c)
        for (std::size_t y = 0; y < 3; ++y)
            for (std::size_t x = 0; x < 6; ++x) mean[c * 6 + x] += in[(c * 3 + y) * 6 + x] / 3;
    const Vec yb = conv_ref(mean, {2, 1, 6}, wb, bb, 2, 1, 1, 1, 1, 0, 0);  // (2,1,6)
    Vec front(ya);
    front.insert(front.end(), yb.begin(), yb.end());  // (5,1,6)
    const Vec r1 = conv_ref(front, {5, 1, 6}, w1, b1, 4, 1, 3, 1, 1, 0, 1, nullptr, nullptr, true);
    Vec r2 = conv_ref(r1, {4, 1, 6}, w2, b2, 4, 1, 3, 1, 1, 0, 1, nullptr, nullptr, true);
    for (std::size_t i = 0; i < r2.size(); ++i) r2[i] += r1[i];
    Vec all(front);
    all.insert(all.end(), r1.begin(), r1.end());
    all.insert(all.end(), r2.begin(), r2.end());  // (13,1,6)
    Vec want(26);
    for (std::size_t c = 0; c < 13; ++c) {
        float m = -1e9f, s = 0;
        for (std::size_t t = 0; t < 6; ++t) m = std::max(m, all[c * 6 + t]), s += all[c * 6 + t];
        want[c] = m;
        want[13 + c] = s / 6;
    }
    expect_near(run<Graph, Shape<2, 3, 6>>(ck, in), want);
}

TEST(Combinators, ResidualWithConvShortcutAndRelu) {
    Checkpoint ck;
    const Vec& w1 = ck.add("m.weight", {3, 2, 3, 3});
    const Vec& b1 = ck.add("m.bias", {3});
    const Vec& w3 = ck.add("s.weight", {3, 2, 3, 3});
    const Vec& b3 = ck.add("s.bias", {3});
    auto [sc, sh] = ck.add_bn("s.bn", 3);
    const Vec in = random_vec(2 * 6 * 5, ck.rng);
    using D = Residual<
        Conv2d<"m", 2, 3, Kernel<3, 3>, Stride<2, 2>, Padding<1, 1>>,
        Conv2d<"s", 2, 3, Kernel<3, 3>, Stride<2, 2>, Padding<1, 1>, post::BatchNorm<"s.bn">>,
        post::ReLU>;
    Vec want = conv_ref(in, {2, 6, 5}, w1, b1, 3, 3, 3, 2, 2, 1, 1);
    const Vec s = conv_ref(in, {2, 6, 5}, w3, b3, 3, 3, 3, 2, 2, 1, 1, &sc, &sh);
    for (std::size_t i = 0; i < want.size(); ++i) want[i] = std::max(0.0f, want[i] + s[i]);
    expect_near(run<D, Shape<2, 6, 5>>(ck, in), want);
}

// Binding: every problem is reported, naming the tensor and both shapes.
TEST(Binding, ReportsMissingMisshapedWrongDtypeAndUnused) {
    Checkpoint ck;
    ck.add("c.weight", {5, 3, 3, 3});  // expected [5, 3, 3, 4]
    ck.add("c.bn.weight", {5});
    ck.add("c.bn.bias", {5});
    ck.add("c.bn.running_mean", {5});
    ck.add("c.bn.running_var", {5}, 0.5f, 1.0f);
    ck.add("stray.weight", {2, 2});
    // c.bias missing.
    using L = Conv2d<"c", 3, 5, Kernel<3, 4>, Stride<1, 1>, Padding<0, 0>,
                     post::BatchNorm<"c.bn">>::on<Shape<3, 8, 8>>;
    L layer;
    Vec store(L::param_floats);
    auto views = ck.views();
    for (auto& v : views)
        if (v.name == "c.bn.running_var") v.dtype_name = "float64";
    ParamBinder binder(views, store);
    layer.bind(binder);
    const auto problems = binder.problems();
    ASSERT_EQ(problems.size(), 4u);
    std::string all;
    for (const auto& p : problems) all += p + "\n";
    EXPECT_NE(all.find("'c.weight' has shape [5, 3, 3, 3], the model expects [5, 3, 3, 4]"),
              std::string::npos)
        << all;
    EXPECT_NE(all.find("missing tensor 'c.bias'"), std::string::npos) << all;
    EXPECT_NE(all.find("'c.bn.running_var' has dtype float64"), std::string::npos) << all;
    EXPECT_NE(all.find("unexpected tensor 'stray.weight' [2, 2]"), std::string::npos) << all;
    EXPECT_THROW(binder.throw_if_problems("test"), BindError);
}

}  // namespace
