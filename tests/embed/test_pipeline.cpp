// File pipeline with a fake model: one decode for several models, the padding rule on
// the near-silent clip, track-level outputs, and per-chunk outputs that equal the model
// run on the resampled signal cut by hand.
#include <gtest/gtest.h>

#include <vector>

#include <tagmap/audio/resample.hpp>
#include <tagmap/embed/pipeline.hpp>
#include "fake_model.hpp"
#include "fixtures.hpp"

namespace ta = tagmap::audio;
namespace te = tagmap::embed;

namespace {
std::filesystem::path clip(const char* name) {
    return tagmap::test::fixtures_dir() / "audio" / name;
}
}  // namespace

TEST(Pipeline, PerChunkEqualsModelOnOneShotResampledAudio) {
    const auto path = clip("wesnoth-knalgan-theme.wav");  // 44.1 kHz stereo
    const auto mono = ta::decode_mono(path);
    const auto at16k = ta::resample_oneshot(mono.samples, mono.sample_rate);
    tagmap::test::FakeModel model(48000);
    const auto got = te::embed_file_per_chunk(path, model);
    ASSERT_EQ(got.chunks, at16k.size() / 48000);
    std::vector<float> tag(3), emb(4);
    tagmap::test::FakeModel ref(48000);
    for (std::size_t k = 0; k < got.chunks; ++k) {
        ref.forward(std::span<const float>(at16k).subspan(k * 48000, 48000), tag, emb);
        for (std::size_t j = 0; j < 3; ++j) EXPECT_EQ(got.taggrams[k * 3 + j], tag[j]);
        for (std::size_t j = 0; j < 4; ++j) EXPECT_EQ(got.embeddings[k * 4 + j], emb[j]);
    }
}

TEST(Pipeline, NearSilentShortClipGivesExactlyOnePaddedChunk) {
    tagmap::test::FakeModel model(48000);
    te::ChunkMatrix m;
    m.n_tags = 3;
    m.embedding_dim = 4;
    tagmap::test::FakeModel* models[] = {&model};
    const auto report = te::embed_file(clip("wesnoth-silence-short.ogg"),
                                       std::span<tagmap::test::FakeModel* const>(models),
                                       [&](std::size_t, const te::ChunkResult& r) { m.append(r); });
    EXPECT_TRUE(report.near_silent());
    EXPECT_LT(report.output_samples, 48000u);
    EXPECT_GT(report.output_samples, 16000u * 2);
    ASSERT_EQ(m.chunks, 1u);
    EXPECT_TRUE(m.padded);
    EXPECT_EQ(m.embeddings[2], 0.0f);  // last sample of the window is padding
}

TEST(Pipeline, OneDecodeFeedsSeveralModelsWithTheirOwnWindows) {
    const auto path = clip("etr-race1.opus");
    tagmap::test::FakeModel a(48000), b(59049);
    tagmap::test::FakeModel* models[] = {&a, &b};
    std::vector<te::ChunkMatrix> out(2);
    const auto report =
        te::embed_file(path, std::span<tagmap::test::FakeModel* const>(models),
                       [&](std::size_t i, const te::ChunkResult& r) { out[i].append(r); });
    EXPECT_EQ(out[0].chunks, te::chunk_count(report.output_samples, 48000, 0));
    EXPECT_EQ(out[1].chunks, te::chunk_count(report.output_samples, 59049, 0));
    // Each model alone gives the same as in the shared run.
    tagmap::test::FakeModel solo(59049);
    const auto alone = te::embed_file_per_chunk(path, solo);
    EXPECT_EQ(alone.embeddings, out[1].embeddings);
}

TEST(Pipeline, TrackLevelIsMeanAndMaxOfPerChunk) {
    const auto path = clip("lincity-city-blues.mp3");
    tagmap::test::FakeModel model(32000);
    const auto per = te::embed_file_per_chunk(path, model);
    const auto track = te::embed_file_track(path, model);
    ASSERT_EQ(track.chunks(), per.chunks);
    ASSERT_GT(per.chunks, 2u);
    const auto mean = track.embedding_mean();
    const auto mx = track.taggram_max();
    for (std::size_t j = 0; j < 4; ++j) {
        double s = 0;
        for (std::size_t k = 0; k < per.chunks; ++k) s += per.embeddings[k * 4 + j];
        EXPECT_NEAR(mean[j], s / per.chunks, 1e-5 * std::max(1.0, std::abs(s / per.chunks)));
    }
    for (std::size_t j = 0; j < 3; ++j) {
        float m = per.taggrams[j];
        for (std::size_t k = 0; k < per.chunks; ++k) m = std::max(m, per.taggrams[k * 3 + j]);
        EXPECT_EQ(mx[j], m);
    }
}

TEST(Pipeline, BadFilesThrowTypedErrors) {
    tagmap::test::FakeModel model(48000);
    EXPECT_THROW(te::embed_file_per_chunk("/nonexistent.flac", model), tagmap::IoError);
}
