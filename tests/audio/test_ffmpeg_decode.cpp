// FFmpeg decoding: .m4a (ALAC, AAC) and .wma files encoded at test time from a shared
// clip with the ffmpeg CLI (never committed), compared with libsndfile's decode of the
// source WAV; the decoder choice; typed errors for truncated and non-audio files.
#include <gtest/gtest.h>

extern "C" {
#include <libavutil/log.h>
}
#include <sndfile.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <tagmap/audio/decode.hpp>
#include <tagmap/audio/ffmpeg_decode.hpp>
#include <tagmap/audio/read_resampled.hpp>
#include "fixtures.hpp"
#include "wav_writer.hpp"

#ifndef TAGMAP_FFMPEG_EXECUTABLE
#error "tests/audio/CMakeLists.txt passes the ffmpeg CLI as TAGMAP_FFMPEG_EXECUTABLE"
#endif

namespace ta = tagmap::audio;
using tagmap::test::TempDir;

namespace {

// PCM16 stereo 44.1 kHz, 529280 frames (12 s).
std::filesystem::path source_wav() {
    return tagmap::test::fixtures_dir() / "audio" / "wesnoth-knalgan-theme.wav";
}
constexpr std::uint64_t kSourceFrames = 529280;
// FLAC 24-bit stereo 44.1 kHz.
std::filesystem::path flac_24bit() {
    return tagmap::test::fixtures_dir() / "audio" / "wesnoth-elvish-theme.flac";
}

std::string quoted(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

// Encodes the source (or a test video) with the ffmpeg CLI the first time a test asks
// for `name`, into a temporary folder shared by the tests of this run. Throws, so the
// test fails with the reason, when the CLI or the clip is missing.
const std::filesystem::path& encoded(const std::string& name) {
    static const std::map<std::string, std::string> recipes = {
        {"alac.m4a", "{src} -c:a alac"},
        {"aac.m4a", "{src} -c:a aac"},  // index (moov) at the end, ffmpeg's default
        {"aac-faststart.m4a", "{src} -c:a aac -movflags +faststart"},
        {"wmav2.wma", "{src} -c:a wmav2"},
        // A video stream first, the audio second: the reader must pick the audio.
        {"with-video.mp4", "{video} {src} -map 0:v -map 1:a -c:v mpeg4 -c:a alac"},
        {"video-only.mp4", "{video} -c:v mpeg4"},
        // 24-bit: FFmpeg decodes to 32-bit planar; six channels (5.1 layout).
        {"alac24.m4a", "{flac} -c:a alac"},
        {"six.wav",
         "{flac} -af 'pan=5.1|c0=c0|c1=c1|c2=0.5*c0|c3=0.2*c1|c4=c0|c5=-0.7*c1' -c:a pcm_s24le"},
        {"six.m4a", "{six} -c:a alac"},
    };
    static std::unique_ptr<TempDir> dir;
    static std::map<std::string, std::filesystem::path> made;
    if (auto it = made.find(name); it != made.end()) return it->second;

    const std::string ffmpeg = TAGMAP_FFMPEG_EXECUTABLE;
    if (!std::filesystem::exists(ffmpeg))
        throw std::runtime_error("the ffmpeg CLI was not found when CMake configured the tests ('" +
                                 ffmpeg +
                                 "'): install it (tools/deps.sh lists ffmpeg) and re-run cmake");
    if (!std::filesystem::exists(source_wav()))
        throw std::runtime_error("shared clip missing: " + source_wav().string() +
                                 " (set TAGMAP_FIXTURES)");
    if (!dir) dir = std::make_unique<TempDir>("tagmap-ffmpeg");
    std::string args = recipes.at(name);
    auto replace = [&](const std::string& key, const std::string& value) {
        if (const auto at = args.find(key); at != std::string::npos)
            args.replace(at, key.size(), value);
    };
    replace("{video}", "-f lavfi -i testsrc=duration=12:size=64x48:rate=5");
    replace("{src}", "-i " + quoted(source_wav().string()));
    replace("{flac}", "-i " + quoted(flac_24bit().string()));
    if (args.find("{six}") != std::string::npos)
        replace("{six}", "-i " + quoted(encoded("six.wav").string()));
    const auto out = *dir / name;
    const std::string cmd = quoted(ffmpeg) + " -nostdin -hide_banner -loglevel error -y " + args +
                            " " + quoted(out.string());
    const int status = std::system(cmd.c_str());
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw std::runtime_error("ffmpeg failed (status " + std::to_string(status) + "): " + cmd);
    return made[name] = out;
}

std::vector<float> read_all(ta::AudioFileReader& reader, std::size_t block = 4096) {
    std::vector<float> all, buf(block);
    while (std::size_t n = reader.read_mono(buf))
        all.insert(all.end(), buf.begin(), buf.begin() + n);
    return all;
}

// Index of the first difference, or -1.
long first_difference(const std::vector<float>& a, const std::vector<float>& b) {
    const auto [ia, ib] = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
    if (ia == a.end() && ib == b.end()) return -1;
    return static_cast<long>(ia - a.begin());
}

// The lag of `test` against `ref` in [-max_lag, max_lag] that maximises their
// correlation over 2 s from 1 s in.
long best_lag(const std::vector<float>& ref, const std::vector<float>& test, long max_lag) {
    const long begin = 44100, end = 3 * 44100;
    long best = 0;
    double best_dot = -1e300;
    for (long lag = -max_lag; lag <= max_lag; ++lag) {
        double dot = 0;
        for (long i = begin; i < end && i + lag < static_cast<long>(test.size()); ++i)
            dot += double(ref[i]) * test[i + lag];
        if (dot > best_dot) best_dot = dot, best = lag;
    }
    return best;
}

// SNR of test[i + lag] against ref[i], in dB, over the overlap minus 2048 frames at
// each end (codec edges).
double snr_db(const std::vector<float>& ref, const std::vector<float>& test, long lag = 0) {
    const long n_ref = static_cast<long>(ref.size()), n_test = static_cast<long>(test.size());
    const long begin = std::max(0L, -lag) + 2048;
    const long end = std::min(n_ref, n_test - lag) - 2048;
    double signal = 0, noise = 0;
    for (long i = begin; i < end; ++i) {
        signal += double(ref[i]) * ref[i];
        const double d = double(ref[i]) - test[i + lag];
        noise += d * d;
    }
    return 10 * std::log10(signal / noise);
}

// The source's channels, read with libsndfile directly.
std::vector<float> source_interleaved() {
    SF_INFO info{};
    SNDFILE* f = sf_open(source_wav().c_str(), SFM_READ, &info);
    if (!f) return {};
    std::vector<float> all(static_cast<std::size_t>(info.frames) * info.channels);
    sf_readf_float(f, all.data(), info.frames);
    sf_close(f);
    return all;
}

void write_bytes(const std::filesystem::path& p, const std::string& bytes) {
    std::ofstream(p, std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_bytes(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

// FFmpeg reports the damage these tests provoke on stderr; an application chooses what
// to do with av_log (docs/audio.md), and so do the tests: silence.
const auto* const kQuiet = ::testing::AddGlobalTestEnvironment([] {
    struct Quiet : ::testing::Environment {
        void SetUp() override { av_log_set_level(AV_LOG_QUIET); }
    };
    return new Quiet;
}());

}  // namespace

TEST(FfmpegDecode, WavStaysWithLibsndfileM4aGoesToFfmpeg) {
    EXPECT_EQ(ta::AudioFileReader(source_wav()).decoder(), ta::Decoder::libsndfile);
    EXPECT_EQ(ta::AudioFileReader(encoded("alac.m4a")).decoder(), ta::Decoder::ffmpeg);
    EXPECT_EQ(ta::AudioFileReader(encoded("wmav2.wma")).decoder(), ta::Decoder::ffmpeg);
}

TEST(FfmpegDecode, AlacEqualsLibsndfileDecodeOfTheWav) {
    ta::AudioFileReader reader(encoded("alac.m4a"));
    EXPECT_EQ(reader.info().sample_rate, 44100);
    EXPECT_EQ(reader.info().channels, 2);
    EXPECT_EQ(reader.info().frames, static_cast<std::int64_t>(kSourceFrames));
    EXPECT_EQ(reader.info().format, "MP4 / ALAC");
    const auto alac = read_all(reader, 777);  // odd blocks across codec frames
    const auto wav = ta::decode_mono(source_wav()).samples;
    ASSERT_EQ(wav.size(), kSourceFrames);
    // Lossless, and both paths produce x / 32768 per channel, then (l + r) * 0.5.
    ASSERT_EQ(alac.size(), wav.size());
    EXPECT_EQ(first_difference(alac, wav), -1);
    EXPECT_EQ(reader.frames_read(), kSourceFrames);
    EXPECT_EQ(reader.recovered_errors(), 0u);
    float peak = 0.0f;
    for (float x : wav) peak = std::max(peak, std::fabs(x));
    EXPECT_EQ(reader.peak(), peak);
}

TEST(FfmpegDecode, Alac24BitAndSixChannelsEqualLibsndfile) {
    ta::AudioFileReader alac24(encoded("alac24.m4a"));
    EXPECT_EQ(alac24.decoder(), ta::Decoder::ffmpeg);
    EXPECT_EQ(first_difference(read_all(alac24), ta::decode_mono(flac_24bit()).samples), -1);
    const auto wav = encoded("six.wav");  // libsndfile reads it
    ta::AudioFileReader six(encoded("six.m4a"));
    EXPECT_EQ(six.info().channels, 6);
    const auto reference = ta::decode_mono(wav).samples;
    ASSERT_GT(reference.size(), 800000u);
    EXPECT_EQ(first_difference(read_all(six), reference), -1);
}

TEST(FfmpegDecode, SameDownMixAsLibsndfileOnTheSameFiles) {
    // FFmpeg reads WAV and FLAC too: fed the same files, both readers agree bit for bit
    // (PCM16 stereo, PCM16 mono, FLAC).
    for (const char* name :
         {"wesnoth-knalgan-theme.wav", "hedgewars-pirate.wav", "etr-freezingpoint.flac"}) {
        SCOPED_TRACE(name);
        const auto path = tagmap::test::fixtures_dir() / "audio" / name;
        ta::SndfileReader sndfile(path);
        ta::FfmpegReader ffmpeg(path, 1000);
        EXPECT_EQ(ffmpeg.info().sample_rate, sndfile.info().sample_rate);
        EXPECT_EQ(ffmpeg.info().channels, sndfile.info().channels);
        EXPECT_EQ(ffmpeg.info().frames, sndfile.info().frames);
        std::vector<float> a, b, buf(3001);
        while (std::size_t n = sndfile.read_mono(buf))
            a.insert(a.end(), buf.begin(), buf.begin() + n);
        while (std::size_t n = ffmpeg.read_mono(buf))
            b.insert(b.end(), buf.begin(), buf.begin() + n);
        ASSERT_EQ(a.size(), b.size());
        EXPECT_EQ(first_difference(a, b), -1);
        EXPECT_EQ(ffmpeg.peak(), sndfile.peak());
    }
}

TEST(FfmpegDecode, AacIsCloseToTheSource) {
    ta::AudioFileReader reader(encoded("aac.m4a"));
    EXPECT_EQ(reader.info().sample_rate, 44100);
    EXPECT_EQ(reader.info().channels, 2);
    EXPECT_EQ(reader.info().format, "MP4 / AAC");
    const auto aac = read_all(reader);
    const auto wav = ta::decode_mono(source_wav()).samples;
    // The edit list removes the encoder's 1024 priming frames; the last AAC frame is
    // decoded whole (529408 = 517 * 1024), i.e. up to one frame of padding at the end.
    EXPECT_GE(aac.size(), kSourceFrames);
    EXPECT_LE(aac.size(), kSourceFrames + 1024);
    EXPECT_EQ(reader.recovered_errors(), 0u);
    const long lag = best_lag(wav, aac, 2048);
    EXPECT_EQ(lag, 0);  // priming removed: aligned as is
    const double snr = snr_db(wav, aac, lag);
    RecordProperty("aac_snr_db", std::to_string(snr));
    std::printf("AAC 128k: %zu frames, lag %ld, SNR %.2f dB\n", aac.size(), lag, snr);

    // The threshold rejects the mistakes it is meant to catch, measured on the source
    // itself: the left channel alone, the sum instead of the average, planar samples
    // read as interleaved (per 1024-frame block).
    constexpr double kMinSnr = 20.0;
    EXPECT_GE(snr, kMinSnr);
    const auto lr = source_interleaved();
    ASSERT_EQ(lr.size(), 2 * kSourceFrames);
    std::vector<float> left(kSourceFrames), sum(kSourceFrames), planar(kSourceFrames);
    for (std::size_t i = 0; i < kSourceFrames; ++i) {
        left[i] = lr[2 * i];
        sum[i] = lr[2 * i] + lr[2 * i + 1];
    }
    for (std::size_t block = 0; block + 1024 <= kSourceFrames; block += 1024) {
        std::vector<float> buf(2048);  // L[0..1024) then R[0..1024), as a planar frame
        for (std::size_t i = 0; i < 1024; ++i) {
            buf[i] = lr[2 * (block + i)];
            buf[1024 + i] = lr[2 * (block + i) + 1];
        }
        for (std::size_t i = 0; i < 1024; ++i)
            planar[block + i] = (buf[2 * i] + buf[2 * i + 1]) * 0.5f;
    }
    const double snr_left = snr_db(wav, left), snr_sum = snr_db(wav, sum),
                 snr_planar = snr_db(wav, planar);
    std::printf(
        "wrong down-mixes of the source: left only %.2f dB, sum %.2f dB, planar as "
        "interleaved %.2f dB\n",
        snr_left, snr_sum, snr_planar);
    EXPECT_LT(snr_left, kMinSnr);
    EXPECT_LT(snr_sum, kMinSnr);
    EXPECT_LT(snr_planar, kMinSnr);
}

TEST(FfmpegDecode, WmaDecodes) {
    ta::AudioFileReader reader(encoded("wmav2.wma"));
    EXPECT_EQ(reader.info().sample_rate, 44100);
    EXPECT_EQ(reader.info().channels, 2);
    EXPECT_EQ(reader.info().format, "ASF / WMAV2");
    const auto wma = read_all(reader);
    EXPECT_GE(wma.size(), kSourceFrames - 4096);
    EXPECT_LE(wma.size(), kSourceFrames + 4096);
    EXPECT_EQ(reader.recovered_errors(), 0u);
    const auto wav = ta::decode_mono(source_wav()).samples;
    const long lag = best_lag(wav, wma, 4096);
    const double snr = snr_db(wav, wma, lag);
    RecordProperty("wma_snr_db", std::to_string(snr));
    std::printf("WMAv2 128k: %zu frames, lag %ld, SNR %.2f dB\n", wma.size(), lag, snr);
    EXPECT_GE(snr, 15.0);
}

TEST(FfmpegDecode, PicksTheAudioStream) {
    ta::AudioFileReader reader(encoded("with-video.mp4"));
    EXPECT_EQ(reader.info().channels, 2);
    const auto alac = read_all(reader);
    EXPECT_EQ(first_difference(alac, ta::decode_mono(source_wav()).samples), -1);
    try {
        ta::AudioFileReader r(encoded("video-only.mp4"));
        FAIL() << "no error";
    } catch (const tagmap::UnsupportedError& e) {
        EXPECT_NE(std::string(e.what()).find("no audio stream"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("video-only.mp4"), std::string::npos);
    }
}

TEST(FfmpegDecode, ReadResampledGives16kHz) {
    std::vector<float> from_m4a, from_wav;
    const auto report = ta::read_resampled(encoded("alac.m4a"), [&](std::span<const float> s) {
        from_m4a.insert(from_m4a.end(), s.begin(), s.end());
    });
    ta::read_resampled(source_wav(), [&](std::span<const float> s) {
        from_wav.insert(from_wav.end(), s.begin(), s.end());
    });
    EXPECT_EQ(report.info.sample_rate, 44100);
    EXPECT_EQ(report.info.format, "MP4 / ALAC");
    EXPECT_EQ(report.source_frames, kSourceFrames);
    EXPECT_EQ(report.recovered_errors, 0u);
    EXPECT_EQ(report.output_samples, from_m4a.size());
    const double expected = kSourceFrames * 16000.0 / 44100.0;
    EXPECT_NEAR(static_cast<double>(from_m4a.size()), expected, 1.0);
    EXPECT_NEAR(report.seconds(), 12.0, 0.01);
    // Same mono input, same resampler: the same 16 kHz samples.
    EXPECT_EQ(first_difference(from_m4a, from_wav), -1);
}

TEST(FfmpegDecode, TruncatedM4aIsFormatError) {
    TempDir dir("tagmap-ffmpeg-cut");
    const std::string bytes = read_bytes(encoded("aac.m4a"));
    // ffmpeg writes the index (moov) last: a cut file has media but no (whole) index.
    const std::size_t moov = bytes.rfind("moov");
    ASSERT_NE(moov, std::string::npos);
    for (std::size_t keep :
         {std::size_t{12}, std::size_t{100}, bytes.size() / 2, moov - 4, moov + 64}) {
        SCOPED_TRACE(keep);
        write_bytes(dir / "cut.m4a", bytes.substr(0, keep));
        try {
            ta::AudioFileReader r(dir / "cut.m4a");
            FAIL() << "no error";
        } catch (const tagmap::FormatError& e) {
            EXPECT_NE(std::string(e.what()).find("cut.m4a"), std::string::npos) << e.what();
        }
    }
    // With the index first, a cut file decodes up to the cut and reports the damage.
    const std::string fast = read_bytes(encoded("aac-faststart.m4a"));
    write_bytes(dir / "cut-faststart.m4a", fast.substr(0, fast.size() / 2));
    ta::AudioFileReader r(dir / "cut-faststart.m4a");
    EXPECT_EQ(r.info().frames, ta::AudioFileReader(encoded("aac-faststart.m4a")).info().frames);
    const auto samples = read_all(r);
    EXPECT_GT(samples.size(), kSourceFrames / 3);
    EXPECT_LT(samples.size(), kSourceFrames * 2 / 3);
    EXPECT_GT(r.recovered_errors(), 0u);
}

TEST(FfmpegDecode, NotAudioIsUnsupported) {
    TempDir dir("tagmap-ffmpeg-text");
    std::string text;
    for (int i = 0; i < 200; ++i) text += "not audio, line " + std::to_string(i) + "\n";
    for (const char* name : {"text.m4a", "text.mp3", "text.wma", "empty.m4a"}) {
        SCOPED_TRACE(name);
        write_bytes(dir / name, std::string(name) == "empty.m4a" ? std::string() : text);
        try {
            ta::AudioFileReader r(dir / name);
            FAIL() << "no error";
        } catch (const tagmap::UnsupportedError& e) {
            const std::string what = e.what();
            EXPECT_NE(what.find(name), std::string::npos) << what;
            EXPECT_NE(what.find("not an audio file"), std::string::npos) << what;
        }
        // FfmpegReader alone says the same.
        EXPECT_THROW(ta::FfmpegReader{dir / name}, tagmap::UnsupportedError);
    }
    EXPECT_THROW(ta::FfmpegReader("/nonexistent/a.m4a"), tagmap::IoError);
    EXPECT_THROW(ta::FfmpegReader{dir.path()}, tagmap::IoError);
}

TEST(FfmpegDecode, ReaderMovesAndBlockSizesAgree) {
    ta::AudioFileReader first(encoded("aac.m4a"));
    std::vector<float> head(1000);
    ASSERT_EQ(first.read_mono(head), 1000u);
    ta::AudioFileReader moved = std::move(first);  // the FFmpeg state does not move
    auto rest = read_all(moved, 1);
    head.insert(head.end(), rest.begin(), rest.end());
    ta::AudioFileReader again(encoded("aac.m4a"));
    EXPECT_EQ(first_difference(head, read_all(again, 65536)), -1);
}
