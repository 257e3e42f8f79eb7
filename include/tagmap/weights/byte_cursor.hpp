// Bounds-checked little-endian reads from an untrusted byte span. Every parser of
// untrusted input in tagmap::weights reads through this, so a short or hostile file
// becomes a FormatError naming the file and the offset, never an out-of-bounds read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "tagmap/core/error.hpp"

namespace tagmap::weights {

/// Little-endian decoders; callers guarantee `p` has enough bytes.
template <class T>
inline T load_le(const std::byte* p) {
    static_assert(std::is_integral_v<T>);
    std::make_unsigned_t<T> v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i)
        v |= static_cast<std::make_unsigned_t<T>>(std::to_integer<unsigned>(p[i])) << (8 * i);
    return static_cast<T>(v);
}

template <class T>
inline void store_le(std::byte* p, T value) {
    static_assert(std::is_integral_v<T>);
    auto v = static_cast<std::make_unsigned_t<T>>(value);
    for (std::size_t i = 0; i < sizeof(T); ++i)
        p[i] = static_cast<std::byte>((v >> (8 * i)) & 0xFFu);
}

class ByteCursor {
  public:
    /// `context` prefixes every error message (usually the file name).
    ByteCursor(std::span<const std::byte> bytes, std::string_view context, std::size_t pos = 0)
        : bytes_(bytes), context_(context), pos_(pos) {}

    std::size_t pos() const { return pos_; }
    std::size_t remaining() const { return pos_ <= bytes_.size() ? bytes_.size() - pos_ : 0; }
    bool at_end() const { return remaining() == 0; }
    void seek(std::size_t pos) {
        if (pos > bytes_.size()) fail("offset " + std::to_string(pos) + " is past the end");
        pos_ = pos;
    }

    std::span<const std::byte> take(std::uint64_t n, std::string_view what) {
        if (n > remaining())
            fail("truncated: " + std::string(what) + " needs " + std::to_string(n) +
                 " bytes at offset " + std::to_string(pos_) + " but only " +
                 std::to_string(remaining()) + " remain");
        auto s = bytes_.subspan(pos_, static_cast<std::size_t>(n));
        pos_ += static_cast<std::size_t>(n);
        return s;
    }

    template <class T>
    T read(std::string_view what) {
        return load_le<T>(take(sizeof(T), what).data());
    }

    std::string_view read_text(std::uint64_t n, std::string_view what) {
        auto s = take(n, what);
        return {reinterpret_cast<const char*>(s.data()), s.size()};
    }

    [[noreturn]] void fail(const std::string& why) const {
        throw FormatError(std::string(context_) + ": " + why);
    }

  private:
    std::span<const std::byte> bytes_;
    std::string_view context_;
    std::size_t pos_;
};

}  // namespace tagmap::weights
