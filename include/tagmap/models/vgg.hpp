// The short-chunk "VGG" CNNs of minzwon/sota-music-tagging-models: seven stride-2
// 3x3 blocks on a 128-band log-mel of 59049 samples, global max over time, dense.
// Block "res" (Res_2d, the MSD checkpoints) or "simple" (conv -> BN -> ReLU, the
// MTAT one). Shapes per layer and the preprocessing: docs/models/vgg.md.
#pragma once

#include <cstddef>
#include <string_view>
#include <type_traits>

#include "tagmap/models/tagging_model.hpp"
#include "tagmap/nn/batch_norm.hpp"
#include "tagmap/nn/conv.hpp"
#include "tagmap/nn/linear.hpp"
#include "tagmap/nn/pool.hpp"
#include "tagmap/nn/residual.hpp"
#include "tagmap/nn/sequential.hpp"

namespace tagmap::models {

namespace vgg_blocks {
using namespace tagmap::nn;

template <FixedString Name, FixedString Suffix, std::size_t In, std::size_t Out, std::size_t S,
          class... Post>
using Conv3x3 =
    Conv2d<join<Name, Suffix>, In, Out, Kernel<3, 3>, Stride<S, S>, Padding<1, 1>, Post...>;

/// Res_2d: relu(bn_2(conv_2(relu(bn_1(conv_1(x))))) + bn_3(conv_3(x))), stride 2.
template <FixedString Name, std::size_t In, std::size_t Out>
using Res2d = Residual<
    Sequential<
        Conv3x3<Name, ".conv_1", In, Out, 2, post::BatchNorm<join<Name, ".bn_1">>, post::ReLU>,
        Conv3x3<Name, ".conv_2", Out, Out, 1, post::BatchNorm<join<Name, ".bn_2">>>>,
    Conv3x3<Name, ".conv_3", In, Out, 2, post::BatchNorm<join<Name, ".bn_3">>>, post::ReLU>;

/// Res_2d_simple: relu(bn(conv(x))), stride 2.
template <FixedString Name, std::size_t In, std::size_t Out>
using Simple2d = Conv3x3<Name, ".conv", In, Out, 2, post::BatchNorm<join<Name, ".bn">>, post::ReLU>;
}  // namespace vgg_blocks

enum class VggBlock { residual, simple };

template <VggBlock Kind, std::size_t Channels, std::size_t NMels = 128,
          std::size_t InputSamples = 59049, std::size_t NTags = 50>
struct VggArch {
    static constexpr std::string_view family = "vgg";
    static constexpr std::size_t n_mels = NMels, input_samples = InputSamples;
    static constexpr std::size_t c = Channels;

    template <FixedString N, std::size_t I, std::size_t O>
    using B = std::conditional_t<Kind == VggBlock::residual, vgg_blocks::Res2d<N, I, O>,
                                 vgg_blocks::Simple2d<N, I, O>>;

    using Body =
        nn::Sequential<nn::BatchNorm<"spec_bn", 1>,  //
                       B<"layer1", 1, c>, B<"layer2", c, c>, B<"layer3", c, 2 * c>,
                       B<"layer4", 2 * c, 2 * c>, B<"layer5", 2 * c, 2 * c>,
                       B<"layer6", 2 * c, 2 * c>, B<"layer7", 2 * c, 4 * c>,
                       nn::MaxOver<nn::Axis::width>,  // frequency is 1 here; global max over time
                       nn::Linear<"dense1", 4 * c, 4 * c, nn::post::BatchNorm<"bn">,
                                  nn::post::ReLU>>;  // = the embedding
    using Head = nn::Linear<"dense2", 4 * c, NTags, nn::post::Sigmoid>;
};

template <VggBlock Kind, std::size_t Channels, std::size_t NMels = 128,
          std::size_t InputSamples = 59049>
using Vgg = TaggingModel<VggArch<Kind, Channels, NMels, InputSamples>>;

/// Residual short-chunk CNN of the MSD checkpoints (128-256-512 channels, 512-d embedding).
using VggMsd = Vgg<VggBlock::residual, 128>;
/// One-conv-per-block short-chunk CNN used for MTAT (same widths).
using VggMtat = Vgg<VggBlock::simple, 128>;

}  // namespace tagmap::models
