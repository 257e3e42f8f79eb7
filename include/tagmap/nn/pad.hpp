// torch.nn.ZeroPad2d((left, right, top, bottom)) / F.pad with zeros: for graphs whose
// padding is asymmetric (CREPE's "same" convolutions), which Conv2d's symmetric
// padding cannot express.
#pragma once

#include <algorithm>
#include <cstddef>

#include "tagmap/nn/layer.hpp"

namespace tagmap::nn {

template <std::size_t Left, std::size_t Right, std::size_t Top, std::size_t Bottom>
struct ZeroPad2d {
    template <ShapeType Input>
    struct on {
        using In = Input;
        using Out =
            Shape<Input::channels, Input::height + Top + Bottom, Input::width + Left + Right>;
        static constexpr std::size_t param_floats = 0, work_floats = 0;
        static constexpr double flops = 0;
        void bind(ParamBinder&) {}
        void forward(const float* in, float* out, float*) const {
            constexpr std::size_t H = In::height, W = In::width, OW = Out::width;
            for (std::size_t c = 0; c < In::channels; ++c) {
                float* o = out + c * Out::plane;
                std::fill(o, o + Top * OW, 0.0f);
                for (std::size_t h = 0; h < H; ++h) {
                    float* row = o + (Top + h) * OW;
                    std::fill(row, row + Left, 0.0f);
                    std::copy_n(in + (c * H + h) * W, W, row + Left);
                    std::fill(row + Left + W, row + OW, 0.0f);
                }
                std::fill(o + (Top + H) * OW, o + Out::plane, 0.0f);
            }
        }
    };
};

}  // namespace tagmap::nn
