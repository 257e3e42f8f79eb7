// The CREPE tiny network on CREPE's own normalised frames against the activations that
// the original CREPE computed for them (shared/crepe, torchcrepe's test pair).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "fixtures.hpp"
#include "npy.hpp"
#include "tagmap/models/crepe.hpp"

namespace {
using namespace tagmap;

TEST(CrepeNetwork, TinyOnCrepeFramesMatchesCrepeActivations) {
    const auto dir = test::fixtures_dir() / "crepe";
    const auto frames = test::read_npy(dir / "frames-crepe.npy");
    const auto expected = test::read_npy(dir / "activation-tiny.npy");
    ASSERT_EQ(frames.cols(), 1024u);
    ASSERT_EQ(expected.rows(), frames.rows());
    ASSERT_EQ(expected.cols(), 360u);

    models::CrepeTiny crepe;
    crepe.bind(weights::WeightFile::load(test::fixtures_dir() / "weights/crepe-tiny.pth"));
    std::vector<float> out(frames.rows() * 360);
    crepe.activations(frames.values, frames.rows(), out);
    double max_abs = 0.0, sum_abs = 0.0;
    for (std::size_t i = 0; i < out.size(); ++i) {
        const double d = std::abs(double(out[i]) - expected.values[i]);
        max_abs = std::max(max_abs, d);
        sum_abs += d;
    }
    std::printf("max abs %.3g, mean abs %.3g over %zu frames\n", max_abs,
                sum_abs / double(out.size()), frames.rows());
    EXPECT_LT(max_abs, 1e-5);
    EXPECT_LT(sum_abs / double(out.size()), 1e-7);
}
}  // namespace
