// Block-wise decoding of audio files to mono float: the one door audio comes in by.
//
// AudioFileReader tries libsndfile first (WAV, FLAC, Ogg Vorbis/Opus, MP3, AIFF, ...:
// sndfile_decode.hpp). When libsndfile does not know the format and the build has
// FFmpeg (TAGMAP_WITH_FFMPEG), it decodes with FFmpeg instead (AAC/ALAC in MP4, WMA,
// ...: ffmpeg_decode.hpp). Both hand out the same mono blocks: channels averaged,
// samples normalised to [-1, 1), memory a few blocks whatever the file length.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include <tagmap/audio/decode_common.hpp>
#include <tagmap/audio/sndfile_decode.hpp>
#include <tagmap/core/error.hpp>
#ifdef TAGMAP_WITH_FFMPEG
#include <tagmap/audio/ffmpeg_decode.hpp>
#endif

namespace tagmap::audio {

/// Which library decodes a file.
enum class Decoder { libsndfile, ffmpeg };

/// Streams the frames of one audio file as mono float blocks.
///
/// Errors (all thrown from the constructor or read_mono, with the path in the message):
///   IoError           the file does not exist or cannot be opened for reading
///   UnsupportedError  neither libsndfile nor (when built in) FFmpeg reads the format
///                     (plain text, a video without audio, ...)
///   FormatError       the format is recognised but the bytes are corrupt or truncated
///   AudioError        zero frames, zero channels, absurd sample rate, NaN/Inf samples
class AudioFileReader {
  public:
    /// @param block_frames  frames decoded per libsndfile call (memory: block * channels
    ///                      floats); FFmpeg decodes in the codec's own frames
    explicit AudioFileReader(const std::filesystem::path& path, std::size_t block_frames = 8192)
        : impl_(open(path, block_frames)) {}

    const AudioInfo& info() const {
        return std::visit([](const auto& r) -> const AudioInfo& { return r.info(); }, impl_);
    }
    const std::filesystem::path& path() const {
        return std::visit([](const auto& r) -> const std::filesystem::path& { return r.path(); },
                          impl_);
    }
    Decoder decoder() const { return impl_.index() == 0 ? Decoder::libsndfile : Decoder::ffmpeg; }

    /// Decodes up to out.size() frames, down-mixed to mono by averaging channels.
    /// Returns the number of frames written; 0 means end of file.
    std::size_t read_mono(std::span<float> out) {
        return std::visit([&](auto& r) { return r.read_mono(out); }, impl_);
    }

    /// Frames decoded so far (the true length once read_mono returned 0).
    std::uint64_t frames_read() const {
        return std::visit([](const auto& r) { return r.frames_read(); }, impl_);
    }
    /// Largest |mono sample| decoded so far.
    float peak() const {
        return std::visit([](const auto& r) { return r.peak(); }, impl_);
    }
    /// Decode errors the decoder reported but recovered from (damaged packets).
    std::size_t recovered_errors() const {
        return std::visit([](const auto& r) { return r.recovered_errors(); }, impl_);
    }

  private:
#ifdef TAGMAP_WITH_FFMPEG
    using Impl = std::variant<SndfileReader, FfmpegReader>;
#else
    using Impl = std::variant<SndfileReader>;
#endif

    static Impl open(const std::filesystem::path& path, std::size_t block_frames) {
        try {
            return Impl(std::in_place_type<SndfileReader>, path, block_frames);
        } catch (const UnsupportedError& sndfile_refusal) {
#ifdef TAGMAP_WITH_FFMPEG
            try {
                return Impl(std::in_place_type<FfmpegReader>, path, block_frames);
            } catch (const UnsupportedError& ffmpeg_refusal) {
                throw UnsupportedError(
                    "unsupported audio format: neither libsndfile nor FFmpeg reads it [" +
                    reason(sndfile_refusal, path) + "; " + reason(ffmpeg_refusal, path) +
                    "]: " + path.string());
            }
#else
            throw;
#endif
        }
    }

    // A reader's message without its trailing ": <path>", to combine two of them.
    static std::string reason(const Error& e, const std::filesystem::path& path) {
        std::string what = e.what();
        const std::string suffix = ": " + path.string();
        if (what.size() >= suffix.size() && what.ends_with(suffix))
            what.resize(what.size() - suffix.size());
        return what;
    }

    Impl impl_;
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
    // Containers may under-report the length (some MP3/Opus) or not report it (some
    // FFmpeg streams): keep reading.
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
