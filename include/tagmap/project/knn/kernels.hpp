// Dot-product kernels for the approximate kNN search: one row against one or four rows.
//
// Why hand-written: NN-descent evaluates millions of scattered pairs, too small for a GEMM,
// and the library is compiled without -mavx2, so Eigen's dot product would use SSE only.
// On x86-64 an AVX2+FMA version is selected at run time (function target attributes; the
// rest of the program is unaffected), with a portable fallback elsewhere.
//
// Determinism: every dot product is computed by the same sequence of operations whether it
// is evaluated alone or in a group of four, and dot(a, b) == dot(b, a) bit for bit, so a
// pair's distance never depends on where, when or on which thread it was computed. (Different
// CPUs, with or without AVX2, may differ in the last bits.)
#pragma once

#include <cstddef>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define TAGMAP_KNN_X86_KERNELS 1
#else
#define TAGMAP_KNN_X86_KERNELS 0
#endif

namespace tagmap::project::knn_detail {

/// Portable fallback: 8 interleaved partial sums (the same association as the AVX2 path's
/// lanes, which lets compilers vectorise it), summed pairwise.
inline float dot_portable(const float* a, const float* b, std::size_t n) {
    float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; ++l) lanes[l] += a[i + l] * b[i + l];
    for (int l = 0; i < n; ++i, ++l) lanes[l] += a[i] * b[i];
    return ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) +
           ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
}

/// Portable squared Euclidean distance, same lane structure as dot_portable. Differences are
/// taken before squaring, so near neighbours keep full relative precision.
inline float squared_distance_portable(const float* a, const float* b, std::size_t n) {
    float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; ++l) {
            const float d = a[i + l] - b[i + l];
            lanes[l] += d * d;
        }
    for (int l = 0; i < n; ++i, ++l) {
        const float d = a[i] - b[i];
        lanes[l] += d * d;
    }
    return ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) +
           ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
}

#if TAGMAP_KNN_X86_KERNELS
__attribute__((target("avx2,fma"))) inline float hsum_avx(__m256 v) {
    // Same pairing as dot_portable: (0+4, 1+5, 2+6, 3+7), then (0+2, 1+3), then (0+1).
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) inline __m256i tail_mask(std::size_t remaining) {
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(remaining)), lanes);
}

__attribute__((target("avx2,fma"))) inline float dot_avx2(const float* a, const float* b,
                                                          std::size_t n) {
    __m256 acc = _mm256_setzero_ps();
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8)
        acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
    if (i < n) {
        const __m256i mask = tail_mask(n - i);
        acc =
            _mm256_fmadd_ps(_mm256_maskload_ps(a + i, mask), _mm256_maskload_ps(b + i, mask), acc);
    }
    return hsum_avx(acc);
}

__attribute__((target("avx2,fma"))) inline float squared_distance_avx2(const float* a,
                                                                       const float* b,
                                                                       std::size_t n) {
    __m256 acc = _mm256_setzero_ps();
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        acc = _mm256_fmadd_ps(d, d, acc);
    }
    if (i < n) {
        const __m256i mask = tail_mask(n - i);
        const __m256 d =
            _mm256_sub_ps(_mm256_maskload_ps(a + i, mask), _mm256_maskload_ps(b + i, mask));
        acc = _mm256_fmadd_ps(d, d, acc);
    }
    return hsum_avx(acc);
}

__attribute__((target("avx2,fma"))) inline void dot4_avx2(const float* a, const float* b0,
                                                          const float* b1, const float* b2,
                                                          const float* b3, std::size_t n,
                                                          float* out) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(a + i);
        s0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(b0 + i), s0);
        s1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(b1 + i), s1);
        s2 = _mm256_fmadd_ps(x, _mm256_loadu_ps(b2 + i), s2);
        s3 = _mm256_fmadd_ps(x, _mm256_loadu_ps(b3 + i), s3);
    }
    if (i < n) {
        const __m256i mask = tail_mask(n - i);
        const __m256 x = _mm256_maskload_ps(a + i, mask);
        s0 = _mm256_fmadd_ps(x, _mm256_maskload_ps(b0 + i, mask), s0);
        s1 = _mm256_fmadd_ps(x, _mm256_maskload_ps(b1 + i, mask), s1);
        s2 = _mm256_fmadd_ps(x, _mm256_maskload_ps(b2 + i, mask), s2);
        s3 = _mm256_fmadd_ps(x, _mm256_maskload_ps(b3 + i, mask), s3);
    }
    out[0] = hsum_avx(s0);
    out[1] = hsum_avx(s1);
    out[2] = hsum_avx(s2);
    out[3] = hsum_avx(s3);
}

/// out[r * 4 + c] = dot(a_r, b_c) for a 2 x 4 tile; 8 accumulators, each the same operation
/// sequence as dot_avx2, so every entry is bit-identical to it.
__attribute__((target("avx2,fma"))) inline void dot2x4_avx2(const float* a0, const float* a1,
                                                            const float* const b[4], std::size_t n,
                                                            float* out) {
    __m256 s[8];
    for (auto& v : s) v = _mm256_setzero_ps();
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x0 = _mm256_loadu_ps(a0 + i), x1 = _mm256_loadu_ps(a1 + i);
        for (int c = 0; c < 4; ++c) {
            const __m256 y = _mm256_loadu_ps(b[c] + i);
            s[c] = _mm256_fmadd_ps(x0, y, s[c]);
            s[4 + c] = _mm256_fmadd_ps(x1, y, s[4 + c]);
        }
    }
    if (i < n) {
        const __m256i mask = tail_mask(n - i);
        const __m256 x0 = _mm256_maskload_ps(a0 + i, mask), x1 = _mm256_maskload_ps(a1 + i, mask);
        for (int c = 0; c < 4; ++c) {
            const __m256 y = _mm256_maskload_ps(b[c] + i, mask);
            s[c] = _mm256_fmadd_ps(x0, y, s[c]);
            s[4 + c] = _mm256_fmadd_ps(x1, y, s[4 + c]);
        }
    }
    for (int t = 0; t < 8; ++t) out[t] = hsum_avx(s[t]);
}

inline bool cpu_has_avx2_fma() {
    static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return has;
}
#endif

/// Dot products of fixed-length float rows, dispatched once to the best kernel of this CPU.
class DotKernel {
  public:
    explicit DotKernel(std::size_t dims) : dims_(dims) {
#if TAGMAP_KNN_X86_KERNELS
        avx2_ = cpu_has_avx2_fma();
#endif
    }

    float operator()(const float* a, const float* b) const {
#if TAGMAP_KNN_X86_KERNELS
        if (avx2_) return dot_avx2(a, b, dims_);
#endif
        return dot_portable(a, b, dims_);
    }

    /// out[t] = dot(a, b[t]) for t < 4, each bit-identical to operator()(a, b[t]).
    void four(const float* a, const float* const b[4], float* out) const {
#if TAGMAP_KNN_X86_KERNELS
        if (avx2_) return dot4_avx2(a, b[0], b[1], b[2], b[3], dims_, out);
#endif
        for (int t = 0; t < 4; ++t) out[t] = dot_portable(a, b[t], dims_);
    }

    /// True when the AVX2 kernels run (then gram() beats Eigen's SSE GEMM).
    bool vectorised() const {
        return avx2_;
    }

    /// out(r, c) = dot(A.row(r), B.row(c)) for row-major A (a_rows x dims, stride lda) and B
    /// (b_rows x dims, stride ldb) into row-major out (stride ldo). Tiles of 4 B rows stay in
    /// L1 while pairs of A rows stream past them.
    void gram(const float* A, std::size_t a_rows, std::size_t lda, const float* B,
              std::size_t b_rows, std::size_t ldb, float* out, std::size_t ldo) const {
        std::size_t c = 0;
        for (; c + 4 <= b_rows; c += 4) {
            const float* b[4] = {B + c * ldb, B + (c + 1) * ldb, B + (c + 2) * ldb,
                                 B + (c + 3) * ldb};
            std::size_t r = 0;
#if TAGMAP_KNN_X86_KERNELS
            if (avx2_) {
                float tile[8];
                for (; r + 2 <= a_rows; r += 2) {
                    dot2x4_avx2(A + r * lda, A + (r + 1) * lda, b, dims_, tile);
                    for (int t = 0; t < 4; ++t) {
                        out[r * ldo + c + t] = tile[t];
                        out[(r + 1) * ldo + c + t] = tile[4 + t];
                    }
                }
            }
#endif
            for (; r < a_rows; ++r) four(A + r * lda, b, out + r * ldo + c);
        }
        for (; c < b_rows; ++c)
            for (std::size_t r = 0; r < a_rows; ++r)
                out[r * ldo + c] = (*this)(A + r * lda, B + c * ldb);
    }

    /// ||a - b||^2, accurate for near pairs (no cancellation).
    float squared_distance(const float* a, const float* b) const {
#if TAGMAP_KNN_X86_KERNELS
        if (avx2_) return squared_distance_avx2(a, b, dims_);
#endif
        return squared_distance_portable(a, b, dims_);
    }

    std::size_t dims() const {
        return dims_;
    }

  private:
    std::size_t dims_;
    bool avx2_ = false;
};

}  // namespace tagmap::project::knn_detail
