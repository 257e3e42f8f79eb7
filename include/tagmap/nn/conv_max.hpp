// Conv2d (+ folded BatchNorm + activation) followed by the max over the whole height,
// as one layer: MusiCNN's tall vertical filters. BatchNorm folded into the weights is
// part of the linear map, and every activation here is nondecreasing, so
//   max_h act(conv(x)[h] + b) = act(max_h conv(x)[h] + b):
// the max is taken on the raw convolution, row block by row block, and the
// (OutC, OH, OW) activation never exists. Two kernels behind one layer policy:
//   TallConv::gemm      im2col + GEMM on a few output rows at a time (the reference);
//   TallConv::spectral  a DFT along the height: per frequency bin a complex product over
//                       the KW taps, then an inverse DFT of only the OH valid rows. The
//                       transforms are matrix products (real DFT matrices made at bind
//                       time), so there is no FFT plan and no heap: it builds for firmware.
//   TallConv::spectral_bf16  the same in bf16 with fp32 accumulation, on one of two engines
//                       chosen at bind (Bf16Engine): AMX tiles (tdpbf16ps, nn/amx.hpp) where
//                       the process may use them, every operand a bf16 hi + lo pair (near
//                       fp32), else vdpbf16ps (nn/bf16.hpp) on single bf16 operands. Weight
//                       spectra and inverse DFT rounded once at bind, input spectra and
//                       per-bin products per pass; the inverse DFT and the max over the rows
//                       are one kernel. Needs AVX512_BF16 at run time (bind throws
//                       UnsupportedError without it); the input's forward DFT stays fp32.
// Cost per (filter, column) for MusiCNN-MTAT: gemm OH*KH*KW MACs (14070 / 15694), spectral
// (H/2+1)*KW*4 + OH*(H+2) MACs (4252 / 7154). Height padding is not supported (none is used).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numbers>
#include <utility>

#include "tagmap/core/cpu_features.hpp"
#include "tagmap/core/error.hpp"
#include "tagmap/core/isa_dispatch.hpp"
#include "tagmap/nn/amx.hpp"
#include "tagmap/nn/bf16.hpp"
#include "tagmap/nn/gemm.hpp"
#include "tagmap/nn/layer.hpp"

namespace tagmap::nn {

enum class TallConv { gemm, spectral, spectral_bf16 };

/// The units that run TallConv::spectral_bf16's products: bind picks the fastest the
/// process may use (amx, else vdpbf16ps); a layer's select_engine changes it (tests,
/// benches). Results differ: amx keeps hi + lo operands (near fp32), vdpbf16ps single ones.
enum class Bf16Engine { vdpbf16ps, amx };

/// The kernel a model uses unless it asks for one (see docs/models/musicnn.md for the
/// measurements that chose it).
inline constexpr TallConv default_tall_conv = TallConv::spectral;

namespace detail {

inline void apply_bias_activation(Activation a, const float* bias, float* out, std::size_t rows,
                                  std::size_t cols) {
    for (std::size_t o = 0; o < rows; ++o)
        for (std::size_t t = 0; t < cols; ++t) out[o * cols + t] += bias[o];
    apply_activation(a, out, rows * cols);
}

/// im2col + GEMM over blocks of `Rows` output rows; running max per (filter, column).
template <class In, std::size_t OutC, std::size_t KH, std::size_t KW, std::size_t PW, class Post>
struct ConvMaxGemm {
    static constexpr std::size_t C = In::channels, H = In::height, W = In::width;
    static constexpr std::size_t OH = H - KH + 1, OW = W + 2 * PW - KW + 1;
    using Out = Shape<OutC, 1, OW>;
    // 2 rows keep the block's im2col, output and Eigen panels near 2 MB for MusiCNN and
    // the GEMM as fast as on the whole plane (bench/models, BM_Layer_*).
    static constexpr std::size_t rows_per_block = std::min<std::size_t>(2, OH);
    static constexpr std::size_t K = C * KH * KW;
    static constexpr std::size_t N = rows_per_block * OW;
    static constexpr std::size_t col_floats = gemm::round16(K * N);
    static constexpr std::size_t block_floats = gemm::round16(OutC * N);
    static constexpr std::size_t work_floats =
        col_floats + block_floats + gemm::work_floats(OutC, N, K);
    static constexpr std::size_t weight_floats = OutC * K + OutC;  // [weights | bias]
    static constexpr std::size_t param_floats = weight_floats;
    static constexpr double flops = 2.0 * OutC * K * OH * OW;  // the convolution's
    static constexpr double executed_flops = flops;

    const float* params = nullptr;

    static void im2col_rows(const float* in, std::size_t h0, std::size_t rows, float* col) {
        using I = std::ptrdiff_t;
        const std::size_t n = rows * OW;
        for (std::size_t c = 0; c < C; ++c)
            for (std::size_t kh = 0; kh < KH; ++kh)
                for (std::size_t kw = 0; kw < KW; ++kw) {
                    float* row = col + ((c * KH + kh) * KW + kw) * n;
                    const I shift = I(kw) - I(PW);
                    const I t0 = std::max<I>(0, -shift), t1 = std::min<I>(I(OW), I(W) - shift);
                    for (std::size_t r = 0; r < rows; ++r) {
                        float* dst = row + r * OW;
                        const float* src = in + (c * H + h0 + r + kh) * W;
                        std::fill(dst, dst + t0, 0.0f);
                        std::memcpy(dst + t0, src + t0 + shift,
                                    std::size_t(t1 - t0) * sizeof(float));
                        std::fill(dst + t1, dst + OW, 0.0f);
                    }
                }
    }

    void forward(const float* in, float* out, float* work) const {
        float* col = work;
        float* block = work + col_floats;
        float* panels = block + block_floats;
        std::fill(out, out + OutC * OW, -std::numeric_limits<float>::infinity());
        for (std::size_t h0 = 0; h0 < OH; h0 += rows_per_block) {
            const std::size_t rows = std::min(rows_per_block, OH - h0), n = rows * OW;
            im2col_rows(in, h0, rows, col);
            std::fill(block, block + OutC * n, 0.0f);
            gemm::multiply_add(OutC, n, K, params, col, block, panels);
            for (std::size_t o = 0; o < OutC; ++o)
                for (std::size_t r = 0; r < rows; ++r) {
                    const float* y = block + o * n + r * OW;
                    float* m = out + o * OW;
                    for (std::size_t t = 0; t < OW; ++t) m[t] = std::max(m[t], y[t]);
                }
        }
        apply_bias_activation(Post::activation, params + OutC * K, out, OutC, OW);
    }
};

/// What both spectral kernels share: the length-H DFT along the height (the valid rows
/// never wrap around), its tables, the weight spectra and the forward pass's prologue.
template <std::size_t H>
struct HeightDft {
    static constexpr std::size_t bins = H / 2 + 1;
    static constexpr std::size_t S = 2 * bins;  // (re, im) per bin, bin-major

    // cos / sin of 2 pi j / H, tabulated for j in [0, H) (binding stays in milliseconds).
    double cos_table[H], sin_table[H];

    HeightDft() {
        constexpr double tau = 2.0 * std::numbers::pi;
        for (std::size_t j = 0; j < H; ++j) {
            cos_table[j] = std::cos(tau * double(j) / double(H));
            sin_table[j] = std::sin(tau * double(j) / double(H));
        }
    }
    double cos(std::size_t j) const { return cos_table[j % H]; }
    double sin(std::size_t j) const { return sin_table[j % H]; }

    /// W_f[kw][o] = sum_kh w[o][kh][kw] e^{-2 pi i f kh / H} in double, for every bin f,
    /// tap kw and filter o: emit(f, kw, o, re, im).
    template <std::size_t OutC, std::size_t KH, std::size_t KW, class Emit>
    void weight_spectra(const float* w, Emit&& emit) const {
        for (std::size_t f = 0; f < bins; ++f)
            for (std::size_t kw = 0; kw < KW; ++kw)
                for (std::size_t o = 0; o < OutC; ++o) {
                    double re = 0, im = 0;
                    for (std::size_t kh = 0; kh < KH; ++kh) {
                        const double v = w[(o * KH + kh) * KW + kw];
                        re += v * cos(f * kh);
                        im -= v * sin(f * kh);
                    }
                    emit(f, kw, o, re, im);
                }
    }

    /// X_f = sum_n x[n] e^{-2 pi i f n / H}: S x H, rows re then im per bin.
    void forward_matrix(float* fwd) const {
        for (std::size_t f = 0; f < bins; ++f)
            for (std::size_t n = 0; n < H; ++n) {
                fwd[(2 * f) * H + n] = float(cos(f * n));
                fwd[(2 * f + 1) * H + n] = float(-sin(f * n));
            }
    }

    /// Correlation: y[h] = sum_f Re(g_f e^{2 pi i f h / H} conj(W_f) X_f), Hermitian-folded
    /// (g_f = 1/H for the real bins 0 and H/2, else 2/H): the (re, im) weights of bin f.
    double inverse_re(std::size_t f, std::size_t h) const { return gain(f) * cos(f * h); }
    double inverse_im(std::size_t f, std::size_t h) const { return -gain(f) * sin(f * h); }
    static double gain(std::size_t f) { return (f == 0 || 2 * f == H ? 1.0 : 2.0) / double(H); }

    /// The forward pass's prologue: the spectra x (S x W) of every input column, then
    /// `rows` rows of xp, each W + 2 PW wide with PW zeros either side (the time padding)
    /// around what fill(r, dst) writes from x.
    template <std::size_t W, std::size_t PW, class Fill>
    static void padded_spectra(const float* fwd, const float* in, float* x, float* panels,
                               std::size_t rows, float* xp, Fill&& fill) {
        constexpr std::size_t WP = W + 2 * PW;
        std::fill(x, x + S * W, 0.0f);
        gemm::multiply_add(S, W, H, fwd, in, x, panels);
        for (std::size_t r = 0; r < rows; ++r) {
            float* row = xp + r * WP;
            std::fill(row, row + PW, 0.0f);
            fill(r, row + PW);
            std::fill(row + PW + W, row + WP, 0.0f);
        }
    }
};

/// Per-bin complex product over the KW taps, inverse DFT of the OH valid rows, running max.
template <class In, std::size_t OutC, std::size_t KH, std::size_t KW, std::size_t PW, class Post>
struct ConvMaxSpectral {
    static_assert(In::channels == 1, "TallConv::spectral: one input channel only");
    static constexpr std::size_t H = In::height, W = In::width;
    static constexpr std::size_t OH = H - KH + 1, OW = W + 2 * PW - KW + 1;
    using Out = Shape<OutC, 1, OW>;
    using Dft = HeightDft<H>;
    static constexpr std::size_t K = KH * KW;
    static constexpr std::size_t bins = Dft::bins;
    static constexpr std::size_t S = Dft::S;
    static constexpr std::size_t WP = W + 2 * PW;
    // The complex product works on 16 filters at a time; the spectra are padded with zero
    // filters to a multiple of 16 (their rows of the pass are computed and never read).
    static constexpr std::size_t lanes = 16;
    static constexpr std::size_t OutCP = (OutC + lanes - 1) / lanes * lanes;
    // Output columns per pass: each weight spectrum is read once per pass; the pass's
    // spectra (S x cols * OutCP, 0.65 MB for MusiCNN) are read back by the fused max.
    static constexpr std::size_t cols_per_block = std::min<std::size_t>(8, OW);
    static constexpr std::size_t NB = cols_per_block * OutCP;  // columns of the pass spectra

    // Parameters: [weights | bias | weight spectra | forward DFT | inverse DFT].
    static constexpr std::size_t weight_floats = OutC * K + OutC;
    static constexpr std::size_t spectra_offset = weight_floats;
    static constexpr std::size_t spectra_floats = bins * KW * 2 * OutCP;  // [bin][kw][re|im][o]
    static constexpr std::size_t forward_offset = spectra_offset + spectra_floats;
    static constexpr std::size_t inverse_offset = forward_offset + S * H;
    // Inverse DFT [S][OHP]: rows padded to whole tiles of the fused max (the last row
    // repeated: the max is unchanged).
    static constexpr std::size_t tile_rows = 6;
    static constexpr std::size_t OHP = (OH + tile_rows - 1) / tile_rows * tile_rows;
    static constexpr std::size_t param_floats = inverse_offset + S * OHP;

    // Work: [input spectra S x W | zero-padded S x WP | pass spectra | pass maxima | panels].
    // The pass spectra y (S rows of NB columns) are stored in groups of `group` columns,
    // [group][k][column]: the fused max reads one group's S rows as one contiguous block
    // (rows nb floats apart share a few cache sets; a few per cent faster on Zen 3).
    static constexpr std::size_t group = 4 * lanes;
    static constexpr std::size_t NBG = (NB + group - 1) / group * group;
    static constexpr std::size_t x_floats = gemm::round16(S * W);
    static constexpr std::size_t xp_floats = gemm::round16(S * WP);
    static constexpr std::size_t y_floats = gemm::round16(S * NBG);
    static constexpr std::size_t z_floats = gemm::round16(NB);
    static constexpr std::size_t work_floats =
        x_floats + xp_floats + y_floats + z_floats + gemm::work_floats(S, W, H);
    static constexpr double flops = 2.0 * OutC * K * OH * OW;  // of the direct convolution
    static constexpr double executed_flops =
        2.0 * S * H * W + 8.0 * bins * KW * OutCP * OW + 2.0 * OHP * S * OutCP * OW;

    const float* params = nullptr;

    /// Fills the spectra and DFT matrices of the (non-const) parameter block from the
    /// bound weights; computed in double, allocates nothing.
    static void derive(float* p) {
        const Dft dft;
        float* spectra = p + spectra_offset;
        std::fill(spectra, spectra + spectra_floats, 0.0f);
        dft.template weight_spectra<OutC, KH, KW>(
            p, [&](std::size_t f, std::size_t kw, std::size_t o, double re, double im) {
                float* s = spectra + ((f * KW + kw) * 2) * OutCP;
                s[o] = float(re);
                s[OutCP + o] = float(im);
            });
        dft.forward_matrix(p + forward_offset);
        float* inv = p + inverse_offset;
        for (std::size_t hp = 0; hp < OHP; ++hp)
            for (std::size_t f = 0; f < bins; ++f) {
                const std::size_t h = std::min(hp, OH - 1);
                inv[(2 * f) * OHP + hp] = float(dft.inverse_re(f, h));
                inv[(2 * f + 1) * OHP + hp] = float(dft.inverse_im(f, h));
            }
    }

    void forward(const float* in, float* out, float* work) const {
        forward_with_width<0>(in, out, work);
    }

    /// forward with vectors of `Width` floats (16, 8 or 4) whatever the CPU runs, or of the
    /// running ISA's width for 0 (what forward does). Every width gives the same result;
    /// the tests check that on every CPU (a wider vector than the ISA's is slow, not wrong).
    template <std::size_t Width>
    void forward_with_width(const float* in, float* out, float* work) const {
        static_assert(Width == 0 || Width == 4 || Width == 8 || Width == 16);
        float* x = work;
        float* xp = x + x_floats;
        float* y = xp + xp_floats;
        float* z = y + y_floats;
        float* panels = z + z_floats;
        Dft::template padded_spectra<W, PW>(
            params + forward_offset, in, x, panels, S, xp,
            [&](std::size_t s, float* dst) { std::copy_n(x + s * W, W, dst); });
        for (std::size_t t0 = 0; t0 < OW; t0 += cols_per_block) {
            const std::size_t cols = std::min(cols_per_block, OW - t0);
            // The loops around the GEMM run in the CPU's best ISA in a portable build too
            // (run_vectorized), on vectors of that ISA's width: GCC lowers a vector wider
            // than the ISA's through the stack, several times slower.
            if constexpr (Width == 0)
                run_vectorized([&](auto isa) {
                    pass<vector_floats(decltype(isa)::value)>(xp, y, z, out, t0, cols);
                });
            else
                pass<Width>(xp, y, z, out, t0, cols);
        }
        apply_bias_activation(Post::activation, params + OutC * K, out, OutC, OW);
    }

  private:
    /// `Width` floats: one register of the ISA the pass is meant for.
    // (A typedef in a class template: GCC drops vector_size from a dependent alias.)
    template <std::size_t Width>
    struct VecOf {
        typedef float type __attribute__((vector_size(4 * Width)));
    };
    template <std::size_t Width>
    using Vec = typename VecOf<Width>::type;
    // One register at a time: a memcpy of a whole array of them goes through the stack
    // in pieces, and the wider reload then stalls on store forwarding.
    // (By reference: a by-value 64-byte vector would change the ABI in an AVX2 build.)
    template <std::size_t Width>
    static void load(Vec<Width>& v, const float* p) {
        std::memcpy(&v, p, sizeof v);
    }
    template <std::size_t Width>
    static void store(float* p, const Vec<Width>& v) {
        std::memcpy(p, &v, sizeof v);
    }

    /// Column j of row k of the grouped pass spectra.
    static float* y_at(float* y, std::size_t k, std::size_t j) {
        return y + (j / group) * (S * group) + k * group + j % group;
    }

    /// Output columns t0 .. t0 + cols: the pass spectra, their fused inverse DFT + max, and
    /// the scatter of the maxima to `out`. Every lane computes the same sums in the same
    /// order whatever `Width`, so the result does not depend on the ISA.
    template <std::size_t Width>
    void pass(const float* xp, float* y, float* z, float* out, std::size_t t0,
              std::size_t cols) const {
        // Columns per product call and 16-column groups per max call, so that the
        // accumulators fit the ISA's registers (16 ymm / xmm, 32 zmm).
        constexpr std::size_t T = Width == 16 ? 4 : Width == 8 ? 2 : 1;
        constexpr std::size_t V = Width == 16 ? 4 : 1;
        constexpr std::size_t R = Width == 4 ? tile_rows / 2 : tile_rows;
        const std::size_t nb = cols * OutCP;
        const float* spectra = params + spectra_offset;
        // Y_f[t][o] = sum_kw conj(W_f[kw][o]) X_f[t0 + t + kw].
        for (std::size_t f = 0; f < bins; ++f) {
            const float* xr = xp + (2 * f) * WP + t0;
            const float* xi = xp + (2 * f + 1) * WP + t0;
            const float* wf = spectra + f * KW * 2 * OutCP;
            for (std::size_t o = 0; o < OutCP; o += lanes) {
                std::size_t t = 0;
                for (; t + T <= cols; t += T)
                    product<T, Width>(wf + o, xr + t, xi + t, y, 2 * f, t * OutCP + o);
                for (; t < cols; ++t)
                    product<1, Width>(wf + o, xr + t, xi + t, y, 2 * f, t * OutCP + o);
            }
        }
        // z[j] = max over the rows h of sum_k inverse[k][h] y[k][j]: the rows are never
        // stored.
        const float* inv = params + inverse_offset;
        std::size_t j = 0;
        if constexpr (V > 1)
            for (; j + V * lanes <= nb; j += V * lanes) max_of_rows<V, R, Width>(inv, y, j, z);
        for (; j < nb; j += lanes) max_of_rows<1, R, Width>(inv, y, j, z);
        for (std::size_t t = 0; t < cols; ++t)
            for (std::size_t o = 0; o < OutC; ++o) out[o * OW + t0 + t] = z[t * OutCP + o];
    }

    /// Y for 16 filters from wf and T columns from xr / xi into rows k (re) and k + 1 (im)
    /// of y from column j: 2 T independent accumulation chains per register, so the FMAs
    /// do not wait on each other's latency at every tap.
    template <std::size_t T, std::size_t Width>
    static void product(const float* wf, const float* xr, const float* xi, float* y, std::size_t k,
                        std::size_t j) {
        constexpr std::size_t P = lanes / Width;
        Vec<Width> re[T][P] = {}, im[T][P] = {};
        for (std::size_t kw = 0; kw < KW; ++kw) {
            Vec<Width> wr[P], wi[P];
            for (std::size_t p = 0; p < P; ++p) {
                load<Width>(wr[p], wf + kw * 2 * OutCP + p * Width);
                load<Width>(wi[p], wf + kw * 2 * OutCP + OutCP + p * Width);
            }
            for (std::size_t c = 0; c < T; ++c) {
                const float ar = xr[c + kw], ai = xi[c + kw];
                for (std::size_t p = 0; p < P; ++p) {
                    re[c][p] += wr[p] * ar;
                    re[c][p] += wi[p] * ai;
                    im[c][p] += wr[p] * ai;
                    im[c][p] -= wi[p] * ar;
                }
            }
        }
        for (std::size_t c = 0; c < T; ++c)
            for (std::size_t p = 0; p < P; ++p) {
                store<Width>(y_at(y, k, j + c * OutCP) + p * Width, re[c][p]);
                store<Width>(y_at(y, k + 1, j + c * OutCP) + p * Width, im[c][p]);
            }
    }

    /// z[j + i] for the 16 V columns from j (within one group): the max over the OHP rows
    /// of the inverse DFT of y's columns, R rows at a time.
    template <std::size_t V, std::size_t R, std::size_t Width>
    static void max_of_rows(const float* inv, float* y, std::size_t j, float* z) {
        static_assert(OHP % R == 0);
        constexpr std::size_t P = V * lanes / Width;
        const float* col = y_at(y, 0, j);
        Vec<Width> best[P];
        for (std::size_t v = 0; v < P; ++v)
            best[v] = Vec<Width>{} - std::numeric_limits<float>::infinity();
        for (std::size_t h0 = 0; h0 < OHP; h0 += R) {
            Vec<Width> acc[R][P] = {};
            for (std::size_t k = 0; k < S; ++k) {
                Vec<Width> b[P];
                for (std::size_t v = 0; v < P; ++v) load<Width>(b[v], col + k * group + v * Width);
                const float* a = inv + k * OHP + h0;
                for (std::size_t r = 0; r < R; ++r)
                    for (std::size_t v = 0; v < P; ++v) acc[r][v] += a[r] * b[v];
            }
            for (std::size_t r = 0; r < R; ++r)
                for (std::size_t v = 0; v < P; ++v)
                    best[v] = acc[r][v] > best[v] ? acc[r][v] : best[v];
        }
        for (std::size_t v = 0; v < P; ++v) store<Width>(z + j + v * Width, best[v]);
    }
};

/// TallConv::spectral with bf16 operands: see the file comment, nn/bf16.hpp and nn/amx.hpp.
template <class In, std::size_t OutC, std::size_t KH, std::size_t KW, std::size_t PW, class Post>
struct ConvMaxSpectralBf16 {
    static_assert(In::channels == 1, "TallConv::spectral_bf16: one input channel only");
    static_assert(KW <= 16, "TallConv::spectral_bf16: at most 16 taps along the width");
    static constexpr std::size_t H = In::height, W = In::width;
    static constexpr std::size_t OH = H - KH + 1, OW = W + 2 * PW - KW + 1;
    using Out = Shape<OutC, 1, OW>;
    using Dft = HeightDft<H>;
    static constexpr std::size_t K = KH * KW;
    static constexpr std::size_t bins = Dft::bins;
    static constexpr std::size_t S = Dft::S;
    static constexpr std::size_t WP = W + 2 * PW;
    static constexpr std::size_t filters = (OutC + 15) / 16 * 16;  // zero filters pad to 16
    static constexpr std::size_t blocks = filters / 16;

    // vdpbf16ps engine: 8 output columns per pass, products [bin][column][filter]; inverse
    // DFT [bin][row] pairs, rows padded to OHP (the last row repeated: the max is unchanged).
    static constexpr std::size_t cols_per_block = std::min<std::size_t>(8, OW);
    static constexpr std::size_t NB = cols_per_block * filters;
    static constexpr std::size_t OHP =
        (OH + bf16::rows_per_tile - 1) / bf16::rows_per_tile * bf16::rows_per_tile;
    // AMX engine: 16 columns per pass (one tile), products [bin][filter][column] as hi and
    // lo planes of R rows; inverse DFT [row][pair] (tdpbf16ps' A operand, hi then lo), rows
    // padded to OHA the same way. The real bins 0 and H/2 share one pair
    // (Y_0.re, Y_H/2.re): for H = 96 the depth is 48 pairs, 3 tiles, not 49; zero pairs
    // pad it to whole tiles.
    static constexpr std::size_t amx_cols = 16;
    static constexpr std::size_t NBA = amx_cols * filters;
    static constexpr bool fold_nyquist = H % 2 == 0;
    static constexpr std::size_t pairs = fold_nyquist ? H / 2 : bins;
    static constexpr std::size_t depth = (pairs + 15) / 16 * 16;
    static constexpr std::size_t R = std::max(bins, depth);
    static constexpr std::size_t OHA =
        (OH + amx::rows_per_pass - 1) / amx::rows_per_pass * amx::rows_per_pass;

    // Parameters (one float holds one bf16 pair): [weights | bias | forward DFT (fp32) |
    // vdpbf16ps: weight spectra [bin][kw][(wr, wi) | (-wi, wr)][filter], inverse DFT |
    // AMX: weight spectra [bin][block][re hi | im hi | re lo | im lo][16][kw], inverse DFT
    // hi | lo].
    static constexpr std::size_t weight_floats = OutC * K + OutC;
    static constexpr std::size_t forward_offset = gemm::round16(weight_floats);
    static constexpr std::size_t spectra_offset = forward_offset + S * H;
    static constexpr std::size_t spectra_floats = bins * KW * 2 * filters;
    static constexpr std::size_t inverse_offset = spectra_offset + spectra_floats;
    static constexpr std::size_t amx_spectra_offset = gemm::round16(inverse_offset + bins * OHP);
    static constexpr std::size_t amx_spectra_floats = bins * blocks * 4 * 16 * KW;
    static constexpr std::size_t amx_inverse_offset = amx_spectra_offset + amx_spectra_floats;
    static constexpr std::size_t param_floats = amx_inverse_offset + 2 * OHA * depth;

    // Work: [input spectra S x W | their pairs | pass products | pass maxima | panels], the
    // pairs bins x WP (vdpbf16ps) or hi and lo planes and a zero tail that the last B tile
    // reads into (AMX), the products bins x NB or 2 x R x NBA.
    static constexpr std::size_t x_floats = gemm::round16(S * W);
    static constexpr std::size_t xp_floats = gemm::round16(std::max(bins * WP, 2 * bins * WP + 32));
    static constexpr std::size_t y_floats = gemm::round16(std::max(bins * NB, 2 * R * NBA));
    static constexpr std::size_t z_floats = gemm::round16(std::max(NB, NBA));
    static constexpr std::size_t work_floats =
        x_floats + xp_floats + y_floats + z_floats + gemm::work_floats(S, W, H);
    static constexpr double flops = 2.0 * OutC * K * OH * OW;  // of the direct convolution
    // The vdpbf16ps engine's; the AMX engine runs three bf16 products per product and
    // pads the rows to OHA.
    static constexpr double executed_flops =
        2.0 * S * H * W + 8.0 * bins * KW * filters * OW + 2.0 * OH * S * filters * OW;

    const float* params = nullptr;
    Bf16Engine engine = Bf16Engine::vdpbf16ps;

    /// Rounds the spectra and inverse DFTs (both engines' layouts) once; picks the engine.
    void derive(float* p) {
        if (!cpu_has_avx512_bf16())
            TAGMAP_THROW(UnsupportedError(
                "bf16 precision needs a CPU with AVX512_BF16 (vdpbf16ps); this one has none: "
                "use fp32"));
        engine = amx_available() ? Bf16Engine::amx : Bf16Engine::vdpbf16ps;
        const Dft dft;
        dft.forward_matrix(p + forward_offset);
        float* spectra = p + spectra_offset;
        float* amx_spectra = p + amx_spectra_offset;
        std::fill(spectra, spectra + spectra_floats, 0.0f);
        std::fill(amx_spectra, amx_spectra + amx_spectra_floats, 0.0f);
        dft.template weight_spectra<OutC, KH, KW>(
            p, [&](std::size_t f, std::size_t kw, std::size_t o, double re, double im) {
                float* s = spectra + (f * KW + kw) * 2 * filters;
                // conj(W) X: re = wr xr + wi xi, im = -wi xr + wr xi.
                bf16::store_pair(s + o, bf16::pair(float(re), float(im)));
                bf16::store_pair(s + filters + o, bf16::pair(float(-im), float(re)));
                float* a = amx_spectra + ((f * blocks + o / 16) * 4 * 16 + o % 16) * KW + kw;
                constexpr std::size_t part = 16 * KW;
                bf16::store_pair(a, hi(re, im));
                bf16::store_pair(a + part, hi(-im, re));
                bf16::store_pair(a + 2 * part, lo(re, im));
                bf16::store_pair(a + 3 * part, lo(-im, re));
            });
        const auto inverse = [&](std::size_t f, std::size_t h) {
            return std::pair{dft.inverse_re(f, h), dft.inverse_im(f, h)};
        };
        for (std::size_t hp = 0; hp < OHP; ++hp)
            for (std::size_t f = 0; f < bins; ++f) {
                const auto [re, im] = inverse(f, std::min(hp, OH - 1));
                bf16::store_pair(p + inverse_offset + f * OHP + hp, hi(re, im));
            }
        float* amx_inv = p + amx_inverse_offset;
        std::fill(amx_inv, amx_inv + 2 * OHA * depth, 0.0f);
        for (std::size_t hp = 0; hp < OHA; ++hp) {
            const std::size_t h = std::min(hp, OH - 1);
            for (std::size_t k = 0; k < pairs; ++k) {
                const auto [re, im] = fold_nyquist && k == 0 ? std::pair{dft.inverse_re(0, h),
                                                                         dft.inverse_re(H / 2, h)}
                                                             : inverse(k, h);
                bf16::store_pair(amx_inv + hp * depth + k, hi(re, im));
                bf16::store_pair(amx_inv + (OHA + hp) * depth + k, lo(re, im));
            }
        }
    }

    /// Runs on `e` from now on; UnsupportedError when this CPU (or build) lacks it.
    void select_engine(Bf16Engine e) {
        if (e == Bf16Engine::amx && !amx_available())
            TAGMAP_THROW(
                UnsupportedError("the AMX bf16 engine needs AMX-BF16 (and the OS's "
                                 "permission to use tiles); this process has none"));
        engine = e;
    }

    void forward(const float* in, float* out, float* work) const {
#if TAGMAP_HAVE_AMX_KERNELS
        if (engine == Bf16Engine::amx) return forward_amx(in, out, work);
#endif
#if TAGMAP_HAVE_BF16_KERNELS
        forward_vdpbf16ps(in, out, work);
#else
        (void)in, (void)out, (void)work;
#endif
    }

  private:
    static bool amx_available() {
        return TAGMAP_HAVE_AMX_KERNELS && cpu_has_amx_bf16();
    }
    static std::uint32_t hi(double re, double im) {
        return bf16::pair(float(re), float(im));
    }
    /// What hi leaves: hi + lo holds (re, im) to 2^-17.
    static std::uint32_t lo(double re, double im) {
        const auto r = [](double v) {
            return float(v - bf16::to_float(bf16::from_float(float(v))));
        };
        return bf16::pair(r(re), r(im));
    }

#if TAGMAP_HAVE_BF16_KERNELS
    void forward_vdpbf16ps(const float* in, float* out, float* work) const {
        float* x = work;
        float* xp = x + x_floats;
        float* y = xp + xp_floats;
        float* z = y + y_floats;
        float* panels = z + z_floats;
        Dft::template padded_spectra<W, PW>(
            params + forward_offset, in, x, panels, bins, xp, [&](std::size_t f, float* dst) {
                bf16::pack_pairs(x + (2 * f) * W, x + (2 * f + 1) * W, W, dst);
            });
        const float* spectra = params + spectra_offset;
        for (std::size_t t0 = 0; t0 < OW; t0 += cols_per_block) {
            const std::size_t cols = std::min(cols_per_block, OW - t0), nb = cols * filters;
            for (std::size_t f = 0; f < bins; ++f)
                bf16::complex_product<KW>(spectra + f * KW * 2 * filters, xp + f * WP + t0, cols,
                                          filters, y + f * nb);
            bf16::max_of_rows(params + inverse_offset, OHP, bins, y, nb, z);
            for (std::size_t t = 0; t < cols; ++t)
                for (std::size_t o = 0; o < OutC; ++o) out[o * OW + t0 + t] = z[t * filters + o];
        }
        apply_bias_activation(Post::activation, params + OutC * K, out, OutC, OW);
    }
#endif

#if TAGMAP_HAVE_AMX_KERNELS
    void forward_amx(const float* in, float* out, float* work) const {
        static constexpr amx::TileConfig product_tiles = amx::product_tiles(KW);
        static constexpr amx::TileConfig inverse_tiles = amx::uniform_tiles();
        float* x = work;
        float* xp = x + x_floats;  // hi plane, lo plane, zero tail
        float* y_hi = xp + xp_floats;
        float* y_lo = y_hi + R * NBA;
        float* z = y_hi + y_floats;
        float* panels = z + z_floats;
        Dft::template padded_spectra<W, PW>(
            params + forward_offset, in, x, panels, 2 * bins, xp, [&](std::size_t r, float* dst) {
                const std::size_t f = r % bins;
                if (r < bins)
                    bf16::pack_pairs(x + (2 * f) * W, x + (2 * f + 1) * W, W, dst);
                else
                    bf16::pack_residual_pairs(x + (2 * f) * W, x + (2 * f + 1) * W, W, dst);
            });
        std::fill(xp + 2 * bins * WP, xp + 2 * bins * WP + 32, 0.0f);
        if constexpr (depth > bins) {
            std::fill(y_hi + bins * NBA, y_hi + depth * NBA, 0.0f);
            std::fill(y_lo + bins * NBA, y_lo + depth * NBA, 0.0f);
        }
        const float* spectra = params + amx_spectra_offset;
        const float* inv = params + amx_inverse_offset;
        const amx::TileScope tiles;  // released on return
        for (std::size_t t0 = 0; t0 < OW; t0 += amx_cols) {
            amx::load_tiles(product_tiles);
            for (std::size_t f = 0; f < bins; ++f)
                amx::complex_product(spectra + f * blocks * 4 * 16 * KW, blocks, KW,
                                     xp + f * WP + t0, xp + (bins + f) * WP + t0, y_hi + f * NBA,
                                     y_lo + f * NBA);
            if constexpr (fold_nyquist) {
                fold(y_hi, y_hi + (H / 2) * NBA);
                fold(y_lo, y_lo + (H / 2) * NBA);
            }
            amx::load_tiles(inverse_tiles);
            amx::max_of_rows(inv, inv + OHA * depth, OHA, depth, y_hi, y_lo, NBA, z);
            const std::size_t cols = std::min(amx_cols, OW - t0);
            for (std::size_t o = 0; o < OutC; ++o)
                std::copy_n(z + o * amx_cols, cols, out + o * OW + t0);
        }
        apply_bias_activation(Post::activation, params + OutC * K, out, OutC, OW);
    }

    /// Both real bins in one pair: (Y_0.re, Y_H/2.re) -> row 0 (Y_0.im is exactly 0).
    static void fold(float* y0, const float* nyquist) {
        for (std::size_t j = 0; j < NBA; ++j) {
            std::uint32_t a, b;
            std::memcpy(&a, y0 + j, 4);
            std::memcpy(&b, nyquist + j, 4);
            a = (a & 0xffffu) | (b << 16);
            std::memcpy(y0 + j, &a, 4);
        }
    }
#endif
};

template <TallConv Algo, class In, std::size_t OutC, std::size_t KH, std::size_t KW, std::size_t PW,
          class Post>
using ConvMaxKernel = std::conditional_t<
    Algo == TallConv::gemm, ConvMaxGemm<In, OutC, KH, KW, PW, Post>,
    std::conditional_t<Algo == TallConv::spectral, ConvMaxSpectral<In, OutC, KH, KW, PW, Post>,
                       ConvMaxSpectralBf16<In, OutC, KH, KW, PW, Post>>>;

}  // namespace detail

/// torch.nn.Conv2d(in, out, kernel, stride 1, padding (0, PW)) named `Name` with fused
/// post ops (post::BatchNorm<"...">, post::ReLU), then MaxPool2d((OH, 1)): out (OutC, 1, OW).
template <FixedString Name, std::size_t InChannels, std::size_t OutChannels, class KernelT,
          class PaddingT, TallConv Algo, class... Post>
struct Conv2dMaxOverHeight {
    static constexpr FixedString name = Name;

    template <ShapeType Input>
    struct on : detail::ConvMaxKernel<Algo, Input, OutChannels, KernelT::height, KernelT::width,
                                      PaddingT::width, PostOps<Post...>> {
        static_assert(Input::channels == InChannels,
                      "Conv2dMaxOverHeight: input channels differ from the layer's in_channels");
        static_assert(PaddingT::height == 0, "Conv2dMaxOverHeight: no padding along the height");
        static_assert(Input::height >= KernelT::height &&
                          Input::width + 2 * PaddingT::width >= KernelT::width,
                      "Conv2dMaxOverHeight: kernel is larger than the padded input");
        using In = Input;
        static constexpr TallConv algorithm = Algo;

        void bind(ParamBinder& binder) {
            float* p = binder.claim(this->param_floats).data();
            bind_affine<PostOps<Post...>>(
                binder, Name.view(),
                {std::int64_t(OutChannels), std::int64_t(InChannels), std::int64_t(KernelT::height),
                 std::int64_t(KernelT::width)},
                OutChannels, this->K, p);
            if constexpr (Algo != TallConv::gemm) this->derive(p);
            this->params = p;
        }
    };
};

}  // namespace tagmap::nn
