// Power spectrogram frames as torch.stft(center=True, pad_mode="reflect") followed by
// |X|^2: the STFT half of torchaudio's Spectrogram(power=2).
#pragma once

#include <array>
#include <cmath>
#include <complex>
#include <cstddef>
#include <cstdint>
#include <numbers>
#include <span>
#include <string>
#include <vector>

#include "tagmap/core/error.hpp"
#include "tagmap/core/fftw_plan.hpp"

namespace tagmap::audio {

/// torch.hann_window(n) (periodic=True): 0.5 - 0.5 cos(2 pi i / n), i < n, evaluated as
/// torch does, with the angle i * (2 pi / n) rounded to float. That float rounding moves
/// values by up to 1.8e-7 from the exact window, enough to shift quiet log-mel frames by
/// ~6e-5 dB, so following torch keeps tagmap within one ulp of torch's own window.
inline std::vector<float> periodic_hann_window(int n) {
    if (n <= 0)
        TAGMAP_THROW(
            InvalidArgument("periodic_hann_window: size must be > 0, got " + std::to_string(n)));
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
            TAGMAP_THROW(
                InvalidArgument("STFT: n_fft must be even and >= 2, got " + std::to_string(n_fft)));
        if (hop < 1)
            TAGMAP_THROW(InvalidArgument("STFT: hop must be >= 1, got " + std::to_string(hop)));
        if (window.size() != static_cast<std::size_t>(n_fft))
            TAGMAP_THROW(InvalidArgument("STFT: window has " + std::to_string(window.size()) +
                                         " values, n_fft is " + std::to_string(n_fft)));
        for (std::size_t i = 0; i < window.size(); ++i)
            if (!std::isfinite(window[i]))
                TAGMAP_THROW(
                    InvalidArgument("STFT: window value " + std::to_string(i) + " is not finite"));
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

/// A fixed-size forward DFT of N real values (N a power of two) in double precision with
/// all tables and buffers inside the object: no heap, no planner, no lock, usable
/// without exceptions. The static-memory models use it instead of FFTW; it matches
/// FFTW's r2c transform to double rounding (radix-2, twiddles computed directly).
template <std::size_t N>
class FixedRealFft {
    static_assert(N >= 2 && (N & (N - 1)) == 0, "FixedRealFft: N must be a power of two");

  public:
    static constexpr std::size_t n_bins = N / 2 + 1;

    FixedRealFft() {
        for (std::size_t k = 0; k < N / 2; ++k) {
            const double angle = -2.0 * std::numbers::pi * static_cast<double>(k) / N;
            twiddle_[k] = {std::cos(angle), std::sin(angle)};
        }
        for (std::size_t i = 0; i < N; ++i) {
            std::size_t r = 0;
            for (std::size_t bit = 1, v = i; bit < N; bit <<= 1, v >>= 1) r = (r << 1) | (v & 1);
            reversed_[i] = static_cast<std::uint32_t>(r);
        }
    }

    /// out[k] = sum_n in[n] e^{-2 pi i k n / N}, k < n_bins.
    void execute(const double* in, std::complex<double>* out) noexcept {
        for (std::size_t i = 0; i < N; ++i) work_[reversed_[i]] = {in[i], 0.0};
        for (std::size_t half = 1; half < N; half <<= 1) {
            const std::size_t stride = N / (2 * half);
            for (std::size_t start = 0; start < N; start += 2 * half)
                for (std::size_t j = 0; j < half; ++j) {
                    const std::complex<double> t = twiddle_[j * stride] * work_[start + j + half];
                    work_[start + j + half] = work_[start + j] - t;
                    work_[start + j] += t;
                }
        }
        for (std::size_t k = 0; k < n_bins; ++k) out[k] = work_[k];
    }

  private:
    std::array<std::complex<double>, N / 2> twiddle_{};
    std::array<std::uint32_t, N> reversed_{};
    std::array<std::complex<double>, N> work_{};
};

/// ReflectPaddedStft with compile-time sizes on FixedRealFft: same frames, same power
/// spectrum (to double rounding), all storage inside the object. The window is viewed,
/// not copied: it must outlive the object (compiled weights always do).
template <std::size_t NFft, std::size_t Hop>
class FixedReflectStft {
  public:
    static constexpr std::size_t n_bins = NFft / 2 + 1;
    static constexpr std::size_t min_samples = NFft / 2 + 1;

    FixedReflectStft() = default;
    explicit FixedReflectStft(std::span<const float, NFft> window) : window_(window.data()) {}

    /// As ReflectPaddedStft::power (same preconditions).
    void power(std::span<const float> samples, std::size_t t,
               std::span<double, n_bins> power) noexcept {
        const long n = static_cast<long>(samples.size());
        const long start = static_cast<long>(t * Hop) - static_cast<long>(NFft / 2);
        for (std::size_t i = 0; i < NFft; ++i) {
            long j = start + static_cast<long>(i);
            if (j < 0)
                j = -j;
            else if (j >= n)
                j = 2 * (n - 1) - j;
            frame_[i] = static_cast<double>(samples[static_cast<std::size_t>(j)]) *
                        static_cast<double>(window_[i]);
        }
        fft_.execute(frame_.data(), spectrum_.data());
        for (std::size_t k = 0; k < n_bins; ++k) {
            const double re = spectrum_[k].real(), im = spectrum_[k].imag();
            power[k] = re * re + im * im;
        }
    }

  private:
    const float* window_ = nullptr;
    std::array<double, NFft> frame_{};
    std::array<std::complex<double>, n_bins> spectrum_{};
    FixedRealFft<NFft> fft_;
};

}  // namespace tagmap::audio
