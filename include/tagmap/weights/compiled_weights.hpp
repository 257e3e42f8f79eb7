// Weights compiled into the program: the tables that `tagmap-convert --emit-header`
// writes (alignas(64) constexpr arrays plus one CompiledTensor per tensor). A model binds
// them like a .tmw file (TaggingModel::try_bind / bind), with no file system, no
// mapping and no heap; this header needs neither exceptions nor RTTI.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>

namespace tagmap::weights {

/// One tensor of an emitted header: name, dtype, shape and a pointer to its values
/// (row-major, 64-byte aligned). float32 tensors point at floats, int64 ones (e.g.
/// BatchNorm's num_batches_tracked) at int64 values.
struct CompiledTensor {
    std::string_view name;
    std::string_view dtype;  // "float32" or "int64"
    std::span<const std::int64_t> shape;
    const void* data = nullptr;
    std::size_t bytes = 0;

    constexpr std::size_t numel() const {
        std::size_t n = 1;
        for (auto d : shape) n *= static_cast<std::size_t>(d);
        return n;
    }
};

/// All tensors of one emitted header, in checkpoint order.
struct CompiledWeights {
    std::span<const CompiledTensor> tensors;
    std::string_view source;  // the file the header was generated from, for messages

    constexpr const CompiledTensor* find(std::string_view name) const {
        for (const auto& t : tensors)
            if (t.name == name) return &t;
        return nullptr;
    }

    /// True if `name` is present as float32 with exactly `shape`: usable in a
    /// static_assert when the table is constexpr (compile-time binding checks).
    constexpr bool has(std::string_view name, std::span<const std::int64_t> shape) const {
        const CompiledTensor* t = find(name);
        if (!t || t->dtype != "float32" || t->shape.size() != shape.size()) return false;
        for (std::size_t i = 0; i < shape.size(); ++i)
            if (t->shape[i] != shape[i]) return false;
        return true;
    }
    constexpr bool has(std::string_view name, std::initializer_list<std::int64_t> shape) const {
        return has(name, std::span<const std::int64_t>(shape.begin(), shape.size()));
    }

    /// Float values of all tensors (what the weights cost in the binary's rodata).
    constexpr std::size_t total_bytes() const {
        std::size_t n = 0;
        for (const auto& t : tensors) n += t.bytes;
        return n;
    }
};

}  // namespace tagmap::weights
