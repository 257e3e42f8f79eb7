// A dense layer applied to every time step of a run-time length sequence (madmom's
// FeedForwardLayer): y_t = act(x_t W + b), with W stored (in, out) as madmom does.
//
// Tensors: `<prefix>.<Name>.weights` (In, Out) and `<prefix>.<Name>.bias` (Out).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <string_view>

#include "tagmap/core/fixed_string.hpp"
#include "tagmap/nn/bind.hpp"
#include "tagmap/nn/layer.hpp"
#include "tagmap/nn/lstm.hpp"

namespace tagmap::nn {

template <FixedString Name, std::size_t In, std::size_t Out, Activation Act = Activation::none>
struct TimeDense {
    static constexpr FixedString name = Name;
    static constexpr std::size_t in_features = In;
    static constexpr std::size_t out_features = Out;
    static constexpr std::size_t param_floats = In * Out + Out;
    static constexpr double flops(std::size_t steps) { return 2.0 * double(steps) * In * Out; }

    const float* params = nullptr;

    void bind(ParamBinder& binder, std::string_view prefix) {
        float* p = binder.claim(param_floats).data();
        const std::string base =
            std::string(prefix) + (prefix.empty() ? "" : ".") + std::string(Name.view()) + ".";
        const auto w = binder.read(base + "weights", {std::int64_t(In), std::int64_t(Out)});
        const auto b = binder.read(base + "bias", {std::int64_t(Out)});
        std::copy(w.begin(), w.end(), p);
        std::copy(b.begin(), b.end(), p + In * Out);
        params = p;
    }

    void forward(const float* x, std::size_t steps, float* out) const {
        const float* W = params;
        const float* b = params + In * Out;
        for (std::size_t t = 0; t < steps; ++t) {
            const float* xt = x + t * In;
            float* yt = out + t * Out;
            for (std::size_t j = 0; j < Out; ++j) {
                float acc = 0.0f;
                for (std::size_t k = 0; k < In; ++k) acc += xt[k] * W[k * Out + j];
                acc += b[j];
                yt[j] = Act == Activation::sigmoid ? expit(acc)
                        : Act == Activation::relu  ? (acc > 0.0f ? acc : 0.0f)
                                                   : acc;
            }
        }
    }
};

}  // namespace tagmap::nn
