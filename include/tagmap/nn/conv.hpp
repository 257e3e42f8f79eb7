// Conv2d and Conv1d: im2col (skipped for 1x1 kernels) then one GEMM on the
// shared backend; bias, folded BatchNorm and activation fused into the output.
// Weights are [out][in][kh][kw], as in the checkpoint; the kernel is the policy
// `ConvIm2colGemm`, the one place to swap for an FFT or Winograd convolution.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>

#include "tagmap/nn/gemm.hpp"
#include "tagmap/nn/layer.hpp"

namespace tagmap::nn {

namespace detail {
constexpr std::size_t conv_out(std::size_t n, std::size_t k, std::size_t s, std::size_t p) {
    return n + 2 * p >= k ? (n + 2 * p - k) / s + 1 : 1;  // 1 keeps bad shapes compiling
}  // until the static_assert
}  // namespace detail

/// Convolution as im2col + GEMM: out (OutC x OH*OW) = W (OutC x C*KH*KW) * col.
template <class In, std::size_t OutC, std::size_t KH, std::size_t KW, std::size_t SH,
          std::size_t SW, std::size_t PH, std::size_t PW, class Post>
struct ConvIm2colGemm {
    static constexpr std::size_t C = In::channels, H = In::height, W = In::width;
    static constexpr std::size_t OH = detail::conv_out(H, KH, SH, PH);
    static constexpr std::size_t OW = detail::conv_out(W, KW, SW, PW);
    using Out = Shape<OutC, OH, OW>;
    static constexpr std::size_t K = C * KH * KW;  // GEMM depth
    static constexpr std::size_t N = OH * OW;      // GEMM columns
    static constexpr bool needs_im2col =
        !(KH == 1 && KW == 1 && SH == 1 && SW == 1 && PH == 0 && PW == 0);
    // A 1-d signal's im2col is built and multiplied a group of input channels at a time
    // (about one GEMM depth block), so MusiCNN's 561-channel layer1 needs 0.4 MB, not 3 MB.
    static constexpr std::size_t group =
        H == 1 && needs_im2col ? std::min(C, std::max<std::size_t>(1, gemm::max_kc / (KH * KW)))
                               : C;
    static constexpr std::size_t group_depth = group * KH * KW;
    static constexpr std::size_t col_floats = needs_im2col ? gemm::round16(group_depth * N) : 0;
    static constexpr std::size_t work_floats = col_floats + gemm::work_floats(OutC, N, group_depth);
    static constexpr std::size_t param_floats = OutC * K + OutC;
    static constexpr double flops = 2.0 * OutC * K * N;

    const float* params = nullptr;  // [OutC x K weights | OutC bias], BN folded in

    /// The im2col rows of input channels [c0, c1).
    static void im2col(const float* in, float* col, std::size_t c0 = 0, std::size_t c1 = C) {
        using I = std::ptrdiff_t;
        for (std::size_t c = c0; c < c1; ++c)
            for (std::size_t kh = 0; kh < KH; ++kh)
                for (std::size_t kw = 0; kw < KW; ++kw) {
                    float* row = col + (((c - c0) * KH + kh) * KW + kw) * N;
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
        const float* bias = params + OutC * K;
        for (std::size_t o = 0; o < OutC; ++o) std::fill(out + o * N, out + (o + 1) * N, bias[o]);
        if constexpr (!needs_im2col) {
            gemm::multiply_add(OutC, N, K, params, in, out, work);
        } else {
            for (std::size_t c0 = 0; c0 < C; c0 += group) {
                const std::size_t c1 = std::min(C, c0 + group);
                im2col(in, work, c0, c1);
                gemm::multiply_add(OutC, N, (c1 - c0) * KH * KW, params + c0 * KH * KW, K, work,
                                   out, work + col_floats);
            }
        }
        apply_activation(Post::activation, out, OutC * N);
    }
};

/// The convolution kernel used for a given geometry: im2col + GEMM for all of them.
/// Specialise this to route some shapes to another kernel (FFT, Winograd, direct) with
/// the same members as ConvIm2colGemm; the layers and the models do not change.
template <class In, std::size_t OutC, std::size_t KH, std::size_t KW, std::size_t SH,
          std::size_t SW, std::size_t PH, std::size_t PW, class Post>
struct ConvKernel {
    using type = ConvIm2colGemm<In, OutC, KH, KW, SH, SW, PH, PW, Post>;
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
