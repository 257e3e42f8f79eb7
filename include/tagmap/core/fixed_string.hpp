// A string usable as a template argument, so that a layer type can carry its
// checkpoint name ("layers.0.conv") and compiler diagnostics show it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string_view>

namespace tagmap {

template <std::size_t N>
struct FixedString {
    char value[N]{};
    constexpr FixedString() = default;
    constexpr FixedString(const char (&text)[N]) { std::copy_n(text, N, value); }
    constexpr std::string_view view() const { return {value, N - 1}; }
};

/// A + B as a FixedString, e.g. join<"layer1", ".conv_1"> == "layer1.conv_1".
template <FixedString A, FixedString B>
inline constexpr auto join = [] {
    FixedString<sizeof(A.value) + sizeof(B.value) - 1> joined;
    std::copy_n(A.value, sizeof(A.value) - 1, joined.value);
    std::copy_n(B.value, sizeof(B.value), joined.value + sizeof(A.value) - 1);
    return joined;
}();

}  // namespace tagmap
