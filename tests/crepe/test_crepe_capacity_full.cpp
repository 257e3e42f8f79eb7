// The full capacity (32: 22M weights, about 1.3 GFLOP a frame) on seeded weights.
#include <gtest/gtest.h>

#include "capacity_check.hpp"

namespace {
using namespace tagmap;

TEST(CrepeCapacityFull, FullOnSeededWeights) {
    test::check_capacity<models::crepe::full, 1>("seeded-full");
}
}  // namespace
