// Streaming sample-rate conversion of mono float audio with libsoxr.
//
// Quality is SOXR_HQ with its default spec (20-bit, linear phase, passband end 0.913):
// what librosa's default res_type "soxr_hq" uses, hence what the reference models were
// fed. Feeding a signal block by block and then calling flush() gives exactly the
// samples of soxr_oneshot() on the whole signal with the same spec. Equal input and
// output rates pass samples through untouched (bit-exact, no filter delay).
#pragma once

#include <soxr.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <numeric>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include <tagmap/audio/decode_common.hpp>  // sample-rate limits
#if TAGMAP_EXCEPTIONS
#include <tagmap/audio/decode.hpp>  // kept for includers that rely on it
#endif
#include <tagmap/core/error.hpp>

namespace tagmap::audio {

/// The models' sample rate.
inline constexpr double kModelSampleRate = 16000.0;

/// libsoxr's SOXR_HQ spec, the one the reference pipeline used.
inline soxr_quality_spec_t hq_quality_spec() {
    return soxr_quality_spec(SOXR_HQ, 0);
}

/// Mono float32 resampler; one instance per stream.
///
/// process() and flush() hand the output to a sink `void(std::span<const float>)` in
/// pieces of at most max_output_block() samples, from an internal buffer allocated in
/// the constructor; no further allocation happens in the resampler object itself.
class Resampler {
  public:
    /// @param output_block  capacity of the internal output buffer (samples)
    Resampler(double input_rate, double output_rate = kModelSampleRate,
              std::size_t output_block = 4096)
        : input_rate_(input_rate), output_rate_(output_rate) {
        if (!(input_rate >= kMinSampleRate && input_rate <= kMaxSampleRate) ||
            !(output_rate >= kMinSampleRate && output_rate <= kMaxSampleRate))
            TAGMAP_THROW(AudioError("cannot resample from " + std::to_string(input_rate) +
                                    " Hz to " + std::to_string(output_rate) +
                                    " Hz: rates must lie in " + std::to_string(kMinSampleRate) +
                                    ".." + std::to_string(kMaxSampleRate) + " Hz"));
        if (input_rate == output_rate) return;  // pass-through
        const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
        const soxr_quality_spec_t quality = hq_quality_spec();
        const soxr_runtime_spec_t runtime = soxr_runtime_spec(1);
        soxr_error_t error = nullptr;
        soxr_t handle = soxr_create(input_rate, output_rate, 1, &error, &io, &quality, &runtime);
        if (error != nullptr || handle == nullptr) {
            if (handle != nullptr) soxr_delete(handle);
            TAGMAP_THROW(AudioError(std::string("libsoxr could not create a resampler: ") +
                                    (error ? error : "unknown error")));
        }
        soxr_.reset(handle);
        out_.resize(std::max<std::size_t>(output_block, 64));
    }

    double input_rate() const { return input_rate_; }
    double output_rate() const { return output_rate_; }
    bool passthrough() const { return soxr_ == nullptr; }

    /// Upper bound of output samples for `n` input samples fed in one call (sizing help).
    std::size_t max_output_for(std::size_t n) const {
        return static_cast<std::size_t>(
                   std::ceil(static_cast<double>(n) * output_rate_ / input_rate_)) +
               1;
    }

    /// Resamples `in`; the sink receives every output sample that became available.
    template <class Sink>
    void process(std::span<const float> in, Sink&& sink) {
        if (passthrough()) {
            if (!in.empty()) sink(in);
            return;
        }
        const float* data = in.data();
        std::size_t remaining = in.size();
        // soxr may take only part of the input when the output buffer fills: loop.
        while (remaining > 0) {
            std::size_t used = 0, produced = 0;
            check(soxr_process(soxr_.get(), data, remaining, &used, out_.data(), out_.size(),
                               &produced));
            deliver(produced, sink);
            data += used;
            remaining -= used;
            if (used == 0 && produced == 0) break;  // cannot happen with a healthy soxr
        }
    }

    /// Signals end of input and drains the filter's tail into the sink. The object
    /// then accepts no more input.
    template <class Sink>
    void flush(Sink&& sink) {
        if (passthrough()) return;
        for (;;) {
            std::size_t produced = 0;
            check(soxr_process(soxr_.get(), nullptr, 0, nullptr, out_.data(), out_.size(),
                               &produced));
            if (produced == 0) break;
            deliver(produced, sink);
        }
    }

    /// Prepares for real-time use: libsoxr grows its internal FIFOs while a stream
    /// starts. prime() feeds `seconds` of silence now (half in large blocks, so every
    /// FIFO reaches a size that small blocks never exceed; half in blocks of `block`)
    /// and drops its output, so that later process() calls with `block`-sized input
    /// allocate nothing (tests/embed checks 30 s at 16..96 kHz with zero mallocs). The
    /// lead-in is a whole number of resampling periods, so later samples keep their
    /// exact timing; they equal those of an unprimed stream to float rounding (~1e-7),
    /// not bit for bit. Needs integer rates (InvalidArgument otherwise); call it before
    /// the first process().
    void prime(std::size_t block, double seconds = 4.0) {
        if (passthrough() || block == 0) return;
        if (input_rate_ != std::floor(input_rate_) || output_rate_ != std::floor(output_rate_))
            TAGMAP_THROW(InvalidArgument("Resampler::prime needs integer sample rates, got " +
                                         std::to_string(input_rate_) + " -> " +
                                         std::to_string(output_rate_) + " Hz"));
        const std::uint64_t period = input_period();
        const auto periods = static_cast<std::uint64_t>(
            std::ceil(seconds * input_rate_ / static_cast<double>(period)));
        const std::uint64_t lead_in = std::max<std::uint64_t>(periods, 1) * period;
        drop_ += lead_in * static_cast<std::uint64_t>(output_rate_) /
                 static_cast<std::uint64_t>(input_rate_);
        // Large blocks first: every FIFO inside libsoxr grows to hold them, and FIFOs
        // never shrink, so the small blocks of real-time use never need more room.
        // Then `block`-sized ones, the pattern process() will see.
        const std::size_t large = std::max<std::size_t>(block, 16384);
        const std::vector<float> silence(large, 0.0f);
        if (out_.size() < max_output_for(large)) out_.resize(max_output_for(large));
        const std::uint64_t large_part = lead_in / 2 / period * period;
        auto feed = [&](std::uint64_t count, std::size_t size) {
            for (std::uint64_t fed = 0; fed < count;) {
                const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(size, count - fed));
                process(std::span<const float>(silence.data(), n), [](std::span<const float>) {});
                fed += n;
            }
        };
        feed(large_part, large);
        feed(lead_in - large_part, block);
    }

    /// Smallest input length that maps to a whole number of output samples (integer
    /// rates): 441 for 44.1 -> 16 kHz, 3 for 48 -> 16 kHz.
    std::uint64_t input_period() const {
        const auto in = static_cast<std::uint64_t>(input_rate_);
        const auto out = static_cast<std::uint64_t>(output_rate_);
        return in / std::gcd(in, out);
    }

  private:
    template <class Sink>
    void deliver(std::size_t produced, Sink& sink) {
        std::size_t skip = 0;
        if (drop_ > 0) {
            skip = static_cast<std::size_t>(std::min<std::uint64_t>(drop_, produced));
            drop_ -= skip;
        }
        if (produced > skip) sink(std::span<const float>(out_.data() + skip, produced - skip));
    }

    struct Deleter {
        void operator()(soxr_t s) const { soxr_delete(s); }
    };
    static void check(soxr_error_t error) {
        if (error != nullptr) TAGMAP_THROW(AudioError(std::string("libsoxr failed: ") + error));
    }

    double input_rate_;
    double output_rate_;
    std::unique_ptr<std::remove_pointer_t<soxr_t>, Deleter> soxr_;
    std::vector<float> out_;
    std::uint64_t drop_ = 0;  // output samples still to discard (priming lead-in)
};

/// Whole-signal resampling through soxr_oneshot with the same HQ spec (reference path).
inline std::vector<float> resample_oneshot(std::span<const float> in, double input_rate,
                                           double output_rate = kModelSampleRate) {
    if (input_rate == output_rate) return {in.begin(), in.end()};
    if (!(input_rate >= kMinSampleRate && input_rate <= kMaxSampleRate) ||
        !(output_rate >= kMinSampleRate && output_rate <= kMaxSampleRate))
        TAGMAP_THROW(AudioError("cannot resample from " + std::to_string(input_rate) + " Hz to " +
                                std::to_string(output_rate) + " Hz"));
    std::vector<float> out(static_cast<std::size_t>(std::ceil(static_cast<double>(in.size()) *
                                                              output_rate / input_rate)) +
                           1);
    const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    const soxr_quality_spec_t quality = hq_quality_spec();
    std::size_t used = 0, produced = 0;
    const soxr_error_t error =
        soxr_oneshot(input_rate, output_rate, 1, in.data(), in.size(), &used, out.data(),
                     out.size(), &produced, &io, &quality, nullptr);
    if (error != nullptr) TAGMAP_THROW(AudioError(std::string("libsoxr oneshot failed: ") + error));
    out.resize(produced);
    return out;
}

}  // namespace tagmap::audio
