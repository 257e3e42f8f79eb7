// Residual add: out = post(main(x) + shortcut(x)); the shortcut defaults to the
// identity (MusiCNN's back end), or is a layer such as a strided conv + BN (VGG's
// Res_2d). post is nothing or post::ReLU. With a layer shortcut and a main Sequential
// ending in a conv, the sum and post are fused into that conv's output (forward_add);
// when the main path's first conv and the shortcut read the input at the same geometry,
// one im2col / input transform serves both (forward_pair).
#pragma once

#include <algorithm>
#include <tuple>
#include <type_traits>

#include "tagmap/nn/gemm.hpp"
#include "tagmap/nn/layer.hpp"

namespace tagmap::nn {

namespace detail {
/// Whether L is a Sequential whose last layer can add itself into its output.
template <class L>
constexpr bool adds_into_output() {
    if constexpr (requires {
                      typename L::Layers;
                      L::count;
                      L::buffer_floats;
                  }) {
        using Last = std::tuple_element_t<L::count - 1, typename L::Layers>;
        return requires(const Last& last, const float* in, float* out, float* work) {
            last.template forward_add<Activation::none>(in, out, work);
        };
    } else {
        return false;
    }
}

/// Whether the main Sequential's first layer can run itself and the shortcut from one
/// read of the input (forward_pair: one im2col or input transform for both).
template <class L, class Shortcut>
constexpr bool pairs_with_shortcut() {
    if constexpr (adds_into_output<L>() && L::count >= 2) {  // the first conv is not the last
        using First = std::tuple_element_t<0, typename L::Layers>;
        return requires(const First& first, const Shortcut& shortcut, const float* in, float* out,
                        float* work) {
            first.forward_pair(shortcut, in, out, out, work);
        };
    } else {
        return false;
    }
}
}  // namespace detail

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
        // Fused: the shortcut writes `out`, and the main path's last layer (a Sequential's
        // conv with forward_add) adds itself to it with the activation, in one pass and
        // without a sum buffer.
        static constexpr bool fused = !identity && detail::adds_into_output<MainLayer>();
        // Paired: the main path's first conv and the shortcut conv read the same input at
        // the same geometry, so one im2col / input transform serves both.
        static constexpr bool paired =
            fused && detail::pairs_with_shortcut<MainLayer, ShortcutLayer>();
        static constexpr std::size_t sum_floats = identity || fused ? 0 : gemm::round16(Out::size);
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
            if constexpr (fused) {
                float* const buffers[2] = {work, work + MainLayer::buffer_floats};
                float* scratch = work + MainLayer::buffer_count * MainLayer::buffer_floats;
                if constexpr (paired) {
                    std::get<0>(main.layers).forward_pair(shortcut, in, buffers[0], out, scratch);
                    main_add<1>(buffers[0], out, buffers, scratch);
                } else {
                    shortcut.forward(in, out, work);
                    main_add<0>(in, out, buffers, scratch);
                }
                return;
            }
            main.forward(in, out, work + sum_floats);
            const float* skip = in;
            if constexpr (!identity) {
                shortcut.forward(in, work, work + sum_floats);
                skip = work;
            }
            for (std::size_t i = 0; i < Out::size; ++i) out[i] += skip[i];
            apply_activation(PostOps<Post...>::activation, out, Out::size);
        }

      private:
        // The main Sequential's layers as Sequential::forward runs them, the last added
        // into out.
        template <std::size_t I>
        void main_add(const float* in, float* out, float* const* buffers, float* scratch) const {
            const auto& layer = std::get<I>(main.layers);
            if constexpr (I + 1 == MainLayer::count) {
                layer.template forward_add<PostOps<Post...>::activation>(in, out, scratch);
            } else {
                float* dst = buffers[I % 2];
                layer.forward(in, dst, scratch);
                main_add<I + 1>(dst, out, buffers, scratch);
            }
        }
    };
};

}  // namespace tagmap::nn
