// Block-wise decoding of audio files to mono float with libsndfile.
//
// SndfileReader opens anything libsndfile reads (WAV PCM/float, FLAC, Ogg Vorbis,
// Ogg Opus, MP3, AIFF, ...) and hands out mono blocks: channels are averaged, samples
// are libsndfile's normalised floats (PCM16 x / 32768, etc.). Only one block of
// interleaved frames is held, so a 1-hour file costs a few kilobytes, not 600 MB.
// Applications use AudioFileReader (decode.hpp), which falls back to FFmpeg.
#pragma once

#include <fcntl.h>
#include <sndfile.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <tagmap/audio/decode_common.hpp>
#include <tagmap/core/error.hpp>

namespace tagmap::audio {

/// Streams the frames of one audio file as mono float blocks, through libsndfile.
///
/// Errors (all thrown from the constructor or read_mono, with the path in the message):
///   IoError           the file does not exist or cannot be opened for reading
///   UnsupportedError  libsndfile does not recognise the format (m4a, plain text, ...)
///   FormatError       the format is recognised but the bytes are corrupt or truncated
///   AudioError        zero frames, zero channels, absurd sample rate, NaN/Inf samples
class SndfileReader {
  public:
    /// @param block_frames  frames decoded per libsndfile call (memory: block * channels floats)
    explicit SndfileReader(const std::filesystem::path& path, std::size_t block_frames = 8192)
        : path_(path), block_frames_(block_frames == 0 ? 8192 : block_frames) {
        detail::require_file(path);

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
            // libsndfile guesses some formats from the extension alone (.mp3, .au, ...):
            // if the bytes are not recognised without the name, the file is not of that
            // format at all (a text file named .mp3), which is "unsupported", not "corrupt".
            if (!recognised_by_content(path))
                throw UnsupportedError(
                    "unsupported audio format (libsndfile: not a " + path.extension().string() +
                    " file, format guessed from the name only): " + path.string());
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

        detail::check_header(info_, path);
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
            detail::mix_to_mono(interleaved_.data(), static_cast<std::size_t>(got), channels,
                                out.data() + written, frames_read_, peak_, path_);
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

    // Opening through a descriptor hides the file name from libsndfile, so only the
    // bytes decide. Used on the error path only.
    static bool recognised_by_content(const std::filesystem::path& path) {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return true;  // cannot tell: keep libsndfile's own verdict
        SF_INFO sf_info{};
        // libsndfile does not own the descriptor (SF_FALSE): it is closed here, once.
        SNDFILE* handle = sf_open_fd(fd, SFM_READ, &sf_info, SF_FALSE);
        const bool recognised =
            handle != nullptr || sf_error(nullptr) != SF_ERR_UNRECOGNISED_FORMAT;
        if (handle != nullptr) sf_close(handle);
        ::close(fd);
        return recognised;
    }

    std::filesystem::path path_;
    std::size_t block_frames_;
    std::unique_ptr<SNDFILE, Closer> file_;
    AudioInfo info_;
    std::vector<float> interleaved_;
    std::uint64_t frames_read_ = 0;
    float peak_ = 0.0f;
    std::size_t recovered_errors_ = 0;
};

}  // namespace tagmap::audio
