// Comparisons of CREPE outputs with the reference: activations by max abs, pitch in cents.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <span>

#include "npy.hpp"
#include "tagmap/models/crepe_decode.hpp"

namespace tagmap::test {

/// Every `stride`-th row of `act` (frames x 360) against the reference rows.
inline double max_abs_subset(std::span<const float> act, const NpyArray& ref, std::size_t stride) {
    double worst = 0.0;
    for (std::size_t r = 0; r < ref.rows(); ++r)
        for (std::size_t k = 0; k < 360; ++k)
            worst = std::max(worst, std::abs(double(act[r * stride * 360 + k]) -
                                             double(ref.values[r * 360 + k])));
    return worst;
}

/// The largest pitch difference in cents between `hz` (frames x 2, column 0) and
/// reference column `col`; a frame of 0 Hz must be 0 Hz in both.
inline double max_cents(std::span<const float> decoded, const NpyArray& ref, std::size_t col) {
    double worst = 0.0;
    for (std::size_t t = 0; t < ref.rows(); ++t) {
        const double a = decoded[2 * t], b = ref.values[t * ref.cols() + col];
        if (a == 0.0 || b == 0.0) {
            EXPECT_EQ(a, b) << "frame " << t;
            continue;
        }
        worst = std::max(worst, std::abs(1200.0 * std::log2(a / b)));
    }
    return worst;
}

inline double max_confidence_diff(std::span<const float> decoded, const NpyArray& ref) {
    double worst = 0.0;
    for (std::size_t t = 0; t < ref.rows(); ++t)
        worst =
            std::max(worst, std::abs(double(decoded[2 * t + 1]) - ref.values[t * ref.cols() + 2]));
    return worst;
}

}  // namespace tagmap::test
