// The one BLOB layout of the store: float32, little-endian, row-major, no header (the
// shape lives in the row's columns). See docs/database.md.
#pragma once

#include <bit>
#include <cstddef>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include <tagmap/core/error.hpp>

namespace tagmap::store {

static_assert(std::endian::native == std::endian::little,
              "the store's BLOBs are little-endian float32; add a byte swap for this host");

inline std::span<const std::byte> float_bytes(std::span<const float> values) {
    return std::as_bytes(values);
}

/// Decodes a BLOB of `expected` floats; a BLOB of another length is a FormatError (a
/// damaged or foreign row), never a silent truncation.
inline std::vector<float> floats_from_blob(std::span<const std::byte> blob, std::size_t expected,
                                           const std::string& what) {
    if (blob.size() != expected * sizeof(float))
        throw FormatError(what + ": BLOB of " + std::to_string(blob.size()) + " bytes, expected " +
                          std::to_string(expected) + " float32 values");
    std::vector<float> out(expected);
    if (expected > 0) std::memcpy(out.data(), blob.data(), blob.size());
    return out;
}

}  // namespace tagmap::store
