// The log-mel front end of the tagging models: the computation of
// torchaudio.transforms.MelSpectrogram(center=True, pad_mode="reflect", power=2) followed by
// AmplitudeToDB(stype="power", top_db=None): 10 log10(max(mel power, 1e-10)).
#pragma once

#include <algorithm>
#include <cmath>
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
            throw InvalidArgument("LogMelSpectrogram: n_mels must be >= 1, got " +
                                  std::to_string(n_mels));
        const auto n_bins = static_cast<std::size_t>(stft_.n_bins());
        if (filterbank.size() != n_bins * static_cast<std::size_t>(n_mels))
            throw InvalidArgument(
                "LogMelSpectrogram: filterbank has " + std::to_string(filterbank.size()) +
                " values, expected (" + std::to_string(n_bins) + " x " + std::to_string(n_mels) +
                ") = " + std::to_string(n_bins * n_mels) + " for n_fft " + std::to_string(n_fft));
        if (max_samples < stft_.min_samples())
            throw InvalidArgument("LogMelSpectrogram: max_samples " + std::to_string(max_samples) +
                                  " is below the minimum input of " +
                                  std::to_string(stft_.min_samples()) + " samples (n_fft/2 + 1)");
        for (std::size_t i = 0; i < filterbank.size(); ++i)
            if (!std::isfinite(filterbank[i]))
                throw InvalidArgument("LogMelSpectrogram: filterbank value " + std::to_string(i) +
                                      " (bin " + std::to_string(i / n_mels) + ", mel " +
                                      std::to_string(i % n_mels) + ") is not finite");
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
            throw InvalidArgument("LogMelSpectrogram: input has " + std::to_string(n) +
                                  " samples; accepted range is [" + std::to_string(min_samples()) +
                                  ", " + std::to_string(max_samples_) + "]");
        const int frames = frames_for(static_cast<int>(n), hop());
        const auto expected = static_cast<std::size_t>(frames) * n_mels_;
        if (out.size() != expected)
            throw InvalidArgument("LogMelSpectrogram: output has " + std::to_string(out.size()) +
                                  " values, expected n_mels x frames = " + std::to_string(n_mels_) +
                                  " x " + std::to_string(frames) + " = " +
                                  std::to_string(expected));
        for (std::size_t i = 0; i < n; ++i)
            if (!std::isfinite(samples[i]))
                throw AudioError("LogMelSpectrogram: sample " + std::to_string(i) +
                                 " is not finite");

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

}  // namespace tagmap::audio
