// The whole CREPE tiny path from 16 kHz samples (framing, per-frame normalisation,
// network, decoding with and without Viterbi) against the PyTorch/numpy reference of
// tools/make_crepe_fixtures.py, on a shared clip and a synthetic chirp.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "compare.hpp"
#include "crepe_fixtures.hpp"
#include "tagmap/models/crepe.hpp"
#include "tagmap/models/sequence_model.hpp"

namespace {
using namespace tagmap;

class CrepePipeline : public ::testing::TestWithParam<const char*> {
  protected:
    static void SetUpTestSuite() {
        crepe_ = new models::CrepeTiny;
        crepe_->bind(weights::WeightFile::load(test::fixtures_dir() / "weights/crepe-tiny.pth"));
    }
    static void TearDownTestSuite() { delete crepe_; }
    static models::CrepeTiny* crepe_;
};
models::CrepeTiny* CrepePipeline::crepe_ = nullptr;

TEST_P(CrepePipeline, MatchesReference) {
    const auto fx = test::crepe_fixture(GetParam());
    const auto samples = test::crepe_samples(fx);
    const auto act = crepe_->activations(samples);
    const auto frames = fx.at("frames").get<std::size_t>();
    ASSERT_EQ(act.size(), frames * 360);
    ASSERT_EQ(models::crepe::frame_count(samples.size()), frames);

    const auto ref_act = test::crepe_array(fx, "activations");
    const double act_err = test::max_abs_subset(act, ref_act, fx.at("stride"));
    EXPECT_LT(act_err, 1e-5);

    const auto ref_pitch = test::crepe_array(fx, "pitch");
    ASSERT_EQ(ref_pitch.rows(), frames);
    const auto viterbi = models::crepe::decode(act, frames, true);
    const auto local = models::crepe::decode(act, frames, false);
    const double viterbi_err = test::max_cents(viterbi, ref_pitch, 0);
    const double local_err = test::max_cents(local, ref_pitch, 1);
    std::printf("%s: activations max abs %.3g, pitch max %.3g cents (Viterbi), %.3g (argmax)\n",
                GetParam(), act_err, viterbi_err, local_err);
    EXPECT_LT(viterbi_err, 1.0);
    EXPECT_LT(local_err, 1.0);
    EXPECT_LT(test::max_confidence_diff(viterbi, ref_pitch), 1e-5);
    // The two decodings differ somewhere, so both comparisons above mean something.
    std::size_t moved = 0;
    for (std::size_t t = 0; t < frames; ++t)
        moved += std::abs(std::log2(viterbi[2 * t] / local[2 * t])) * 1200.0 > 1.0;
    std::printf("%s: %zu of %zu frames moved by Viterbi\n", GetParam(), moved, frames);
    EXPECT_GT(moved, 0u);
}

TEST(CrepeSequence, RunsTheSamePath) {
    const auto fx = test::crepe_fixture("chirp");
    const auto samples = test::crepe_samples(fx);
    auto model = models::make_sequence_model(
        "crepe-tiny", weights::WeightFile::load(test::fixtures_dir() / "weights/crepe-tiny.pth"));
    const auto rows = model->run(samples);
    models::CrepeTiny crepe;
    crepe.bind(weights::WeightFile::load(test::fixtures_dir() / "weights/crepe-tiny.pth"));
    const auto act = crepe.activations(samples);
    EXPECT_EQ(rows, models::crepe::decode(act, act.size() / 360, true));
}

// begin / push / finish in uneven blocks gives run()'s rows bit for bit, through the
// run-time interface too.
TEST(CrepeSequence, StreamsTheSameRows) {
    const auto fx = test::crepe_fixture("pirate");
    const auto samples = test::crepe_samples(fx);
    const auto w = weights::WeightFile::load(test::fixtures_dir() / "weights/crepe-tiny.pth");
    models::CrepeTinyPitch pitch;
    pitch.bind(w);
    const auto whole = pitch.run(samples);
    const auto any = models::make_sequence_model("crepe-tiny", w);
    for (const std::size_t block : {std::size_t(1000), std::size_t(16384), std::size_t(70001)}) {
        any->begin();
        for (std::size_t i = 0; i < samples.size(); i += block)
            any->push(
                std::span<const float>(samples).subspan(i, std::min(block, samples.size() - i)));
        const auto rows = any->finish();
        ASSERT_EQ(rows.size(), whole.size()) << block;
        EXPECT_EQ(0, std::memcmp(rows.data(), whole.data(), rows.size() * sizeof(float))) << block;
    }
    // Short signals: none, shorter than half a frame, one hop.
    for (const std::size_t n : {std::size_t(0), std::size_t(300), std::size_t(160)}) {
        const std::span<const float> part(samples.data(), n);
        any->begin();
        any->push(part);
        const auto rows = any->finish();
        const auto ref = pitch.run(part);
        ASSERT_EQ(rows.size(), ref.size()) << n;
        EXPECT_EQ(0, std::memcmp(rows.data(), ref.data(), rows.size() * sizeof(float))) << n;
    }
    std::vector<float> bad(2000, 0.1f);
    bad[1500] = std::nanf("");
    any->begin();
    EXPECT_THROW(any->push(bad), tagmap::AudioError);
}

INSTANTIATE_TEST_SUITE_P(Clips, CrepePipeline, ::testing::Values("pirate", "chirp"));

TEST(CrepeChirp, FollowsTheSweep) {
    // Independent of the reference: the chirp's instantaneous frequency is known.
    const auto fx = test::crepe_fixture("chirp");
    const auto samples = test::crepe_samples(fx);
    models::CrepeTinyPitch pitch;
    pitch.bind(weights::WeightFile::load(test::fixtures_dir() / "weights/crepe-tiny.pth"));
    const auto rows = pitch.run(samples);
    std::size_t close = 0, counted = 0;
    for (std::size_t t = 10; t + 10 < rows.size() / 2; ++t) {  // away from the edges
        const double time = double(t) * 0.01;
        const double f = 110.0 + (880.0 - 110.0) * time / 2.0;
        close += std::abs(1200.0 * std::log2(rows[2 * t] / f)) < 50.0;
        ++counted;
    }
    EXPECT_GT(double(close) / double(counted), 0.9);
}
}  // namespace
