// examples/firmware (build/bin/firmware_tagger: -fno-exceptions -fno-rtti, weights from
// the header emitted at build time, static memory) prints, for raw float32 16 kHz
// samples on stdin, the taggrams `tagmap embed --per-chunk` computes for the same clip
// (the CLI's path: read_resampled -> ChunkEmbedder -> MusicnnMtat), to 1e-6, and its
// code makes no heap allocation.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <tagmap/audio/read_resampled.hpp>
#include <tagmap/embed/pipeline.hpp>
#include <tagmap/models/musicnn.hpp>
#include <tagmap/weights/weight_file.hpp>
#ifdef TAGMAP_CLI_BINARY
#include <xtensor/xarray.hpp>
#include <xtensor/xnpy.hpp>
#endif

#include "fixtures.hpp"

namespace {

using namespace tagmap;

struct Run {
    std::vector<std::vector<float>> lines;
    std::string stderr_text;
    int status = -1;
};

Run run_firmware(const std::vector<float>& samples, const std::string& tag) {
    const auto dir = std::filesystem::temp_directory_path();
    const auto in = dir / ("tagmap-fw-" + tag + std::to_string(::getpid()) + ".f32");
    const auto out = dir / ("tagmap-fw-" + tag + std::to_string(::getpid()) + ".txt");
    const auto err = dir / ("tagmap-fw-" + tag + std::to_string(::getpid()) + ".err");
    {
        std::ofstream f(in, std::ios::binary);
        f.write(reinterpret_cast<const char*>(samples.data()),
                static_cast<std::streamsize>(samples.size() * sizeof(float)));
    }
    const std::string cmd = std::string("'") + TAGMAP_FIRMWARE_TAGGER + "' --stats < '" +
                            in.string() + "' > '" + out.string() + "' 2> '" + err.string() + "'";
    Run r;
    r.status = std::system(cmd.c_str());
    std::ifstream o(out);
    for (std::string line; std::getline(o, line);) {
        std::istringstream s(line);
        std::vector<float> v;
        for (float x; s >> x;) v.push_back(x);
        r.lines.push_back(v);
    }
    std::ifstream e(err);
    r.stderr_text.assign(std::istreambuf_iterator<char>(e), {});
    std::filesystem::remove(in);
    std::filesystem::remove(out);
    std::filesystem::remove(err);
    return r;
}

void expect_same(const Run& r, const embed::ChunkMatrix& want) {
    ASSERT_EQ(r.status, 0) << r.stderr_text;
    ASSERT_EQ(r.lines.size(), want.chunks);
    double worst = 0;
    for (std::size_t c = 0; c < want.chunks; ++c) {
        ASSERT_EQ(r.lines[c].size(), want.n_tags) << "line " << c;
        for (std::size_t i = 0; i < want.n_tags; ++i)
            worst = std::max(worst, double(std::abs(r.lines[c][i] - want.taggrams[c * 50 + i])));
    }
    EXPECT_LE(worst, 1e-6);
    EXPECT_NE(r.stderr_text.find("heap allocations 0\n"), std::string::npos) << r.stderr_text;
}

TEST(Firmware, OutputEqualsTagmapEmbedPerChunk) {
    const auto fx = test::fixtures_dir();
    const auto clip = fx / "audio" / "hedgewars-rock.mp3";
    if (!std::filesystem::exists(clip)) GTEST_SKIP() << "no " << clip;
    auto w = weights::WeightFile::load(fx / "weights" / "musicnn-mtat.pth");
    models::MusicnnMtat model;
    model.bind(w);

    std::vector<float> samples;  // what the CLI feeds its chunker
    audio::read_resampled(
        clip, [&](std::span<const float> b) { samples.insert(samples.end(), b.begin(), b.end()); });
    const embed::ChunkMatrix want = embed::embed_file_per_chunk(clip, model);
    ASSERT_GE(want.chunks, 2u);
    expect_same(run_firmware(samples, "clip"), want);

    // Shorter than one chunk: zero-padded to one, as the chunker does.
    const std::vector<float> head(samples.begin(), samples.begin() + 20000);
    const embed::ChunkMatrix padded = embed::embed_samples(head, model);
    ASSERT_EQ(padded.chunks, 1u);
    expect_same(run_firmware(head, "short"), padded);
}

#ifdef TAGMAP_CLI_BINARY
// The same clip through the tagmap binary itself: its taggram .npy equals the firmware's
// lines to 1e-6.
TEST(Firmware, OutputEqualsTheTagmapBinarysNpy) {
    const auto fx = test::fixtures_dir();
    const auto clip = fx / "audio" / "hedgewars-rock.mp3";
    if (!std::filesystem::exists(clip)) GTEST_SKIP() << "no " << clip;
    const auto out =
        std::filesystem::temp_directory_path() / ("tagmap-fw-embed-" + std::to_string(::getpid()));
    std::filesystem::remove_all(out);
    const std::string cmd = std::string("'") + TAGMAP_CLI_BINARY +
                            "' embed -q --model musicnn-mtat --per-chunk --weights '" +
                            (fx / "weights" / "musicnn-mtat.pth").string() + "' --out '" +
                            out.string() + "' '" + clip.string() + "' 2>/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    const auto npy =
        xt::load_npy<float>((out / "musicnn-mtat" / "hedgewars-rock.mp3.taggram.npy").string());
    std::filesystem::remove_all(out);
    embed::ChunkMatrix want;
    want.chunks = npy.shape()[0];
    want.n_tags = npy.shape()[1];
    want.taggrams.assign(npy.begin(), npy.end());
    ASSERT_GE(want.chunks, 2u);

    std::vector<float> samples;
    audio::read_resampled(
        clip, [&](std::span<const float> b) { samples.insert(samples.end(), b.begin(), b.end()); });
    expect_same(run_firmware(samples, "cli"), want);
}
#endif

}  // namespace
