// The log-mel front end of the tagging models: the computation of
// torchaudio.transforms.MelSpectrogram(center=True, pad_mode="reflect", power=2) followed by
// AmplitudeToDB(stype="power", top_db=None): 10 log10(max(mel power, 1e-10)).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "tagmap/audio/stft.hpp"
#include "tagmap/core/error.hpp"

namespace tagmap::audio {

/// Log-mel spectrogram with a caller-supplied window and mel filterbank (normally the
/// checkpoint's spec.spectrogram.window and spec.mel_scale.fb). All buffers and the FFTW
/// plan are made in the constructor; compute() does not allocate. An object must not be
/// used by two threads at once; give each thread its own (plan creation is serialised
/// by fftw_planner_mutex()).
class LogMelSpectrogram {
  public:
    /// window: n_fft values; filterbank: (n_fft/2+1) x n_mels, row-major, exactly the
    /// checkpoint's spec.mel_scale.fb (see htk_mel_filterbank to build one);
    /// max_samples: the largest input compute() accepts.
    LogMelSpectrogram(int n_fft, int hop, std::span<const float> window,
                      std::span<const float> filterbank, int n_mels, int max_samples)
        : stft_(n_fft, hop, window), n_mels_(n_mels), max_samples_(max_samples) {
        if (n_mels < 1)
            TAGMAP_THROW(InvalidArgument("LogMelSpectrogram: n_mels must be >= 1, got " +
                                         std::to_string(n_mels)));
        const auto n_bins = static_cast<std::size_t>(stft_.n_bins());
        if (filterbank.size() != n_bins * static_cast<std::size_t>(n_mels))
            TAGMAP_THROW(InvalidArgument(
                "LogMelSpectrogram: filterbank has " + std::to_string(filterbank.size()) +
                " values, expected (" + std::to_string(n_bins) + " x " + std::to_string(n_mels) +
                ") = " + std::to_string(n_bins * n_mels) + " for n_fft " + std::to_string(n_fft)));
        if (max_samples < stft_.min_samples())
            TAGMAP_THROW(
                InvalidArgument("LogMelSpectrogram: max_samples " + std::to_string(max_samples) +
                                " is below the minimum input of " +
                                std::to_string(stft_.min_samples()) + " samples (n_fft/2 + 1)"));
        for (std::size_t i = 0; i < filterbank.size(); ++i)
            if (!std::isfinite(filterbank[i]))
                TAGMAP_THROW(InvalidArgument("LogMelSpectrogram: filterbank value " +
                                             std::to_string(i) + " (bin " +
                                             std::to_string(i / n_mels) + ", mel " +
                                             std::to_string(i % n_mels) + ") is not finite"));
        // Store each filter as its contiguous band of nonzero bins: mel filters are narrow,
        // so the mel projection costs a few bins per band instead of all n_bins.
        filters_.resize(static_cast<std::size_t>(n_mels));
        for (int m = 0; m < n_mels; ++m) {
            Band& band = filters_[m];
            int first = -1, last = -1;
            for (std::size_t k = 0; k < n_bins; ++k) {
                if (filterbank[k * n_mels + m] != 0.0f) {
                    if (first < 0) first = static_cast<int>(k);
                    last = static_cast<int>(k);
                }
            }
            if (first >= 0) {
                band.first_bin = first;
                for (int k = first; k <= last; ++k)
                    band.weights.push_back(filterbank[static_cast<std::size_t>(k) * n_mels + m]);
            }
        }
        power_.assign(n_bins, 0.0);
    }

    static constexpr int frames_for(int n_samples, int hop) { return n_samples / hop + 1; }
    int n_mels() const noexcept { return n_mels_; }
    int n_fft() const noexcept { return stft_.n_fft(); }
    int hop() const noexcept { return stft_.hop(); }
    int max_samples() const noexcept { return max_samples_; }
    /// Smallest input accepted: reflect padding needs more than n_fft/2 samples.
    int min_samples() const noexcept { return stft_.min_samples(); }

    /// out: n_mels x frames_for(samples.size(), hop), row-major (torch's (n_mels, time)),
    /// in dB. Throws InvalidArgument for a too short/long input or a wrongly sized out,
    /// AudioError for a non-finite sample; out is untouched when it throws.
    void compute(std::span<const float> samples, std::span<float> out) {
        const auto n = samples.size();
        if (n < static_cast<std::size_t>(min_samples()) ||
            n > static_cast<std::size_t>(max_samples_))
            TAGMAP_THROW(InvalidArgument("LogMelSpectrogram: input has " + std::to_string(n) +
                                         " samples; accepted range is [" +
                                         std::to_string(min_samples()) + ", " +
                                         std::to_string(max_samples_) + "]"));
        const int frames = frames_for(static_cast<int>(n), hop());
        const auto expected = static_cast<std::size_t>(frames) * n_mels_;
        if (out.size() != expected)
            TAGMAP_THROW(
                InvalidArgument("LogMelSpectrogram: output has " + std::to_string(out.size()) +
                                " values, expected n_mels x frames = " + std::to_string(n_mels_) +
                                " x " + std::to_string(frames) + " = " + std::to_string(expected)));
        for (std::size_t i = 0; i < n; ++i)
            if (!std::isfinite(samples[i]))
                TAGMAP_THROW(AudioError("LogMelSpectrogram: sample " + std::to_string(i) +
                                        " is not finite"));

        for (int t = 0; t < frames; ++t) {
            stft_.power(samples, t, power_);
            for (int m = 0; m < n_mels_; ++m) {
                const Band& band = filters_[m];
                double acc = 0.0;
                for (std::size_t j = 0; j < band.weights.size(); ++j)
                    acc += band.weights[j] * power_[band.first_bin + j];
                out[static_cast<std::size_t>(m) * frames + t] =
                    static_cast<float>(10.0 * std::log10(std::max(acc, 1e-10)));
            }
        }
    }

  private:
    struct Band {
        int first_bin = 0;
        std::vector<double> weights;  // empty for an all-zero filter (always -100 dB)
    };

    ReflectPaddedStft stft_;
    int n_mels_;
    int max_samples_;
    std::vector<Band> filters_;
    std::vector<double> power_;
};

/// LogMelSpectrogram with compile-time sizes for the static-memory configuration: the
/// same computation (FixedReflectStft instead of FFTW), no heap, errors as values. The
/// window and the filterbank are viewed, not copied, and must outlive the object.
template <std::size_t NFft, std::size_t Hop, std::size_t NMels, std::size_t Samples>
class FixedLogMel {
  public:
    using Stft = FixedReflectStft<NFft, Hop>;
    static constexpr std::size_t n_bins = Stft::n_bins;
    static constexpr std::size_t frames = Samples / Hop + 1;
    static_assert(Samples >= Stft::min_samples, "FixedLogMel: input shorter than n_fft/2 + 1");

    FixedLogMel() = default;

    /// window: NFft values, filterbank: n_bins x NMels row-major (the checkpoint's).
    Status init(std::span<const float, NFft> window,
                std::span<const float, n_bins * NMels> filterbank) {
        for (std::size_t i = 0; i < NFft; ++i)
            if (!std::isfinite(window[i]))
                return Status(Errc::invalid_argument, "STFT: window value ")
                    .append(static_cast<long long>(i))
                    .append(" is not finite");
        for (std::size_t i = 0; i < filterbank.size(); ++i)
            if (!std::isfinite(filterbank[i]))
                return Status(Errc::invalid_argument, "LogMelSpectrogram: filterbank value ")
                    .append(static_cast<long long>(i))
                    .append(" is not finite");
        stft_ = Stft(window);
        filterbank_ = filterbank.data();
        for (std::size_t m = 0; m < NMels; ++m) {  // each filter's band of nonzero bins
            first_[m] = n_bins;
            last_[m] = 0;
            for (std::size_t k = 0; k < n_bins; ++k)
                if (filterbank_[k * NMels + m] != 0.0f) {
                    first_[m] = std::min(first_[m], k);
                    last_[m] = k;
                }
        }
        return Status::success();
    }

    /// samples: exactly Samples values (checked finite by the caller); out: NMels x frames
    /// in dB, as LogMelSpectrogram::compute.
    void compute(std::span<const float, Samples> samples,
                 std::span<float, NMels * frames> out) noexcept {
        for (std::size_t t = 0; t < frames; ++t) {
            stft_.power(samples, t, power_);
            for (std::size_t m = 0; m < NMels; ++m) {
                double acc = 0.0;
                for (std::size_t k = first_[m]; k <= last_[m] && k < n_bins; ++k)
                    acc += static_cast<double>(filterbank_[k * NMels + m]) * power_[k];
                out[m * frames + t] = static_cast<float>(10.0 * std::log10(std::max(acc, 1e-10)));
            }
        }
    }

  private:
    Stft stft_;
    const float* filterbank_ = nullptr;
    std::array<std::size_t, NMels> first_{}, last_{};
    std::array<double, n_bins> power_{};
};

}  // namespace tagmap::audio
