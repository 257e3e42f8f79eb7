// tagmap vs PyTorch on the same 16 kHz chunks (tools/make_model_fixtures.py):
// max |taggram diff| <= 1e-4, max |embedding diff| <= 1e-4 * max(1, max |ref embedding|),
// and the top-5 tags of every chunk identical.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <numeric>

#include "model_fixtures.hpp"

namespace tagmap::test {

inline std::vector<int> top5(const float* p, std::size_t n) {
    std::vector<int> idx(n);
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return p[a] > p[b]; });
    idx.resize(5);
    return idx;
}

template <class Model>
void expect_matches_torch(const std::string& fixture) {
    const auto fx = model_fixture(fixture);
    ASSERT_EQ(fx.at("input_samples").get<std::size_t>(), Model::input_samples);
    ASSERT_EQ(fx.at("n_mels").get<std::size_t>(), Model::n_mels);
    ASSERT_EQ(fx.at("embedding_dim").get<std::size_t>(), Model::embedding_dim);
    const auto chunks = fixture_chunks(fx);
    const auto ref_tags = fixture_array(fx, "taggram");
    const auto ref_emb = fixture_array(fx, "embedding");
    const std::size_t n = fx.at("n_chunks").get<std::size_t>();
    ASSERT_EQ(ref_tags.shape(0), n);
    ASSERT_EQ(ref_tags.shape(1), Model::n_tags);
    ASSERT_EQ(ref_emb.shape(1), Model::embedding_dim);

    auto model = std::make_unique<Model>();
    model->bind(fixture_weights(fx));
    std::vector<float> tags(n * Model::n_tags), emb(n * Model::embedding_dim);
    model->forward_batch(chunks, n, tags, emb);

    float emb_scale = 1.0f;
    for (float v : ref_emb) emb_scale = std::max(emb_scale, std::abs(v));
    float tag_diff = 0, emb_diff = 0;
    for (std::size_t i = 0; i < tags.size(); ++i)
        tag_diff = std::max(tag_diff, std::abs(tags[i] - ref_tags.data()[i]));
    for (std::size_t i = 0; i < emb.size(); ++i)
        emb_diff = std::max(emb_diff, std::abs(emb[i] - ref_emb.data()[i]));
    EXPECT_LE(tag_diff, 1e-4f) << fixture;
    EXPECT_LE(emb_diff, 1e-4f * emb_scale) << fixture;
    for (std::size_t c = 0; c < n; ++c) {
        const auto mine = top5(tags.data() + c * Model::n_tags, Model::n_tags);
        const auto theirs = fx.at("top5").at(c).get<std::vector<int>>();
        EXPECT_EQ(mine, theirs) << fixture << " chunk " << c;
    }
    // Single-chunk forward gives the same numbers as the batch.
    std::vector<float> t1(Model::n_tags), e1(Model::embedding_dim);
    model->forward(std::span(chunks).subspan(Model::input_samples, Model::input_samples), t1, e1);
    for (std::size_t i = 0; i < Model::n_tags; ++i) EXPECT_EQ(t1[i], tags[Model::n_tags + i]);
    ::testing::Test::RecordProperty("taggram_max_abs_diff", ::testing::PrintToString(tag_diff));
    ::testing::Test::RecordProperty("embedding_max_abs_diff", ::testing::PrintToString(emb_diff));
}

}  // namespace tagmap::test
