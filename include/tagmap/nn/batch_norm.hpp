// A standalone inference BatchNorm (per-channel affine from the running statistics),
// for the places where no Conv or Linear precedes it to fold into, e.g. the
// `spec_bn` BatchNorm2d(1) applied to the dB spectrogram, or CREPE's BatchNorm after
// the ReLU. `Eps`: the checkpoint's epsilon as a type (PyTorch's 1e-5 by default;
// CREPE, converted from Keras, uses 1e-3).
#pragma once

#include <string>
#include <vector>

#include "tagmap/nn/layer.hpp"

namespace tagmap::nn {

template <FixedString Name, std::size_t Channels, class Eps = PyTorchEpsilon>
struct BatchNorm {
    static constexpr FixedString name = Name;

    template <ShapeType Input>
    struct on {
        static_assert(Input::channels == Channels,
                      "BatchNorm: input channels differ from the layer's num_features");
        using In = Input;
        using Out = Input;
        static constexpr std::size_t param_floats = 2 * Channels;  // scale | shift
        static constexpr std::size_t work_floats = 0;
        static constexpr double flops = 2.0 * Input::size;

        const float* params = nullptr;

        void bind(ParamBinder& binder) {
            float* p = binder.claim(param_floats).data();
            const BatchNormTensors bn = view_batch_norm(binder, Name.view(), Channels, Eps::value);
            for (std::size_t c = 0; c < Channels; ++c) {
                p[c] = bn.complete() ? static_cast<float>(bn.scale(c)) : 0.0f;
                p[Channels + c] = bn.complete() ? static_cast<float>(bn.shift(c)) : 0.0f;
            }
            params = p;
        }

        void forward(const float* in, float* out, float*) const {
            for (std::size_t c = 0; c < Channels; ++c) {
                const float a = params[c], b = params[Channels + c];
                for (std::size_t i = c * Input::plane; i < (c + 1) * Input::plane; ++i)
                    out[i] = in[i] * a + b;
            }
        }
    };
};

}  // namespace tagmap::nn
