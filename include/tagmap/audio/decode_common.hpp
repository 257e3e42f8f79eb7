// What every audio decoder of tagmap shares: the header facts (AudioInfo), the limits
// on them, and the one down-mix, so that libsndfile and FFmpeg give identical mono
// samples for identical interleaved input.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>

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
    /// Per channel, as reported by the container; 0 when the container does not say
    /// (some FFmpeg streams): the true length is frames_read() at the end.
    std::int64_t frames = 0;
    /// Readable name of the format: libsndfile's major format, e.g. "OGG (OGG Container
    /// format)", or "container / codec" from FFmpeg, e.g. "MP4 / AAC".
    std::string format;
};

namespace detail {

/// IoError unless `path` names something that can be opened as a file.
inline void require_file(const std::filesystem::path& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec))
        TAGMAP_THROW(IoError("audio file not found: " + path.string()));
    if (std::filesystem::is_directory(path, ec))
        TAGMAP_THROW(IoError("audio path is a directory, not a file: " + path.string()));
}

/// AudioError for header facts no decoder can work with.
inline void check_header(const AudioInfo& info, const std::filesystem::path& path) {
    if (info.channels <= 0)
        TAGMAP_THROW(AudioError("audio file has no channels: " + path.string()));
    if (info.sample_rate < kMinSampleRate || info.sample_rate > kMaxSampleRate)
        TAGMAP_THROW(AudioError("absurd sample rate " + std::to_string(info.sample_rate) +
                                " Hz (accepted: " + std::to_string(kMinSampleRate) + ".." +
                                std::to_string(kMaxSampleRate) + "): " + path.string()));
}

/// Averages `frames` interleaved frames of `channels` samples into out[0..frames),
/// raising `peak`. `first_frame` (frames decoded before these) names a bad sample.
/// Throws AudioError on NaN/Inf.
inline void mix_to_mono(const float* interleaved, std::size_t frames, std::size_t channels,
                        float* out, std::uint64_t first_frame, float& peak,
                        const std::filesystem::path& path) {
    const float inv_channels = 1.0f / static_cast<float>(channels);
    for (std::size_t f = 0; f < frames; ++f) {
        float sum = 0.0f;
        for (std::size_t c = 0; c < channels; ++c) sum += interleaved[f * channels + c];
        const float mono = channels == 1 ? sum : sum * inv_channels;
        if (!std::isfinite(mono))
            TAGMAP_THROW(AudioError("non-finite sample (NaN or Inf) at frame " +
                                    std::to_string(first_frame + f) + ": " + path.string()));
        peak = std::max(peak, std::fabs(mono));
        out[f] = mono;
    }
}

}  // namespace detail
}  // namespace tagmap::audio
