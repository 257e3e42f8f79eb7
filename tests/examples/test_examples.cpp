// The example programs (examples/programs/) build, run and print what they promise:
// map_matrix steps UMAP and t-SNE from one kNN graph to their last epoch / iteration and
// places a new point near its cluster on both maps; tag_file (the README's snippet) tags a
// real clip with the real MusiCNN weights; embed_folder's rows are the reference pipeline's
// mean embeddings; stream_tags' streamed taggrams equal the offline ones; custom_net's output
// equals a plain loop over the weights it wrote (the MusiCNN ones are skipped without the
// shared fixtures).
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "npy.hpp"
#include "program.hpp"
#include "tagmap/weights/weight_file.hpp"

namespace {

struct Output {
    int status = -1;
    std::string out;
};

Output run(const std::string& command) {
    Output r;
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen((command + " 2>&1").c_str(), "r"), pclose);
    if (!pipe) return r;
    std::array<char, 4096> buffer;
    while (std::fgets(buffer.data(), buffer.size(), pipe.get())) r.out += buffer.data();
    r.status = pclose(pipe.release());
    return r;
}

std::string program(const char* name) {
    return (tagmap::test::binary("examples") / name).string();
}

namespace fs = std::filesystem;

using tagmap::test::read_npy;
using tagmap::test::TempDir;

bool have_musicnn() {
    return fs::exists(tagmap::test::fixtures_dir() / "weights/musicnn-mtat.pth") &&
           fs::exists(tagmap::test::fixtures_dir() / "audio/wesnoth-knalgan-theme.wav");
}

TEST(Examples, MapMatrixStepsBothMapsFromOneGraph) {
    const Output r = run(program("map_matrix") + " 900");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("kNN graph: 900 points x 91 neighbours"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("UMAP epoch 100 / 500"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("UMAP epoch 500 / 500"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("t-SNE iteration 750 / 750"), std::string::npos) << r.out;
    // The new point (cluster 0's centre) lands within a few units of a cluster-0 point.
    double u[2], t[2], cu[2], ct[2];
    ASSERT_EQ(
        std::sscanf(r.out.substr(r.out.find("new point:")).c_str(),
                    "new point: UMAP (%lf, %lf), t-SNE (%lf, %lf)", &u[0], &u[1], &t[0], &t[1]),
        4);
    ASSERT_EQ(std::sscanf(r.out.substr(r.out.find("a cluster-0 point:")).c_str(),
                          "a cluster-0 point: UMAP (%lf, %lf), t-SNE (%lf, %lf)", &cu[0], &cu[1],
                          &ct[0], &ct[1]),
              4);
    EXPECT_LT(std::hypot(u[0] - cu[0], u[1] - cu[1]), 3.0) << r.out;
    EXPECT_LT(std::hypot(t[0] - ct[0], t[1] - ct[1]), 10.0) << r.out;
}

TEST(Examples, TagFileIsTheReadmeSnippet) {
    const auto weights = tagmap::test::fixtures_dir() / "weights/musicnn-mtat.pth";
    const auto clip = tagmap::test::fixtures_dir() / "audio/hedgewars-rock.mp3";
    if (!std::filesystem::exists(weights) || !std::filesystem::exists(clip))
        GTEST_SKIP() << "needs TAGMAP_FIXTURES (weights/musicnn-mtat.pth, audio/)";
    const Output r = run(program("tag_file") + " " + weights.string() + " " + clip.string() + " " +
                         (tagmap::test::fixtures_dir() / "tags/mtat.txt").string());
    ASSERT_EQ(r.status, 0) << r.out;
    // Five tags, best first, with probabilities in (0, 1).
    std::istringstream lines(r.out);
    double previous = 1;
    int count = 0;
    for (std::string line; std::getline(lines, line);) {
        const double p = std::stod(line.substr(line.find_last_of(' ') + 1));  // "name  0.123"
        EXPECT_GT(p, 0.0);
        EXPECT_LE(p, previous) << r.out;
        previous = p;
        ++count;
    }
    EXPECT_EQ(count, 5) << r.out;
    EXPECT_NE(run(program("tag_file")).status, 0);  // usage
}

TEST(Examples, EmbedFolderRowsAreTheReferenceMeanEmbeddings) {
    if (!have_musicnn()) GTEST_SKIP() << "needs TAGMAP_FIXTURES (weights/musicnn-mtat.pth, audio/)";
    const fs::path audio = tagmap::test::fixtures_dir() / "audio";
    TempDir dir("tagmap-embed-folder");
    fs::create_directories(dir.path() / "in" / "sub");
    fs::copy_file(audio / "wesnoth-knalgan-theme.wav", dir.path() / "in" / "a.wav");
    fs::copy_file(audio / "wesnoth-silence-short.ogg", dir.path() / "in" / "sub" / "b.OGG");
    std::ofstream(dir.path() / "in" / "notes.txt") << "not audio";
    std::ofstream(dir.path() / "in" / "broken.flac") << "not a flac";
    const Output r = run(program("embed_folder") + " " + tagmap::test::fixtures_dir().string() +
                         "/weights/musicnn-mtat.pth " + (dir.path() / "in").string() + " " +
                         (dir.path() / "out.npy").string());
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("skipped " + (dir.path() / "in" / "broken.flac").string()),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("0 " + (dir.path() / "in" / "a.wav").string() + " (4 chunks)"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("2 tracks x 200"), std::string::npos) << r.out;
    const auto out = read_npy(dir.path() / "out.npy");
    EXPECT_EQ(out.shape, (std::vector<std::size_t>{2, 200}));
    ASSERT_EQ(out.values.size(), 400u);
    // Row 0: the mean of the 4 reference chunks (tools/make_audio_fixtures.py); row 1: the
    // near-silent clip's one padded chunk.
    const fs::path data = tagmap::test::test_data_dir() / "audio";
    const auto a = read_npy(data / "wesnoth-knalgan-theme.wav.musicnn-mtat.embedding.npy");
    const auto b = read_npy(data / "wesnoth-silence-short.ogg.musicnn-mtat.embedding.npy");
    ASSERT_EQ(a.values.size(), 800u);
    ASSERT_EQ(b.values.size(), 200u);
    for (std::size_t j = 0; j < 200; ++j) {
        const float mean =
            (a.values[j] + a.values[200 + j] + a.values[400 + j] + a.values[600 + j]) / 4;
        EXPECT_NEAR(out.values[j], mean, 1e-4) << j;
        EXPECT_NEAR(out.values[200 + j], b.values[j], 1e-4) << j;
    }
    EXPECT_NE(run(program("embed_folder")).status, 0);  // usage
}

TEST(Examples, StreamTagsEqualsTheOfflinePipeline) {
    if (!have_musicnn()) GTEST_SKIP() << "needs TAGMAP_FIXTURES (weights/musicnn-mtat.pth, audio/)";
    // 12 s at 44.1 kHz in host blocks of 441 samples: 4 windows offline, 3 or 4 streamed.
    const Output r = run(program("stream_tags") + " " + tagmap::test::fixtures_dir().string() +
                         "/weights/musicnn-mtat.pth " + tagmap::test::fixtures_dir().string() +
                         "/audio/wesnoth-knalgan-theme.wav 441");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("chunk 0: top tag"), std::string::npos) << r.out;
    std::size_t streamed = 0, offline = 0;
    double first = 1, later = 1;
    const auto at = r.out.find("44100 Hz");
    ASSERT_NE(at, std::string::npos) << r.out;
    ASSERT_EQ(std::sscanf(r.out.substr(at).c_str(),
                          "44100 Hz in blocks of 441: %zu chunks streamed, %zu offline, max "
                          "|diff| chunk 0 %lf, later chunks %lf",
                          &streamed, &offline, &first, &later),
              4)
        << r.out;
    EXPECT_EQ(offline, 4u);
    EXPECT_GE(streamed, 3u);
    EXPECT_LT(first, 1e-3);  // the resampler's start (primed when streaming, cold offline)
    EXPECT_LT(later, 1e-5);
}

TEST(Examples, CustomNetEqualsAPlainLoopOverItsWeights) {
    TempDir dir("tagmap-custom-net");
    const fs::path file = dir.path() / "net.tmw";
    const Output r = run(program("custom_net") + " " + file.string());
    ASSERT_EQ(r.status, 0) << r.out;
    double got[3];
    std::size_t params = 0;
    ASSERT_EQ(std::sscanf(r.out.c_str(), "%zu parameters; output %lf %lf %lf", &params, &got[0],
                          &got[1], &got[2]),
              4)
        << r.out;
    EXPECT_EQ(params, 4u * 5 + 4 + 3 * 8 + 3);
    // The wider network is refused for conv.weight's shape, and fc.* are unused by it.
    EXPECT_NE(r.out.find(
                  "refused: tensor 'conv.weight' has shape [4, 1, 5], the model expects [6, 1, 5]"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("fc.weight"), std::string::npos) << r.out;

    // Conv1d(1, 4, 5, padding 2) -> ReLU -> [max | mean] -> Linear(8, 3) -> sigmoid, in double.
    const auto w = tagmap::weights::WeightFile::open(file);
    auto floats = [&](const char* name) {
        const auto* t = w.find(name);
        EXPECT_NE(t, nullptr) << name;
        std::vector<float> v(t ? t->bytes.size() / 4 : 0);
        if (t) std::memcpy(v.data(), t->bytes.data(), t->bytes.size());
        return v;
    };
    const auto cw = floats("conv.weight"), cb = floats("conv.bias"), fw = floats("fc.weight"),
               fb = floats("fc.bias");
    ASSERT_EQ(cw.size(), 20u);
    ASSERT_EQ(fw.size(), 24u);
    double pooled[8];
    for (int c = 0; c < 4; ++c) {
        double mx = 0, sum = 0;
        for (int t = 0; t < 64; ++t) {
            double acc = cb[c];
            for (int k = 0; k < 5; ++k)
                if (t + k - 2 >= 0 && t + k - 2 < 64)
                    acc += cw[c * 5 + k] * double(float((t + k - 2) % 16) / 16 - 0.5f);
            acc = std::max(acc, 0.0);
            mx = std::max(mx, acc);
            sum += acc;
        }
        pooled[c] = mx;
        pooled[4 + c] = sum / 64;
    }
    for (int o = 0; o < 3; ++o) {
        double z = fb[o];
        for (int i = 0; i < 8; ++i) z += fw[o * 8 + i] * pooled[i];
        EXPECT_NEAR(got[o], 1 / (1 + std::exp(-z)), 2e-6) << o;
    }
}

}  // namespace
