// Winograd convolution for 3x3 padding-1 layers (Lavin & Gray, 2016), stride 1 or 2:
// the output is cut into m x m tiles; each input tile is transformed (V = B^T d B), the
// weights once at bind (U = G g G^T, packed for the GEMM), and for each transform
// position one product over channels, M = U (OutC x C) * V (C x tiles); the output
// transform (Y = A^T M A) adds the bias, a residual input when asked, and the activation.
// Stride 1 is F(m x m, 3 x 3); stride 2 splits the input into its 4 even/odd phases,
// each a 2x2 correlation, F(m x m, 2 x 2) over 4 C channels. GEMM FLOPs against the
// direct convolution: 0.44 (F(2x2, 3x3)), 0.25 (F(4x4, 3x3)), 0.69 (stride 2, m = 4).
// Tiles are processed a band of tile rows at a time so that the transformed input and
// output stay near a few MB. Numerics and measurements: docs/models/vgg.md.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "tagmap/core/isa_dispatch.hpp"
#include "tagmap/nn/gemm.hpp"
#include "tagmap/nn/layer.hpp"

namespace tagmap::nn {

namespace winograd {

/// The transform matrices of F(m x m, r x r): interpolation points 0, +-1 (, +-2), inf
/// (Lavin's for r = 3; for r = 2 the same Toom-Cook construction at 0, 1, -1, 2, inf).
template <std::size_t M, std::size_t R>
struct Matrices;

template <>
struct Matrices<2, 3> {
    static constexpr std::size_t alpha = 4;
    static constexpr double BT[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
    static constexpr double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
    static constexpr double AT[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
};

template <>
struct Matrices<4, 3> {
    static constexpr std::size_t alpha = 6;
    static constexpr double BT[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0},
                                        {0, 4, -4, -1, 1, 0}, {0, -2, -1, 2, 1, 0},
                                        {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
    static constexpr double G[6][3] = {{1.0 / 4, 0, 0},
                                       {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                       {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                       {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                       {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                       {0, 0, 1}};
    static constexpr double AT[4][6] = {
        {1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};
};

template <>
struct Matrices<4, 2> {
    static constexpr std::size_t alpha = 5;
    static constexpr double BT[5][5] = {{2, -1, -2, 1, 0},
                                        {0, -2, -1, 1, 0},
                                        {0, 2, -3, 1, 0},
                                        {0, -1, 0, 1, 0},
                                        {0, 2, -1, -2, 1}};
    static constexpr double G[5][2] = {
        {0.5, 0}, {-0.5, -0.5}, {-1.0 / 6, 1.0 / 6}, {1.0 / 6, 1.0 / 3}, {0, 1}};
    static constexpr double AT[4][5] = {
        {1, 1, 1, 1, 0}, {0, 1, -1, 2, 0}, {0, 1, 1, 4, 0}, {0, 1, -1, 8, 1}};
};

/// f(std::integral_constant<std::size_t, I>) for I = 0 .. N-1: loops over the transform
/// matrices' indices with every coefficient a compile-time constant.
template <std::size_t N, class F>
inline void unroll(F&& f) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (f(std::integral_constant<std::size_t, I>{}), ...);
    }
    (std::make_index_sequence<N>{});
}

/// Output channels per block of the transform-domain GEMM and of the packed weights.
inline constexpr std::size_t block_rows = 8;

/// C (rows x cols) = A * B for one transform position: A packed at bind as
/// [rows / 8][depth][8] (rows a multiple of 8), B row-major depth x cols, C row-major;
/// cols a multiple of 16, B and C 64-byte aligned with rows `cols` floats apart. Neither
/// operand is repacked per call (the weights are packed once, the input transform
/// writes B in the order this reads it), which is what a general GEMM cannot skip: at
/// tens of tiles per layer, packing the weights would cost more than the product.
inline void packed_gemm(std::size_t rows, std::size_t cols, std::size_t depth, const float* a,
                        const float* b, float* c) {
    constexpr std::size_t R = block_rows;
#if defined(__AVX512F__)
    std::size_t t0 = 0;
    // 8 rows x 32 columns: 16 accumulators, two loads and eight broadcasts per depth step.
    for (; t0 + 32 <= cols; t0 += 32)
        for (std::size_t r0 = 0; r0 < rows; r0 += R) {
            const float* ap = a + r0 * depth;
            __m512 acc[R][2];
#pragma GCC unroll 8
            for (std::size_t r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
            for (std::size_t k = 0; k < depth; ++k) {
                const __m512 b0 = _mm512_load_ps(b + k * cols + t0);
                const __m512 b1 = _mm512_load_ps(b + k * cols + t0 + 16);
#pragma GCC unroll 8
                for (std::size_t r = 0; r < R; ++r) {
                    const __m512 x = _mm512_set1_ps(ap[k * R + r]);
                    acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
                    acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
                }
            }
#pragma GCC unroll 8
            for (std::size_t r = 0; r < R; ++r) {
                _mm512_store_ps(c + (r0 + r) * cols + t0, acc[r][0]);
                _mm512_store_ps(c + (r0 + r) * cols + t0 + 16, acc[r][1]);
            }
        }
    for (; t0 < cols; t0 += 16)
        for (std::size_t r0 = 0; r0 < rows; r0 += R) {
            const float* ap = a + r0 * depth;
            __m512 acc[R];
#pragma GCC unroll 8
            for (std::size_t r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
            for (std::size_t k = 0; k < depth; ++k) {
                const __m512 b0 = _mm512_load_ps(b + k * cols + t0);
#pragma GCC unroll 8
                for (std::size_t r = 0; r < R; ++r)
                    acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(ap[k * R + r]), b0, acc[r]);
            }
#pragma GCC unroll 8
            for (std::size_t r = 0; r < R; ++r) _mm512_store_ps(c + (r0 + r) * cols + t0, acc[r]);
        }
#else
    // Portable: the same blocking in plain loops, vectorised by the compiler for the
    // CPU's best ISA (run_vectorized).
    run_vectorized([&] {
        for (std::size_t t0 = 0; t0 < cols; t0 += 16)
            for (std::size_t r0 = 0; r0 < rows; r0 += R) {
                const float* ap = a + r0 * depth;
                float acc[R][16] = {};
                for (std::size_t k = 0; k < depth; ++k) {
                    const float* bk = b + k * cols + t0;
                    for (std::size_t r = 0; r < R; ++r)
                        for (std::size_t j = 0; j < 16; ++j) acc[r][j] += ap[k * R + r] * bk[j];
                }
                for (std::size_t r = 0; r < R; ++r)
                    std::copy_n(acc[r], 16, c + (r0 + r) * cols + t0);
            }
    });
#endif
}

/// dst[t] = src[D t] for t < N (D = 2, 4 or 8): the lane split of the input transform.
/// Reads src[0, D round16(N)), which the caller pads.
template <std::size_t D, std::size_t N>
inline void pick(const float* src, float* dst) {
#if defined(__AVX512F__)
    static_assert(D == 2 || D == 4 || D == 8);
    for (std::size_t t = 0; t < N; t += 16, src += 16 * D) {
        __m512 v, lo, hi;  // lo, hi: t .. t + 7 and t + 8 .. t + 15 in their low halves
        if constexpr (D == 2) {
            const __m512i every2 =
                _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            v = _mm512_permutex2var_ps(_mm512_loadu_ps(src), every2, _mm512_loadu_ps(src + 16));
        } else if constexpr (D == 4) {
            const __m512i every4 =
                _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 0, 0, 0, 0, 0, 0, 0);
            lo = _mm512_permutex2var_ps(_mm512_loadu_ps(src), every4, _mm512_loadu_ps(src + 16));
            hi = _mm512_permutex2var_ps(_mm512_loadu_ps(src + 32), every4,
                                        _mm512_loadu_ps(src + 48));
        } else {
            const __m512i every8 =
                _mm512_setr_epi32(0, 8, 16, 24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
            const __m512i low4 =
                _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 0, 0, 0, 0, 0, 0, 0, 0);
            __m512 q[4];
            for (std::size_t i = 0; i < 4; ++i)
                q[i] = _mm512_permutex2var_ps(_mm512_loadu_ps(src + 32 * i), every8,
                                              _mm512_loadu_ps(src + 32 * i + 16));
            lo = _mm512_permutex2var_ps(q[0], low4, q[1]);
            hi = _mm512_permutex2var_ps(q[2], low4, q[3]);
        }
        if constexpr (D != 2) v = _mm512_shuffle_f32x4(lo, hi, _MM_SHUFFLE(1, 0, 1, 0));
        if (t + 16 <= N)
            _mm512_storeu_ps(dst + t, v);
        else
            _mm512_mask_storeu_ps(dst + t, __mmask16((1u << (N - t)) - 1), v);
    }
#else
    for (std::size_t t = 0; t < N; ++t) dst[t] = src[D * t];
#endif
}

/// Tiles per band: enough GEMM columns for whole column blocks, few enough to keep the
/// transformed band (V and M) at a few MB.
inline constexpr std::size_t band_tiles = 256;

}  // namespace winograd

/// Conv2d 3x3, padding 1, stride S (1 or 2) as Winograd; same members as ConvIm2colGemm,
/// plus transform_weights (run once at bind) and forward_add.
///   S = 1: F(M x M, 3 x 3) on the input.
///   S = 2: the input split into its 4 phases (even/odd rows x even/odd columns), each a
///          stride-1 2x2 correlation with the matching taps of the 3x3 kernel (zeros where
///          a phase has one tap), summed in the transform domain: F(M x M, 2 x 2) over
///          4 C channels. GEMM FLOPs (M + 1)^2 4 / (9 M^2) of direct: 0.69 for M = 4.
template <class In, std::size_t OutC, std::size_t M, std::size_t S, class Post>
struct ConvWinograd {
    static_assert(S == 1 || S == 2, "ConvWinograd: stride 1 or 2");
    static constexpr std::size_t R = S == 1 ? 3 : 2;  // taps per phase and axis
    static constexpr std::size_t phases = S * S;
    using T = winograd::Matrices<M, R>;
    static constexpr std::size_t alpha = T::alpha, positions = alpha * alpha;
    static constexpr std::size_t C = In::channels, H = In::height, W = In::width;
    static constexpr std::size_t OH = (H - 1) / S + 1, OW = (W - 1) / S + 1;
    using Out = Shape<OutC, OH, OW>;
    static constexpr std::size_t K = C * 9;  // depth of the direct convolution's GEMM
    static constexpr std::size_t N = OH * OW;
    static constexpr std::size_t depth = phases * C;  // depth of the transform-domain GEMMs
    static constexpr std::size_t tile_rows = (OH + M - 1) / M, tile_cols = (OW + M - 1) / M;
    static constexpr std::size_t band_rows =
        std::clamp<std::size_t>(winograd::band_tiles / tile_cols, 1, tile_rows);
    static constexpr std::size_t band_tiles = band_rows * tile_cols;
    static constexpr std::size_t rows_padded =
        (OutC + winograd::block_rows - 1) / winograd::block_rows * winograd::block_rows;
    // The transforms run on rows split by column mod M ("lanes" of tile_cols + 1 values:
    // column tc * M + r of a phase row is lane r, index tc), so that every pass is
    // contiguous across the tiles and vectorises; alpha <= 2 M, so a tile's alpha columns
    // are lanes 0..M-1 at tc and tc + 1.
    static constexpr std::size_t lane = tile_cols + 1;
    static constexpr std::size_t padded_width = M * lane;
    static constexpr std::size_t transformed_offset = OutC * K + OutC;
    // [OutC x K weights | OutC bias] as bound (BN folded), then U: positions x rows_padded
    // x depth, packed for packed_gemm (64-byte aligned in the block).
    static constexpr std::size_t u_floats = positions * rows_padded * depth;
    static constexpr std::size_t param_floats = transformed_offset + 16 + u_floats;
    // GEMM columns: the band's tiles rounded up to whole vectors.
    static constexpr std::size_t v_floats = positions * depth * gemm::round16(band_tiles);
    static constexpr std::size_t m_floats = positions * rows_padded * gemm::round16(band_tiles);
    // One input row, zero-padded for the lane split's whole-vector reads.
    static constexpr std::size_t line_floats = S * M * (gemm::round16(lane) + 1) + 2;
    static constexpr std::size_t row_floats =
        gemm::round16(std::max((alpha + M) * padded_width, line_floats));
    static constexpr std::size_t work_floats = v_floats + m_floats + 2 * row_floats;
    static constexpr double flops = 2.0 * OutC * K * N;  // of the direct convolution
    static constexpr double executed_flops =
        2.0 * positions * OutC * depth * tile_rows * tile_cols;  // in the GEMMs

    static const float* packed_weights(const float* p) {
        const auto a = (reinterpret_cast<std::uintptr_t>(p + transformed_offset) + 63) / 64 * 64;
        return reinterpret_cast<const float*>(a);
    }

    const float* params = nullptr;

    /// The 3x3 tap of phase p (0: even, 1: odd input index) and tap u of that phase, or
    /// 3 for none: stride 2 reads input 2 i + k - 1, so even phases see taps 0 and 2 (at
    /// i and i + 1), odd phases tap 1 (at i).
    static constexpr std::size_t tap(std::size_t p, std::size_t u) {
        if constexpr (S == 1) return p == 0 ? u : 3;
        return p == 0 ? 2 * u : (u == 0 ? 1 : 3);
    }

    /// U = G g G^T of every (output channel, phase, input channel), from the bound
    /// weights in p.
    static void transform_weights(float* p) {
        float* packed = const_cast<float*>(packed_weights(p));
        std::fill(packed, packed + u_floats, 0.0f);  // the padding rows
        for (std::size_t o = 0; o < OutC; ++o)
            for (std::size_t ph = 0; ph < phases; ++ph)
                for (std::size_t c = 0; c < C; ++c) {
                    const float* w = p + (o * C + c) * 9;
                    double g[R][R] = {};
                    for (std::size_t i = 0; i < R; ++i)
                        for (std::size_t j = 0; j < R; ++j) {
                            const std::size_t kh = tap(ph / S, i), kw = tap(ph % S, j);
                            if (kh < 3 && kw < 3) g[i][j] = w[kh * 3 + kw];
                        }
                    double gg[alpha][R] = {};  // G g
                    for (std::size_t a = 0; a < alpha; ++a)
                        for (std::size_t j = 0; j < R; ++j)
                            for (std::size_t i = 0; i < R; ++i) gg[a][j] += T::G[a][i] * g[i][j];
                    for (std::size_t a = 0; a < alpha; ++a)
                        for (std::size_t b = 0; b < alpha; ++b) {
                            double u = 0;
                            for (std::size_t j = 0; j < R; ++j) u += gg[a][j] * T::G[b][j];
                            constexpr std::size_t R8 = winograd::block_rows;
                            packed[(a * alpha + b) * rows_padded * depth + (o / R8) * depth * R8 +
                                   (ph * C + c) * R8 + o % R8] = static_cast<float>(u);
                        }
                }
    }

    void forward(const float* in, float* out, float* work) const { run<false>(in, out, work); }

    /// out = A(out + conv(in)): a residual sum without its own pass; Post's own
    /// activation is not applied.
    template <Activation A>
    void forward_add(const float* in, float* out, float* work) const {
        run<true, A>(in, out, work);
    }

    /// Kernels with the same pair_key read the same input at the same geometry.
    using pair_key = ConvWinograd<In, OutC, M, S, PostOps<>>;
    using post_ops = Post;

    /// This conv into out and `second` (same geometry, own weights and post ops) into
    /// second_out, from one input transform: Res_2d's conv_1 and conv_3.
    template <class Second>
    requires std::is_same_v<typename Second::pair_key, pair_key>
    void forward_pair(const Second& second, const float* in, float* out, float* second_out,
                      float* work) const {
        run<false, Post::activation>(in, out, work, &second, second_out);
    }

  private:
    template <bool Accumulate, Activation A = Post::activation, class Second = void>
    void run(const float* in, float* out, float* work, const Second* second = nullptr,
             float* second_out = nullptr) const {
        float* v = work;
        float* m = v + v_floats;
        float* rows = m + m_floats;
        float* tmp = rows + row_floats;
        for (std::size_t tr0 = 0; tr0 < tile_rows; tr0 += band_rows) {
            const std::size_t tr1 = std::min(tile_rows, tr0 + band_rows);
            const std::size_t nt = (tr1 - tr0) * tile_cols;  // tiles in this band
            const std::size_t cols = gemm::round16(nt);      // GEMM columns
            // Channel outermost: a channel's plane is read from cache for all its phases.
            for (std::size_t c = 0; c < C; ++c)
                for (std::size_t ph = 0; ph < phases; ++ph) {
                    float* vc = v + (ph * C + c) * cols;
                    for (std::size_t tr = tr0; tr < tr1; ++tr)
                        input_transform(in + c * H * W, ph, tr, rows, tmp,
                                        vc + (tr - tr0) * tile_cols, depth * cols);
                    for (std::size_t x = 0; x < positions; ++x)  // finite padding columns
                        std::fill(vc + x * depth * cols + nt, vc + x * depth * cols + cols, 0.0f);
                }
            products<Accumulate, A>(params, v, m, cols, tr0, tr1, tmp, out);
            if constexpr (!std::is_void_v<Second>)
                products<false, Second::post_ops::activation>(second->params, v, m, cols, tr0, tr1,
                                                              tmp, second_out);
        }
    }

    /// The band's transform-domain products with the weights of parameter block p (this
    /// layer's or a paired one's) from V, and their output transforms into out.
    template <bool Accumulate, Activation A>
    static void products(const float* p, const float* v, float* m, std::size_t cols,
                         std::size_t tr0, std::size_t tr1, float* tmp, float* out) {
        const float* u = packed_weights(p);
        for (std::size_t x = 0; x < positions; ++x)
            winograd::packed_gemm(rows_padded, cols, depth, u + x * rows_padded * depth,
                                  v + x * depth * cols, m + x * rows_padded * cols);
        for (std::size_t o = 0; o < OutC; ++o)
            for (std::size_t tr = tr0; tr < tr1; ++tr)
                output_transform<Accumulate, A>(m + o * cols + (tr - tr0) * tile_cols,
                                                rows_padded * cols, p[OutC * K + o], tmp,
                                                out + o * OH * OW, tr);
    }

    /// V of one channel's phase `ph`, tile row `tr`: dst[x * stride + tile] for position x.
    static void input_transform(const float* plane, std::size_t ph, std::size_t tr, float* rows,
                                float* tmp, float* dst, std::size_t stride) {
        using winograd::unroll;
        constexpr std::size_t P = padded_width, L = lane;
        // The alpha rows of the phase image from tile row tr, zero-padded, in lanes: phase
        // row a, column b is input (S a + p - 1, S b + q - 1).
        const std::ptrdiff_t p = std::ptrdiff_t(ph / S), q = std::ptrdiff_t(ph % S);
        for (std::size_t j = 0; j < alpha; ++j) {
            float* row = rows + j * P;
            const std::ptrdiff_t y = std::ptrdiff_t(S * (tr * M + j)) + p - 1;
            if (y < 0 || y >= std::ptrdiff_t(H)) {
                std::fill(row, row + P, 0.0f);
                continue;
            }
            // The input row with a zero column in front and zeros after (read in
            // sequence, so it streams in), then split into lanes: lane r, index t is
            // line[q + S (t M + r)].
            float* line = tmp;
            line[0] = 0.0f;
            std::copy_n(plane + std::size_t(y) * W, W, line + 1);
            std::fill(line + 1 + W, line + line_floats, 0.0f);
            for (std::size_t r = 0; r < M; ++r)
                winograd::pick<S * M, L>(line + q + S * r, row + r * L);
        }
        // Vertical pass, B^T d, over whole rows; the coefficients are constants, so the
        // zeros of B^T cost nothing.
        unroll<alpha>([&](auto i) {
            float* t = tmp + i * P;
            for (std::size_t x = 0; x < P; ++x) {
                float s = 0.0f;
                unroll<alpha>([&](auto j) {
                    constexpr float b = float(T::BT[decltype(i)::value][decltype(j)::value]);
                    if constexpr (b != 0) s += b * rows[j * P + x];
                });
                t[x] = s;
            }
        });
        // Horizontal pass, (B^T d) B, one position at a time across the tiles.
        unroll<alpha>([&](auto i) {
            const float* t = tmp + i * P;
            unroll<alpha>([&](auto k) {
                float* d = dst + (i * alpha + k) * stride;
                for (std::size_t tc = 0; tc < tile_cols; ++tc) {
                    float s = 0.0f;
                    unroll<alpha>([&](auto j) {
                        constexpr std::size_t jj = decltype(j)::value;
                        constexpr float b = float(T::BT[decltype(k)::value][jj]);
                        if constexpr (b != 0) s += b * t[(jj % M) * L + tc + jj / M];
                    });
                    d[tc] = s;
                }
            });
        });
    }

    /// Y = A^T M A of one output channel's tile row `tr`, + bias (+ out), activation.
    template <bool Accumulate, Activation A>
    static void output_transform(const float* src, std::size_t stride, float bias, float* tmp,
                                 float* plane, std::size_t tr) {
        using winograd::unroll;
        constexpr std::size_t L = tile_cols, P = M * L;
        float* y = tmp + alpha * P;  // M x M lanes of tile_cols
        // Horizontal pass, M A: tmp[i][k][tc].
        unroll<alpha>([&](auto i) {
            unroll<M>([&](auto k) {
                float* t = tmp + i * P + k * L;
                for (std::size_t tc = 0; tc < L; ++tc) {
                    float s = 0.0f;
                    unroll<alpha>([&](auto j) {
                        constexpr float a = float(T::AT[decltype(k)::value][decltype(j)::value]);
                        if constexpr (a != 0) s += a * src[(i * alpha + j) * stride + tc];
                    });
                    t[tc] = s;
                }
            });
        });
        // Vertical pass, A^T (M A): y[r][k][tc] = output (tr M + r, tc M + k) before bias.
        unroll<M>([&](auto r) {
            for (std::size_t x = 0; x < P; ++x) {
                float s = 0.0f;
                unroll<alpha>([&](auto i) {
                    constexpr float a = float(T::AT[decltype(r)::value][decltype(i)::value]);
                    if constexpr (a != 0) s += a * tmp[i * P + x];
                });
                y[r * P + x] = s;
            }
        });
        // Epilogue, interleaving the lanes back into the output rows.
        for (std::size_t r = 0; r < M && tr * M + r < OH; ++r) {
            float* row = plane + (tr * M + r) * OW;
            for (std::size_t x = 0; x < OW; ++x) {
                float s = y[r * P + (x % M) * L + x / M] + bias;
                if constexpr (Accumulate) s += row[x];
                if constexpr (A == Activation::relu) s = s > 0.0f ? s : 0.0f;
                row[x] = s;
            }
            if constexpr (A == Activation::sigmoid) apply_activation(Activation::sigmoid, row, OW);
        }
    }
};

/// Stride-1 F(M x M, 3 x 3) (M = 2 or 4).
template <class In, std::size_t OutC, std::size_t M, class Post>
using ConvWinograd3x3 = ConvWinograd<In, OutC, M, 1, Post>;

}  // namespace tagmap::nn
