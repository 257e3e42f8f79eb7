// Plain C++ loops compiled for the best vector ISA the CPU has, chosen at run time.
//
// A build for baseline x86-64 (no -march flag) vectorises with SSE2 only. `run_vectorized`
// inlines its callable into copies compiled for AVX2+FMA and for AVX-512 and calls the
// best one the CPU supports (checked once per process). A build that already targets
// AVX-512 calls the callable directly. Meant for the loops around a GEMM that the compiler
// vectorises by itself (complex products, maxima, transposes), not for code that calls
// other large functions: everything the callable calls is inlined into each copy.
#pragma once

#include <cstddef>
#include <type_traits>

namespace tagmap {

/// The widest vector instruction set this CPU runs that `run_vectorized` compiles for.
enum class VectorIsa { baseline, avx2_fma, avx512 };

inline VectorIsa cpu_vector_isa() {
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
    static const VectorIsa isa = [] {
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
            return VectorIsa::avx512;
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
            return VectorIsa::avx2_fma;
        return VectorIsa::baseline;
    }();
    return isa;
#else
    return VectorIsa::baseline;
#endif
}

/// Floats in one vector register of `isa`.
constexpr std::size_t vector_floats(VectorIsa isa) {
    return isa == VectorIsa::avx512 ? 16 : isa == VectorIsa::avx2_fma ? 8 : 4;
}

/// The ISA this translation unit is compiled for (its -m flags), which a plain call runs.
inline constexpr VectorIsa compiled_vector_isa =
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512DQ__) && defined(__AVX512VL__)
    VectorIsa::avx512;
#elif defined(__AVX2__) && defined(__FMA__)
    VectorIsa::avx2_fma;
#else
    VectorIsa::baseline;
#endif

/// What `run_vectorized` passes a callable that takes it: the ISA its copy is compiled for.
template <VectorIsa Isa>
using VectorIsaTag = std::integral_constant<VectorIsa, Isa>;

namespace isa_detail {
template <VectorIsa Isa, class F>
[[gnu::always_inline]] inline void invoke(F& f) {
    if constexpr (std::is_invocable_v<F&, VectorIsaTag<Isa>>)
        f(VectorIsaTag<Isa>{});
    else
        f();
}
}  // namespace isa_detail

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) && !defined(__AVX512F__)
#define TAGMAP_ISA_DISPATCH 1
namespace isa_detail {
template <class F>
[[gnu::target("avx2,fma"), gnu::flatten]] void run_avx2_fma(F& f) {
    invoke<VectorIsa::avx2_fma>(f);
}
template <class F>
[[gnu::target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma"), gnu::flatten]] void run_avx512(F& f) {
    invoke<VectorIsa::avx512>(f);
}
}  // namespace isa_detail
#endif

/// Calls `f()`, compiled for the CPU's best `VectorIsa` when the build targets less, or
/// `f(VectorIsaTag<isa>{})` if `f` takes the ISA its copy is compiled for (to pick vector
/// widths: a wider GCC vector than the ISA's is lowered through the stack).
/// The copies may differ from a plain call only where the compiler contracts a multiply
/// and an add into one FMA (GCC's default); nothing is reassociated.
template <class F>
void run_vectorized(F&& f) {
#ifdef TAGMAP_ISA_DISPATCH
    switch (cpu_vector_isa()) {
        case VectorIsa::avx512:
            isa_detail::run_avx512(f);
            return;
#ifndef __AVX2__
        case VectorIsa::avx2_fma:
            isa_detail::run_avx2_fma(f);
            return;
#endif
        default:
            break;
    }
#endif
    isa_detail::invoke<compiled_vector_isa>(f);
}

}  // namespace tagmap
