// Element types a weight tensor can have, with their on-disk codes in .tmw files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace tagmap::weights {

/// The numeric values are the .tmw on-disk codes: never renumber them.
enum class DType : std::uint32_t { float32 = 1, float64 = 2, float16 = 3, int64 = 4 };

inline std::string_view dtype_name(DType dtype) {
    switch (dtype) {
        case DType::float32:
            return "float32";
        case DType::float64:
            return "float64";
        case DType::float16:
            return "float16";
        case DType::int64:
            return "int64";
    }
    return "invalid";
}

/// Bytes per element; 0 for a value that is not a valid DType.
inline std::size_t dtype_size(DType dtype) {
    switch (dtype) {
        case DType::float32:
            return 4;
        case DType::float64:
            return 8;
        case DType::float16:
            return 2;
        case DType::int64:
            return 8;
    }
    return 0;
}

/// Decodes an on-disk code; nullopt for anything that is not a known DType.
inline std::optional<DType> dtype_from_code(std::uint32_t code) {
    if (code >= 1 && code <= 4) return static_cast<DType>(code);
    return std::nullopt;
}

}  // namespace tagmap::weights
