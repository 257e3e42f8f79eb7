// MusiCNN (Pons et al. 2018, as trained in minzwon/sota-music-tagging-models):
// musically motivated vertical (timbre) and horizontal (temporal) filters on a
// 96-band log-mel, a residual 1-d back end, and [max | mean] pooling over time.
// Shapes per layer and the preprocessing: docs/models/musicnn.md.
#pragma once

#include <cstddef>
#include <string_view>

#include "tagmap/models/tagging_model.hpp"
#include "tagmap/nn/batch_norm.hpp"
#include "tagmap/nn/concat.hpp"
#include "tagmap/nn/conv.hpp"
#include "tagmap/nn/conv_max.hpp"
#include "tagmap/nn/linear.hpp"
#include "tagmap/nn/pool.hpp"
#include "tagmap/nn/residual.hpp"
#include "tagmap/nn/sequential.hpp"

namespace tagmap::models {

namespace musicnn_blocks {
using namespace tagmap::nn;

/// Conv_V: conv (height x 7, pad (0, 3)) -> BN -> ReLU -> max over frequency, fused so
/// that the (filters, bands, frames) activation is never stored (nn/conv_max.hpp).
template <FixedString Name, std::size_t Filters, std::size_t Height, TallConv Algo>
using Vertical =
    Conv2dMaxOverHeight<join<Name, ".conv">, 1, Filters, Kernel<Height, 7>, Padding<0, 3>, Algo,
                        post::BatchNorm<join<Name, ".bn">>, post::ReLU>;

/// Conv_H: mean over frequency -> conv1d (length, pad length/2) -> BN -> ReLU.
template <FixedString Name, std::size_t Filters, std::size_t Length>
using Horizontal = Sequential<MeanOver<Axis::height>,
                              Conv1d<join<Name, ".conv">, 1, Filters, Length, 1, Length / 2,
                                     post::BatchNorm<join<Name, ".bn">>, post::ReLU>>;

/// Conv_1d of the back end: conv1d k=7 pad 3 -> BN -> ReLU.
template <FixedString Name, std::size_t In, std::size_t Out>
using Block1d =
    Conv1d<join<Name, ".conv">, In, Out, 7, 1, 3, post::BatchNorm<join<Name, ".bn">>, post::ReLU>;
}  // namespace musicnn_blocks

template <std::size_t FrontVertical, std::size_t FrontHorizontal, std::size_t Backend,
          std::size_t DenseWidth, std::size_t NMels = 96, std::size_t InputSamples = 48000,
          std::size_t NTags = 50, nn::TallConv VerticalKernel = nn::default_tall_conv>
struct MusicnnArch {
    static constexpr std::string_view family = "musicnn";
    static constexpr std::size_t n_mels = NMels, input_samples = InputSamples;
    static constexpr std::size_t front = 2 * FrontVertical + 3 * FrontHorizontal;

    template <FixedString N, std::size_t H>
    using V = musicnn_blocks::Vertical<N, FrontVertical, H, VerticalKernel>;
    template <FixedString N, std::size_t L>
    using H = musicnn_blocks::Horizontal<N, FrontHorizontal, L>;
    template <FixedString N, std::size_t I, std::size_t O>
    using Block = musicnn_blocks::Block1d<N, I, O>;
    // Filter heights as in the original: int(0.7 * n_mels) and int(0.4 * n_mels).
    static constexpr auto tall_height = static_cast<std::size_t>(0.7 * NMels);
    static constexpr auto short_height = static_cast<std::size_t>(0.4 * NMels);

    using Body = nn::Sequential<
        nn::BatchNorm<"spec_bn", 1>,
        nn::ConcatChannels<V<"layers.0", tall_height>, V<"layers.1", short_height>,  // front end
                           H<"layers.2", 129>, H<"layers.3", 65>, H<"layers.4", 33>>,
        nn::StackConcat<Block<"layer1", front, Backend>,  // cat([front, r1, r2, r3])
                        nn::Residual<Block<"layer2", Backend, Backend>>,
                        nn::Residual<Block<"layer3", Backend, Backend>>>,
        nn::GlobalMaxMeanPool,  // [max_t | mean_t]
        nn::Linear<"dense1", 2 * (front + 3 * Backend), DenseWidth, nn::post::BatchNorm<"bn">,
                   nn::post::ReLU>>;  // = the embedding
    using Head = nn::Linear<"dense2", DenseWidth, NTags, nn::post::Sigmoid>;
};

template <std::size_t FrontVertical, std::size_t FrontHorizontal, std::size_t Backend,
          std::size_t DenseWidth, std::size_t NMels = 96, std::size_t InputSamples = 48000>
using Musicnn = TaggingModel<
    MusicnnArch<FrontVertical, FrontHorizontal, Backend, DenseWidth, NMels, InputSamples>>;

/// The same network with the vertical convolutions on a chosen kernel (the tests and
/// benches run the GEMM reference next to the default).
template <nn::TallConv Kernel, std::size_t FrontVertical, std::size_t FrontHorizontal,
          std::size_t Backend, std::size_t DenseWidth, std::size_t NMels = 96,
          std::size_t InputSamples = 48000>
using MusicnnWith = TaggingModel<MusicnnArch<FrontVertical, FrontHorizontal, Backend, DenseWidth,
                                             NMels, InputSamples, 50, Kernel>>;

/// MusiCNN trained on MagnaTagATune: 64 back-end channels, 200-d embedding (tags/mtat.txt).
using MusicnnMtat = Musicnn<204, 51, 64, 200>;
/// MusiCNN-MTAT with the vertical convolutions in bf16 (fp32 accumulation; needs
/// AVX512_BF16: bind throws UnsupportedError without it). On AMX tiles where the process
/// may use them (hi + lo operands, near fp32), else vdpbf16ps: nn/conv_max.hpp's
/// Bf16Engine, chosen at bind. Fidelity: docs/models/musicnn.md.
using MusicnnMtatBf16 = MusicnnWith<nn::TallConv::spectral_bf16, 204, 51, 64, 200>;
/// MusiCNN for the Million Song Dataset: 512 back-end channels, 500-d embedding.
using MusicnnMsd = Musicnn<204, 51, 512, 500>;

/// The static-memory configuration (no heap, fixed-size FFT; see tagging_model.hpp and
/// docs/embedding.md), e.g. for weights compiled in with tagmap-convert --emit-header.
template <std::size_t FrontVertical, std::size_t FrontHorizontal, std::size_t Backend,
          std::size_t DenseWidth, std::size_t NMels = 96, std::size_t InputSamples = 48000>
using StaticMusicnn = TaggingModel<
    MusicnnArch<FrontVertical, FrontHorizontal, Backend, DenseWidth, NMels, InputSamples>, true>;
using StaticMusicnnMtat = StaticMusicnn<204, 51, 64, 200>;

}  // namespace tagmap::models
