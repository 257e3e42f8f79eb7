// CREPE's framing, normalisation and decoding on inputs whose answers are known, and
// the sequence-model registry.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <numeric>

#include "crepe_fixtures.hpp"
#include "tagmap/models/crepe.hpp"
#include "tagmap/models/crepe_decode.hpp"
#include "tagmap/models/sequence_model.hpp"

namespace {
using namespace tagmap::models;

TEST(CrepeFraming, CountsAsCrepe) {
    EXPECT_EQ(crepe::frame_count(160000), 1001u);  // 10 s -> 1001 frames, centred
    EXPECT_EQ(crepe::frame_count(0), 1u);
    EXPECT_EQ(crepe::frame_count(159), 1u);
    EXPECT_EQ(crepe::frame_count(160), 2u);
    EXPECT_EQ(crepe::frame_count(1023, false), 0u);
    EXPECT_EQ(crepe::frame_count(1024, false), 1u);
    EXPECT_EQ(crepe::frame_count(1024 + 159, false), 1u);
    EXPECT_EQ(crepe::frame_count(1024 + 160, false), 2u);
}

TEST(CrepeFraming, EachFrameIsNormalisedOnItsOwn) {
    std::vector<float> x(4000);
    for (std::size_t i = 0; i < x.size(); ++i)
        x[i] = float(0.3 * std::sin(0.01 * double(i * i % 977)) + 0.001 * double(i));
    std::array<float, 1024> f{};
    for (std::size_t index : {0u, 3u, 10u, 24u}) {
        crepe::normalized_frame(x, index, true, f);
        const double mean = std::accumulate(f.begin(), f.end(), 0.0) / 1024.0;
        double var = 0.0;
        for (float v : f) var += (v - mean) * (v - mean);
        EXPECT_NEAR(mean, 0.0, 1e-6);
        EXPECT_NEAR(std::sqrt(var / 1024.0), 1.0, 1e-5);  // population deviation
    }
    // Centred: frame 0 covers samples [-512, 512), its first half is padding.
    crepe::normalized_frame(x, 0, true, f);
    for (std::size_t i = 1; i < 512; ++i) EXPECT_EQ(f[i], f[0]);
    EXPECT_NE(f[513], f[0]);  // x[0] is 0, like the padding
    // Uncentred: frame 1 starts at sample 160; scaling x does not change it.
    std::vector<float> y(x);
    for (float& v : y) v = 7.0f * v + 3.0f;
    std::array<float, 1024> g{};
    crepe::normalized_frame(x, 1, false, f);
    crepe::normalized_frame(y, 1, false, g);
    for (std::size_t i = 0; i < 1024; ++i) EXPECT_NEAR(f[i], g[i], 1e-4);
}

TEST(CrepeFraming, SilenceStaysZero) {
    std::vector<float> zeros(2000, 0.0f);
    std::array<float, 1024> f{};
    f.fill(1.0f);
    crepe::normalized_frame(zeros, 2, true, f);
    for (float v : f) EXPECT_EQ(v, 0.0f);
}

TEST(CrepeDecode, BinsAndHz) {
    EXPECT_NEAR(crepe::bin_cents(0), 1997.3794084376191, 1e-9);
    EXPECT_NEAR(crepe::bin_cents(359), 1997.3794084376191 + 7180.0, 1e-9);
    EXPECT_NEAR(crepe::bin_cents(1) - crepe::bin_cents(0), 20.0, 1e-9);
    EXPECT_NEAR(crepe::cents_to_hz(crepe::bin_cents(0)), 31.70, 0.01);
    EXPECT_EQ(crepe::cents_to_hz(std::nan("")), 0.0);
}

TEST(CrepeDecode, LocalAverageAroundTheCentre) {
    std::vector<float> s(360, 0.0f);
    s[100] = 1.0f;
    EXPECT_NEAR(crepe::local_average_cents(s, 100), crepe::bin_cents(100), 1e-9);
    s[101] = 1.0f;  // halfway between two bins
    EXPECT_NEAR(crepe::local_average_cents(s, 100), crepe::bin_cents(100) + 10.0, 1e-9);
    s[200] = 0.5f;  // outside the 9-bin window of 100
    EXPECT_NEAR(crepe::local_average_cents(s, 100), crepe::bin_cents(100) + 10.0, 1e-9);
    EXPECT_NEAR(crepe::local_average_cents(s, 200), crepe::bin_cents(200), 1e-9);
    s.assign(360, 0.0f);
    s[0] = s[1] = 1.0f;  // window clipped at the low edge
    EXPECT_NEAR(crepe::local_average_cents(s, 0), crepe::bin_cents(0) + 10.0, 1e-9);
    s.assign(360, 0.0f);
    EXPECT_TRUE(std::isnan(crepe::local_average_cents(s, 50)));  // -> 0 Hz in decode
}

// One frame's peak far away from a steady pitch: the argmax follows it, Viterbi does not.
TEST(CrepeDecode, ViterbiIgnoresAnIsolatedJump) {
    const std::size_t frames = 20;
    std::vector<float> act(frames * 360, 0.01f);
    for (std::size_t t = 0; t < frames; ++t) act[t * 360 + 150] = 0.9f;
    act[10 * 360 + 150] = 0.3f;
    act[10 * 360 + 300] = 0.8f;
    const auto path = crepe::viterbi_path(act, frames);
    for (std::size_t t = 0; t < frames; ++t) EXPECT_EQ(path[t], 150) << t;
    const auto smooth = crepe::decode(act, frames, true);
    const auto raw = crepe::decode(act, frames, false);
    EXPECT_NEAR(raw[2 * 10], crepe::cents_to_hz(crepe::bin_cents(300)), 1.0);
    EXPECT_NEAR(
        smooth[2 * 10],
        crepe::cents_to_hz(crepe::local_average_cents(std::span(act).subspan(10 * 360, 360), 150)),
        1e-3);
    EXPECT_FLOAT_EQ(smooth[2 * 10 + 1], 0.8f);  // the confidence is the frame's maximum
}

// A glide that moves one bin per frame stays on the path (within the transition band).
TEST(CrepeDecode, ViterbiFollowsAGlide) {
    const std::size_t frames = 50;
    std::vector<float> act(frames * 360, 0.0f);
    for (std::size_t t = 0; t < frames; ++t) act[t * 360 + 100 + 3 * t] = 1.0f;
    const auto path = crepe::viterbi_path(act, frames);
    for (std::size_t t = 0; t < frames; ++t) EXPECT_EQ(path[t], 100 + 3 * t);
    EXPECT_THROW(crepe::viterbi_path(act, frames + 1), tagmap::InvalidArgument);
}

// The streaming decoder gives decode()'s rows bit for bit, on sequences where the
// survivor paths meet quickly (a steady pitch with octave jumps) and where they stay
// apart for long (flat activations with random argmaxes: ties everywhere).
TEST(CrepeDecodeStream, EqualsTheWholeSequenceDecode) {
    std::uint32_t seed = 12345;
    const auto rnd = [&] {
        seed = seed * 1664525u + 1013904223u;
        return double(seed >> 8) / double(1u << 24);
    };
    for (int kind = 0; kind < 3; ++kind) {
        const std::size_t frames = 3000;
        std::vector<float> act(frames * 360);
        std::size_t pitch = 150;
        for (std::size_t t = 0; t < frames; ++t) {
            for (std::size_t k = 0; k < 360; ++k)
                act[t * 360 + k] = kind == 2 ? 0.5f : float(0.05 * rnd());
            if (kind == 0) {
                if (rnd() < 0.02) pitch = std::size_t(20 + rnd() * 320);  // jumps
                act[t * 360 + pitch] = 0.9f;
                if (rnd() < 0.1) act[t * 360 + (pitch + 120) % 360] = 0.95f;  // octave errors
            } else if (kind == 1) {
                act[t * 360 + std::size_t(rnd() * 360)] = 0.6f;  // noise: a random argmax
            } else if (rnd() < 0.01) {
                act[t * 360 + std::size_t(rnd() * 360)] = 0.7f;  // mostly all-equal frames
            }
        }
        for (const bool viterbi : {true, false}) {
            const auto whole = crepe::decode(act, frames, viterbi);
            crepe::DecodeStream stream(viterbi);
            std::size_t most_pending = 0;
            for (std::size_t t = 0; t < frames; ++t) {
                stream.push(std::span<const float>(act).subspan(t * 360, 360));
                most_pending = std::max(most_pending, stream.pending());
            }
            EXPECT_EQ(stream.frames(), frames);
            const auto rows = stream.finish();
            ASSERT_EQ(rows.size(), whole.size());
            EXPECT_EQ(0, std::memcmp(rows.data(), whole.data(), rows.size() * sizeof(float)))
                << "kind " << kind << ", viterbi " << viterbi;
            std::printf("kind %d, viterbi %d: at most %zu frames undecided\n", kind, int(viterbi),
                        most_pending);
            if (viterbi && kind == 0) {  // the paths meet: only a short tail is held back
                EXPECT_LT(most_pending, 1000u) << most_pending;
            }
            if (!viterbi) {
                EXPECT_EQ(most_pending, 0u);
            }
        }
    }
    crepe::DecodeStream empty;
    EXPECT_TRUE(empty.finish().empty());
    EXPECT_THROW(empty.push(std::vector<float>(10)), tagmap::InvalidArgument);
}

TEST(SequenceModels, Registry) {
    EXPECT_TRUE(is_sequence_model("crepe-tiny"));
    EXPECT_FALSE(is_sequence_model("musicnn-mtat"));
    EXPECT_FALSE(sequence_model_ids().empty());
    EXPECT_EQ(sequence_model_ids()[0], "crepe-tiny");
    const auto w = tagmap::test::seeded_crepe(crepe::tiny);
    EXPECT_TRUE(check_sequence_weights("crepe-tiny", w).empty());
    auto m = make_sequence_model("crepe-tiny", w);
    EXPECT_EQ(m->id(), "crepe-tiny");
    EXPECT_EQ(m->sample_rate(), 16000.0);
    EXPECT_EQ(m->frame_rate(), 100.0);
    EXPECT_EQ(m->columns(), 2u);
    std::vector<float> samples(16000 / 2, 0.0f);
    for (std::size_t i = 0; i < samples.size(); ++i) samples[i] = float(std::sin(0.17 * double(i)));
    EXPECT_EQ(m->run(samples).size(), 2 * crepe::frame_count(samples.size()));
    EXPECT_THROW(make_sequence_model("crepe-huge", w), tagmap::InvalidArgument);
    EXPECT_THROW(check_sequence_weights("crepe-huge", w), tagmap::InvalidArgument);
    const auto wrong = tagmap::test::seeded_crepe(crepe::small);
    EXPECT_FALSE(check_sequence_weights("crepe-tiny", wrong).empty());
    EXPECT_THROW(make_sequence_model("crepe-tiny", wrong), tagmap::BindError);
    samples[100] = std::nanf("");
    EXPECT_THROW(m->run(samples), tagmap::AudioError);
}
}  // namespace
