// The HTK mel filterbank of torchaudio.functional.melscale_fbanks(norm=None,
// mel_scale="htk"), for callers that have no checkpoint filterbank to load.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "tagmap/core/error.hpp"

namespace tagmap::audio {

/// HTK mel of a frequency in Hz: 2595 log10(1 + f/700).
inline double hz_to_mel_htk(double hz) {
    return 2595.0 * std::log10(1.0 + hz / 700.0);
}

/// Inverse of hz_to_mel_htk.
inline double mel_to_hz_htk(double mel) {
    return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0);
}

namespace detail {
// torch.linspace(start, end, steps) in float32: fills from both ends so that the last
// value is exactly `end`, as torch's CPU kernel does.
inline std::vector<float> linspace_f32(float start, float end, int steps) {
    std::vector<float> v(static_cast<std::size_t>(steps));
    if (steps == 1) {
        v[0] = start;
        return v;
    }
    const float step = (end - start) / static_cast<float>(steps - 1);
    const int halfway = steps / 2;
    for (int i = 0; i < steps; ++i)
        v[i] = i < halfway ? start + step * static_cast<float>(i)
                           : end - step * static_cast<float>(steps - i - 1);
    return v;
}
}  // namespace detail

/// Triangular HTK mel filters, unnormalised, as an n_freqs x n_mels row-major matrix
/// (row = FFT bin k at k * (sample_rate / 2) / (n_freqs - 1) Hz, column = mel band):
/// exactly the layout and float32 arithmetic of torchaudio's melscale_fbanks, so all-zero
/// filters (more bands than the FFT resolves at low frequencies) are kept as zero columns.
/// For an n_fft-point STFT, n_freqs = n_fft / 2 + 1.
inline std::vector<float> htk_mel_filterbank(int n_freqs, double f_min, double f_max, int n_mels,
                                             int sample_rate) {
    if (n_freqs < 2 || n_mels < 1 || sample_rate <= 0)
        throw InvalidArgument(
            "htk_mel_filterbank: need n_freqs >= 2, n_mels >= 1, sample_rate > 0; got n_freqs " +
            std::to_string(n_freqs) + ", n_mels " + std::to_string(n_mels) + ", sample_rate " +
            std::to_string(sample_rate));
    if (!(f_min >= 0.0) || !(f_max > f_min))
        throw InvalidArgument("htk_mel_filterbank: need 0 <= f_min < f_max; got f_min " +
                              std::to_string(f_min) + ", f_max " + std::to_string(f_max));

    // torchaudio: all_freqs = linspace(0, sample_rate // 2, n_freqs) (integer Nyquist).
    const auto all_freqs = detail::linspace_f32(0.0f, static_cast<float>(sample_rate / 2), n_freqs);
    auto f_pts = detail::linspace_f32(static_cast<float>(hz_to_mel_htk(f_min)),
                                      static_cast<float>(hz_to_mel_htk(f_max)), n_mels + 2);
    for (float& m : f_pts) m = 700.0f * (std::pow(10.0f, m / 2595.0f) - 1.0f);

    std::vector<float> fb(static_cast<std::size_t>(n_freqs) * n_mels);
    for (int k = 0; k < n_freqs; ++k) {
        for (int m = 0; m < n_mels; ++m) {
            const float down = -(f_pts[m] - all_freqs[k]) / (f_pts[m + 1] - f_pts[m]);
            const float up = (f_pts[m + 2] - all_freqs[k]) / (f_pts[m + 2] - f_pts[m + 1]);
            fb[static_cast<std::size_t>(k) * n_mels + m] = std::max(0.0f, std::min(down, up));
        }
    }
    return fb;
}

}  // namespace tagmap::audio
