// Channel concatenations. ConcatChannels: parallel branches on the same input,
// torch.cat([b(x) for b in branches], 1). StackConcat: layers applied in sequence,
// keeping every intermediate, torch.cat([x, y1, y2, ...], 1). Because activations
// are (C, H, W) row-major, each part is written straight into its slice of the output.
#pragma once

#include <algorithm>
#include <cstddef>
#include <tuple>

#include "tagmap/nn/layer.hpp"
#include "tagmap/nn/sequential.hpp"

namespace tagmap::nn {

template <class... Branches>
struct ConcatChannels {
    static_assert(sizeof...(Branches) > 0, "ConcatChannels: needs at least one branch");

    template <ShapeType Input>
    struct on {
        using In = Input;
        using Layers = std::tuple<typename Branches::template on<Input>...>;
        using First = std::tuple_element_t<0, Layers>;
        static_assert(((Branches::template on<Input>::Out::height == First::Out::height &&
                        Branches::template on<Input>::Out::width == First::Out::width) &&
                       ...),
                      "ConcatChannels: branches produce different (height, width)");
        using Out = Shape<(std::size_t{0} + ... + Branches::template on<Input>::Out::channels),
                          First::Out::height, First::Out::width>;
        static constexpr std::size_t param_floats = detail::TupleSums<Layers>::param_floats;
        static constexpr std::size_t work_floats = detail::TupleSums<Layers>::max_work_floats;
        static constexpr double flops = detail::TupleSums<Layers>::flops;

        Layers layers;

        void bind(ParamBinder& binder) {
            std::apply([&](auto&... layer) { (layer.bind(binder), ...); }, layers);
        }

        void forward(const float* in, float* out, float* work) const {
            std::apply(
                [&](const auto&... layer) {
                    float* slice = out;
                    ((layer.forward(in, slice, work),
                      slice += std::remove_cvref_t<decltype(layer)>::Out::size),
                     ...);
                },
                layers);
        }
    };
};

template <class... D>
struct StackConcat {
    template <ShapeType Input>
    struct on {
        using In = Input;
        using Layers = typename detail::Chain<Input, D...>::Layers;
        static_assert(detail::TupleSums<Layers>::template all_keep_plane<Input>,
                      "StackConcat: every layer must keep the input's (height, width)");
        using Out = Shape<Input::channels + detail::TupleSums<Layers>::out_channels, Input::height,
                          Input::width>;
        static constexpr std::size_t param_floats = detail::TupleSums<Layers>::param_floats;
        static constexpr std::size_t work_floats = detail::TupleSums<Layers>::max_work_floats;
        static constexpr double flops = detail::TupleSums<Layers>::flops;

        Layers layers;

        void bind(ParamBinder& binder) {
            std::apply([&](auto&... layer) { (layer.bind(binder), ...); }, layers);
        }

        void forward(const float* in, float* out, float* work) const {
            std::copy_n(in, Input::size, out);
            std::apply(
                [&](const auto&... layer) {
                    const float* prev = out;
                    float* next = out + Input::size;
                    ((layer.forward(prev, next, work), prev = next,
                      next += std::remove_cvref_t<decltype(layer)>::Out::size),
                     ...);
                },
                layers);
        }
    };
};

}  // namespace tagmap::nn
