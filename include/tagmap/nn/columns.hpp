// Layers for a batch of signals laid out along the width axis, (C, H, B): the batch
// rides in the GEMM columns of every convolution with a width-1 kernel, so a whole
// batch of frames goes through one GEMM per layer.
//   FlattenChannelsHeight: x.permute(0, 2, 1, 3).reshape(B, H * C) per column, as
//                          (H * C, 1, B) (height-major, like CREPE's classifier input).
//   ColumnLinear:          torch.nn.Linear applied to every column of (F, 1, B).
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>

#include "tagmap/nn/gemm.hpp"
#include "tagmap/nn/layer.hpp"

namespace tagmap::nn {

struct FlattenChannelsHeight {
    template <ShapeType Input>
    struct on {
        using In = Input;
        using Out = Shape<Input::channels * Input::height, 1, Input::width>;
        static constexpr std::size_t param_floats = 0, work_floats = 0;
        static constexpr double flops = 0;
        void bind(ParamBinder&) {}
        void forward(const float* in, float* out, float*) const {
            constexpr std::size_t C = In::channels, H = In::height, W = In::width;
            for (std::size_t c = 0; c < C; ++c)
                for (std::size_t h = 0; h < H; ++h)
                    std::copy_n(in + (c * H + h) * W, W, out + (h * C + c) * W);
        }
    };
};

template <FixedString Name, std::size_t InFeatures, std::size_t OutFeatures, class... Post>
struct ColumnLinear {
    static constexpr FixedString name = Name;

    template <ShapeType Input>
    struct on {
        static_assert(Input::height == 1, "ColumnLinear: input must be (features, 1, batch)");
        static_assert(Input::channels == InFeatures,
                      "ColumnLinear: input features differ from the layer's in_features");
        using In = Input;
        using Out = Shape<OutFeatures, 1, Input::width>;
        using Ops = PostOps<Post...>;
        static constexpr std::size_t N = Input::width;
        static constexpr std::size_t param_floats = OutFeatures * InFeatures + OutFeatures;
        static constexpr std::size_t work_floats = gemm::work_floats(OutFeatures, N, InFeatures);
        static constexpr double flops = 2.0 * OutFeatures * InFeatures * N;

        const float* params = nullptr;

        void bind(ParamBinder& binder) {
            float* p = binder.claim(param_floats).data();
            bind_affine<Ops>(binder, std::string(Name.view()),
                             {std::int64_t(OutFeatures), std::int64_t(InFeatures)}, OutFeatures,
                             InFeatures, p);
            params = p;
        }

        void forward(const float* in, float* out, float* work) const {
            const float* bias = params + OutFeatures * InFeatures;
            for (std::size_t o = 0; o < OutFeatures; ++o)
                std::fill(out + o * N, out + (o + 1) * N, bias[o]);
            gemm::multiply_add(OutFeatures, N, InFeatures, params, in, out, work);
            apply_activation(Ops::activation, out, OutFeatures * N);
        }
    };
};

}  // namespace tagmap::nn
