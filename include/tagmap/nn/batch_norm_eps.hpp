// An inference BatchNorm with the checkpoint's own epsilon, for networks trained with
// another value than PyTorch's 1e-5 (CREPE, converted from Keras, uses 1e-3) and
// placed where it cannot be folded into a Conv (after the ReLU).
#pragma once

#include <cmath>
#include <cstddef>
#include <string>

#include "tagmap/nn/layer.hpp"

namespace tagmap::nn {

/// `Eps` is a type with `static constexpr double value` (floating-point template
/// arguments are not portable to every compiler this builds with).
template <FixedString Name, std::size_t Channels, class Eps>
struct BatchNormEps {
    static constexpr FixedString name = Name;

    template <ShapeType Input>
    struct on {
        static_assert(Input::channels == Channels,
                      "BatchNormEps: input channels differ from the layer's num_features");
        using In = Input;
        using Out = Input;
        static constexpr std::size_t param_floats = 2 * Channels;  // scale | shift
        static constexpr std::size_t work_floats = 0;
        static constexpr double flops = 2.0 * Input::size;

        const float* params = nullptr;

        void bind(ParamBinder& binder) {
            float* p = binder.claim(param_floats).data();
            const std::string n(Name.view());
            const auto c = static_cast<std::int64_t>(Channels);
            const auto gamma = binder.read(n + ".weight", {c});
            const auto beta = binder.read(n + ".bias", {c});
            const auto mean = binder.read(n + ".running_mean", {c});
            const auto var = binder.read(n + ".running_var", {c});
            binder.accept_if_present(n + ".num_batches_tracked");
            for (std::size_t i = 0; i < Channels; ++i) {
                const double scale = gamma[i] / std::sqrt(static_cast<double>(var[i]) + Eps::value);
                p[i] = static_cast<float>(scale);
                p[Channels + i] = static_cast<float>(beta[i] - mean[i] * scale);
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
