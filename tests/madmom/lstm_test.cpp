// nn::Lstm / nn::Bidirectional / nn::TimeDense over a run-time number of steps, against
// numpy with madmom's gate layout (tools/make_madmom_fixtures.py: seeded weights in a
// hand-made madmom pickle, outputs for T = 11 and T = 3), and their binding messages.
#include <gtest/gtest.h>

#include "madmom_test_util.hpp"
#include "tagmap/models/tagging_model.hpp"
#include "tagmap/nn/bidirectional.hpp"
#include "tagmap/nn/lstm.hpp"
#include "tagmap/nn/time_dense.hpp"

namespace {

using namespace tagmap;

struct TinyNet {
    nn::Bidirectional<"layers.0", nn::Lstm<"fwd_layer", 6, 4>, nn::Lstm<"bwd_layer", 6, 4>> blstm;
    nn::TimeDense<"layers.1", 8, 2, nn::Activation::sigmoid> dense;
    static constexpr std::size_t param_floats =
        decltype(blstm)::param_floats + decltype(dense)::param_floats;
};

weights::WeightFile tiny_weights(const std::string& prefix = "") {
    return weights::WeightFile::from_bytes(weights::encode_tmw(
        weights::read_madmom_pickle(test::madmom_data() / "tiny_blstm.pkl", prefix)));
}

class TinyLstm : public ::testing::TestWithParam<std::size_t> {};

TEST_P(TinyLstm, MatchesNumpyForRunTimeLength) {
    const std::size_t T = GetParam();
    const auto w = tiny_weights();
    std::vector<float> store(TinyNet::param_floats);
    nn::ParamBinder binder(models::tensor_views(w), store);
    TinyNet net;
    net.blstm.bind(binder, "");
    net.dense.bind(binder, "");
    ASSERT_TRUE(binder.problems().empty()) << binder.problems().front();

    const auto x = test::read_npy<float>(test::madmom_data() / "tiny_blstm.input.npy");
    const auto ref0 = test::read_npy<float>(test::madmom_data() /
                                            ("tiny_blstm.t" + std::to_string(T) + ".layer0.npy"));
    const auto ref = test::read_npy<float>(test::madmom_data() /
                                           ("tiny_blstm.t" + std::to_string(T) + ".output.npy"));
    ASSERT_EQ(ref0.shape, (std::vector<std::size_t>{T, 8}));
    std::vector<float> work(decltype(net.blstm)::work_floats(T));
    std::vector<float> h(T * 8, -7.0f), y(T * 2, -7.0f);
    net.blstm.forward(x.values.data(), T, h.data(), work.data());
    net.dense.forward(h.data(), T, y.data());
    EXPECT_LT(test::max_abs_diff(h, ref0.values), 1e-6);
    EXPECT_LT(test::max_abs_diff(y, ref.values), 1e-6);
}

INSTANTIATE_TEST_SUITE_P(Steps, TinyLstm, ::testing::Values(std::size_t(11), std::size_t(3)));

TEST(TinyLstm, ForwardHalfIsCausalBackwardHalfIsNot) {
    const auto w = tiny_weights();
    std::vector<float> store(TinyNet::param_floats);
    nn::ParamBinder binder(models::tensor_views(w), store);
    TinyNet net;
    net.blstm.bind(binder, "");
    const auto x = test::read_npy<float>(test::madmom_data() / "tiny_blstm.input.npy");
    std::vector<float> work(decltype(net.blstm)::work_floats(11));
    std::vector<float> h11(11 * 8), h3(3 * 8);
    net.blstm.forward(x.values.data(), 11, h11.data(), work.data());
    net.blstm.forward(x.values.data(), 3, h3.data(), work.data());
    for (std::size_t t = 0; t < 3; ++t)
        for (std::size_t j = 0; j < 4; ++j) {
            EXPECT_EQ(h11[t * 8 + j], h3[t * 8 + j]);  // forward: the same prefix
        }
    EXPECT_NE(h11[2 * 8 + 4], h3[2 * 8 + 4]);  // backward saw the future
}

TEST(TinyLstm, BindingReportsEveryProblem) {
    const auto w = tiny_weights("nets.0");
    using Wrong =
        nn::Bidirectional<"layers.0", nn::Lstm<"fwd_layer", 7, 4>, nn::Lstm<"bwd_layer", 7, 4>>;
    std::vector<float> store(Wrong::param_floats);
    nn::ParamBinder binder(models::tensor_views(w), store);
    Wrong wrong;
    wrong.bind(binder, "nets.0");
    const auto problems = binder.problems();
    std::string all;
    for (const auto& p : problems) all += p + "\n";
    // 4 mis-shaped input weights per direction, and the dense layer nobody bound.
    EXPECT_NE(all.find("tensor 'nets.0.layers.0.fwd_layer.input_gate.weights' has shape [6, 4], "
                       "the model expects [7, 4]"),
              std::string::npos)
        << all;
    EXPECT_NE(all.find("unexpected tensor 'nets.0.layers.1.weights'"), std::string::npos) << all;
    EXPECT_EQ(problems.size(), 8u + 2u) << all;
}

}  // namespace
