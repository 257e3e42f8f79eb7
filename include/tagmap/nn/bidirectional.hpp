// A bidirectional recurrent layer over a run-time number of time steps (madmom's
// BidirectionalLayer): the forward layer runs t = 0 .. T-1, the backward layer on the
// time-reversed sequence with its output reversed back; output row t is
// [forward_t, backward_t]. Both start from zero state on every call.
//
// Tensors: `<prefix>.<Name>.<Fwd::name>.*` and `<prefix>.<Name>.<Bwd::name>.*` (madmom:
// fwd_layer, bwd_layer).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "tagmap/core/fixed_string.hpp"
#include "tagmap/nn/bind.hpp"

namespace tagmap::nn {

template <FixedString Name, class Fwd, class Bwd>
struct Bidirectional {
    static_assert(Fwd::in_features == Bwd::in_features,
                  "Bidirectional: both directions must take the same input features");
    static constexpr FixedString name = Name;
    static constexpr std::size_t in_features = Fwd::in_features;
    static constexpr std::size_t out_features = Fwd::out_features + Bwd::out_features;
    static constexpr std::size_t param_floats = Fwd::param_floats + Bwd::param_floats;
    static constexpr std::size_t work_floats(std::size_t steps) {
        return Fwd::work_floats(steps) > Bwd::work_floats(steps) ? Fwd::work_floats(steps)
                                                                 : Bwd::work_floats(steps);
    }
    static constexpr double flops(std::size_t steps) {
        return Fwd::flops(steps) + Bwd::flops(steps);
    }

    Fwd fwd;
    Bwd bwd;

    void bind(ParamBinder& binder, std::string_view prefix) {
        const std::string base =
            std::string(prefix) + (prefix.empty() ? "" : ".") + std::string(Name.view());
        fwd.bind(binder, base);
        bwd.bind(binder, base);
    }

    /// x: T rows of in_features; out: T rows of out_features (distinct from x).
    void forward(const float* x, std::size_t steps, float* out, float* work) const {
        fwd.forward(x, steps, out, out_features, false, work);
        bwd.forward(x, steps, out + Fwd::out_features, out_features, true, work);
    }
};

}  // namespace tagmap::nn
