// One aligned block of memory, allocated once (or lent by the host), from which a
// model carves all of its activations and scratch. Nothing is allocated after it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <span>
#include <string>

#include "tagmap/core/error.hpp"

namespace tagmap {

/// Every region of an arena starts on this boundary (a cache line; enough for AVX-512).
inline constexpr std::size_t arena_alignment = 64;

constexpr std::size_t align_up(std::size_t bytes, std::size_t alignment = arena_alignment) {
    return (bytes + alignment - 1) / alignment * alignment;
}

/// Bytes taken by `n` floats rounded up to the arena alignment.
constexpr std::size_t float_bytes(std::size_t n) {
    return align_up(n * sizeof(float));
}

class Arena {
  public:
    Arena() = default;

    /// Owns a fresh aligned block of `bytes` bytes.
    explicit Arena(std::size_t bytes)
        : owned_(bytes ? static_cast<std::byte*>(
                             ::operator new (bytes, std::align_val_t{arena_alignment}))
                       : nullptr),
          data_(owned_.get()),
          size_(bytes) {}

    /// Uses the host's block, which must be aligned to arena_alignment and hold `bytes`.
    Arena(std::span<std::byte> host, std::size_t bytes) : data_(host.data()), size_(host.size()) {
        if (host.size() < bytes)
            TAGMAP_THROW(InvalidArgument("tagmap::Arena: host buffer holds " +
                                         std::to_string(host.size()) + " bytes, the model needs " +
                                         std::to_string(bytes)));
        if (reinterpret_cast<std::uintptr_t>(host.data()) % arena_alignment != 0)
            TAGMAP_THROW(InvalidArgument("tagmap::Arena: host buffer is not aligned to " +
                                         std::to_string(arena_alignment) + " bytes"));
    }

    std::byte* data() const { return data_; }
    std::size_t size() const { return size_; }

    /// The floats starting `byte_offset` bytes into the block.
    float* floats_at(std::size_t byte_offset) const {
        return reinterpret_cast<float*>(data_ + byte_offset);
    }

  private:
    struct AlignedDelete {
        void operator()(std::byte* p) const {
            ::operator delete (p, std::align_val_t{arena_alignment});
        }
    };
    std::unique_ptr<std::byte, AlignedDelete> owned_;
    std::byte* data_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace tagmap
