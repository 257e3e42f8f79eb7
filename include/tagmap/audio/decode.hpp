// Block-wise decoding of audio files to mono float with libsndfile.
//
// AudioFileReader opens anything libsndfile reads (WAV PCM/float, FLAC, Ogg Vorbis,
// Ogg Opus, MP3, AIFF, ...) and hands out mono blocks: channels are averaged, samples
// are libsndfile's normalised floats (PCM16 x / 32768, etc.). Only one block of
// interleaved frames is held, so a 1-hour file costs a few kilobytes, not 600 MB.
#pragma once

#include <sndfile.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include <tagmap/core/error.hpp>

namespace tagmap::audio {

/// Sample rates outside this range are rejected as absurd (AudioError).
inline constexpr int kMinSampleRate = 1000;
inline constexpr int kMaxSampleRate = 768000;
/// Peak absolute sample below which audio counts as near-silent (-60 dBFS).
inline constexpr float kNearSilentPeak = 1e-3f;

/// What the file header says, before any sample is read.
struct AudioInfo {
    int sample_rate = 0;
    int channels = 0;
    std::int64_t frames = 0;  ///< per channel, as reported by the container
    std::string
        format;  ///< libsndfile's name of the major format, e.g. "OGG (OGG Container format)"
};

/// Streams the frames of one audio file as mono float blocks.
///
/// Errors (all thrown from the constructor or read_mono, with the path in the message):
///   IoError           the file does not exist or cannot be opened for reading
///   UnsupportedError  libsndfile does not recognise the format (m4a, plain text, ...)
///   FormatError       the format is recognised but the bytes are corrupt or truncated
///   AudioError        zero frames, zero channels, absurd sample rate, NaN/Inf samples
class AudioFileReader {
  public:
    /// @param block_frames  frames decoded per libsndfile call (memory: block * channels floats)
    explicit AudioFileReader(const std::filesystem::path& path, std::size_t block_frames = 8192)
        : path_(path), block_frames_(block_frames == 0 ? 8192 : block_frames) {
        std::error_code ec;
        if (!std::filesystem::exists(path, ec))
            throw IoError("audio file not found: " + path.string());
        if (std::filesystem::is_directory(path, ec))
            throw IoError("audio path is a directory, not a file: " + path.string());

        SF_INFO sf_info{};
        SNDFILE* handle = sf_open(path.c_str(), SFM_READ, &sf_info);
        if (handle == nullptr) {
            const int code = sf_error(nullptr);
            const std::string why = sf_strerror(nullptr);
            if (code == SF_ERR_UNRECOGNISED_FORMAT)
                throw UnsupportedError("unsupported audio format (libsndfile: " + why +
                                       "): " + path.string());
            if (code == SF_ERR_SYSTEM)
                throw IoError("cannot open audio file (" + why + "): " + path.string());
            throw FormatError("corrupt or unreadable audio file (libsndfile: " + why +
                              "): " + path.string());
        }
        file_.reset(handle);

        info_.sample_rate = sf_info.samplerate;
        info_.channels = sf_info.channels;
        info_.frames = sf_info.frames;
        SF_FORMAT_INFO format_info{};
        format_info.format = sf_info.format & SF_FORMAT_TYPEMASK;
        if (sf_command(nullptr, SFC_GET_FORMAT_INFO, &format_info, sizeof(format_info)) == 0 &&
            format_info.name != nullptr)
            info_.format = format_info.name;

        if (info_.channels <= 0) throw AudioError("audio file has no channels: " + path.string());
        if (info_.sample_rate < kMinSampleRate || info_.sample_rate > kMaxSampleRate)
            throw AudioError("absurd sample rate " + std::to_string(info_.sample_rate) +
                             " Hz (accepted: " + std::to_string(kMinSampleRate) + ".." +
                             std::to_string(kMaxSampleRate) + "): " + path.string());
        if (info_.frames <= 0) throw AudioError("audio file has zero length: " + path.string());

        interleaved_.resize(block_frames_ * static_cast<std::size_t>(info_.channels));
    }

    const AudioInfo& info() const { return info_; }
    const std::filesystem::path& path() const { return path_; }

    /// Decodes up to out.size() frames, down-mixed to mono by averaging channels.
    /// Returns the number of frames written; 0 means end of file.
    std::size_t read_mono(std::span<float> out) {
        const std::size_t channels = static_cast<std::size_t>(info_.channels);
        std::size_t written = 0;
        while (written < out.size()) {
            const std::size_t want = std::min(block_frames_, out.size() - written);
            const sf_count_t got =
                sf_readf_float(file_.get(), interleaved_.data(), static_cast<sf_count_t>(want));
            // libsndfile flags some recoverable stream damage (e.g. a lost Ogg Opus
            // packet) with a short read, then keeps decoding: only an error that yields
            // no samples at all is fatal.
            const bool error = sf_error(file_.get()) != SF_ERR_NO_ERROR;
            if (got < 0 || (error && got == 0))
                throw FormatError("decoding failed after " + std::to_string(frames_read_) +
                                  " frames (libsndfile: " + sf_strerror(file_.get()) +
                                  "): " + path_.string());
            if (got == 0) break;
            const float inv_channels = 1.0f / static_cast<float>(channels);
            for (std::size_t f = 0; f < static_cast<std::size_t>(got); ++f) {
                float sum = 0.0f;
                for (std::size_t c = 0; c < channels; ++c) sum += interleaved_[f * channels + c];
                const float mono = channels == 1 ? sum : sum * inv_channels;
                if (!std::isfinite(mono))
                    throw AudioError("non-finite sample (NaN or Inf) at frame " +
                                     std::to_string(frames_read_ + f) + ": " + path_.string());
                peak_ = std::max(peak_, std::fabs(mono));
                out[written + f] = mono;
            }
            written += static_cast<std::size_t>(got);
            frames_read_ += static_cast<std::uint64_t>(got);
            if (error) {
                ++recovered_errors_;
                continue;
            }
            if (static_cast<std::size_t>(got) < want) break;  // end of file
        }
        return written;
    }

    /// Frames decoded so far (the true length once read_mono returned 0).
    std::uint64_t frames_read() const { return frames_read_; }
    /// Largest |mono sample| decoded so far.
    float peak() const { return peak_; }
    /// Decode errors libsndfile reported but recovered from (damaged packets).
    std::size_t recovered_errors() const { return recovered_errors_; }

  private:
    struct Closer {
        void operator()(SNDFILE* f) const { sf_close(f); }
    };

    std::filesystem::path path_;
    std::size_t block_frames_;
    std::unique_ptr<SNDFILE, Closer> file_;
    AudioInfo info_;
    std::vector<float> interleaved_;
    std::uint64_t frames_read_ = 0;
    float peak_ = 0.0f;
    std::size_t recovered_errors_ = 0;
};

/// A whole file decoded to mono at its own rate (for short files and tests; long
/// files should be streamed with AudioFileReader).
struct MonoAudio {
    std::vector<float> samples;
    int sample_rate = 0;
};

inline MonoAudio decode_mono(const std::filesystem::path& path) {
    AudioFileReader reader(path);
    MonoAudio audio;
    audio.sample_rate = reader.info().sample_rate;
    audio.samples.resize(static_cast<std::size_t>(reader.info().frames));
    std::size_t n = reader.read_mono(audio.samples);
    // Containers may under-report the length (some MP3/Opus): keep reading.
    for (;;) {
        std::vector<float> more(65536);
        const std::size_t got = reader.read_mono(more);
        if (got == 0) break;
        audio.samples.resize(n);
        audio.samples.insert(audio.samples.end(), more.begin(), more.begin() + got);
        n += got;
    }
    audio.samples.resize(n);
    if (n == 0) throw AudioError("audio file has zero length: " + path.string());
    return audio;
}

}  // namespace tagmap::audio
