// In-memory tensors, as read from a PyTorch checkpoint (read_pth) before they are
// written to a .tmw file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tagmap/weights/dtype.hpp"

namespace tagmap::weights {

/// Number of elements of a shape (1 for a scalar). The shape must be validated
/// (non-negative, no overflow) by whoever built it.
inline std::int64_t shape_numel(std::span<const std::int64_t> shape) {
    std::int64_t n = 1;
    for (std::int64_t d : shape) n *= d;
    return n;
}

/// "(204, 1, 67, 7)", "()" for a scalar: how shapes appear in every message.
inline std::string shape_string(std::span<const std::int64_t> shape) {
    std::string s = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i) s += ", ";
        s += std::to_string(shape[i]);
    }
    return s + ")";
}

/// One named tensor with contiguous (row-major), little-endian element data.
struct Tensor {
    std::string name;
    DType dtype = DType::float32;
    std::vector<std::int64_t> shape;
    std::vector<std::byte> data;

    std::int64_t numel() const { return shape_numel(shape); }
};

/// Tensors in checkpoint order.
using TensorSet = std::vector<Tensor>;

}  // namespace tagmap::weights
