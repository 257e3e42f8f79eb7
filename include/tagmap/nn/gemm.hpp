// The one matrix-multiply kernel every parameterised layer uses:
// C (M x N) += A (M x K) * B (K x N), all row-major and contiguous.
// Backend: Eigen's blocked GEMM by default, OpenBLAS cblas_sgemm when the build
// defines TAGMAP_WITH_OPENBLAS. The Eigen path is given its packing buffers from the
// caller's arena, because Eigen would otherwise malloc them on every call.
#pragma once

#include <algorithm>
#include <cstddef>

#if defined(TAGMAP_WITH_OPENBLAS) && TAGMAP_WITH_OPENBLAS
#include <cblas.h>
#else
#include <Eigen/Core>
#endif

namespace tagmap::nn::gemm {

// Caps on Eigen's cache blocking so that the packing buffers have a compile-time bound.
inline constexpr std::size_t max_kc = 512;
inline constexpr std::size_t max_mc = 1024;
inline constexpr std::size_t max_nc = 1024;

constexpr std::size_t round16(std::size_t n) {
    return (n + 15) / 16 * 16;
}

/// Scratch floats multiply_add needs for these extents (0 with OpenBLAS).
constexpr std::size_t work_floats(std::size_t M, std::size_t N, std::size_t K) {
#if defined(TAGMAP_WITH_OPENBLAS) && TAGMAP_WITH_OPENBLAS
    (void)M, (void)N, (void)K;
    return 0;
#else
    // Eigen computes a row-major product as the transposed column-major one: its "A"
    // panel is packed from B (N side) and its "B" panel from A (M side).
    const std::size_t kc = std::min(K, max_kc);
    return round16(kc * std::min(N, max_mc)) + round16(kc * std::min(M, max_nc));
#endif
}

inline constexpr const char* backend_name =
#if defined(TAGMAP_WITH_OPENBLAS) && TAGMAP_WITH_OPENBLAS
    "openblas";
#else
    "eigen";
#endif

#if !(defined(TAGMAP_WITH_OPENBLAS) && TAGMAP_WITH_OPENBLAS)
namespace detail {
class ArenaBlocking : public Eigen::internal::level3_blocking<float, float> {
  public:
    ArenaBlocking(float* a, float* b, Eigen::Index kc, Eigen::Index mc, Eigen::Index nc) {
        this->m_blockA = a;
        this->m_blockB = b;
        this->m_kc = kc;
        this->m_mc = mc;
        this->m_nc = nc;
    }
};
}  // namespace detail
#endif

/// C += A * B, A's rows `lda` floats apart (a block of columns of a wider matrix).
/// `work` must hold work_floats(M, N, K) floats, 64-byte aligned.
inline void multiply_add(std::size_t M, std::size_t N, std::size_t K, const float* A,
                         std::size_t lda, const float* B, float* C, float* work) {
#if defined(TAGMAP_WITH_OPENBLAS) && TAGMAP_WITH_OPENBLAS
    (void)work;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(M), static_cast<int>(N),
                static_cast<int>(K), 1.0f, A, static_cast<int>(lda), B, static_cast<int>(N), 1.0f,
                C, static_cast<int>(N));
#else
    using Index = Eigen::Index;
    Index kc = static_cast<Index>(K), mc = static_cast<Index>(N), nc = static_cast<Index>(M);
    Eigen::internal::computeProductBlockingSizes<float, float, 1>(kc, mc, nc, Index{1});
    kc = std::min<Index>({kc, static_cast<Index>(max_kc), static_cast<Index>(K)});
    mc = std::min<Index>({mc, static_cast<Index>(max_mc), static_cast<Index>(N)});
    nc = std::min<Index>({nc, static_cast<Index>(max_nc), static_cast<Index>(M)});
    const std::size_t kcap = std::min(K, max_kc);
    float* block_a = work;
    float* block_b = work + round16(kcap * std::min(N, max_mc));
    detail::ArenaBlocking blocking(block_a, block_b, kc, mc, nc);
    Eigen::internal::general_matrix_matrix_product<
        Index, float, Eigen::RowMajor, false, float, Eigen::RowMajor, false, Eigen::RowMajor,
        1>::run(static_cast<Index>(M), static_cast<Index>(N), static_cast<Index>(K), A,
                static_cast<Index>(lda), B, static_cast<Index>(N), C, 1, static_cast<Index>(N),
                1.0f, blocking, nullptr);
#endif
}

/// C += A * B. `work` must hold work_floats(M, N, K) floats, 64-byte aligned.
inline void multiply_add(std::size_t M, std::size_t N, std::size_t K, const float* A,
                         const float* B, float* C, float* work) {
    multiply_add(M, N, K, A, K, B, C, work);
}

/// Threads the backend may use inside one call. Eigen's kernel here is always
/// single-threaded; OpenBLAS by default spreads each call over every core, which
/// oversubscribes a program that already runs one model per core (as `tagmap embed
/// --jobs` does): such a program calls this with 1 once at start-up. Process-wide.
inline void set_backend_threads(int n) {
#if defined(TAGMAP_WITH_OPENBLAS) && TAGMAP_WITH_OPENBLAS
    openblas_set_num_threads(n);
#else
    (void)n;
#endif
}

/// y (M) += A (M x K, row-major) * x (K).
inline void matvec_add(std::size_t M, std::size_t K, const float* A, const float* x, float* y) {
#if defined(TAGMAP_WITH_OPENBLAS) && TAGMAP_WITH_OPENBLAS
    cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(M), static_cast<int>(K), 1.0f, A,
                static_cast<int>(K), x, 1, 1.0f, y, 1);
#else
    using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    Eigen::Map<const Matrix> a(A, static_cast<Eigen::Index>(M), static_cast<Eigen::Index>(K));
    Eigen::Map<const Eigen::VectorXf> vx(x, static_cast<Eigen::Index>(K));
    Eigen::Map<Eigen::VectorXf> vy(y, static_cast<Eigen::Index>(M));
    vy.noalias() += a * vx;
#endif
}

}  // namespace tagmap::nn::gemm
