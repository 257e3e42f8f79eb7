// AMX (amx-tile, amx-bf16) kernels of TallConv::spectral_bf16 (conv_max.hpp). TDPBF16PS
// multiplies a 16 x K bf16-pair tile by a K x 16 bf16-pair tile into a 16 x 16 fp32 tile
// (K <= 16 pairs), at many times vdpbf16ps' multiply-adds per cycle; that spare throughput
// pays for near-fp32 accuracy: every operand is a bf16 hi + lo pair (v = hi + lo to 2^-17)
// and each product is hi.hi + hi.lo + lo.hi (lo.lo, ~2^-18 of it, is dropped).
// The kernels carry a target attribute, so they exist in a portable build; callers check
// tagmap::cpu_has_amx_bf16() (core/cpu_features.hpp: cpuid and the Linux permission) and
// load a tile configuration on the calling thread (load_tiles, inside a TileScope).
#pragma once

#include <cstddef>
#include <cstdint>

#include "tagmap/nn/bf16.hpp"

#if TAGMAP_HAVE_BF16_KERNELS && defined(__linux__)
#define TAGMAP_HAVE_AMX_KERNELS 1
#define TAGMAP_AMX_TARGET \
    __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx512bf16")))
#else
#define TAGMAP_HAVE_AMX_KERNELS 0
#endif

namespace tagmap::nn::amx {

/// Tiles hold 16 rows of 16 fp32 values or 16 bf16 pairs.
inline constexpr std::size_t tile_rows = 16;
/// max_of_rows takes two row tiles per pass: its `rows` are a multiple of this.
inline constexpr std::size_t rows_per_pass = 2 * tile_rows;

/// The ldtilecfg operand (palette 1).
struct alignas(64) TileConfig {
    std::uint8_t palette = 1;
    std::uint8_t start_row = 0;
    std::uint8_t reserved[14] = {};
    std::uint16_t bytes_per_row[16] = {};
    std::uint8_t rows[16] = {};
};

/// All 8 tiles 16 rows x 64 bytes (max_of_rows).
constexpr TileConfig uniform_tiles() {
    TileConfig c;
    for (int i = 0; i < 8; ++i) c.bytes_per_row[i] = 64, c.rows[i] = 16;
    return c;
}

/// complex_product's: C 0-1 16 x 16 fp32; A 2-5 16 filters x `taps` pairs; B 6-7 `taps`
/// rows x 16 column pairs.
constexpr TileConfig product_tiles(std::size_t taps) {
    TileConfig c = uniform_tiles();
    for (int i = 2; i < 6; ++i) c.bytes_per_row[i] = std::uint16_t(4 * taps);
    for (int i = 6; i < 8; ++i) c.rows[i] = std::uint8_t(taps);
    return c;
}

#if TAGMAP_HAVE_AMX_KERNELS

TAGMAP_AMX_TARGET inline void load_tiles(const TileConfig& config) {
    _tile_loadconfig(&config);
}

/// Releases this thread's tile state when it ends (so a context switch does not save
/// 8 KB of tiles for a thread that is done with them).
struct TileScope {
    TileScope() = default;
    TAGMAP_AMX_TARGET ~TileScope() { _tile_release(); }
    TileScope(const TileScope&) = delete;
    TileScope& operator=(const TileScope&) = delete;
};

namespace detail {
/// The tile intrinsics are asm without a memory clobber: order them against plain loads
/// and stores explicitly.
TAGMAP_AMX_TARGET inline void memory_barrier() {
    __asm__ volatile("" ::: "memory");
}

/// Row r of the (re, im) fp32 tiles -> bf16 pairs hi (at y_hi) and lo = v - hi (at y_lo).
TAGMAP_AMX_TARGET inline void store_split(__m512 re, __m512 im, float* y_hi, float* y_lo) {
    const __m512i hi = bf16::detail::interleave(re, im);
    const __m512 re_hi = _mm512_castsi512_ps(_mm512_maskz_slli_epi32(0xffff, hi, 16));
    const __m512 im_hi = _mm512_castsi512_ps(_mm512_and_si512(hi, _mm512_set1_epi32(-65536)));
    _mm512_storeu_si512(y_hi, hi);
    _mm512_storeu_si512(
        y_lo, bf16::detail::interleave(_mm512_sub_ps(re, re_hi), _mm512_sub_ps(im, im_hi)));
}
}  // namespace detail

/// One frequency bin, 16 columns t, `blocks` blocks of 16 filters, under product_tiles(taps):
///   Y[o][t] = sum_kw conj(W[kw][o]) X[t + kw]  ->  y_hi / y_lo[o * 16 + t] (bf16 pairs).
/// w: per block [re hi | im hi | re lo | im lo][16 filters][taps] pairs, re rows (wr, wi),
/// im rows (-wi, wr); x_hi / x_lo: the bin's (xr, xi) pairs from the first column (rows of
/// the B tile overlap: row kw starts at column kw).
TAGMAP_AMX_TARGET inline void complex_product(const float* w, std::size_t blocks, std::size_t taps,
                                              const float* x_hi, const float* x_lo, float* y_hi,
                                              float* y_lo) {
    alignas(64) float c[2][tile_rows * 16];
    const long a_stride = long(taps * sizeof(float));
    detail::memory_barrier();
    _tile_loadd(6, x_hi, sizeof(float));
    _tile_loadd(7, x_lo, sizeof(float));
    for (std::size_t b = 0; b < blocks; ++b) {
        const float* a = w + b * 4 * tile_rows * taps;
        _tile_loadd(2, a, a_stride);
        _tile_loadd(3, a + 1 * tile_rows * taps, a_stride);
        _tile_loadd(4, a + 2 * tile_rows * taps, a_stride);
        _tile_loadd(5, a + 3 * tile_rows * taps, a_stride);
        _tile_zero(0);
        _tile_zero(1);
        _tile_dpbf16ps(0, 2, 6);  // re: W hi . X hi + W hi . X lo + W lo . X hi
        _tile_dpbf16ps(0, 2, 7);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 3, 6);  // im
        _tile_dpbf16ps(1, 3, 7);
        _tile_dpbf16ps(1, 5, 6);
        _tile_stored(0, c[0], 64);
        _tile_stored(1, c[1], 64);
        detail::memory_barrier();
        for (std::size_t r = 0; r < tile_rows; ++r) {
            const std::size_t at = (b * tile_rows + r) * 16;
            detail::store_split(_mm512_load_ps(c[0] + 16 * r), _mm512_load_ps(c[1] + 16 * r),
                                y_hi + at, y_lo + at);
        }
    }
    detail::memory_barrier();
}

/// Under uniform_tiles(): out[j] = max over h < rows of sum_k a[h][k] . b[k][j] (bf16-pair
/// dot products, a = a_hi + a_lo, b = b_hi + b_lo), for j < n, n a multiple of 16, rows
/// a multiple of rows_per_pass, depth (pairs) a multiple of 16. a_*: rows x depth pairs
/// (row-major); b_*: depth x n pairs. Tiles: C 0-3 (2 x 2 blocks of 16 rows x 16
/// columns), A 4-5, B 6-7.
TAGMAP_AMX_TARGET inline void max_of_rows(const float* a_hi, const float* a_lo, std::size_t rows,
                                          std::size_t depth, const float* b_hi, const float* b_lo,
                                          std::size_t n, float* out) {
    alignas(64) float c[4][tile_rows * 16];
    const long a_stride = long(depth * sizeof(float)), b_stride = long(n * sizeof(float));
    detail::memory_barrier();
    for (std::size_t j = 0; j < n; j += 32) {
        const bool two = j + 32 <= n;  // else the last 16 columns
        __m512 best0 = _mm512_set1_ps(-__builtin_huge_valf()), best1 = best0;
        for (std::size_t h0 = 0; h0 < rows; h0 += rows_per_pass) {
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            const std::size_t a0 = h0 * depth, a1 = a0 + tile_rows * depth;
            for (std::size_t k = 0; k < depth; k += 16) {
                const float* bh = b_hi + k * n + j;
                const float* bl = b_lo + k * n + j;
                // hi . hi, hi . lo, lo . hi, the A or B tiles reloaded in between.
                for (int term = 0; term < 3; ++term) {
                    const float* a = term == 2 ? a_lo : a_hi;
                    const float* bb = term == 1 ? bl : bh;
                    if (term != 1) {
                        _tile_loadd(4, a + a0 + k, a_stride);
                        _tile_loadd(5, a + a1 + k, a_stride);
                    }
                    _tile_loadd(6, bb, b_stride);
                    _tile_dpbf16ps(0, 4, 6);
                    _tile_dpbf16ps(2, 5, 6);
                    if (two) {
                        _tile_loadd(7, bb + 16, b_stride);
                        _tile_dpbf16ps(1, 4, 7);
                        _tile_dpbf16ps(3, 5, 7);
                    }
                }
            }
            _tile_stored(0, c[0], 64);
            _tile_stored(2, c[2], 64);
            if (two) {
                _tile_stored(1, c[1], 64);
                _tile_stored(3, c[3], 64);
            }
            detail::memory_barrier();
            // (the unmasked max trips GCC 12 -Wuninitialized)
            for (std::size_t r = 0; r < tile_rows; ++r) {
                best0 = _mm512_mask_max_ps(best0, 0xffff, best0, _mm512_load_ps(c[0] + 16 * r));
                best0 = _mm512_mask_max_ps(best0, 0xffff, best0, _mm512_load_ps(c[2] + 16 * r));
            }
            if (two)
                for (std::size_t r = 0; r < tile_rows; ++r) {
                    best1 = _mm512_mask_max_ps(best1, 0xffff, best1, _mm512_load_ps(c[1] + 16 * r));
                    best1 = _mm512_mask_max_ps(best1, 0xffff, best1, _mm512_load_ps(c[3] + 16 * r));
                }
        }
        _mm512_storeu_ps(out + j, best0);
        if (two) _mm512_storeu_ps(out + j + 16, best1);
    }
}

#endif  // TAGMAP_HAVE_AMX_KERNELS

}  // namespace tagmap::nn::amx
