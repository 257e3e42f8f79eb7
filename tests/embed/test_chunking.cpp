// Chunker (padding rule, hop/overlap) and track aggregation (mean/max) against direct
// computation on the same numbers.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include <tagmap/embed/aggregate.hpp>
#include <tagmap/embed/chunker.hpp>
#include <tagmap/embed/pipeline.hpp>
#include "fake_model.hpp"

namespace te = tagmap::embed;

namespace {
std::vector<float> ramp(std::size_t n) {
    std::vector<float> v(n);
    std::iota(v.begin(), v.end(), 1.0f);
    return v;
}

struct Window {
    std::vector<float> samples;
    std::size_t index;
    bool padded;
};

std::vector<Window> cut(const std::vector<float>& in, std::size_t window, std::size_t hop,
                        std::size_t block) {
    te::Chunker c(window, {hop});
    std::vector<Window> out;
    auto on = [&](std::span<const float> w, std::size_t i, bool p) {
        out.push_back({{w.begin(), w.end()}, i, p});
    };
    for (std::size_t i = 0; i < in.size(); i += block)
        c.push(std::span<const float>(in).subspan(i, std::min(block, in.size() - i)), on);
    c.finish(on);
    return out;
}
}  // namespace

TEST(Chunker, NonOverlappingFromZeroDropsTrailingPartial) {
    const auto in = ramp(1050);
    for (std::size_t block : {1u, 7u, 100u, 1050u}) {
        const auto w = cut(in, 100, 0, block);
        ASSERT_EQ(w.size(), 10u);
        EXPECT_EQ(te::chunk_count(1050, 100, 0), 10u);
        for (std::size_t k = 0; k < w.size(); ++k) {
            EXPECT_EQ(w[k].index, k);
            EXPECT_FALSE(w[k].padded);
            EXPECT_EQ(w[k].samples.front(), static_cast<float>(k * 100 + 1));
            EXPECT_EQ(w[k].samples.back(), static_cast<float>(k * 100 + 100));
        }
    }
}

TEST(Chunker, ShortStreamIsZeroPaddedToOneWindow) {
    const auto in = ramp(37);
    const auto w = cut(in, 100, 0, 10);
    ASSERT_EQ(w.size(), 1u);
    EXPECT_TRUE(w[0].padded);
    for (std::size_t i = 0; i < 100; ++i)
        EXPECT_EQ(w[0].samples[i], i < 37 ? static_cast<float>(i + 1) : 0.0f);
    EXPECT_EQ(te::chunk_count(37, 100, 0), 1u);
    // Exactly one window: no padding. Empty stream: nothing.
    EXPECT_EQ(cut(ramp(100), 100, 0, 33).size(), 1u);
    EXPECT_FALSE(cut(ramp(100), 100, 0, 33)[0].padded);
    EXPECT_TRUE(cut({}, 100, 0, 1).empty());
    EXPECT_EQ(te::chunk_count(0, 100, 0), 0u);
}

TEST(Chunker, OverlapAndGapFollowTheHop) {
    const auto in = ramp(1000);
    for (std::size_t hop : {25u, 60u, 100u, 130u, 250u}) {
        SCOPED_TRACE(hop);
        const auto w = cut(in, 100, hop, 17);
        ASSERT_EQ(w.size(), (1000 - 100) / hop + 1);
        ASSERT_EQ(w.size(), te::chunk_count(1000, 100, hop));
        for (std::size_t k = 0; k < w.size(); ++k)
            for (std::size_t i = 0; i < 100; ++i)
                ASSERT_EQ(w[k].samples[i], static_cast<float>(k * hop + i + 1));
    }
}

TEST(Chunker, ZeroWindowIsInvalid) {
    EXPECT_THROW(te::Chunker(0), tagmap::InvalidArgument);
}

TEST(Aggregate, MeanAndMaxOverChunks) {
    te::TrackAggregate t(2, 3);
    const std::vector<std::vector<float>> tags = {{0.1f, 0.9f}, {0.5f, 0.2f}, {0.3f, 0.4f}};
    const std::vector<std::vector<float>> embs = {{1, -2, 3}, {-4, 5, -6}, {7, 8, 9}};
    for (std::size_t i = 0; i < 3; ++i) t.add(tags[i], embs[i]);
    EXPECT_EQ(t.chunks(), 3u);
    const auto tm = t.taggram_mean(), tx = t.taggram_max();
    const auto em = t.embedding_mean(), ex = t.embedding_max();
    for (std::size_t j = 0; j < 2; ++j) {
        EXPECT_FLOAT_EQ(tm[j], (tags[0][j] + tags[1][j] + tags[2][j]) / 3);
        EXPECT_FLOAT_EQ(tx[j], std::max({tags[0][j], tags[1][j], tags[2][j]}));
    }
    for (std::size_t j = 0; j < 3; ++j) {
        EXPECT_FLOAT_EQ(em[j], (embs[0][j] + embs[1][j] + embs[2][j]) / 3);
        EXPECT_FLOAT_EQ(ex[j], std::max({embs[0][j], embs[1][j], embs[2][j]}));
    }
    EXPECT_THROW(t.add(std::vector<float>(5), embs[0]), tagmap::InvalidArgument);
    te::TrackAggregate empty(2, 3);
    EXPECT_THROW(empty.taggram_mean(), tagmap::InvalidArgument);
}

TEST(ChunkEmbedder, RunsTheModelOnEachWindowForBothModelSpellings) {
    tagmap::test::FakeModel model(100);
    const auto in = ramp(450);
    const auto m = te::embed_samples(in, model);
    ASSERT_EQ(m.chunks, 4u);
    EXPECT_EQ(model.calls, 4u);
    ASSERT_EQ(m.taggrams.size(), 4u * 3);
    ASSERT_EQ(m.embeddings.size(), 4u * 4);
    for (std::size_t k = 0; k < 4; ++k) {
        EXPECT_FLOAT_EQ(m.taggrams[k * 3 + 0], k * 100 + 50.5f);  // mean of k*100+1..k*100+100
        EXPECT_EQ(m.embeddings[k * 4 + 0], static_cast<float>(k * 100 + 1));
        EXPECT_EQ(m.embeddings[k * 4 + 2], static_cast<float>(k * 100 + 100));
    }
    tagmap::test::StaticFakeModel s;
    static_assert(te::ChunkModel<tagmap::test::StaticFakeModel>);
    const auto ms = te::embed_samples(ramp(400), s);
    ASSERT_EQ(ms.chunks, 2u);
    EXPECT_EQ(ms.taggrams, (std::vector<float>{1, 160, 161, 320}));
    EXPECT_EQ(ms.embeddings, (std::vector<float>{160, 160}));
}
