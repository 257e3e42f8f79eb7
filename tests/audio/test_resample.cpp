// Resampling: pass-through, sine sweeps against the analytic signal, and the streaming
// path against libsoxr's one-shot API on real clips.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <vector>

#include <tagmap/audio/read_resampled.hpp>
#include <tagmap/audio/resample.hpp>
#include "fixtures.hpp"
#include "wav_writer.hpp"

namespace ta = tagmap::audio;

namespace {

// Linear chirp f(t) = f0 + (f1 - f0) t / T, sampled at `rate`.
double chirp(double t, double f0, double f1, double T) {
    return 0.5 * std::sin(2 * std::numbers::pi * (f0 * t + (f1 - f0) * t * t / (2 * T)));
}

std::vector<float> stream(ta::Resampler& r, const std::vector<float>& in, std::size_t block) {
    std::vector<float> out;
    auto sink = [&](std::span<const float> s) { out.insert(out.end(), s.begin(), s.end()); };
    for (std::size_t i = 0; i < in.size(); i += block)
        r.process(std::span<const float>(in).subspan(i, std::min(block, in.size() - i)), sink);
    r.flush(sink);
    return out;
}

}  // namespace

TEST(Resample, SixteenKilohertzPassesThroughBitExact) {
    std::vector<float> in(10007);
    for (std::size_t i = 0; i < in.size(); ++i) in[i] = std::sin(0.37f * i) * 0.7f + 1e-7f * i;
    ta::Resampler r(16000.0);
    EXPECT_TRUE(r.passthrough());
    EXPECT_EQ(stream(r, in, 333), in);
}

TEST(Resample, SineSweepsMatchTheAnalyticSignal) {
    // SOXR_HQ's passband rolls off by up to 0.01 dB towards its 0.913 * 8 kHz edge,
    // which alone limits the SNR to ~60 dB there; measured from 44.1 kHz: 96 dB at
    // 4.4 kHz, 78 dB at 5.5 kHz, 71 dB at 6.1 kHz. "In band" here is 20 Hz..4.8 kHz.
    const double T = 3.0, f0 = 20.0, f1 = 4800.0;
    for (double rate : {22050.0, 44100.0, 48000.0}) {
        SCOPED_TRACE(rate);
        std::vector<float> in(static_cast<std::size_t>(T * rate));
        for (std::size_t i = 0; i < in.size(); ++i)
            in[i] = static_cast<float>(chirp(i / rate, f0, f1, T));
        ta::Resampler r(rate);
        const auto out = stream(r, in, 1024);
        EXPECT_NEAR(static_cast<double>(out.size()), T * 16000.0, 1.0);
        // Skip the edges, where the analytic chirp starts/stops abruptly.
        double signal = 0, noise = 0;
        for (std::size_t i = 1600; i + 1600 < out.size(); ++i) {
            const double ref = chirp(i / 16000.0, f0, f1, T);
            signal += ref * ref;
            noise += (out[i] - ref) * (out[i] - ref);
        }
        const double snr_db = 10 * std::log10(signal / noise);
        RecordProperty("snr_db_" + std::to_string(static_cast<int>(rate)), std::to_string(snr_db));
        EXPECT_GE(snr_db, 80.0) << "rate " << rate;
    }
}

TEST(Resample, PassbandKeepsHighTonesAndStopbandRemovesAliases) {
    for (double rate : {22050.0, 44100.0, 48000.0}) {
        SCOPED_TRACE(rate);
        auto rms_out = [&](double freq) {
            const auto in = tagmap::test::sine(static_cast<std::size_t>(rate), freq, rate);
            const auto out = ta::resample_oneshot(in, rate);
            double e = 0;
            for (std::size_t i = 4000; i < 12000; ++i) e += out[i] * out[i];
            return std::sqrt(e / 8000);
        };
        const double in_rms = 0.5 / std::sqrt(2.0);
        EXPECT_NEAR(rms_out(7000.0) / in_rms, 1.0, 0.01);  // inside the 7.3 kHz passband
        if (rate > 2 * 9000.0) {
            EXPECT_LT(rms_out(9000.0) / in_rms, 1e-5);  // would alias to 7 kHz
        }
    }
}

TEST(Resample, StreamingEqualsOneShotOnRealClips) {
    for (const char* name :
         {"wesnoth-knalgan-theme.wav", "etr-freezingpoint.flac", "warzone-track4.opus"}) {
        SCOPED_TRACE(name);
        const auto path = tagmap::test::fixtures_dir() / "audio" / name;
        const auto mono = ta::decode_mono(path);
        const auto reference = ta::resample_oneshot(mono.samples, mono.sample_rate);
        std::vector<float> streamed;
        const auto report = ta::read_resampled(path, [&](std::span<const float> s) {
            streamed.insert(streamed.end(), s.begin(), s.end());
        });
        EXPECT_EQ(report.source_frames, mono.samples.size());
        ASSERT_EQ(streamed.size(), reference.size());
        float max_diff = 0;
        for (std::size_t i = 0; i < streamed.size(); ++i)
            max_diff = std::max(max_diff, std::fabs(streamed[i] - reference[i]));
        EXPECT_EQ(max_diff, 0.0f);
        // Odd block sizes through the Resampler directly give the same samples too.
        ta::Resampler r(mono.sample_rate);
        EXPECT_EQ(stream(r, mono.samples, 4999), reference);
    }
}

TEST(Resample, AbsurdRatesAreRejected) {
    EXPECT_THROW(ta::Resampler(0.0), tagmap::AudioError);
    EXPECT_THROW(ta::Resampler(-44100.0), tagmap::AudioError);
    EXPECT_THROW(ta::Resampler(1e9), tagmap::AudioError);
    EXPECT_THROW(ta::Resampler(std::nan("")), tagmap::AudioError);
}
