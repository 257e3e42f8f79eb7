// x^y for x > 0 as exp2(y log2 x) with short float polynomials, for UMAP's SGD, where glibc's
// powf was a third of the running time. Branch-free, so that a loop over a small batch of
// values vectorises (glibc's powf does not). Relative error below 4e-6 for |y| <= 2 and
// results within 2^+-16, 1e-5 elsewhere (checked against double std::pow in
// tests/umap/test_fast_pow.cpp): far below the noise of stochastic gradient steps.
// Deterministic: plain float arithmetic, no table.
//
// API (namespace tagmap::project):
//   float fast_pow(float x, float y)   x^y; x is clamped to the normal positive floats
//                                      [1.2e-38, 3.4e38], so x <= 0 gives ~0 (not NaN);
//                                      results saturate outside [2^-126, 2^127]
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>

namespace tagmap::project {

namespace umap_detail {

inline constexpr std::int32_t kMinNormal = 0x00800000;  // bits of 1.18e-38
inline constexpr std::int32_t kMaxFinite = 0x7f7fffff;  // bits of 3.40e38

/// A float's bits as an int whose order is the floats' order (negative floats reversed);
/// its own inverse.
constexpr std::int32_t to_ordered(float v) {
    const auto i = std::bit_cast<std::int32_t>(v);
    return i ^ ((i >> 31) & 0x7fffffff);
}
constexpr float from_ordered(std::int32_t i) {
    return std::bit_cast<float>(i ^ ((i >> 31) & 0x7fffffff));
}

inline constexpr std::int32_t kMinExponent = to_ordered(-126.0f);
inline constexpr std::int32_t kMaxExponent = to_ordered(127.0f);

}  // namespace umap_detail

/// x^y for normal positive x (others are clamped into that range first; NaN gives NaN-free
/// garbage, so callers pass finite values).
inline float fast_pow(float x, float y) {
    using namespace umap_detail;
    // Clamps are done on the bit patterns: integer min/max never trap, so the compiler may
    // vectorise a loop of these under the default -ftrapping-math (float selects it will not).
    const auto bits =
        std::uint32_t(std::clamp(std::bit_cast<std::int32_t>(x), kMinNormal, kMaxFinite));
    // x = 2^e m with m in [2/3, 4/3): log2 x = e + log2(1 + t), t = m - 1 in [-1/3, 1/3]
    const std::int32_t e = std::int32_t(bits - 0x3f2aaaabu) >> 23;
    const float t = std::bit_cast<float>(bits - (std::uint32_t(e) << 23)) - 1.0f;
    // least-squares fit of log2(1 + t) / t on [-1/3, 1/3] (max abs error of log2 2.2e-6),
    // evaluated by Estrin's scheme: half the dependency chain of Horner's, which matters
    // because the SGD waits on each result
    const float t2 = t * t, t4 = t2 * t2;
    const float log2_x =
        float(e) + t * ((1.4427319f + t * -0.72140372f) + t2 * (0.47829799f + t * -0.35770235f) +
                        t4 * (0.33359018f + t * -0.28441162f));
    const float z = from_ordered(std::clamp(to_ordered(y * log2_x), kMinExponent, kMaxExponent));
    // 2^z = 2^k 2^f with k = floor(z + 1/2) (truncation of a positive value: SSE2 has it),
    // f in [-1/2, 1/2]; fit of 2^f, max relative error 1.1e-7
    const std::int32_t k = std::int32_t(z + 128.5f) - 128;
    const float f = z - float(k);
    const float f2 = f * f, f4 = f2 * f2;
    const float two_f = (1.0000001f + f * 0.69314721f) + f2 * (0.24022107f + f * 0.055503272f) +
                        f4 * (0.0096760468f + f * 0.0013400442f);
    return two_f * std::bit_cast<float>(std::uint32_t(k + 127) << 23);
}

}  // namespace tagmap::project
