// Conv2d and Conv1d: im2col (skipped for 1x1 kernels) then one GEMM on the shared
// backend (3x3 kernels: on Winograd's packed kernel, weights packed at bind), or Winograd
// for large 3x3 pad-1 layers of stride 1 or 2 (conv_winograd.hpp);
// bias, folded BatchNorm and activation fused into the output. Weights are
// [out][in][kh][kw], as in the checkpoint; the policy `ConvKernel` picks the kernel per
// geometry at compile time.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "tagmap/nn/conv_winograd.hpp"
#include "tagmap/nn/gemm.hpp"
#include "tagmap/nn/layer.hpp"

namespace tagmap::nn {

namespace detail {
constexpr std::size_t conv_out(std::size_t n, std::size_t k, std::size_t s, std::size_t p) {
    return n + 2 * p >= k ? (n + 2 * p - k) / s + 1 : 1;  // 1 keeps bad shapes compiling
}  // until the static_assert

/// The kernel taps [begin, end) along one axis that read the input for some output
/// position; the others only ever see padding (a 3x3 conv on a 1-row plane).
constexpr std::size_t live_tap_begin(std::size_t n, std::size_t on, std::size_t k, std::size_t s,
                                     std::size_t p) {
    for (std::size_t t = 0; t < k; ++t)
        for (std::size_t o = 0; o < on; ++o)
            if (o * s + t >= p && o * s + t - p < n) return t;
    return 0;
}
constexpr std::size_t live_tap_end(std::size_t n, std::size_t on, std::size_t k, std::size_t s,
                                   std::size_t p) {
    for (std::size_t t = k; t > 0; --t)
        for (std::size_t o = 0; o < on; ++o)
            if (o * s + t - 1 >= p && o * s + t - 1 - p < n) return t;
    return k;
}
}  // namespace detail

/// Convolution as im2col + GEMM: out (OutC x OH*OW) = W (OutC x C*KH*KW) * col.
/// Taps that only read padding are left out of col and of a compacted copy of W.
template <class In, std::size_t OutC, std::size_t KH, std::size_t KW, std::size_t SH,
          std::size_t SW, std::size_t PH, std::size_t PW, class Post>
struct ConvIm2colGemm {
    static constexpr std::size_t C = In::channels, H = In::height, W = In::width;
    static constexpr std::size_t OH = detail::conv_out(H, KH, SH, PH);
    static constexpr std::size_t OW = detail::conv_out(W, KW, SW, PW);
    using Out = Shape<OutC, OH, OW>;
    static constexpr std::size_t K = C * KH * KW;  // depth of the weights as bound
    static constexpr std::size_t N = OH * OW;      // GEMM columns
    static constexpr std::size_t kh0 = detail::live_tap_begin(H, OH, KH, SH, PH);
    static constexpr std::size_t kh1 = detail::live_tap_end(H, OH, KH, SH, PH);
    static constexpr std::size_t kw0 = detail::live_tap_begin(W, OW, KW, SW, PW);
    static constexpr std::size_t kw1 = detail::live_tap_end(W, OW, KW, SW, PW);
    static constexpr std::size_t LKH = kh1 - kh0, LKW = kw1 - kw0;  // live taps
    static constexpr bool pruned = LKH < KH || LKW < KW;
    static constexpr std::size_t KL = C * LKH * LKW;  // GEMM depth
    static constexpr bool needs_im2col =
        !(KH == 1 && KW == 1 && SH == 1 && SW == 1 && PH == 0 && PW == 0);
    // A 1-d signal's im2col is built and multiplied a group of input channels at a time
    // (about one GEMM depth block), so MusiCNN's 561-channel layer1 needs 0.4 MB, not 3 MB.
    static constexpr std::size_t group =
        H == 1 && needs_im2col ? std::min(C, std::max<std::size_t>(1, gemm::max_kc / (LKH * LKW)))
                               : C;
    static constexpr std::size_t group_depth = group * LKH * LKW;
    // 3x3 convs (VGG's) with whole blocks of 8 output channels and whole vectors of
    // columns (up to 25 % padding) run on Winograd's packed GEMM kernel with the weights
    // packed at bind (in place), where the backend's GEMM packs them on every call
    // (1.3-1.6x faster on VGG's layers 3-5; slower on layer 6-7's 8 and 2 columns).
#if defined(__AVX512F__)
    static constexpr bool packed = KH == 3 && KW == 3 && needs_im2col && group == C &&
                                   OutC % winograd::block_rows == 0 &&
                                   gemm::round16(N) * 4 <= N * 5;  // <= 25 % padding columns
#else
    static constexpr bool packed = false;
#endif
    static constexpr std::size_t NP = packed ? gemm::round16(N) : N;  // col's row stride
    static constexpr std::size_t col_floats = needs_im2col ? gemm::round16(group_depth * NP) : 0;
    static constexpr std::size_t work_floats =
        col_floats + (packed ? OutC * NP : gemm::work_floats(OutC, N, group_depth));
    static constexpr std::size_t param_floats = OutC * K + OutC + (pruned ? OutC * KL : 0);
    static constexpr double flops = 2.0 * OutC * K * N;

    // [OutC x K weights | OutC bias], BN folded in; pruned: then OutC x KL live weights.
    // packed: the weights the GEMM reads (pruned: the live ones) in packed_gemm's
    // [OutC / 8][KL][8] order instead.
    const float* params = nullptr;

    /// The live taps' weights, copied once at bind (only when some taps are dead), and
    /// packed for the GEMM kernel.
    static void transform_weights(float* p) requires(pruned || packed) {
        float* live = pruned ? p + OutC * K + OutC : p;
        if constexpr (pruned)
            for (std::size_t o = 0; o < OutC; ++o)
                for (std::size_t c = 0; c < C; ++c)
                    for (std::size_t kh = kh0; kh < kh1; ++kh)
                        for (std::size_t kw = kw0; kw < kw1; ++kw)
                            live[o * KL + (c * LKH + kh - kh0) * LKW + kw - kw0] =
                                p[o * K + (c * KH + kh) * KW + kw];
        if constexpr (packed) {
            constexpr std::size_t R8 = winograd::block_rows;
            const std::vector<float> rows(live, live + OutC * KL);  // at bind only
            for (std::size_t o = 0; o < OutC; ++o)
                for (std::size_t k = 0; k < KL; ++k)
                    live[(o / R8) * KL * R8 + k * R8 + o % R8] = rows[o * KL + k];
        }
    }

    /// The im2col rows of input channels [c0, c1).
    static void im2col(const float* in, float* col, std::size_t c0 = 0, std::size_t c1 = C) {
        using I = std::ptrdiff_t;
        for (std::size_t c = c0; c < c1; ++c)
            for (std::size_t kh = kh0; kh < kh1; ++kh)
                for (std::size_t kw = kw0; kw < kw1; ++kw) {
                    float* row = col + (((c - c0) * LKH + kh - kh0) * LKW + kw - kw0) * NP;
                    std::fill(row + N, row + NP, 0.0f);
                    // Output columns whose input column lies inside the image.
                    const I shift = static_cast<I>(kw) - static_cast<I>(PW);
                    I ow_begin = 0, ow_end = static_cast<I>(OW);
                    while (ow_begin < ow_end && ow_begin * I(SW) + shift < 0) ++ow_begin;
                    while (ow_end > ow_begin && (ow_end - 1) * I(SW) + shift >= I(W)) --ow_end;
                    for (std::size_t oh = 0; oh < OH; ++oh) {
                        float* dst = row + oh * OW;
                        const I ih = static_cast<I>(oh * SH + kh) - static_cast<I>(PH);
                        if (ih < 0 || ih >= I(H)) {
                            std::fill(dst, dst + OW, 0.0f);
                            continue;
                        }
                        const float* src = in + (c * H + static_cast<std::size_t>(ih)) * W;
                        std::fill(dst, dst + ow_begin, 0.0f);
                        if constexpr (SW == 1) {
                            if (ow_end > ow_begin)
                                std::memcpy(
                                    dst + ow_begin, src + (ow_begin + shift),
                                    static_cast<std::size_t>(ow_end - ow_begin) * sizeof(float));
                        } else {
                            for (I ow = ow_begin; ow < ow_end; ++ow)
                                dst[ow] = src[ow * I(SW) + shift];
                        }
                        std::fill(dst + std::max(ow_begin, ow_end), dst + OW, 0.0f);
                    }
                }
    }

    void forward(const float* in, float* out, float* work) const {
        if constexpr (packed) {
            im2col(in, work);
            multiply<Post::activation>(params, work, out, work + col_floats);
            return;
        }
        const float* bias = params + OutC * K;
        for (std::size_t o = 0; o < OutC; ++o) std::fill(out + o * N, out + (o + 1) * N, bias[o]);
        accumulate(in, out, work);
        apply_activation(Post::activation, out, OutC * N);
    }

    /// out = A(out + conv(in)) (a residual sum without its own pass); Post's own
    /// activation is not applied.
    template <Activation A>
    void forward_add(const float* in, float* out, float* work) const {
        if constexpr (packed) {
            im2col(in, work);
            multiply<A, true>(params, work, out, work + col_floats);
            return;
        }
        const float* bias = params + OutC * K;
        for (std::size_t o = 0; o < OutC; ++o)
            for (std::size_t i = o * N; i < (o + 1) * N; ++i) out[i] += bias[o];
        accumulate(in, out, work);
        apply_activation(A, out, OutC * N);
    }

    /// Kernels with the same pair_key read the same input at the same geometry.
    using pair_key = ConvIm2colGemm<In, OutC, KH, KW, SH, SW, PH, PW, PostOps<>>;
    using post_ops = Post;

    /// This conv into out and `second` (same geometry, own weights and post ops) into
    /// second_out, from one im2col: Res_2d's conv_1 and conv_3.
    template <class Second>
    requires std::is_same_v<typename Second::pair_key, pair_key> && needs_im2col &&
        (group == C) void forward_pair(const Second& second, const float* in, float* out,
                                       float* second_out, float* work) const {
        im2col(in, work);
        multiply<Post::activation>(params, work, out, work + col_floats);
        multiply<Second::post_ops::activation>(second.params, work, second_out, work + col_floats);
    }

  private:
    /// out = A(bias + W * col (+ out)) for the parameter block p (this layer's or a
    /// paired one's).
    template <Activation A, bool Accumulate = false>
    static void multiply(const float* p, const float* col, float* out, float* gemm_work) {
        const float* bias = p + OutC * K;
        const float* weights = pruned ? p + OutC * K + OutC : p;
        if constexpr (packed) {
            // The kernel writes whole vectors: into gemm_work, then the epilogue.
            winograd::packed_gemm(OutC, NP, KL, weights, col, gemm_work);
            for (std::size_t o = 0; o < OutC; ++o) {
                const float* src = gemm_work + o * NP;
                float* row = out + o * N;
                for (std::size_t i = 0; i < N; ++i) {
                    float s = src[i] + bias[o];
                    if constexpr (Accumulate) s += row[i];
                    if constexpr (A == Activation::relu) s = s > 0.0f ? s : 0.0f;
                    row[i] = s;
                }
                if constexpr (A == Activation::sigmoid) apply_activation(A, row, N);
            }
        } else {
            static_assert(!Accumulate);
            for (std::size_t o = 0; o < OutC; ++o)
                std::fill(out + o * N, out + (o + 1) * N, bias[o]);
            gemm::multiply_add(OutC, N, KL, weights, KL, col, out, gemm_work);
            apply_activation(A, out, OutC * N);
        }
    }

    /// out += W * col(in), no bias.
    void accumulate(const float* in, float* out, float* work) const {
        if constexpr (!needs_im2col) {
            gemm::multiply_add(OutC, N, K, params, in, out, work);
        } else {
            const float* weights = pruned ? params + OutC * K + OutC : params;
            for (std::size_t c0 = 0; c0 < C; c0 += group) {
                const std::size_t c1 = std::min(C, c0 + group);
                im2col(in, work, c0, c1);
                gemm::multiply_add(OutC, N, (c1 - c0) * LKH * LKW, weights + c0 * LKH * LKW, KL,
                                   work, out, work + col_floats);
            }
        }
    }
};

namespace detail {
/// The Winograd tile size for a geometry, 0 for im2col + GEMM (measured per VGG layer on
/// Intel and re-checked on Zen 5: bench/models/results-2026-12-02-vgg{,-zen5}.md). 3x3
/// pad-1 only. Stride 1: planes of at least 64 outputs, F(4x4, 3x3) when both sides are
/// >= 16, else F(2x2, 3x3). Stride 2 (phases, F(4x4, 2x2)): at least 16 input channels
/// and 64 tiles, below which the transforms and the 11x larger weights cost more than the
/// FLOPs saved.
constexpr std::size_t winograd_tile(std::size_t C, std::size_t H, std::size_t W, std::size_t KH,
                                    std::size_t KW, std::size_t SH, std::size_t SW, std::size_t PH,
                                    std::size_t PW) {
    if (!(KH == 3 && KW == 3 && PH == 1 && PW == 1 && SH == SW)) return 0;
    if (SH == 1) return H * W < 64 ? 0 : (H >= 16 && W >= 16 ? 4 : 2);
    if (SH != 2) return 0;
    const std::size_t oh = (H - 1) / 2 + 1, ow = (W - 1) / 2 + 1;
    return C >= 16 && ((oh + 3) / 4) * ((ow + 3) / 4) >= 64 ? 4 : 0;
}
}  // namespace detail

/// The convolution kernel used for a given geometry: Winograd (conv_winograd.hpp) for
/// 3x3 pad-1 layers of the sizes above, im2col + GEMM (the reference, also usable
/// directly) for the rest. Specialise this to route other shapes to another kernel with
/// the same members as ConvIm2colGemm; the layers and the models do not change.
template <class In, std::size_t OutC, std::size_t KH, std::size_t KW, std::size_t SH,
          std::size_t SW, std::size_t PH, std::size_t PW, class Post>
struct ConvKernel {
    static constexpr std::size_t tile =
        detail::winograd_tile(In::channels, In::height, In::width, KH, KW, SH, SW, PH, PW);
    using type =
        std::conditional_t<tile == 0, ConvIm2colGemm<In, OutC, KH, KW, SH, SW, PH, PW, Post>,
                           ConvWinograd<In, OutC, tile == 0 ? 2 : tile, SH, Post>>;
};

/// torch.nn.Conv2d(in_channels, out_channels, kernel, stride, padding) named `Name`,
/// optionally followed by fused post ops (post::BatchNorm<"...">, post::ReLU).
template <FixedString Name, std::size_t InChannels, std::size_t OutChannels, class KernelT,
          class StrideT = Stride<1, 1>, class PaddingT = Padding<0, 0>, class... Post>
struct Conv2d {
    static constexpr FixedString name = Name;

    template <ShapeType Input>
    struct on
        : ConvKernel<Input, OutChannels, KernelT::height, KernelT::width, StrideT::height,
                     StrideT::width, PaddingT::height, PaddingT::width, PostOps<Post...>>::type {
        static_assert(Input::channels == InChannels,
                      "Conv2d: input channels differ from the layer's in_channels");
        static_assert(Input::height + 2 * PaddingT::height >= KernelT::height &&
                          Input::width + 2 * PaddingT::width >= KernelT::width,
                      "Conv2d: kernel is larger than the padded input");
        using In = Input;
        void bind(ParamBinder& binder) {
            float* p = binder.claim(this->param_floats).data();
            bind_affine<PostOps<Post...>>(
                binder, Name.view(),
                {std::int64_t(OutChannels), std::int64_t(InChannels), std::int64_t(KernelT::height),
                 std::int64_t(KernelT::width)},
                OutChannels, this->K, p);
            // A kernel that computes in another basis (Winograd) derives its weights once.
            if constexpr (requires { this->transform_weights(p); }) this->transform_weights(p);
            this->params = p;
        }
    };
};

/// torch.nn.Conv1d(in_channels, out_channels, kernel, stride, padding) on a (C, 1, T)
/// signal; the checkpoint weight is [out][in][k].
template <FixedString Name, std::size_t InChannels, std::size_t OutChannels, std::size_t KernelSize,
          std::size_t StrideSize = 1, std::size_t PaddingSize = 0, class... Post>
struct Conv1d {
    static constexpr FixedString name = Name;

    template <ShapeType Input>
    struct on : ConvKernel<Input, OutChannels, 1, KernelSize, 1, StrideSize, 0, PaddingSize,
                           PostOps<Post...>>::type {
        static_assert(Input::height == 1, "Conv1d: input must be a (C, 1, T) signal");
        static_assert(Input::channels == InChannels,
                      "Conv1d: input channels differ from the layer's in_channels");
        static_assert(Input::width + 2 * PaddingSize >= KernelSize,
                      "Conv1d: kernel is longer than the padded input");
        using In = Input;
        void bind(ParamBinder& binder) {
            float* p = binder.claim(this->param_floats).data();
            bind_affine<PostOps<Post...>>(
                binder, Name.view(),
                {std::int64_t(OutChannels), std::int64_t(InChannels), std::int64_t(KernelSize)},
                OutChannels, this->K, p);
            this->params = p;
        }
    };
};

}  // namespace tagmap::nn
