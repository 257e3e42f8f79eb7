// madmom's pre-processing chain: the filterbank facts of the reference README and the
// T x 266 features of crepe/test.wav (16-bit mono 44.1 kHz, madmom's native path)
// against madmom's own test.features.npy.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "madmom_test_util.hpp"
#include "tagmap/audio/decode.hpp"
#include "tagmap/audio/madmom_features.hpp"

namespace {

using namespace tagmap;

TEST(MadmomFeatures, FilterbankMatchesTheReferenceFacts) {
    audio::MadmomBeatFeatures fe;
    EXPECT_EQ(fe.columns(), 266u);
    EXPECT_EQ(fe.bands(0), 39u);
    EXPECT_EQ(fe.bands(1), 45u);
    EXPECT_EQ(fe.bands(2), 49u);
    EXPECT_EQ(audio::madmom_diff_frames(1024), 1u);
    EXPECT_EQ(audio::madmom_diff_frames(2048), 1u);
    EXPECT_EQ(audio::madmom_diff_frames(4096), 2u);
    // README: unique bins for N = 1024 and N = 4096.
    EXPECT_EQ(
        audio::log_filter_bins(1024),
        (std::vector<std::size_t>{1,  2,   3,   4,   5,   6,   7,   8,   9,   10,  11,  13,  14, 16,
                                  18, 20,  23,  26,  29,  32,  36,  41,  46,  51,  58,  65,  73, 82,
                                  92, 103, 116, 130, 146, 163, 183, 206, 231, 259, 291, 327, 367}));
    const auto b4096 = audio::log_filter_bins(4096);
    ASSERT_EQ(b4096.size(), 51u);
    EXPECT_EQ(b4096.front(), 3u);
    EXPECT_EQ(b4096.back(), 1468u);
    EXPECT_EQ(audio::log_filter_bins(2048).size(), 47u);
    for (std::size_t s = 0; s < 3; ++s) {
        const std::size_t n = audio::MadmomBeatFeatures::frame_sizes[s];
        const auto bins = audio::log_filter_bins(n);
        const auto filters = audio::log_filterbank(n);
        ASSERT_EQ(filters.size() + 2, bins.size());
        for (std::size_t j = 0; j < filters.size(); ++j) {
            EXPECT_EQ(filters[j].start, bins[j]);
            EXPECT_EQ(filters[j].start + filters[j].weights.size(), bins[j + 2]);
            // the peak sits on the center bin
            const auto peak =
                std::max_element(filters[j].weights.begin(), filters[j].weights.end());
            EXPECT_EQ(filters[j].start + std::size_t(peak - filters[j].weights.begin()),
                      bins[j + 1]);
        }
    }
    for (std::size_t s = 0; s < 3; ++s)
        for (const auto& f : audio::log_filterbank(audio::MadmomBeatFeatures::frame_sizes[s])) {
            double sum = 0;
            for (float w : f.weights) sum += w;
            EXPECT_NEAR(sum, 1.0, 1e-6);         // norm_filters
            EXPECT_EQ(f.weights.front(), 0.0f);  // rising edge starts at 0, stop is excluded
        }
}

TEST(MadmomFeatures, TestWavMatchesMadmom) {
    const auto wav = test::fixtures_dir() / "crepe" / "test.wav";
    const auto ref_path = test::madmom_dir() / "test.features.npy";
    if (!std::filesystem::exists(wav) || !std::filesystem::exists(ref_path))
        GTEST_SKIP() << "shared data missing";
    const auto ref = test::read_npy<float>(ref_path);
    const auto audio = audio::decode_mono(wav);
    ASSERT_EQ(audio.sample_rate, 44100);
    // libsndfile scales 16-bit PCM by 1/32768, so to_int16 gives back the file's samples.
    const auto pcm = audio::MadmomBeatFeatures::to_int16(audio.samples);
    audio::MadmomBeatFeatures fe;
    const auto f = fe.compute(pcm);
    ASSERT_EQ(ref.shape,
              (std::vector<std::size_t>{audio::MadmomBeatFeatures::frames(pcm.size()), 266}));
    const double diff = test::max_abs_diff(f, ref.values);
    EXPECT_LT(diff, 1e-5);
    RecordProperty("max_abs_diff", std::to_string(diff));
    // Every column group carries signal (not zeros matching zeros).
    for (std::size_t c : {0u, 39u, 78u, 123u, 168u, 217u}) {
        double s = 0;
        for (std::size_t t = 0; t < ref.shape[0]; ++t) s += f[t * 266 + c + 5];
        EXPECT_GT(s, 0.0) << "column " << c + 5;
    }
}

// begin / push / finish in uneven blocks gives compute()'s rows bit for bit, without the
// signal kept (short and odd lengths included).
TEST(MadmomFeatures, StreamingGivesTheSameRows) {
    std::vector<std::int16_t> pcm(100000);
    std::uint32_t seed = 7;
    for (std::size_t i = 0; i < pcm.size(); ++i) {
        seed = seed * 1664525u + 1013904223u;
        const double tone = 8000.0 * std::sin(0.05 * double(i) + 1e-6 * double(i * i % 100003));
        pcm[i] = std::int16_t(tone + double(int(seed >> 20) - 2048));
    }
    audio::MadmomBeatFeatures fe;
    for (const std::size_t n : {pcm.size(), std::size_t(4000), std::size_t(441), std::size_t(1)}) {
        const std::span<const std::int16_t> signal(pcm.data(), n);
        const auto whole = fe.compute(signal);
        for (const std::size_t block : {std::size_t(1), std::size_t(777), std::size_t(65536)}) {
            if (block == 1 && n > 5000) continue;  // one sample per push: slow, short case only
            fe.begin(block == 777 ? n : 0);
            for (std::size_t i = 0; i < n; i += block)
                fe.push(signal.subspan(i, std::min(block, n - i)));
            EXPECT_EQ(fe.samples_seen(), n);
            const auto rows = fe.finish();
            ASSERT_EQ(rows.size(), whole.size()) << n << " / " << block;
            EXPECT_EQ(0, std::memcmp(rows.data(), whole.data(), rows.size() * sizeof(float)))
                << n << " / " << block;
        }
    }
    fe.begin();
    EXPECT_TRUE(fe.finish().empty());
    // The position of a bad sample is its place in the whole signal.
    const std::vector<float> bad = {0.0f, 0.5f, std::numeric_limits<float>::quiet_NaN()};
    std::vector<std::int16_t> out(3);
    try {
        audio::MadmomBeatFeatures::to_int16(bad, out, 1000);
        ADD_FAILURE() << "no error";
    } catch (const AudioError& e) {
        EXPECT_NE(std::string(e.what()).find("sample 1002"), std::string::npos) << e.what();
    }
}

TEST(MadmomFeatures, ShortAndEmptySignals) {
    audio::MadmomBeatFeatures fe;
    EXPECT_TRUE(fe.compute({}).empty());
    const std::vector<std::int16_t> one = {1000};
    const auto f = fe.compute(one);
    ASSERT_EQ(f.size(), 266u);  // one frame centred on the only sample
    EXPECT_GT(f[10], 0.0f);
    EXPECT_EQ(f[39 + 10], 0.0f);  // no difference for the first frame
    const std::vector<float> bad = {0.0f, std::numeric_limits<float>::quiet_NaN()};
    EXPECT_THROW((void)audio::MadmomBeatFeatures::to_int16(bad), AudioError);
    const std::vector<float> loud = {1.5f, -1.5f, 0.5f};
    const auto q = audio::MadmomBeatFeatures::to_int16(loud);
    EXPECT_EQ(q, (std::vector<std::int16_t>{32767, -32768, 16384}));
}

}  // namespace
