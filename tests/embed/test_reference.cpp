// End to end against the reference pipeline (tools/make_audio_fixtures.py: soundfile
// decode, libsoxr one-shot HQ via ctypes, PyTorch MusiCNN with the real musicnn-mtat
// weights): resampled signal digests and per-chunk outputs, max abs <= 1e-4.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <vector>

#include <nlohmann/json.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xnpy.hpp>

#include <tagmap/embed/pipeline.hpp>
#include <tagmap/models/registry.hpp>
#include <tagmap/weights/weight_file.hpp>
#include "fixtures.hpp"

namespace te = tagmap::embed;
namespace ta = tagmap::audio;

namespace {

std::filesystem::path clip(const std::string& name) {
    return tagmap::test::fixtures_dir() / "audio" / name;
}
std::filesystem::path data(const std::string& name) {
    return tagmap::test::test_data_dir() / "audio" / name;
}

float max_abs_diff(const std::vector<float>& got, const xt::xarray<float>& want) {
    EXPECT_EQ(got.size(), want.size());
    float m = 0;
    for (std::size_t i = 0; i < std::min(got.size(), want.size()); ++i)
        m = std::max(m, std::fabs(got[i] - want.flat(i)));
    return m;
}

}  // namespace

TEST(Reference, ResampledSignalMatchesPythonSoundfilePlusSoxrOneShot) {
    std::ifstream in(data("resample_digest.json"));
    ASSERT_TRUE(in) << "missing " << data("resample_digest.json");
    const auto digest = nlohmann::json::parse(in);
    for (const auto& [name, d] : digest.items()) {
        SCOPED_TRACE(name);
        std::vector<float> y;
        const auto report = ta::read_resampled(
            clip(name), [&](std::span<const float> s) { y.insert(y.end(), s.begin(), s.end()); });
        EXPECT_EQ(report.info.sample_rate, d["source_rate"].get<int>());
        EXPECT_EQ(report.source_frames, d["source_frames"].get<std::uint64_t>());
        ASSERT_EQ(y.size(), d["length"].get<std::size_t>());
        const auto idx = d["indices"].get<std::vector<std::size_t>>();
        const auto val = d["values"].get<std::vector<double>>();
        for (std::size_t k = 0; k < idx.size(); ++k) EXPECT_NEAR(y[idx[k]], val[k], 1e-6);
        double ss = 0;
        for (float v : y) ss += static_cast<double>(v) * v;
        EXPECT_NEAR(ss, d["sum_squares"].get<double>(), 1e-6 * d["sum_squares"].get<double>());
    }
}

TEST(Reference, MusicnnPerChunkOutputsMatchPyTorch) {
    const auto weights = tagmap::weights::WeightFile::load(tagmap::test::fixtures_dir() /
                                                           "weights" / "musicnn-mtat.pth");
    auto model = tagmap::models::make_model("musicnn-mtat", weights);
    // 44.1 kHz stereo PCM16 (4 chunks) and the 2.5 s near-silent clip (1 padded chunk).
    for (const char* name : {"wesnoth-knalgan-theme.wav", "wesnoth-silence-short.ogg"}) {
        SCOPED_TRACE(name);
        const auto got = te::embed_file_per_chunk(clip(name), *model);
        const auto tag =
            xt::load_npy<float>(data(std::string(name) + ".musicnn-mtat.taggram.npy").string());
        const auto emb =
            xt::load_npy<float>(data(std::string(name) + ".musicnn-mtat.embedding.npy").string());
        ASSERT_EQ(got.chunks, tag.shape()[0]);
        EXPECT_EQ(got.padded, got.chunks == 1);
        const float dt = max_abs_diff(got.taggrams, tag);
        const float de = max_abs_diff(got.embeddings, emb);
        EXPECT_LE(dt, 1e-4f);
        EXPECT_LE(de, 1e-4f);
        RecordProperty(std::string(name) + "_taggram_max_abs", std::to_string(dt));
        RecordProperty(std::string(name) + "_embedding_max_abs", std::to_string(de));
        std::printf("%s: %zu chunks, max abs diff taggram %.3g embedding %.3g\n", name, got.chunks,
                    dt, de);
    }
}
