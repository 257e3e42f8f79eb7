// Each of the 8 networks, converted from madmom's own pickles, on madmom's features of
// test.wav against madmom's per-network outputs; the ensemble mean against test.beats.
#include <gtest/gtest.h>

#include "madmom_test_util.hpp"
#include "tagmap/models/madmom_beats.hpp"

namespace {

using namespace tagmap;

TEST(MadmomNets, EachNetworkAndTheMeanMatchMadmom) {
    TAGMAP_REQUIRE_MADMOM();
    const auto w = test::madmom_ensemble_weights();
    EXPECT_TRUE(models::MadmomBeats::check_weights(w).empty());
    models::MadmomBeats model;
    model.bind(w);
    const auto feats = test::read_npy<float>(test::madmom_dir() / "test.features.npy");
    const std::size_t T = feats.shape[0];
    std::vector<float> one(T);
    for (std::size_t i = 0; i < 8; ++i) {
        model.run_net(i, feats.values, T, one);
        const auto ref = test::read_npy<float>(test::madmom_dir() /
                                               ("test.net" + std::to_string(i + 1) + ".npy"));
        EXPECT_LT(test::max_abs_diff(one, ref.values), 1e-5) << "network " << i + 1;
    }
    const auto mean = model.run_features(feats.values, T);
    const auto ref = test::read_npy<float>(test::madmom_dir() / "test.beats.npy");
    EXPECT_LT(test::max_abs_diff(mean, ref.values), 1e-5);
    // The activation has beats in it: a wide range, not a constant.
    EXPECT_GT(*std::max_element(ref.values.begin(), ref.values.end()), 0.3f);
}

TEST(MadmomNets, BindRefusesAPartialEnsemble) {
    TAGMAP_REQUIRE_MADMOM();
    auto pickles = test::madmom_pickles();
    pickles.pop_back();  // 7 networks
    const auto w = weights::WeightFile::from_bytes(
        weights::encode_tmw(weights::read_madmom_ensemble(pickles)));
    const auto problems = models::MadmomBeats::check_weights(w);
    ASSERT_FALSE(problems.empty());
    EXPECT_NE(problems.front().find("missing tensor 'nets.7."), std::string::npos)
        << problems.front();
    models::MadmomBeats model;
    EXPECT_THROW(model.bind(w), BindError);
    EXPECT_FALSE(model.bound());
    EXPECT_THROW((void)model.run(std::vector<float>(441, 0.0f)), InvalidArgument);
}

}  // namespace
