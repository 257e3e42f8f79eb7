// Residual add: out = post(main(x) + shortcut(x)); the shortcut defaults to the
// identity (MusiCNN's back end), or is a layer such as a strided conv + BN (VGG's
// Res_2d). post is nothing or post::ReLU.
#pragma once

#include <algorithm>
#include <type_traits>

#include "tagmap/nn/gemm.hpp"
#include "tagmap/nn/layer.hpp"

namespace tagmap::nn {

struct Identity {
    template <ShapeType Input>
    struct on {
        using In = Input;
        using Out = Input;
        static constexpr std::size_t param_floats = 0, work_floats = 0;
        static constexpr double flops = 0;
        void bind(ParamBinder&) {}
        void forward(const float* in, float* out, float*) const {
            std::copy_n(in, Input::size, out);
        }
    };
};

template <class Main, class Shortcut = Identity, class... Post>
struct Residual {
    template <ShapeType Input>
    struct on {
        using In = Input;
        using MainLayer = typename Main::template on<Input>;
        using ShortcutLayer = typename Shortcut::template on<Input>;
        static_assert(std::is_same_v<typename MainLayer::Out, typename ShortcutLayer::Out>,
                      "Residual: the main path and the shortcut produce different shapes");
        using Out = typename MainLayer::Out;
        static constexpr bool identity = std::is_same_v<Shortcut, Identity>;
        static constexpr std::size_t sum_floats = identity ? 0 : gemm::round16(Out::size);
        static constexpr std::size_t param_floats =
            MainLayer::param_floats + ShortcutLayer::param_floats;
        static constexpr std::size_t work_floats =
            sum_floats + std::max(MainLayer::work_floats, ShortcutLayer::work_floats);
        static constexpr double flops = MainLayer::flops + ShortcutLayer::flops + Out::size;

        MainLayer main;
        ShortcutLayer shortcut;

        void bind(ParamBinder& binder) {
            main.bind(binder);
            shortcut.bind(binder);
        }

        void forward(const float* in, float* out, float* work) const {
            main.forward(in, out, work + sum_floats);
            const float* skip = in;
            if constexpr (!identity) {
                shortcut.forward(in, work, work + sum_floats);
                skip = work;
            }
            for (std::size_t i = 0; i < Out::size; ++i) out[i] += skip[i];
            apply_activation(PostOps<Post...>::activation, out, Out::size);
        }
    };
};

}  // namespace tagmap::nn
