// fast_pow (UMAP's SGD) against double-precision std::pow: relative error over the whole
// float range for the exponents UMAP uses (b of min_dist 0.001..0.99), clamping of inputs
// outside the normal positive floats, and equality of the vectorised and scalar paths.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tagmap/project/umap/fast_pow.hpp"

namespace tp = tagmap::project;

TEST(FastPow, RelativeErrorSmallAcrossTheFloatRange) {
    // Below 4e-6 while the result is within 2^+-16 (UMAP's squared distances); beyond, the
    // float product y log2 x itself loses digits (an ulp of 100 is 8e-6), so 1e-5.
    for (const float y : {0.5f, 0.79f, 0.8950609f, 1.0f, 1.5f, 1.93f, -1.0f}) {
        double worst_near = 0, worst_far = 0;
        for (double log10_x = -37; log10_x <= 38; log10_x += 0.0137) {
            const auto x = static_cast<float>(std::pow(10.0, log10_x));
            const double exact = std::pow(double(x), double(y));
            if (exact < 0x1p-125 || exact > 0x1p127) continue;  // saturates beyond
            const double rel = std::abs(double(tp::fast_pow(x, y)) - exact) / exact;
            (std::abs(std::log2(exact)) <= 16 ? worst_near : worst_far) =
                std::max(rel, std::abs(std::log2(exact)) <= 16 ? worst_near : worst_far);
        }
        EXPECT_LT(worst_near, 4e-6) << "y = " << y;
        EXPECT_LT(worst_far, 1e-5) << "y = " << y;
    }
    EXPECT_NEAR(tp::fast_pow(1.0f, 0.9f), 1.0f, 2e-6f);
    EXPECT_NEAR(tp::fast_pow(4.0f, 0.5f), 2.0f, 4e-6f);
}

TEST(FastPow, InputsOutsideTheNormalFloatsAreClampedNotNaN) {
    // x <= 0 behaves as the smallest normal float: tiny for y > 0, never NaN or inf
    for (const float x : {0.0f, -0.0f, -3.0f, 1e-45f}) {
        const float r = tp::fast_pow(x, 0.9f);
        EXPECT_TRUE(std::isfinite(r)) << x;
        EXPECT_LT(r, 1e-30f) << x;
        EXPECT_GE(r, 0.0f) << x;
    }
    EXPECT_TRUE(std::isfinite(tp::fast_pow(INFINITY, 0.9f)));
    // results beyond the float range saturate instead of overflowing
    EXPECT_TRUE(std::isfinite(tp::fast_pow(1e30f, 2.0f)));
    EXPECT_GT(tp::fast_pow(1e30f, 2.0f), 1e38f);
}

TEST(FastPow, LoopOfValuesEqualsOneByOne) {
    // the SGD evaluates batches of eight in a loop the compiler vectorises; each element must
    // be what a scalar call gives, so results do not depend on the batch a value falls in
    std::vector<float> x(1003), batch(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = 1e-3f + 0.37f * float(i);
    for (std::size_t i = 0; i < x.size(); ++i) batch[i] = tp::fast_pow(x[i], 0.8950609f);
    for (std::size_t i = 0; i < x.size(); i += 97) {
        volatile float xi = x[i];  // defeats constant folding and vectorisation
        EXPECT_EQ(batch[i], tp::fast_pow(xi, 0.8950609f)) << i;
    }
}
