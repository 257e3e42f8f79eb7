// The runtime registry and binding by name: ids, check_weights reports, typed errors,
// and a failed bind leaving the previous weights in place.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "model_fixtures.hpp"
#include "tagmap/models/musicnn.hpp"
#include "tagmap/models/registry.hpp"
#include "tagmap/models/vgg.hpp"
#include "tagmap/weights/tmw_writer.hpp"

namespace {

using namespace tagmap;

weights::WeightFile real_mtat() {
    return weights::WeightFile::load(test::fixtures_dir() / "weights/musicnn-mtat.pth");
}

/// A copy of `w` with `edit` applied to its tensor list, round-tripped through .tmw.
template <class Edit>
weights::WeightFile edited(const weights::WeightFile& w, Edit edit) {
    weights::TensorSet set;
    for (const auto& t : w.tensors())
        set.push_back({t.name, t.dtype, t.shape, {t.bytes.begin(), t.bytes.end()}});
    edit(set);
    return weights::WeightFile::from_bytes(weights::encode_tmw(set));
}

std::string joined(const std::vector<std::string>& lines) {
    std::string s;
    for (const auto& l : lines) s += l + "\n";
    return s;
}

TEST(Registry, ListsTheFourModels) {
    const auto ids = models::model_ids();
    ASSERT_EQ(ids.size(), 4u);
    EXPECT_EQ(ids[0], "musicnn-mtat");
    EXPECT_EQ(ids[1], "musicnn-msd");
    EXPECT_EQ(ids[2], "vgg-mtat");
    EXPECT_EQ(ids[3], "vgg-msd");
}

TEST(Registry, UnknownIdListsKnownOnes) {
    const auto w = real_mtat();
    try {
        models::make_model("musicnn-xyz", w);
        FAIL() << "no error";
    } catch (const InvalidArgument& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("musicnn-xyz"), std::string::npos) << msg;
        EXPECT_NE(msg.find("musicnn-mtat, musicnn-msd, vgg-mtat, vgg-msd"), std::string::npos)
            << msg;
    }
    EXPECT_THROW(models::check_weights("", w), InvalidArgument);
}

TEST(Registry, RealCheckpointFitsMusicnnMtatAndRunsIt) {
    const auto w = real_mtat();
    EXPECT_TRUE(models::check_weights("musicnn-mtat", w).empty())
        << joined(models::check_weights("musicnn-mtat", w));
    auto model = models::make_model("musicnn-mtat", w);
    EXPECT_EQ(model->id(), "musicnn-mtat");
    EXPECT_EQ(model->tag_set(), "mtat");
    EXPECT_EQ(model->input_samples(), 48000u);
    EXPECT_EQ(model->n_tags(), 50u);
    EXPECT_EQ(model->embedding_dim(), 200u);
    // First fixture chunk: same top-5 as PyTorch.
    const auto fx = test::model_fixture("musicnn-mtat");
    const auto chunks = test::fixture_chunks(fx);
    std::vector<float> tags(50), emb(200);
    model->forward(std::span(chunks).first(48000), tags, emb);
    std::vector<int> order(50);
    for (int i = 0; i < 50; ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return tags[a] > tags[b]; });
    order.resize(5);
    EXPECT_EQ(order, fx.at("top5").at(0).get<std::vector<int>>());
}

TEST(Registry, SizesOfEveryModel) {
    EXPECT_EQ(models::MusicnnMsd::embedding_dim, 500u);
    EXPECT_EQ(models::VggMsd::embedding_dim, 512u);
    EXPECT_EQ(models::VggMtat::embedding_dim, 512u);
    EXPECT_EQ(models::VggMsd::input_samples, 59049u);
    EXPECT_EQ(models::VggMsd::frames, 231u);
    EXPECT_EQ(models::MusicnnMtat::frames, 188u);
}

TEST(Binding, WrongModelNamesEveryMisshapedTensorWithBothShapes) {
    const auto w = real_mtat();
    const auto msd = joined(models::check_weights("musicnn-msd", w));
    EXPECT_NE(msd.find("'layer1.conv.weight' has shape [64, 561, 7], the model expects "
                       "[512, 561, 7]"),
              std::string::npos)
        << msd;
    EXPECT_NE(msd.find("'dense1.weight' has shape [200, 1506], the model expects [500, 4194]"),
              std::string::npos)
        << msd;
    EXPECT_EQ(msd.find("unexpected"), std::string::npos) << msd;
    const auto vgg = joined(models::check_weights("vgg-msd", w));
    EXPECT_NE(vgg.find("missing tensor 'layer1.conv_1.weight'"), std::string::npos) << vgg;
    EXPECT_NE(vgg.find("unexpected tensor 'layers.0.conv.weight' [204, 1, 67, 7]"),
              std::string::npos)
        << vgg;
    EXPECT_THROW(models::make_model("vgg-msd", w), BindError);
}

TEST(Binding, MissingExtraAndMisshapedTensorsAreAllReported) {
    const auto bad = edited(real_mtat(), [](weights::TensorSet& set) {
        std::erase_if(set, [](const auto& t) { return t.name == "layer2.bn.running_mean"; });
        for (auto& t : set)
            if (t.name == "dense2.weight") t.shape = {200, 50};
        set.push_back({"extra.bias", weights::DType::float32, {3}, std::vector<std::byte>(12)});
    });
    try {
        models::make_model("musicnn-mtat", bad);
        FAIL() << "no error";
    } catch (const BindError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("missing tensor 'layer2.bn.running_mean' (expected float32 [64])"),
                  std::string::npos)
            << msg;
        EXPECT_NE(msg.find("'dense2.weight' has shape [200, 50], the model expects [50, 200]"),
                  std::string::npos)
            << msg;
        EXPECT_NE(msg.find("unexpected tensor 'extra.bias' [3]"), std::string::npos) << msg;
    }
    EXPECT_EQ(models::check_weights("musicnn-mtat", bad).size(), 3u);
}

TEST(Binding, FailedBindKeepsThePreviousWeights) {
    const auto w = real_mtat();
    models::MusicnnMtat model;
    model.bind(w);
    std::vector<float> chunk(48000);
    for (std::size_t i = 0; i < chunk.size(); ++i) chunk[i] = 0.3f * std::sin(0.05f * i);
    std::vector<float> t1(50), e1(200), t2(50), e2(200);
    model.forward(chunk, t1, e1);
    const auto bad = edited(w, [](weights::TensorSet& set) { set.pop_back(); });
    EXPECT_THROW(model.bind(bad), BindError);
    model.forward(chunk, t2, e2);
    EXPECT_EQ(t1, t2);
    EXPECT_EQ(e1, e2);
}

TEST(Forward, BadCallsAreTypedErrors) {
    models::Vgg<models::VggBlock::simple, 8> model;
    std::vector<float> chunk(59049, 0.1f), tags(50), emb(32);
    EXPECT_THROW(model.forward(chunk, tags, emb), InvalidArgument);  // not bound
    model.bind(test::fixture_weights(test::model_fixture("vgg-mtat-small")));
    EXPECT_THROW(model.forward(std::span(chunk).first(59048), tags, emb), InvalidArgument);
    EXPECT_THROW(model.forward(chunk, std::span(tags).first(49), emb), InvalidArgument);
    EXPECT_THROW(model.forward_batch(chunk, 2, tags, emb), InvalidArgument);
    chunk[100] = std::nanf("");
    EXPECT_THROW(model.forward(chunk, tags, emb), AudioError);
    chunk[100] = 0.1f;
    model.forward(chunk, tags, emb);
    for (float t : tags) EXPECT_TRUE(t > 0.0f && t < 1.0f);
}

TEST(Forward, HostArenaMustBeLargeAndAligned) {
    using M = models::Vgg<models::VggBlock::simple, 8>;
    alignas(64) static std::byte buffer[M::arena_bytes + 64];
    const std::span<std::byte> all(buffer);
    EXPECT_THROW(M{all.first(M::arena_bytes - 1)}, InvalidArgument);
    EXPECT_THROW(M{all.subspan(4, M::arena_bytes)}, InvalidArgument);
    M model(all.first(M::arena_bytes));
    model.bind(test::fixture_weights(test::model_fixture("vgg-mtat-small")));
    std::vector<float> chunk(59049, 0.1f), tags(50), emb(32);
    model.forward(chunk, tags, emb);
}

}  // namespace

namespace {

// bf16 is asked for by precision; a model without a bf16 variant says so (never fp32).
TEST(Registry, Bf16PrecisionOnlyWhereAModelHasIt) {
    using tagmap::models::Precision;
    EXPECT_EQ(tagmap::models::parse_precision("bf16"), Precision::bf16);
    EXPECT_THROW(tagmap::models::parse_precision("fp16"), tagmap::InvalidArgument);
    const auto w = real_mtat();
    try {
        tagmap::models::make_model("musicnn-msd", w, Precision::bf16);
        FAIL() << "no error";
    } catch (const tagmap::UnsupportedError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("'musicnn-msd' has no bf16 variant (bf16 models: musicnn-mtat)"),
                  std::string::npos)
            << msg;
    }
    if (!tagmap::cpu_has_avx512_bf16()) {
        EXPECT_THROW(tagmap::models::make_model("musicnn-mtat", w, Precision::bf16),
                     tagmap::UnsupportedError);
        GTEST_SKIP() << "this CPU has no AVX512_BF16";
    }
    EXPECT_EQ(tagmap::models::make_model("musicnn-mtat", w, Precision::bf16)->id(), "musicnn-mtat");
}

}  // namespace
