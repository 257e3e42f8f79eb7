// The parts of the t-SNE gradient every method shares (the sparse attractive term, the KL
// divergence) and the exact O(N^2) repulsive term, which is the oracle for Barnes-Hut and FFT.
//
// Conventions (as in bhtsne, FIt-SNE and openTSNE): with w_ij = 1 / (1 + |y_i - y_j|^2) and
// Z = sum_{i != j} w_ij, the gradient of KL(P || Q) is 4 (attr_i - rep_i / Z) where
//   attr_i = sum_j p_ij w_ij (y_i - y_j)      (sparse, over the nonzeros of P)
//   rep_i  = sum_j w_ij^2 (y_i - y_j)          (dense: exact, Barnes-Hut or FFT)
// The optimiser steps along attr - rep / Z (without the 4), so learning rates match FIt-SNE's.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#if defined(__AVX512F__) && defined(__AVX512VL__)
#include <immintrin.h>
#endif

#include "tagmap/core/parallel.hpp"
#include "tagmap/project/tsne/affinities.hpp"

namespace tagmap::project::tsne_detail {

/// Points per parallel block; fixed so that results never depend on the thread count.
inline constexpr std::size_t kBlock = 256;

/// Sum of `values` in a fixed (block, then index) order.
inline double ordered_sum(const std::vector<double>& values) {
    double total = 0.0;
    for (double v : values) total += v;
    return total;
}

/// attr_i (scaled by `exaggeration`) of rows [begin, end) (see attraction_csr). Out of line so
/// that every thread runs the same machine code (inlined copies may contract differently).
template <int D, class V, class C>
[[gnu::noinline]] void attraction_rows(std::size_t begin, std::size_t end,
                                       const std::int64_t* row_ptr, const C* cols, const V* values,
                                       const double* y, double* attr, double exaggeration) {
#if defined(__AVX512F__) && defined(__AVX512VL__)
    // Eight lanes (edge e of a row goes to lane e % 8, a row's last partial vector masked):
    // one gather per coordinate per 8 edges. 1 / d2 by a 14-bit reciprocal estimate and two
    // Newton steps (~2^-56 relative): a zmm division costs more than the rest of the loop.
    constexpr int L = 8;
    const __m512d one = _mm512_set1_pd(1.0);
    for (std::size_t i = begin; i < end; ++i) {
        __m512d lanes[D];
        __m512d yi[D];
        for (int c = 0; c < D; ++c) {
            lanes[c] = _mm512_setzero_pd();
            yi[c] = _mm512_set1_pd(y[i * D + c]);
        }
        const std::int64_t first = row_ptr[i], last = row_ptr[i + 1];
        for (std::int64_t e = first; e < last; e += L) {
            const std::int64_t left = last - e;
            const auto mask = static_cast<__mmask8>(left >= L ? 0xff : (1u << left) - 1u);
            __m256i col;
            if constexpr (std::is_same_v<C, std::uint16_t>)
                col = _mm256_cvtepu16_epi32(_mm_maskz_loadu_epi16(mask, cols + e));
            else
                col = _mm256_maskz_loadu_epi32(mask, cols + e);
            const __m256i index = _mm256_mullo_epi32(col, _mm256_set1_epi32(D));
            __m512d p;
            if constexpr (std::is_same_v<V, float>)
                p = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(mask, values + e));
            else
                p = _mm512_maskz_loadu_pd(mask, values + e);
            __m512d diff[D];
            __m512d d2 = one;
            for (int c = 0; c < D; ++c) {
                const __m512d other =
                    _mm512_mask_i32gather_pd(_mm512_setzero_pd(), mask, index, y + c, 8);
                diff[c] = _mm512_sub_pd(yi[c], other);
                d2 = _mm512_fmadd_pd(diff[c], diff[c], d2);
            }
            __m512d r = _mm512_rcp14_pd(d2);
            r = _mm512_fmadd_pd(r, _mm512_fnmadd_pd(d2, r, one), r);
            r = _mm512_fmadd_pd(r, _mm512_fnmadd_pd(d2, r, one), r);
            const __m512d pw = _mm512_mul_pd(p, r);  // masked lanes: p = 0
            for (int c = 0; c < D; ++c) lanes[c] = _mm512_fmadd_pd(pw, diff[c], lanes[c]);
        }
        for (int c = 0; c < D; ++c) {
            alignas(64) double l[L];
            _mm512_store_pd(l, lanes[c]);
            attr[i * D + c] =
                exaggeration * (((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7])));
        }
    }
#else
    // Four interleaved partial sums per coordinate (edge e of a row goes to lane e % 4,
    // summed (0 + 2) + (1 + 3)), as explicit 4-wide vectors (GCC/Clang vector extensions:
    // the auto-vectoriser leaves the gathers scalar): one 4-wide division per 4 edges.
    constexpr int L = 4;
    using Doubles = double __attribute__((vector_size(8 * L)));
    for (std::size_t i = begin; i < end; ++i) {
        Doubles lanes[D] = {};
        const double* yi = y + i * D;
        const std::int64_t first = row_ptr[i], last = row_ptr[i + 1];
        std::int64_t e = first;
        for (; e + L <= last; e += L) {
            const double* yj[L];
            Doubles p;
            for (int l = 0; l < L; ++l) {
                yj[l] = y + static_cast<std::size_t>(cols[e + l]) * D;
                p[l] = static_cast<double>(values[e + l]);
            }
            Doubles diff[D];
            Doubles d2 = {1.0, 1.0, 1.0, 1.0};
            for (int c = 0; c < D; ++c) {
                Doubles other;
                for (int l = 0; l < L; ++l) other[l] = yj[l][c];
                diff[c] = yi[c] - other;
                d2 += diff[c] * diff[c];
            }
            const Doubles pw = p / d2;
            for (int c = 0; c < D; ++c) lanes[c] += pw * diff[c];
        }
        for (int l = 0; e < last; ++e, ++l) {
            const double* yj = y + static_cast<std::size_t>(cols[e]) * D;
            double diff[D];
            double d2 = 1.0;
            for (int c = 0; c < D; ++c) {
                diff[c] = yi[c] - yj[c];
                d2 += diff[c] * diff[c];
            }
            const double pw = static_cast<double>(values[e]) / d2;
            for (int c = 0; c < D; ++c) lanes[c][l] += pw * diff[c];
        }
        for (int c = 0; c < D; ++c)
            attr[i * D + c] =
                exaggeration * ((lanes[c][0] + lanes[c][2]) + (lanes[c][1] + lanes[c][3]));
    }
#endif
}

/// sum_ij p_ij log w_ij over rows [begin, end), in (row, edge) order.
template <int D, class V, class C>
[[gnu::noinline]] double attraction_log_w(std::size_t begin, std::size_t end,
                                          const std::int64_t* row_ptr, const C* cols,
                                          const V* values, const double* y) {
    double sum_log = 0.0;
    for (std::size_t i = begin; i < end; ++i) {
        const double* yi = y + i * D;
        for (std::int64_t e = row_ptr[i]; e < row_ptr[i + 1]; ++e) {
            const double* yj = y + static_cast<std::size_t>(cols[e]) * D;
            double d2 = 0.0;
            for (int c = 0; c < D; ++c) d2 += (yi[c] - yj[c]) * (yi[c] - yj[c]);
            sum_log -= static_cast<double>(values[e]) * std::log1p(d2);
        }
    }
    return sum_log;
}

/// attr_i (scaled by `exaggeration`) into `attr` from P in CSR form (values of type V, column
/// indices of type C: the optimiser streams a float copy of the values and, below 65,536
/// points, 16-bit columns, 6 instead of 12 bytes per nonzero; the loop is memory-bound).
/// With `with_log_w`, also returns sum_ij p_ij log w_ij (for the KL; the logarithms cost
/// more than the forces, so the optimiser asks only when it reports), else 0.
template <int D, class V, class C>
double attraction_csr(std::size_t n, const std::int64_t* row_ptr, const C* cols, const V* values,
                      const double* y, double* attr, double exaggeration, int threads,
                      bool with_log_w) {
    const auto blocks = parallel_map_blocks<double>(
        n, kBlock, threads, [&](std::size_t, std::size_t begin, std::size_t end) {
            attraction_rows<D>(begin, end, row_ptr, cols, values, y, attr, exaggeration);
            // Block partial, summed in (point, edge) order.
            return with_log_w ? attraction_log_w<D>(begin, end, row_ptr, cols, values, y) : 0.0;
        });
    return ordered_sum(blocks);
}

/// attraction_csr on P itself (double values).
template <int D>
double attraction(const TsneAffinities& P, const double* y, double* attr, double exaggeration,
                  int threads, bool with_log_w = true) {
    return attraction_csr<D>(static_cast<std::size_t>(P.n), P.row_ptr.data(), P.cols.data(),
                             P.values.data(), y, attr, exaggeration, threads, with_log_w);
}

/// sum_ij p_ij log p_ij (a constant of P).
inline double p_log_p(const TsneAffinities& P) {
    double total = 0.0;
    for (double p : P.values)
        if (p > 0.0) total += p * std::log(p);
    return total;
}

/// KL(P || Q) from sum p log p, sum p log w and Z: KL = sum p log p - sum p log w + log Z
/// (P sums to 1). Exact whenever Z is; with an approximate Z this is openTSNE's estimate.
inline double kl_divergence(double p_log_p_sum, double p_log_w_sum, double z) {
    return p_log_p_sum - p_log_w_sum + std::log(z);
}

/// Exact rep_i = sum_{j != i} w_ij^2 (y_i - y_j) into `rep`; returns Z = sum_{i != j} w_ij.
template <int D>
double exact_repulsion(const double* y, std::size_t n, double* rep, int threads) {
    std::vector<double> z_terms(n);
    parallel_for_blocks(n, kBlock, threads, [&](std::size_t, std::size_t begin, std::size_t end) {
        for (std::size_t i = begin; i < end; ++i) {
            const double* yi = y + i * D;
            double force[D] = {};
            double z = 0.0;
            for (std::size_t j = 0; j < n; ++j) {
                if (j == i) continue;
                const double* yj = y + j * D;
                double diff[D];
                double d2 = 0.0;
                for (int c = 0; c < D; ++c) {
                    diff[c] = yi[c] - yj[c];
                    d2 += diff[c] * diff[c];
                }
                const double w = 1.0 / (1.0 + d2);
                z += w;
                for (int c = 0; c < D; ++c) force[c] += w * w * diff[c];
            }
            for (int c = 0; c < D; ++c) rep[i * D + c] = force[c];
            z_terms[i] = z;
        }
    });
    return ordered_sum(z_terms);
}

}  // namespace tagmap::project::tsne_detail
