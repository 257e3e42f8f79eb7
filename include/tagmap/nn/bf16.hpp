// bf16 kernels of the tall convolutions' spectral path (TallConv::spectral_bf16 in
// conv_max.hpp): fp32 values rounded to bfloat16, products accumulated in fp32 with
// vdpbf16ps. vdpbf16ps multiplies 32-bit lanes holding bf16 pairs (low, high) and adds both
// products to the fp32 lane, so every operand here is a pair: a complex value (re, im).
// The kernels carry a target attribute, so they exist in a portable build; callers check
// tagmap::cpu_has_avx512_bf16() (core/cpu_features.hpp) before using them.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define TAGMAP_HAVE_BF16_KERNELS 1
#define TAGMAP_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#else
#define TAGMAP_HAVE_BF16_KERNELS 0
#endif

namespace tagmap::nn::bf16 {

/// Round to nearest even, as vcvtneps2bf16 does (inputs here are finite).
constexpr std::uint16_t from_float(float v) {
    const auto bits = std::bit_cast<std::uint32_t>(v);
    return std::uint16_t((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

constexpr float to_float(std::uint16_t v) {
    return std::bit_cast<float>(std::uint32_t(v) << 16);
}

/// One vdpbf16ps lane: (low, high).
constexpr std::uint32_t pair(float low, float high) {
    return std::uint32_t(from_float(low)) | (std::uint32_t(from_float(high)) << 16);
}

/// Stores a pair into float-typed storage (the layers' parameter and work blocks).
inline void store_pair(float* at, std::uint32_t p) {
    std::memcpy(at, &p, sizeof p);
}

#if TAGMAP_HAVE_BF16_KERNELS

namespace detail {
/// (re[0], im[0], re[1], im[1], ...) in bf16 from two fp32 vectors.
TAGMAP_BF16_TARGET inline __m512i interleave(__m512 re, __m512 im) {
    const __m512i halves = (__m512i)_mm512_cvtne2ps_pbh(im, re);  // [re 0..15 | im 0..15]
    const __m512i order =
        _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6,
                         21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    return _mm512_permutexvar_epi16(order, halves);
}
}  // namespace detail

/// `count` pairs (re[i], im[i]) -> out[i], 16 at a time (count a multiple of 16 or not).
TAGMAP_BF16_TARGET inline void pack_pairs(const float* re, const float* im, std::size_t count,
                                          float* out) {
    std::size_t i = 0;
    for (; i + 16 <= count; i += 16)
        _mm512_storeu_si512(out + i,
                            detail::interleave(_mm512_loadu_ps(re + i), _mm512_loadu_ps(im + i)));
    if (i < count) {
        const __mmask16 m = __mmask16((1u << (count - i)) - 1u);
        _mm512_mask_storeu_epi32(
            out + i, m,
            detail::interleave(_mm512_maskz_loadu_ps(m, re + i), _mm512_maskz_loadu_ps(m, im + i)));
    }
}

namespace detail {
/// v - bf16(v), exact in fp32.
TAGMAP_BF16_TARGET inline __m512 residual(__m512 v) {
    // (masked forms: the unmasked ones trip GCC 12 -Wuninitialized)
    const __m512i rounded = _mm512_maskz_slli_epi32(
        0xffff, _mm512_maskz_cvtepu16_epi32(0xffff, (__m256i)_mm512_cvtneps_pbh(v)), 16);
    return _mm512_sub_ps(v, _mm512_castsi512_ps(rounded));
}
}  // namespace detail

/// pack_pairs of what bf16 rounding leaves: (re[i] - bf16(re[i]), im[i] - bf16(im[i])), so
/// that the two pairs hold each value to 2^-17 (the AMX engine's lo operand).
TAGMAP_BF16_TARGET inline void pack_residual_pairs(const float* re, const float* im,
                                                   std::size_t count, float* out) {
    using detail::residual;
    std::size_t i = 0;
    for (; i + 16 <= count; i += 16)
        _mm512_storeu_si512(out + i, detail::interleave(residual(_mm512_loadu_ps(re + i)),
                                                        residual(_mm512_loadu_ps(im + i))));
    if (i < count) {
        const __mmask16 m = __mmask16((1u << (count - i)) - 1u);
        _mm512_mask_storeu_epi32(out + i, m,
                                 detail::interleave(residual(_mm512_maskz_loadu_ps(m, re + i)),
                                                    residual(_mm512_maskz_loadu_ps(m, im + i))));
    }
}

namespace detail {
/// complex_product for T columns from t: 2 T independent accumulation chains (one chain
/// per column would wait on vdpbf16ps latency at every tap).
template <std::size_t KW, std::size_t T>
TAGMAP_BF16_TARGET inline void complex_product_columns(const __m512bh* wre, const __m512bh* wim,
                                                       const float* x, std::size_t t,
                                                       std::size_t filters, std::size_t o,
                                                       float* y) {
    __m512 re[T], im[T];
    for (std::size_t c = 0; c < T; ++c) re[c] = _mm512_setzero_ps(), im[c] = _mm512_setzero_ps();
    for (std::size_t kw = 0; kw < KW; ++kw)
        for (std::size_t c = 0; c < T; ++c) {
            const auto b = (__m512bh)_mm512_set1_ps(x[t + c + kw]);  // the pair's 32 bits
            re[c] = _mm512_dpbf16_ps(re[c], wre[kw], b);
            im[c] = _mm512_dpbf16_ps(im[c], wim[kw], b);
        }
    for (std::size_t c = 0; c < T; ++c)
        _mm512_storeu_si512(y + (t + c) * filters + o, interleave(re[c], im[c]));
}
}  // namespace detail

/// Per frequency bin, for `cols` output columns and `filters` (a multiple of 16) filters:
///   y[t * filters + o] = sum_kw conj(W[kw][o]) X[t + kw], as a bf16 (re, im) pair.
/// w: [kw][2][filters] pairs, (wr, wi) then (-wi, wr); x: pairs (xr, xi) per column.
template <std::size_t KW>
TAGMAP_BF16_TARGET void complex_product(const float* w, const float* x, std::size_t cols,
                                        std::size_t filters, float* y) {
    for (std::size_t o = 0; o < filters; o += 16) {
        __m512bh wre[KW], wim[KW];
        for (std::size_t kw = 0; kw < KW; ++kw) {
            wre[kw] = (__m512bh)_mm512_loadu_si512(w + (2 * kw) * filters + o);
            wim[kw] = (__m512bh)_mm512_loadu_si512(w + (2 * kw + 1) * filters + o);
        }
        std::size_t t = 0;
        for (; t + 4 <= cols; t += 4)
            detail::complex_product_columns<KW, 4>(wre, wim, x, t, filters, o, y);
        for (; t < cols; ++t) detail::complex_product_columns<KW, 1>(wre, wim, x, t, filters, o, y);
    }
}

/// Rows of max_of_rows' `a` are padded to a multiple of this (repeating the last row: the
/// max is unchanged).
inline constexpr std::size_t rows_per_tile = 6;

namespace detail {
/// max_of_rows on the 16 * V columns from j (lambdas would not inherit the target).
template <std::size_t V>
TAGMAP_BF16_TARGET void max_of_rows_tile(const float* a, std::size_t rows, std::size_t bins,
                                         const float* b, std::size_t n, std::size_t j, float* out) {
    constexpr std::size_t R = rows_per_tile;
    __m512 best[V];
    for (std::size_t v = 0; v < V; ++v) best[v] = _mm512_set1_ps(-__builtin_huge_valf());
    for (std::size_t h0 = 0; h0 < rows; h0 += R) {
        __m512 acc[R][V];
        for (std::size_t r = 0; r < R; ++r)
            for (std::size_t v = 0; v < V; ++v) acc[r][v] = _mm512_setzero_ps();
        const float* af = a + h0;
        const float* bf = b + j;
        for (std::size_t f = 0; f < bins; ++f, af += rows, bf += n) {
            __m512bh bv[V];
            for (std::size_t v = 0; v < V; ++v) bv[v] = (__m512bh)_mm512_loadu_si512(bf + 16 * v);
            for (std::size_t r = 0; r < R; ++r) {
                const auto av = (__m512bh)_mm512_set1_ps(af[r]);  // the pair's 32 bits
                for (std::size_t v = 0; v < V; ++v)
                    acc[r][v] = _mm512_dpbf16_ps(acc[r][v], av, bv[v]);
            }
        }
        for (std::size_t r = 0; r < R; ++r)
            for (std::size_t v = 0; v < V; ++v)  // (the unmasked max trips GCC 12 -Wuninitialized)
                best[v] = _mm512_mask_max_ps(best[v], 0xffff, best[v], acc[r][v]);
    }
    for (std::size_t v = 0; v < V; ++v) _mm512_storeu_ps(out + j + 16 * v, best[v]);
}
}  // namespace detail

/// out[j] = max over h < rows of sum_f a[f][h] . b[f][j] (each a bf16-pair dot product),
/// for j < n, n a multiple of 16, rows a multiple of rows_per_tile. a: bins x rows pairs;
/// b: bins x n pairs.
TAGMAP_BF16_TARGET inline void max_of_rows(const float* a, std::size_t rows, std::size_t bins,
                                           const float* b, std::size_t n, float* out) {
    std::size_t j = 0;
    for (; j + 64 <= n; j += 64) detail::max_of_rows_tile<4>(a, rows, bins, b, n, j, out);
    for (; j < n; j += 16) detail::max_of_rows_tile<1>(a, rows, bins, b, n, j, out);
}

#endif  // TAGMAP_HAVE_BF16_KERNELS

}  // namespace tagmap::nn::bf16
