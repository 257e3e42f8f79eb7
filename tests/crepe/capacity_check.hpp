// Runs a CREPE capacity on the fixture script's seeded weights against its reference.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "compare.hpp"
#include "crepe_fixtures.hpp"
#include "tagmap/models/crepe.hpp"

namespace tagmap::test {

template <std::size_t Capacity, std::size_t Batch>
void check_capacity(const char* name) {
    const auto fx = crepe_fixture(name);
    ASSERT_EQ(fx.at("capacity").get<std::size_t>(), Capacity);
    std::size_t numel = 0;
    const auto w = seeded_crepe(Capacity, &numel);
    EXPECT_EQ(numel, fx.at("state_numel").get<std::size_t>());
    auto crepe = std::make_unique<models::Crepe<Capacity, Batch>>();
    EXPECT_TRUE(crepe->check_weights(w).empty());
    crepe->bind(w);
    const auto samples = crepe_samples(fx);
    const auto act = crepe->activations(samples);
    const auto frames = fx.at("frames").get<std::size_t>();
    ASSERT_EQ(act.size(), frames * 360);
    EXPECT_LT(max_abs_subset(act, crepe_array(fx, "activations"), 1), 1e-5);
    const auto ref_pitch = crepe_array(fx, "pitch");
    EXPECT_LT(max_cents(models::crepe::decode(act, frames, true), ref_pitch, 0), 1.0);
    EXPECT_LT(max_cents(models::crepe::decode(act, frames, false), ref_pitch, 1), 1.0);
}

}  // namespace tagmap::test
