// File pipeline with a fake model: one decode for several models, the padding rule on
// the near-silent clip, track-level outputs, and per-chunk outputs that equal the model
// run on the resampled signal cut by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include <tagmap/audio/resample.hpp>
#include <tagmap/embed/pipeline.hpp>
#include <tagmap/embed/pooled_chunks.hpp>
#include <tagmap/embed/task_queue.hpp>
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

// Several files' windows over a pool of workers (each with its own model instance): the
// same results, in chunk order, as one ChunkEmbedder per file, at any worker count, and
// every window runs exactly once.
TEST(Pipeline, PooledChunksEqualOneThreadAtAnyWorkerCount) {
    std::vector<std::vector<float>> streams;
    for (std::size_t f = 0; f < 3; ++f) {
        std::vector<float> s(f == 0 ? 200000 : 9000 + 3000 * f);
        for (std::size_t i = 0; i < s.size(); ++i)
            s[i] = float(std::sin(0.001 * double(i * (f + 1))) + 1e-4 * double(i % 97));
        streams.push_back(std::move(s));
    }
    const te::ChunkOptions options{300};  // overlapping windows of 400
    std::vector<te::ChunkMatrix> want;
    for (const auto& s : streams) {
        tagmap::test::FakeModel m;
        want.push_back(te::embed_samples(s, m, options));
    }
    for (const std::size_t jobs : {std::size_t(1), std::size_t(2), std::size_t(3)}) {
        std::vector<tagmap::test::FakeModel> models(jobs);
        const auto model_of = [&models](std::size_t w) -> tagmap::test::FakeModel& {
            return models[w];
        };
        te::TaskQueue queue(2 * jobs);
        std::vector<te::ChunkMatrix> got(streams.size());
        te::run_items(queue, jobs, streams.size(), jobs, [&](std::size_t i, std::size_t k) {
            te::PooledChunks<tagmap::test::FakeModel, decltype(model_of)> windows(
                queue, k, models[k], options, model_of);
            const auto& s = streams[i];
            for (std::size_t p = 0; p < s.size(); p += 777)
                windows.push(
                    std::span<const float>(s).subspan(p, std::min<std::size_t>(777, s.size() - p)));
            windows.finish();
            EXPECT_TRUE(windows.error().empty());
            got[i].n_tags = 3;
            got[i].embedding_dim = 4;
            windows.results([&](const te::ChunkResult& r) { got[i].append(r); });
        });
        std::size_t calls = 0;
        for (const auto& m : models) calls += m.calls;
        std::size_t chunks = 0;
        for (std::size_t i = 0; i < streams.size(); ++i) {
            EXPECT_EQ(got[i].chunks, want[i].chunks) << jobs;
            EXPECT_EQ(got[i].taggrams, want[i].taggrams) << jobs << " file " << i;
            EXPECT_EQ(got[i].embeddings, want[i].embeddings) << jobs << " file " << i;
            chunks += want[i].chunks;
        }
        EXPECT_EQ(calls, chunks);
    }
}
