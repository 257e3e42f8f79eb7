// Run-time CPU feature checks for kernels compiled with a target attribute, so that they
// exist in a portable (baseline x86-64) build and are only called where the CPU has them.
// Each check runs once per process and caches its answer.
#pragma once

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#include <cpuid.h>
#endif
#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace tagmap {

/// True when the CPU executes AVX-512 F/BW/VL and AVX512_BF16 (vdpbf16ps, vcvtne2ps2bf16).
inline bool cpu_has_avx512_bf16() {
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    static const bool has =
        __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16");
    return has;
#else
    return false;
#endif
}

/// True when this process may execute AMX-TILE and AMX-BF16 (tdpbf16ps) besides AVX512_BF16:
/// the cpuid bits, and Linux granted the tile data state (arch_prctl ARCH_REQ_XCOMP_PERM,
/// asked on the first call; the grant is per process). Tile configuration stays per thread
/// (nn/amx.hpp's TileScope).
inline bool cpu_has_amx_bf16() {
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) && defined(__linux__)
    static const bool has = [] {
        unsigned a = 0, b = 0, c = 0, d = 0;
        if (!cpu_has_avx512_bf16() || !__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
        constexpr unsigned amx_bf16 = 1u << 22, amx_tile = 1u << 24;  // leaf 7 EDX
        if ((d & amx_bf16) == 0 || (d & amx_tile) == 0) return false;
        constexpr long request_permission = 0x1023;  // ARCH_REQ_XCOMP_PERM
        constexpr long tile_data = 18;               // XFEATURE_XTILEDATA
        return syscall(SYS_arch_prctl, request_permission, tile_data) == 0;
    }();
    return has;
#else
    return false;
#endif
}

}  // namespace tagmap
