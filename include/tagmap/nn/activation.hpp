// Standalone element-wise activations, for graphs where they cannot be fused into
// the preceding Conv or Linear (see post::ReLU / post::Sigmoid for the fused form).
#pragma once

#include <algorithm>

#include "tagmap/nn/layer.hpp"

namespace tagmap::nn {

namespace detail {
template <Activation A>
struct Elementwise {
    template <ShapeType Input>
    struct on {
        using In = Input;
        using Out = Input;
        static constexpr std::size_t param_floats = 0;
        static constexpr std::size_t work_floats = 0;
        static constexpr double flops = Input::size;
        void bind(ParamBinder&) {}
        void forward(const float* in, float* out, float*) const {
            std::copy_n(in, Input::size, out);
            apply_activation(A, out, Input::size);
        }
    };
};
}  // namespace detail

struct ReLU : detail::Elementwise<Activation::relu> {};
struct Sigmoid : detail::Elementwise<Activation::sigmoid> {};

}  // namespace tagmap::nn
