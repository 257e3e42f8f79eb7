// run_vectorized: the callable runs exactly once, in the copy for the CPU's best ISA, with
// the result of a plain call. This file is compiled as a portable build compiles it (no
// -march flag), so that the run-time choice is what runs here.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <numeric>
#include <vector>

#include "tagmap/core/isa_dispatch.hpp"

namespace {

using tagmap::VectorIsa;

std::vector<float> ramp(std::size_t n, float scale) {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = scale * float((i * 37) % 101) - 50.0f;
    return v;
}

// Exact in every ISA: a running maximum and an integer sum (no rounding to differ).
template <class Run>
std::pair<std::vector<float>, long> max_and_sum(Run run) {
    std::vector<float> a = ramp(1000, 1.0f), b = ramp(1000, -0.5f);
    long sum = 0;
    run([&] {
        for (std::size_t i = 0; i < a.size(); ++i) a[i] = std::max(a[i], b[i]);
        for (std::size_t i = 0; i < a.size(); ++i) sum += long(a[i]);
    });
    return {a, sum};
}

TEST(IsaDispatch, ReportsWhatTheCpuRuns) {
    const VectorIsa isa = tagmap::cpu_vector_isa();
    EXPECT_EQ(isa, tagmap::cpu_vector_isa()) << "chosen once";
#if defined(__x86_64__)
    const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    EXPECT_EQ(isa, avx512 ? VectorIsa::avx512 : avx2 ? VectorIsa::avx2_fma : VectorIsa::baseline);
#endif
}

TEST(IsaDispatch, RunsTheCallableOnceWithThePlainResult) {
    int calls = 0;
    tagmap::run_vectorized([&] { ++calls; });
    EXPECT_EQ(calls, 1);
    const auto plain = max_and_sum([](auto&& f) { f(); });
    const auto dispatched = max_and_sum([](auto&& f) { tagmap::run_vectorized(f); });
    EXPECT_EQ(plain.first, dispatched.first);
    EXPECT_EQ(plain.second, dispatched.second);
}

TEST(IsaDispatch, PassesTheIsaOfTheCopyThatRuns) {
    std::vector<VectorIsa> seen;
    tagmap::run_vectorized([&](auto isa) { seen.push_back(decltype(isa)::value); });
    ASSERT_EQ(seen.size(), 1u);
    // This file is compiled for baseline x86-64, so the copy is the CPU's best ISA.
    EXPECT_EQ(seen[0], tagmap::cpu_vector_isa());
    static_assert(tagmap::vector_floats(VectorIsa::avx512) == 16);
    static_assert(tagmap::vector_floats(VectorIsa::avx2_fma) == 8);
    static_assert(tagmap::vector_floats(VectorIsa::baseline) == 4);
}

TEST(IsaDispatch, EveryCopyTheCpuRunsGivesThePlainResult) {
#ifndef TAGMAP_ISA_DISPATCH
    GTEST_SKIP() << "this build targets AVX-512: run_vectorized calls the callable directly";
#else
    const auto plain = max_and_sum([](auto&& f) { f(); });
    const VectorIsa isa = tagmap::cpu_vector_isa();
    if (isa >= VectorIsa::avx2_fma) {
        const auto r = max_and_sum([](auto&& f) { tagmap::isa_detail::run_avx2_fma(f); });
        EXPECT_EQ(r, plain) << "AVX2 copy";
    }
    if (isa >= VectorIsa::avx512) {
        const auto r = max_and_sum([](auto&& f) { tagmap::isa_detail::run_avx512(f); });
        EXPECT_EQ(r, plain) << "AVX-512 copy";
    }
    if (isa == VectorIsa::baseline) GTEST_SKIP() << "CPU without AVX2+FMA: only the plain copy";
#endif
}

}  // namespace
