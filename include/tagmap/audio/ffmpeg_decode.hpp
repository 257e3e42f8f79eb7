// Block-wise decoding of audio files to mono float with FFmpeg (libavformat, libavcodec,
// libswresample): the formats libsndfile cannot read, AAC and ALAC in MP4 (.m4a), WMA,
// and whatever else this FFmpeg demuxes and decodes.
//
// The best audio stream is decoded; swresample converts each frame to interleaved float
// at its native rate and channel count (a sample-format conversion only: no resampling,
// no rematrixing), then channels are averaged exactly as SndfileReader averages them.
// Memory: one packet and one decoded frame (codec-defined, typically 1024..8192 frames),
// whatever the file length.
//
// FFmpeg reports damage through av_log, by default on stderr. Its level and callback are
// process-wide, so this header leaves them alone: see docs/audio.md for what an
// application should set.
#pragma once

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/frame.h>
#include <libavutil/mathematics.h>
#include <libavutil/samplefmt.h>
#include <libswresample/swresample.h>
}

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <vector>

#include <tagmap/audio/decode_common.hpp>
#include <tagmap/core/error.hpp>

namespace tagmap::audio {

namespace detail {

struct AvIoCloser {
    void operator()(AVIOContext* p) const { avio_closep(&p); }
};
struct AvFormatCloser {
    void operator()(AVFormatContext* p) const { avformat_close_input(&p); }
};
struct AvCodecFreer {
    void operator()(AVCodecContext* p) const { avcodec_free_context(&p); }
};
struct AvPacketFreer {
    void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct AvFrameFreer {
    void operator()(AVFrame* p) const { av_frame_free(&p); }
};
struct SwrFreer {
    void operator()(SwrContext* p) const { swr_free(&p); }
};
struct AvDict {
    AVDictionary* dict = nullptr;
    AvDict() = default;
    AvDict(const AvDict&) = delete;
    AvDict& operator=(const AvDict&) = delete;
    ~AvDict() { av_dict_free(&dict); }
};
struct AvChannelLayout {
    AVChannelLayout layout{};
    AvChannelLayout() = default;
    AvChannelLayout(const AvChannelLayout&) = delete;
    AvChannelLayout& operator=(const AvChannelLayout&) = delete;
    ~AvChannelLayout() { av_channel_layout_uninit(&layout); }
};

inline std::string av_error_text(int code) {
    char text[AV_ERROR_MAX_STRING_SIZE] = {};
    if (av_strerror(code, text, sizeof(text)) < 0) return "error " + std::to_string(code);
    return text;
}

inline std::string ascii_upper(std::string s) {
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

/// "MP4 / AAC", "ASF / WMAV2", ...: the demuxer's first name and the codec's name.
inline std::string ffmpeg_format_name(const AVFormatContext* fc, AVCodecID codec_id) {
    std::string container = fc->iformat->name;
    container = container.substr(0, container.find(','));
    if (container == "mov") {
        // One demuxer reads QuickTime and the MP4 family; the brand tells them apart.
        const AVDictionaryEntry* brand = av_dict_get(fc->metadata, "major_brand", nullptr, 0);
        container = brand && std::string(brand->value).starts_with("qt") ? "QuickTime" : "MP4";
    } else if (container == "matroska") {
        container = "Matroska";
    } else {
        container = ascii_upper(container);
    }
    const AVCodecDescriptor* codec = avcodec_descriptor_get(codec_id);
    return container + " / " + (codec ? ascii_upper(codec->name) : std::string("unknown codec"));
}

}  // namespace detail

/// Streams the frames of one audio file as mono float blocks, through FFmpeg.
///
/// Errors (all thrown from the constructor or read_mono, with the path in the message):
///   IoError           the file does not exist or cannot be opened for reading
///   UnsupportedError  FFmpeg finds no format in the bytes (only the name, at best, hints
///                     at one), no audio stream, no decoder for its codec, or a sample
///                     rate that changes mid-stream
///   FormatError       the format is recognised but the bytes are corrupt or truncated,
///                     or not one frame decodes
///   AudioError        no channels, absurd sample rate, zero length, NaN/Inf samples
///
/// The constructor decodes the first frame, so a file that opens has audio. Packets the
/// decoder rejects and frames it flags as concealed are skipped and counted in
/// recovered_errors() (as libsndfile's recoverable damage is); a container error in the
/// middle of a file ends the stream there and counts as one.
class FfmpegReader {
  public:
    /// @param block_frames  accepted for symmetry with SndfileReader; FFmpeg decodes in
    ///                      the codec's own frames, one of which is held.
    explicit FfmpegReader(const std::filesystem::path& path, std::size_t block_frames = 8192)
        : state_(std::make_unique<State>()) {
        static_cast<void>(block_frames);
        State& s = *state_;
        s.path = path;
        detail::require_file(path);
        open();
        if (!next_frame()) {
            if (s.weak_probe)
                throw UnsupportedError("not an audio file (FFmpeg decodes nothing from it): " +
                                       path.string());
            // Damage, or an index promising frames that are not there: truncated.
            if (s.recovered_errors > 0 || s.info.frames > 0)
                throw FormatError("corrupt or truncated audio file: no frame decodes (" +
                                  std::to_string(s.info.frames) + " frames announced, " +
                                  std::to_string(s.recovered_errors) +
                                  " damaged packets): " + path.string());
            throw AudioError("audio file has zero length: " + path.string());
        }
    }

    const AudioInfo& info() const { return state_->info; }
    const std::filesystem::path& path() const { return state_->path; }

    /// Decodes up to out.size() frames, down-mixed to mono by averaging channels.
    /// Returns the number of frames written; 0 means end of file.
    std::size_t read_mono(std::span<float> out) {
        State& s = *state_;
        std::size_t written = 0;
        while (written < out.size()) {
            if (s.pending_pos == s.pending_frames && !next_frame()) break;
            const std::size_t n = std::min(s.pending_frames - s.pending_pos, out.size() - written);
            detail::mix_to_mono(s.converted.data() + s.pending_pos * s.channels, n, s.channels,
                                out.data() + written, s.frames_read, s.peak, s.path);
            s.pending_pos += n;
            written += n;
            s.frames_read += n;
        }
        return written;
    }

    /// Frames decoded so far (the true length once read_mono returned 0).
    std::uint64_t frames_read() const { return state_->frames_read; }
    /// Largest |mono sample| decoded so far.
    float peak() const { return state_->peak; }
    /// Damaged packets or frames FFmpeg reported and decoding went on past.
    std::size_t recovered_errors() const { return state_->recovered_errors; }

  private:
    // Everything FFmpeg owns, in one place that never moves (the reader itself moves).
    // Members are destroyed in reverse order: the format context before its I/O.
    struct State {
        std::filesystem::path path;
        AudioInfo info;
        std::unique_ptr<AVIOContext, detail::AvIoCloser> io;
        std::unique_ptr<AVFormatContext, detail::AvFormatCloser> format;
        std::unique_ptr<AVCodecContext, detail::AvCodecFreer> codec;
        std::unique_ptr<AVPacket, detail::AvPacketFreer> packet;
        std::unique_ptr<AVFrame, detail::AvFrameFreer> frame;
        std::unique_ptr<SwrContext, detail::SwrFreer> swr;
        detail::AvChannelLayout swr_layout;  // input (= output) layout swr was set up for
        int swr_format = -1;
        int stream_index = -1;
        bool weak_probe = false;  // only the file name matched a demuxer, not the bytes
        bool input_done = false;  // the flush packet was sent
        bool decoder_done = false;
        std::vector<float> converted;  // interleaved float of the current frame
        std::size_t channels = 0;      // of the current frame
        std::size_t pending_frames = 0, pending_pos = 0;
        std::uint64_t frames_read = 0;
        float peak = 0.0f;
        std::size_t recovered_errors = 0;
        std::size_t errors_in_a_row = 0;
    };

    [[noreturn]] void fail_open(const std::string& what, int code) const {
        const State& s = *state_;
        const std::string why = detail::av_error_text(code);
        // ENOMEM included: FFmpeg reports an absurd size read from corrupt bytes that way.
        if (s.weak_probe)
            throw UnsupportedError("not an audio file (FFmpeg: only the name suggests " + what +
                                   "; " + why + "): " + s.path.string());
        if (code == AVERROR(EIO) || code == AVERROR(EACCES) || code == AVERROR(ENOENT))
            throw IoError("cannot read audio file (FFmpeg: " + why + "): " + s.path.string());
        throw FormatError("corrupt or truncated " + what + " file (FFmpeg: " + why +
                          "): " + s.path.string());
    }

    void open() {
        State& s = *state_;
        // "file:" keeps a name with a colon from being taken for another protocol.
        const std::string url = "file:" + s.path.string();
        AVIOContext* io = nullptr;
        if (const int r = avio_open2(&io, url.c_str(), AVIO_FLAG_READ, nullptr, nullptr); r < 0)
            throw IoError("cannot open audio file (FFmpeg: " + detail::av_error_text(r) +
                          "): " + s.path.string());
        s.io.reset(io);

        // Probe here rather than inside avformat_open_input to keep the score: below
        // AVPROBE_SCORE_RETRY the bytes did not identify the format, only the name did,
        // and a failure then means "not audio", not "corrupt".
        const AVInputFormat* demuxer = nullptr;
        const int score = av_probe_input_buffer2(s.io.get(), &demuxer, url.c_str(), nullptr, 0, 0);
        if (score < 0 || demuxer == nullptr)
            throw UnsupportedError("not an audio file (FFmpeg recognises no format in it): " +
                                   s.path.string());
        s.weak_probe = score < AVPROBE_SCORE_RETRY;
        const std::string demuxer_name = demuxer->long_name ? demuxer->long_name : demuxer->name;

        AVFormatContext* fc = avformat_alloc_context();
        if (fc == nullptr) throw std::bad_alloc();
        fc->pb = s.io.get();  // custom I/O: avformat_close_input leaves it to s.io
        detail::AvDict options;
        // Playlists and references inside a file may open local files only.
        av_dict_set(&options.dict, "protocol_whitelist", "file", 0);
        if (const int r = avformat_open_input(&fc, url.c_str(), demuxer, &options.dict); r < 0)
            fail_open(demuxer_name, r);  // fc was freed
        s.format.reset(fc);
        if (const int r = avformat_find_stream_info(fc, nullptr); r < 0) fail_open(demuxer_name, r);

        // A recognised container without a single stream lost its index (or never had
        // one): not "a file without audio" but a broken one.
        if (!s.weak_probe && fc->nb_streams == 0)
            throw FormatError("corrupt, truncated or empty " + demuxer_name +
                              " file (FFmpeg finds no stream in it): " + s.path.string());
        const AVCodec* decoder = nullptr;
        const int best = av_find_best_stream(fc, AVMEDIA_TYPE_AUDIO, -1, -1, &decoder, 0);
        if (best < 0) {
            if (s.weak_probe || best == AVERROR_STREAM_NOT_FOUND)
                throw UnsupportedError(
                    std::string(s.weak_probe ? "not an audio file" : "no audio stream") +
                    " (FFmpeg: " + demuxer_name + " without audio): " + s.path.string());
            if (best == AVERROR_DECODER_NOT_FOUND)
                throw UnsupportedError("no FFmpeg decoder for this audio codec (" + demuxer_name +
                                       "): " + s.path.string());
            fail_open(demuxer_name, best);
        }
        s.stream_index = best;
        AVStream* stream = fc->streams[best];
        for (unsigned i = 0; i < fc->nb_streams; ++i)
            if (static_cast<int>(i) != best) fc->streams[i]->discard = AVDISCARD_ALL;

        const AVCodecParameters* par = stream->codecpar;
        if (s.weak_probe && (par->sample_rate <= 0 || par->ch_layout.nb_channels <= 0))
            throw UnsupportedError("not an audio file (FFmpeg finds no audio parameters): " +
                                   s.path.string());
        s.info.sample_rate = par->sample_rate;
        s.info.channels = par->ch_layout.nb_channels;
        s.info.format = detail::ffmpeg_format_name(fc, par->codec_id);
        detail::check_header(s.info, s.path);
        // The header's length; 0 when the container does not tell.
        const AVRational per_frame{1, s.info.sample_rate};
        if (stream->duration > 0)
            s.info.frames = av_rescale_q(stream->duration, stream->time_base, per_frame);
        else if (fc->duration > 0)
            s.info.frames = av_rescale_q(fc->duration, AVRational{1, AV_TIME_BASE}, per_frame);

        s.codec.reset(avcodec_alloc_context3(decoder));
        if (!s.codec) throw std::bad_alloc();
        if (const int r = avcodec_parameters_to_context(s.codec.get(), par); r < 0)
            fail_open(s.info.format, r);
        s.codec->pkt_timebase = stream->time_base;
        if (const int r = avcodec_open2(s.codec.get(), decoder, nullptr); r < 0)
            fail_open(s.info.format + " (decoder set-up)", r);

        s.packet.reset(av_packet_alloc());
        s.frame.reset(av_frame_alloc());
        if (!s.packet || !s.frame) throw std::bad_alloc();
    }

    // A packet or frame the decoder could not use: skipped and counted. A decoder that
    // never recovers is given up on rather than looped over.
    void damaged(int code) {
        State& s = *state_;
        ++s.recovered_errors;
        if (++s.errors_in_a_row > 1000)
            throw FormatError("decoding failed after " + std::to_string(s.frames_read) +
                              " frames: 1000 damaged packets in a row (FFmpeg: " +
                              detail::av_error_text(code) + "): " + s.path.string());
    }

    // Sends the next packet of our stream to the decoder, or the flush at the end.
    void feed() {
        State& s = *state_;
        for (;;) {
            const int r = av_read_frame(s.format.get(), s.packet.get());
            if (r < 0) {
                // End of file, or container damage: either way the stream ends here.
                if (r != AVERROR_EOF) {
                    // Only the file's own read error is an I/O failure; the demuxer
                    // reports damaged bytes with EIO or ENOMEM too.
                    if (const int io = s.io->error; io < 0 && io != AVERROR_EOF)
                        throw IoError("reading failed after " + std::to_string(s.frames_read) +
                                      " frames (FFmpeg: " + detail::av_error_text(io) +
                                      "): " + s.path.string());
                    ++s.recovered_errors;
                }
                avcodec_send_packet(s.codec.get(), nullptr);
                s.input_done = true;
                return;
            }
            if (s.packet->stream_index != s.stream_index) {
                av_packet_unref(s.packet.get());
                continue;
            }
            // A short read at a truncated end arrives flagged, not as an error.
            if (s.packet->flags & AV_PKT_FLAG_CORRUPT) ++s.recovered_errors;
            const int sent = avcodec_send_packet(s.codec.get(), s.packet.get());
            av_packet_unref(s.packet.get());
            if (sent < 0 && sent != AVERROR_EOF) damaged(sent);
            return;
        }
    }

    // Sets swr up for this frame's sample format and layout: same layout and rate on
    // both sides, so it only converts the sample format (and interleaves).
    void configure_converter(const AVFrame* f) {
        State& s = *state_;
        av_channel_layout_uninit(&s.swr_layout.layout);
        if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
            av_channel_layout_default(&s.swr_layout.layout, f->ch_layout.nb_channels);
        else if (av_channel_layout_copy(&s.swr_layout.layout, &f->ch_layout) < 0)
            throw std::bad_alloc();
        SwrContext* swr = nullptr;
        AVChannelLayout* layout = &s.swr_layout.layout;  // FFmpeg 5.1 takes it non-const
        const auto format = static_cast<AVSampleFormat>(f->format);
        int r = swr_alloc_set_opts2(&swr, layout, AV_SAMPLE_FMT_FLT, f->sample_rate, layout, format,
                                    f->sample_rate, 0, nullptr);
        s.swr.reset(swr);
        if (r >= 0) r = swr_init(swr);
        if (r < 0)
            throw UnsupportedError(
                "cannot convert " + std::to_string(f->ch_layout.nb_channels) + " channels of " +
                (av_get_sample_fmt_name(format) ? av_get_sample_fmt_name(format) : "unknown") +
                " samples to float (FFmpeg: " + detail::av_error_text(r) + "): " + s.path.string());
        // Compare against the frame's own layout next time, not the normalised one.
        av_channel_layout_uninit(&s.swr_layout.layout);
        if (av_channel_layout_copy(&s.swr_layout.layout, &f->ch_layout) < 0) throw std::bad_alloc();
        s.swr_format = f->format;
        s.channels = static_cast<std::size_t>(f->ch_layout.nb_channels);
    }

    // Converts the decoded frame into `converted`; returns its frame count.
    std::size_t convert(const AVFrame* f) {
        State& s = *state_;
        if (f->sample_rate != s.info.sample_rate)
            throw UnsupportedError("sample rate changes mid-stream from " +
                                   std::to_string(s.info.sample_rate) + " to " +
                                   std::to_string(f->sample_rate) + " Hz after " +
                                   std::to_string(s.frames_read) + " frames: " + s.path.string());
        if (f->ch_layout.nb_channels <= 0)
            throw FormatError("decoded frame without channels after " +
                              std::to_string(s.frames_read) + " frames: " + s.path.string());
        if (!s.swr || f->format != s.swr_format ||
            av_channel_layout_compare(&f->ch_layout, &s.swr_layout.layout) != 0)
            configure_converter(f);
        const int capacity = swr_get_out_samples(s.swr.get(), f->nb_samples);
        if (capacity <= 0) return 0;
        const std::size_t needed = static_cast<std::size_t>(capacity) * s.channels;
        if (s.converted.size() < needed) s.converted.resize(needed);
        std::uint8_t* out[] = {reinterpret_cast<std::uint8_t*>(s.converted.data())};
        const int n =
            swr_convert(s.swr.get(), out, capacity,
                        const_cast<const std::uint8_t**>(f->extended_data), f->nb_samples);
        if (n < 0)
            throw FormatError("sample conversion failed after " + std::to_string(s.frames_read) +
                              " frames (FFmpeg: " + detail::av_error_text(n) +
                              "): " + s.path.string());
        return static_cast<std::size_t>(n);
    }

    // Decodes until one frame is ready in `converted`; false at the end of the stream.
    bool next_frame() {
        State& s = *state_;
        s.pending_frames = s.pending_pos = 0;
        while (!s.decoder_done) {
            const int r = avcodec_receive_frame(s.codec.get(), s.frame.get());
            if (r == 0) {
                s.errors_in_a_row = 0;
                if (s.frame->decode_error_flags != 0 || (s.frame->flags & AV_FRAME_FLAG_CORRUPT))
                    ++s.recovered_errors;
                const std::size_t n = convert(s.frame.get());
                av_frame_unref(s.frame.get());
                if (n > 0) {
                    s.pending_frames = n;
                    return true;
                }
            } else if (r == AVERROR_EOF) {
                s.decoder_done = true;
            } else if (r != AVERROR(EAGAIN)) {
                damaged(r);
            } else if (s.input_done) {
                s.decoder_done = true;  // a drained decoder must say EOF; do not wait on it
            } else {
                feed();
            }
        }
        return false;
    }

    std::unique_ptr<State> state_;
};

}  // namespace tagmap::audio
