// Capacities other than tiny, on seeded weights rebuilt from the fixture script's
// formula: the same template gives PyTorch's network of that width.
#include <gtest/gtest.h>

#include "capacity_check.hpp"
#include "crepe_fixtures.hpp"
#include "tagmap/models/crepe.hpp"

namespace {
using namespace tagmap;

TEST(CrepeCapacity, SmallOnSeededWeights) {
    test::check_capacity<models::crepe::small, 4>("seeded-small");
}

TEST(CrepeCapacity, WeightsOfAnotherCapacityAreRefusedByName) {
    const auto w = test::seeded_crepe(models::crepe::small);
    const auto problems = models::CrepeTiny::check_weights(w);
    ASSERT_FALSE(problems.empty());
    bool names_conv1 = false;
    for (const auto& p : problems) names_conv1 |= p.find("conv1.weight") != std::string::npos;
    EXPECT_TRUE(names_conv1);
    models::CrepeTiny tiny;
    EXPECT_THROW(tiny.bind(w), BindError);
    EXPECT_FALSE(tiny.bound());
}
}  // namespace
