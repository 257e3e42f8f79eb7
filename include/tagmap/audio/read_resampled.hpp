// Decode + down-mix + resample in one streaming pass: the way every file enters the
// models. Memory is a few blocks, independent of the file's length.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include <tagmap/audio/decode.hpp>
#include <tagmap/audio/resample.hpp>
#include <tagmap/core/error.hpp>

namespace tagmap::audio {

/// What reading a file found out, beyond the samples themselves.
struct ReadReport {
    AudioInfo info;                    ///< header of the source file
    std::uint64_t source_frames = 0;   ///< frames actually decoded
    std::uint64_t output_samples = 0;  ///< samples handed to the sink (at the output rate)
    float peak = 0.0f;                 ///< largest |mono sample| before resampling
    std::size_t recovered_errors = 0;  ///< damaged packets the decoder skipped (warn about it)
    /// Near-silent audio is still processed; callers may want to warn about it.
    bool near_silent() const { return peak < kNearSilentPeak; }
    double seconds() const {
        return info.sample_rate > 0 ? static_cast<double>(source_frames) / info.sample_rate : 0.0;
    }
};

/// Streams `path` as mono float at `output_rate` into `sink(std::span<const float>)`.
/// Throws what AudioFileReader and Resampler throw; AudioError if no sample decodes.
template <class Sink>
ReadReport read_resampled(const std::filesystem::path& path, Sink&& sink,
                          double output_rate = kModelSampleRate, std::size_t block = 16384) {
    AudioFileReader reader(path, block);
    Resampler resampler(reader.info().sample_rate, output_rate, block);
    ReadReport report;
    report.info = reader.info();
    auto counted = [&](std::span<const float> out) {
        report.output_samples += out.size();
        sink(out);
    };
    std::vector<float> mono(block);
    for (;;) {
        const std::size_t n = reader.read_mono(mono);
        if (n == 0) break;
        resampler.process(std::span<const float>(mono.data(), n), counted);
    }
    resampler.flush(counted);
    report.source_frames = reader.frames_read();
    report.peak = reader.peak();
    report.recovered_errors = reader.recovered_errors();
    if (report.source_frames == 0) throw AudioError("audio file has zero length: " + path.string());
    return report;
}

/// The index of `rate` in `rates`, appended if new: how callers of read_at_rates collect
/// the distinct rates of their models (one resampler each).
inline std::size_t rate_index(std::vector<double>& rates, double rate) {
    for (std::size_t i = 0; i < rates.size(); ++i)
        if (rates[i] == rate) return i;
    rates.push_back(rate);
    return rates.size() - 1;
}

/// Streams `path`, mono, through one resampler per rate of `rates` into
/// `sink(rate index, std::span<const float>)`: a file decoded once for models that need
/// different rates (16 kHz taggers and CREPE, madmom's 44.1 kHz). With one rate the blocks
/// are exactly read_resampled's, so a model's input does not depend on which others run.
/// The report's output_samples is summed over the rates.
template <class Sink>
ReadReport read_at_rates(const std::filesystem::path& path, const std::vector<double>& rates,
                         Sink&& sink, std::size_t block = 16384) {
    AudioFileReader reader(path, block);
    std::vector<Resampler> resamplers;
    for (double r : rates) resamplers.emplace_back(reader.info().sample_rate, r, block);
    ReadReport report;
    report.info = reader.info();
    std::vector<float> mono(block);
    for (;;) {
        const std::size_t n = reader.read_mono(mono);
        if (n == 0) break;
        for (std::size_t i = 0; i < resamplers.size(); ++i)
            resamplers[i].process(std::span<const float>(mono.data(), n),
                                  [&](std::span<const float> out) {
                                      report.output_samples += out.size();
                                      sink(i, out);
                                  });
    }
    for (std::size_t i = 0; i < resamplers.size(); ++i)
        resamplers[i].flush([&](std::span<const float> out) {
            report.output_samples += out.size();
            sink(i, out);
        });
    report.source_frames = reader.frames_read();
    report.peak = reader.peak();
    report.recovered_errors = reader.recovered_errors();
    if (report.source_frames == 0) throw AudioError("audio file has zero length: " + path.string());
    return report;
}

}  // namespace tagmap::audio
