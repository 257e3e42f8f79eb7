// madmom-beats end to end on every reference clip, against madmom's RNNBeatProcessor:
//  - test.wav (16-bit mono 44.1 kHz) and knalgan (16-bit stereo, madmom's truncating
//    mean downmix) read as madmom reads them: exact path, 1e-4;
//  - pirate and freezingpoint, which madmom hands to ffmpeg (resampling, downmix): on
//    the exact int16 signal ffmpeg produced (1e-4), and through tagmap's own decoder and
//    resampler, where the residual is the resampler's (bounded loosely, printed).
#include <gtest/gtest.h>

#include <sndfile.h>

#include <cstring>

#include "madmom_test_util.hpp"
#include "tagmap/audio/decode.hpp"
#include "tagmap/audio/read_resampled.hpp"
#include "tagmap/models/madmom_beats.hpp"

namespace {

using namespace tagmap;
namespace fs = std::filesystem;

class MadmomClips : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        if (!test::have_madmom_models()) return;
        model_ = new models::MadmomBeats;
        model_->bind(test::madmom_ensemble_weights());
    }
    static void TearDownTestSuite() {
        delete model_;
        model_ = nullptr;
    }
    void SetUp() override { TAGMAP_REQUIRE_MADMOM(); }

    static std::vector<float> reference(const std::string& clip) {
        return test::read_npy<float>(test::madmom_dir() / (clip + ".beats.npy")).values;
    }
    static models::MadmomBeats* model_;
};
models::MadmomBeats* MadmomClips::model_ = nullptr;

// madmom's native WAV path: int16 frames, channels averaged in float64 and truncated.
std::vector<std::int16_t> read_int16_mono_like_madmom(const fs::path& path) {
    SF_INFO info{};
    SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
    if (!f) throw IoError("cannot open " + path.string());
    std::vector<short> frames(std::size_t(info.frames) * std::size_t(info.channels));
    const auto got = sf_readf_short(f, frames.data(), info.frames);
    sf_close(f);
    EXPECT_EQ(got, info.frames);
    std::vector<std::int16_t> mono(std::size_t(info.frames));
    for (std::size_t i = 0; i < mono.size(); ++i) {
        int sum = 0;
        for (int c = 0; c < info.channels; ++c)
            sum += frames[i * std::size_t(info.channels) + std::size_t(c)];
        mono[i] =
            static_cast<std::int16_t>(sum / info.channels);  // C division truncates, as astype does
    }
    return mono;
}

TEST_F(MadmomClips, NativeWavPaths) {
    for (const auto& [clip, file] :
         {std::pair{std::string("test"), test::fixtures_dir() / "crepe" / "test.wav"},
          std::pair{std::string("wesnoth-knalgan-theme"),
                    test::fixtures_dir() / "audio" / "wesnoth-knalgan-theme.wav"}}) {
        const auto pcm = read_int16_mono_like_madmom(file);
        const auto act = model_->run_int16(pcm);
        const double diff = test::max_abs_diff(act, reference(clip));
        EXPECT_LT(diff, 1e-4) << clip;
        std::cout << clip << ": max |diff| " << diff << " over " << act.size() << " frames\n";
    }
    // The float API on libsndfile's decoding of the mono file gives the same.
    const auto audio = audio::decode_mono(test::fixtures_dir() / "crepe" / "test.wav");
    EXPECT_LT(test::max_abs_diff(model_->run(audio.samples), reference("test")), 1e-4);
}

TEST_F(MadmomClips, FfmpegPathsOnTheExactSignal) {
    for (const std::string clip : {"hedgewars-pirate", "etr-freezingpoint"}) {
        const auto pcm =
            test::read_npy<std::int16_t>(test::madmom_dir() / (clip + ".signal44k.npy"));
        const auto act = model_->run_int16(pcm.values);
        const double diff = test::max_abs_diff(act, reference(clip));
        EXPECT_LT(diff, 1e-4) << clip;
        std::cout << clip << ": max |diff| " << diff << " over " << act.size() << " frames\n";
    }
}

// The streaming interface (blocks as the decoder delivers them) gives run()'s values
// bit for bit; the reference comparison above then holds for it too.
TEST_F(MadmomClips, StreamingGivesTheSameActivation) {
    std::vector<float> samples;
    audio::read_resampled(
        test::fixtures_dir() / "audio" / "hedgewars-pirate.wav",
        [&](std::span<const float> s) { samples.insert(samples.end(), s.begin(), s.end()); },
        models::MadmomBeats::sample_rate);
    const auto whole = model_->run(samples);
    model_->begin(samples.size());
    for (std::size_t i = 0; i < samples.size(); i += 16384)
        model_->push(std::span<const float>(samples).subspan(
            i, std::min<std::size_t>(16384, samples.size() - i)));
    const auto streamed = model_->finish();
    ASSERT_EQ(streamed.size(), whole.size());
    EXPECT_EQ(0, std::memcmp(streamed.data(), whole.data(), whole.size() * sizeof(float)));
}

TEST_F(MadmomClips, FfmpegPathsThroughTagmapsResampler) {
    for (const auto& [clip, file] :
         {std::pair{std::string("hedgewars-pirate"), std::string("hedgewars-pirate.wav")},
          std::pair{std::string("etr-freezingpoint"), std::string("etr-freezingpoint.flac")}}) {
        std::vector<float> samples;
        audio::read_resampled(
            test::fixtures_dir() / "audio" / file,
            [&](std::span<const float> s) { samples.insert(samples.end(), s.begin(), s.end()); },
            models::MadmomBeats::sample_rate);
        const auto ref = reference(clip);
        auto act = model_->run(samples);
        ASSERT_EQ(act.size(), ref.size()) << clip;
        double sum = 0;
        for (std::size_t t = 0; t < act.size(); ++t) sum += std::abs(act[t] - ref[t]);
        const double diff = test::max_abs_diff(act, ref), mean = sum / double(act.size());
        std::cout << clip << " via libsoxr: max |diff| " << diff << ", mean " << mean << '\n';
        // A different resampler than ffmpeg's: small, not bit-level, differences.
        EXPECT_LT(diff, 0.05) << clip;
        EXPECT_LT(mean, 2e-3) << clip;
    }
}

}  // namespace
