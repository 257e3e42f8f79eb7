// torch.nn.Sequential: each layer is applied to the output shape of the one before,
// so a layer that does not accept it fails to compile in its own `on<In>`.
// Intermediates ping-pong between two scratch buffers of the largest one's size.
#pragma once

#include <algorithm>
#include <cstddef>
#include <tuple>
#include <utility>

#include "tagmap/nn/gemm.hpp"
#include "tagmap/nn/layer.hpp"

namespace tagmap::nn {

namespace detail {
/// The concrete layers of descriptors D... applied one after the other to In.
template <class In, class... D>
struct Chain {
    using Layers = std::tuple<>;
    using Out = In;
};
template <class In, class D0, class... D>
struct Chain<In, D0, D...> {
    using First = typename D0::template on<In>;
    using Rest = Chain<typename First::Out, D...>;
    using Layers = decltype(std::tuple_cat(std::declval<std::tuple<First>>(),
                                           std::declval<typename Rest::Layers>()));
    using Out = typename Rest::Out;
};

template <class Tuple>
struct TupleSums;
template <class... L>
struct TupleSums<std::tuple<L...>> {
    static constexpr std::size_t param_floats = (std::size_t{0} + ... + L::param_floats);
    static constexpr std::size_t max_work_floats = std::max({std::size_t{0}, L::work_floats...});
    static constexpr double flops = (0.0 + ... + L::flops);
    static constexpr std::size_t out_channels = (std::size_t{0} + ... + L::Out::channels);
    template <class S>
    static constexpr bool all_keep_plane =
        ((L::Out::height == S::height && L::Out::width == S::width) && ...);
};
}  // namespace detail

template <class... D>
struct Sequential {
    static_assert(sizeof...(D) > 0, "Sequential: needs at least one layer");

    template <ShapeType Input>
    struct on {
        using In = Input;
        using Layers = typename detail::Chain<Input, D...>::Layers;
        using Out = typename detail::Chain<Input, D...>::Out;
        static constexpr std::size_t count = sizeof...(D);

      private:
        template <std::size_t... I>
        static constexpr std::size_t largest_intermediate(std::index_sequence<I...>) {
            return std::max(
                {std::size_t{0}, gemm::round16(std::tuple_element_t<I, Layers>::Out::size)...});
        }

      public:
        static constexpr std::size_t buffer_floats =
            largest_intermediate(std::make_index_sequence<count - 1>{});
        static constexpr std::size_t param_floats = detail::TupleSums<Layers>::param_floats;
        // Two layers need one intermediate buffer; three or more alternate between two.
        static constexpr std::size_t buffer_count = count >= 3 ? 2 : count - 1;
        static constexpr std::size_t work_floats =
            buffer_count * buffer_floats + detail::TupleSums<Layers>::max_work_floats;
        static constexpr double flops = detail::TupleSums<Layers>::flops;

        Layers layers;

        void bind(ParamBinder& binder) {
            std::apply([&](auto&... layer) { (layer.bind(binder), ...); }, layers);
        }

        void forward(const float* in, float* out, float* work) const {
            float* const buffers[2] = {work, work + buffer_floats};
            step<0>(in, out, buffers, work + buffer_count * buffer_floats);
        }

      private:
        template <std::size_t I>
        void step(const float* in, float* out, float* const* buffers, float* scratch) const {
            float* dst = I + 1 == count ? out : buffers[I % 2];
            std::get<I>(layers).forward(in, dst, scratch);
            if constexpr (I + 1 < count) step<I + 1>(dst, out, buffers, scratch);
        }
    };
};

}  // namespace tagmap::nn
