// Power spectrogram frames as torch.stft(center=True, pad_mode="reflect") followed by
// |X|^2: the STFT half of torchaudio's Spectrogram(power=2).
#pragma once

#include <cmath>
#include <complex>
#include <numbers>
#include <span>
#include <string>
#include <vector>

#include "tagmap/core/fftw_plan.hpp"
#include "tagmap/core/error.hpp"

namespace tagmap::audio {

/// torch.hann_window(n) (periodic=True): 0.5 - 0.5 cos(2 pi i / n), i < n, evaluated as
/// torch does, with the angle i * (2 pi / n) rounded to float. That float rounding moves
/// values by up to 1.8e-7 from the exact window, enough to shift quiet log-mel frames by
/// ~6e-5 dB, so following torch keeps tagmap within one ulp of torch's own window.
inline std::vector<float> periodic_hann_window(int n) {
    if (n <= 0)
        throw InvalidArgument("periodic_hann_window: size must be > 0, got " + std::to_string(n));
    const auto step = static_cast<float>(2.0 * std::numbers::pi / n);
    std::vector<float> w(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        const float angle = static_cast<float>(i) * step;
        w[i] = 0.5f - 0.5f * static_cast<float>(std::cos(static_cast<double>(angle)));
    }
    return w;
}

/// Frames of a center=True STFT with reflect padding: frame t covers input samples
/// [t*hop - n_fft/2, t*hop + n_fft/2), with indices mirrored about the first and last
/// sample (no edge repeat, numpy/torch "reflect"). Owns its FFTW plan and aligned buffers,
/// made once in the constructor; power() allocates nothing. One object must not be used
/// by two threads at once; distinct objects may run concurrently.
class ReflectPaddedStft {
  public:
    /// n_fft even and >= 2, hop >= 1, window.size() == n_fft (copied).
    ReflectPaddedStft(int n_fft, int hop, std::span<const float> window)
        : n_fft_(n_fft), hop_(hop) {
        if (n_fft < 2 || n_fft % 2 != 0)
            throw InvalidArgument("STFT: n_fft must be even and >= 2, got " +
                                  std::to_string(n_fft));
        if (hop < 1) throw InvalidArgument("STFT: hop must be >= 1, got " + std::to_string(hop));
        if (window.size() != static_cast<std::size_t>(n_fft))
            throw InvalidArgument("STFT: window has " + std::to_string(window.size()) +
                                  " values, n_fft is " + std::to_string(n_fft));
        for (std::size_t i = 0; i < window.size(); ++i)
            if (!std::isfinite(window[i]))
                throw InvalidArgument("STFT: window value " + std::to_string(i) + " is not finite");
        window_.assign(window.begin(), window.end());
        frame_ = FftwBuffer<double>(static_cast<std::size_t>(n_fft));
        spectrum_ = FftwBuffer<std::complex<double>>(static_cast<std::size_t>(n_bins()));
        plan_ = RealFftPlan(n_fft, frame_.data(), spectrum_.data());
    }

    int n_fft() const noexcept { return n_fft_; }
    int hop() const noexcept { return hop_; }
    int n_bins() const noexcept { return n_fft_ / 2 + 1; }

    /// Number of frames torch.stft(center=True) yields for n_samples samples.
    static constexpr int frames_for(int n_samples, int hop) { return n_samples / hop + 1; }

    /// Smallest input reflect padding accepts (torch requires pad < length).
    int min_samples() const noexcept { return n_fft_ / 2 + 1; }

    /// |X_t[k]|^2 for k < n_bins() into power, computed in double: a float32 FFT's rounding
    /// noise sits ~1e-7 below the frame's energy, which costs up to ~5e-4 dB in quiet
    /// high bands (measured on music); double removes that for a negligible cost. Preconditions
    /// (checked by the caller, LogMelSpectrogram): samples.size() >= min_samples(), t <
    /// frames_for(size, hop), power.size() >= n_bins().
    void power(std::span<const float> samples, int t, std::span<double> power) noexcept {
        const long n = static_cast<long>(samples.size());
        const long start = static_cast<long>(t) * hop_ - n_fft_ / 2;
        if (start >= 0 && start + n_fft_ <= n) {  // interior frame: no reflection
            const float* src = samples.data() + start;
            for (int i = 0; i < n_fft_; ++i) frame_[i] = static_cast<double>(src[i]) * window_[i];
        } else {
            for (int i = 0; i < n_fft_; ++i) {
                long j = start + i;
                if (j < 0)
                    j = -j;  // reflect about sample 0
                else if (j >= n)
                    j = 2 * (n - 1) - j;  // reflect about the last sample
                frame_[i] = static_cast<double>(samples[static_cast<std::size_t>(j)]) * window_[i];
            }
        }
        plan_.execute(frame_.data(), spectrum_.data());
        for (int k = 0; k < n_bins(); ++k) {
            const double re = spectrum_[k].real(), im = spectrum_[k].imag();
            power[k] = re * re + im * im;
        }
    }

  private:
    int n_fft_;
    int hop_;
    std::vector<double> window_;
    FftwBuffer<double> frame_;
    FftwBuffer<std::complex<double>> spectrum_;
    RealFftPlan<double> plan_;
};

}  // namespace tagmap::audio
