// Compile-time extents of an activation: channels x height x width, row-major
// (PyTorch's (C, H, W) without the batch axis). A 1-d signal (C, T) is Shape<C, 1, T>;
// a feature vector is Shape<N, 1, 1>.
#pragma once

#include <cstddef>
#include <type_traits>

namespace tagmap {

template <std::size_t C, std::size_t H = 1, std::size_t W = 1>
struct Shape {
    static_assert(C > 0 && H > 0 && W > 0, "tagmap::Shape: every extent must be positive");
    static constexpr std::size_t channels = C;
    static constexpr std::size_t height = H;
    static constexpr std::size_t width = W;
    static constexpr std::size_t plane = H * W;  // floats per channel
    static constexpr std::size_t size = C * H * W;
};

template <class T>
struct is_shape : std::false_type {};
template <std::size_t C, std::size_t H, std::size_t W>
struct is_shape<Shape<C, H, W>> : std::true_type {};

template <class T>
concept ShapeType = is_shape<T>::value;

}  // namespace tagmap
