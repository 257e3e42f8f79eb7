// torch.nn.Linear on a feature vector (Shape<N, 1, 1>), with fused post ops.
#pragma once

#include <algorithm>
#include <string>

#include "tagmap/nn/gemm.hpp"
#include "tagmap/nn/layer.hpp"

namespace tagmap::nn {

template <FixedString Name, std::size_t InFeatures, std::size_t OutFeatures, class... Post>
struct Linear {
    static constexpr FixedString name = Name;

    template <ShapeType Input>
    struct on {
        static_assert(Input::height == 1 && Input::width == 1,
                      "Linear: input must be a feature vector Shape<N, 1, 1> (pool first)");
        static_assert(Input::channels == InFeatures,
                      "Linear: input features differ from the layer's in_features");
        using In = Input;
        using Out = Shape<OutFeatures, 1, 1>;
        using Ops = PostOps<Post...>;
        static constexpr std::size_t param_floats = OutFeatures * InFeatures + OutFeatures;
        static constexpr std::size_t work_floats = 0;
        static constexpr double flops = 2.0 * OutFeatures * InFeatures;

        const float* params = nullptr;

        void bind(ParamBinder& binder) {
            float* p = binder.claim(param_floats).data();
            bind_affine<Ops>(binder, Name.view(),
                             {std::int64_t(OutFeatures), std::int64_t(InFeatures)}, OutFeatures,
                             InFeatures, p);
            params = p;
        }

        void forward(const float* in, float* out, float*) const {
            std::copy_n(params + OutFeatures * InFeatures, OutFeatures, out);
            gemm::matvec_add(OutFeatures, InFeatures, params, in, out);
            apply_activation(Ops::activation, out, OutFeatures);
        }
    };
};

}  // namespace tagmap::nn
