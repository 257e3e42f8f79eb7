// `tagmap embed` with a sequence model beside a tagger: one decode per file, the output
// names and shapes (OUT/crepe-tiny/<relative path>.npy, T x 2 float32), the values equal
// to the library's own path, --skip-existing, and a model without weights skipped once.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "fixtures.hpp"
#include "npy.hpp"
#include "program.hpp"
#include "tagmap/audio/read_resampled.hpp"
#include "tagmap/models/crepe.hpp"

namespace fs = std::filesystem;

namespace {
using namespace tagmap;

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
    return n;
}

class CrepeEmbed : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("tagmap-crepe-embed-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_ / "music" / "sub");
        fs::create_directories(dir_ / "weights");
        const auto shared = test::fixtures_dir();
        // Symlinks: the shared data is never copied.
        fs::create_symlink(shared / "audio/wesnoth-knalgan-theme.wav", dir_ / "music/knalgan.wav");
        fs::create_symlink(shared / "audio/hedgewars-pirate.wav", dir_ / "music/sub/pirate.wav");
        fs::create_symlink(shared / "weights/crepe-tiny.pth", dir_ / "weights/crepe-tiny.pth");
        fs::create_symlink(shared / "weights/musicnn-mtat.pth", dir_ / "weights/musicnn-mtat.pth");
    }
    void TearDown() override { fs::remove_all(dir_); }

    int run(const std::vector<std::string>& args) {
        const auto r = test::run_program("tagmap", args, dir_);
        err_ = r.err;
        return r.code;
    }

    /// What the library gives for `clip` at 16 kHz through the same resampler.
    static std::vector<float> library_pitch(const fs::path& clip) {
        std::vector<float> samples;
        audio::read_resampled(clip, [&](std::span<const float> b) {
            samples.insert(samples.end(), b.begin(), b.end());
        });
        models::CrepeTinyPitch pitch;
        pitch.bind(weights::WeightFile::load(test::fixtures_dir() / "weights/crepe-tiny.pth"));
        return pitch.run(samples);
    }

    fs::path dir_;
    std::string err_;
};

TEST_F(CrepeEmbed, WritesPitchSeriesBesideTheTaggerOutputs) {
    const std::vector<std::string> embed = {"embed", "--weights-dir", dir_ / "weights",
                                            "--out", dir_ / "out",    "-q"};
    const auto with = [&](std::vector<std::string> more) {
        auto args = embed;
        args.insert(args.end(), more.begin(), more.end());
        return args;
    };
    const std::string music = dir_ / "music";
    ASSERT_EQ(run(with({"--models", "crepe-tiny,musicnn-mtat", music})), 0) << err_;
    const auto out = dir_ / "out";
    for (const char* rel : {"knalgan.wav", "sub/pirate.wav"}) {
        const auto series = test::read_npy(out / "crepe-tiny" / (std::string(rel) + ".npy"));
        ASSERT_EQ(series.shape.size(), 2u) << rel;
        EXPECT_EQ(series.cols(), 2u);
        const auto expected = library_pitch(dir_ / "music" / rel);
        EXPECT_EQ(series.rows(), expected.size() / 2) << rel;
        EXPECT_EQ(series.values, expected) << rel;  // one decode, same resampler, same path
        for (std::size_t t = 0; t < series.rows(); ++t) {
            EXPECT_GE(series.values[2 * t], 0.0f);
            EXPECT_GE(series.values[2 * t + 1], 0.0f);
            EXPECT_LE(series.values[2 * t + 1], 1.0f);
        }
        EXPECT_TRUE(fs::exists(out / "musicnn-mtat" / (std::string(rel) + ".embedding.npy")));
        EXPECT_TRUE(fs::exists(out / "musicnn-mtat" / (std::string(rel) + ".taggram.npy")));
    }
    // 12 s at 48 kHz: 192000 samples at 16 kHz -> 1 + 192000 / 160 rows, 100 per second.
    EXPECT_EQ(test::read_npy(out / "crepe-tiny/sub/pirate.wav.npy").rows(), 1201u);
    EXPECT_NE(err_.find("crepe-tiny: 2 ok, 0 failed, 0 skipped"), std::string::npos) << err_;

    ASSERT_EQ(run(with({"--skip-existing", "--models", "crepe-tiny,musicnn-mtat", music})), 0)
        << err_;
    EXPECT_NE(err_.find("crepe-tiny: 0 ok, 0 failed, 2 skipped"), std::string::npos) << err_;
    EXPECT_NE(err_.find("musicnn-mtat: 0 ok, 0 failed, 2 skipped"), std::string::npos) << err_;
    // A removed series is written again, the tagger's outputs stay skipped.
    fs::remove(out / "crepe-tiny/knalgan.wav.npy");
    ASSERT_EQ(run(with({"--skip-existing", "--models", "crepe-tiny,musicnn-mtat", music})), 0)
        << err_;
    EXPECT_NE(err_.find("crepe-tiny: 1 ok, 0 failed, 1 skipped"), std::string::npos) << err_;
    EXPECT_TRUE(fs::exists(out / "crepe-tiny/knalgan.wav.npy"));
}

TEST_F(CrepeEmbed, SequenceModelAloneWithOneWeightsFile) {
    const auto clip = dir_ / "music/sub/pirate.wav";
    ASSERT_EQ(run({"embed", "--model", "crepe-tiny", "--weights", dir_ / "weights/crepe-tiny.pth",
                   "--out", dir_ / "out", "-q", clip}),
              0)
        << err_;
    const auto series = test::read_npy(dir_ / "out/crepe-tiny/pirate.wav.npy");
    EXPECT_EQ(series.rows(), 1201u);
    EXPECT_EQ(series.cols(), 2u);
}

TEST_F(CrepeEmbed, MissingWeightsAreReportedOnceAndTheModelSkipped) {
    fs::remove(dir_ / "weights/crepe-tiny.pth");
    ASSERT_EQ(run({"embed", "--weights-dir", dir_ / "weights", "--out", dir_ / "out", "-q",
                   "--models", "musicnn-mtat,crepe-tiny", dir_ / "music"}),
              0)
        << err_;
    EXPECT_EQ(count(err_, "skipping model"), 1u) << err_;             // once, not per file
    EXPECT_EQ(err_.find("crepe-tiny: "), std::string::npos) << err_;  // no summary line
    EXPECT_NE(err_.find("no weights for model 'crepe-tiny'"), std::string::npos) << err_;
    EXPECT_FALSE(fs::exists(dir_ / "out/crepe-tiny"));
    EXPECT_TRUE(fs::exists(dir_ / "out/musicnn-mtat/knalgan.wav.embedding.npy"));
    // With nothing left to run, the command fails.
    EXPECT_NE(run({"embed", "--weights-dir", dir_ / "weights", "--out", dir_ / "out", "-q",
                   "--models", "crepe-tiny", dir_ / "music"}),
              0);
}
}  // namespace
