// madmom's beat-tracking front end (the pre-processor of RNNBeatProcessor), reproduced
// step for step: int16 signal at 44.1 kHz -> frames of 1024, 2048 and 4096 samples every
// 441 samples (100 fps, frame t centred on sample 441 t, zeros outside the signal) ->
// Hann window / 32767 -> FFT (bins 0 .. N/2-1) -> magnitude -> logarithmic triangular
// filterbank (6 bands per octave, 30 Hz .. 17 kHz, unique bins, each filter normalized
// to sum 1) -> log10(1 + x) -> positive first difference (lag 1, 1, 2 frames) -> rows
// [log, diff] per size, sizes side by side: T x 266 floats, T = ceil(samples / 441).
// The facts are in /work/shared/madmom/README.md and docs/models/madmom.md.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <numbers>
#include <span>
#include <vector>

#include "tagmap/core/error.hpp"
#include "tagmap/core/fftw_plan.hpp"

namespace tagmap::audio {

/// numpy's pairwise float32 summation (np.sum of a float32 array), bit for bit.
inline float numpy_pairwise_sum(const float* a, std::size_t n) {
    if (n < 8) {
        float s = -0.0f;  // numpy starts from -0.0 so that sum([-0.0]) is -0.0
        for (std::size_t i = 0; i < n; ++i) s += a[i];
        return s;
    }
    if (n <= 128) {
        float r[8];
        for (std::size_t j = 0; j < 8; ++j) r[j] = a[j];
        std::size_t i = 8;
        for (; i < n - n % 8; i += 8)
            for (std::size_t j = 0; j < 8; ++j) r[j] += a[i + j];
        float s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; ++i) s += a[i];
        return s;
    }
    std::size_t n2 = n / 2;
    n2 -= n2 % 8;
    return numpy_pairwise_sum(a, n2) + numpy_pairwise_sum(a + n2, n - n2);
}

/// One triangular filter of the logarithmic filterbank: weights on bins [start, start+n).
struct TriangularFilter {
    std::size_t start = 0;
    std::vector<float> weights;
};

/// The unique FFT bins of madmom's LogarithmicFilterbank(num_bands=6, fmin=30,
/// fmax=17000, fref=440, unique_filters=True) for an FFT of `frame_size` at `sample_rate`:
/// consecutive triples of them are the filters.
inline std::vector<std::size_t> log_filter_bins(std::size_t frame_size,
                                                double sample_rate = 44100.0,
                                                int bands_per_octave = 6, double fmin = 30.0,
                                                double fmax = 17000.0, double fref = 440.0) {
    const std::size_t n_bins = frame_size / 2;
    // np.fft.fftfreq(frame_size, 1 / sample_rate)[:n_bins]
    const double step = 1.0 / (double(frame_size) * (1.0 / sample_rate));
    std::vector<double> bin_freqs(n_bins);
    for (std::size_t k = 0; k < n_bins; ++k) bin_freqs[k] = double(k) * step;
    // fref * 2^(k / bands) for k in [floor(b log2(fmin/fref)), ceil(b log2(fmax/fref))),
    // then only fmin <= f <= fmax
    const auto left = static_cast<long>(std::floor(std::log2(fmin / fref) * bands_per_octave));
    const auto right = static_cast<long>(std::ceil(std::log2(fmax / fref) * bands_per_octave));
    std::vector<std::size_t> bins;
    for (long k = left; k < right; ++k) {
        const double f = fref * std::pow(2.0, double(k) / double(bands_per_octave));
        if (f < fmin || f > fmax) continue;
        // frequencies2bins: searchsorted (left), clip to [1, n-1], then the nearer neighbor
        // (ties to the upper bin)
        auto i = std::size_t(std::lower_bound(bin_freqs.begin(), bin_freqs.end(), f) -
                             bin_freqs.begin());
        i = std::clamp<std::size_t>(i, 1, n_bins - 1);
        if (f - bin_freqs[i - 1] < bin_freqs[i] - f) --i;
        bins.push_back(i);
    }
    std::sort(bins.begin(), bins.end());
    bins.erase(std::unique(bins.begin(), bins.end()), bins.end());
    return bins;
}

/// The triangular filters on the bins above, in band order (each normalized to sum 1).
inline std::vector<TriangularFilter> log_filterbank(std::size_t frame_size) {
    const std::vector<std::size_t> bins = log_filter_bins(frame_size);
    std::vector<TriangularFilter> filters;
    for (std::size_t j = 0; j + 2 < bins.size(); ++j) {
        const std::size_t start = bins[j], center = bins[j + 1], stop = bins[j + 2];
        TriangularFilter tf;
        tf.start = start;
        tf.weights.resize(stop - start);
        // np.linspace(0, 1, n, endpoint=False) and np.linspace(1, 0, m, endpoint=False),
        // built in float64 as i * step + start, then cast to float32
        const std::size_t rise = center - start, fall = stop - center;
        for (std::size_t i = 0; i < rise; ++i)
            tf.weights[i] = static_cast<float>(double(i) * (1.0 / double(rise)));
        for (std::size_t i = 0; i < fall; ++i)
            tf.weights[rise + i] = static_cast<float>(double(i) * (-1.0 / double(fall)) + 1.0);
        const float sum = numpy_pairwise_sum(tf.weights.data(), tf.weights.size());
        for (float& w : tf.weights) w /= sum;
        filters.push_back(std::move(tf));
    }
    return filters;
}

/// madmom's diff_frames for a Hann window of `frame_size` at a hop of `hop` samples and
/// diff_ratio 0.5: the lag of the positive difference.
inline std::size_t madmom_diff_frames(std::size_t frame_size, double hop = 441.0) {
    // The first window sample above half the maximum (np.hanning is symmetric).
    std::size_t s = 0;
    double max = 0;
    std::vector<double> w(frame_size);
    for (std::size_t i = 0; i < frame_size; ++i) {
        const double n = 1.0 - double(frame_size) + 2.0 * double(i);
        w[i] = 0.5 + 0.5 * std::cos(std::numbers::pi * n / double(frame_size - 1));
        max = std::max(max, w[i]);
    }
    while (s < frame_size && !(w[s] > 0.5 * max)) ++s;
    const double d =
        std::nearbyint((double(frame_size) / 2.0 - double(s)) / hop);  // Python round: half to even
    return static_cast<std::size_t>(std::max(1.0, d));
}

/// The whole pre-processing chain. Holds the windows, filterbanks and FFTW plans of the
/// three frame sizes; compute() is const and may run on several threads at once only
/// with one MadmomBeatFeatures per thread (it owns its FFT buffers).
class MadmomBeatFeatures {
  public:
    static constexpr double sample_rate = 44100.0;
    static constexpr std::size_t hop = 441;
    static constexpr std::array<std::size_t, 3> frame_sizes = {1024, 2048, 4096};

    MadmomBeatFeatures() {
        std::size_t col = 0;
        for (std::size_t s = 0; s < 3; ++s) {
            Size& z = sizes_[s];
            const std::size_t n = frame_sizes[s];
            z.n = n;
            z.window.resize(n);
            for (std::size_t i = 0; i < n; ++i) {
                // np.hanning(n) / np.iinfo(np.int16).max: the signal is int16
                const double m = 1.0 - double(n) + 2.0 * double(i);
                z.window[i] =
                    (0.5 + 0.5 * std::cos(std::numbers::pi * m / double(n - 1))) / 32767.0;
            }
            z.filters = log_filterbank(n);
            z.diff = madmom_diff_frames(n);  // 1, 1, 2: at most max_lag
            z.column = col;
            col += 2 * z.filters.size();
            z.in = FftwBuffer<double>(n);
            z.out = FftwBuffer<std::complex<double>>(n / 2 + 1);
            z.plan = RealFftPlan<double>(static_cast<int>(n), z.in.data(), z.out.data());
        }
        columns_ = col;
        log_columns_ = col / 2;
        ring_.resize((max_lag + 1) * columns_);
    }

    /// Feature columns per frame (266 with the default settings).
    std::size_t columns() const { return columns_; }
    /// Bands of the filterbank of frame size index s (39, 45, 49).
    std::size_t bands(std::size_t s) const { return sizes_.at(s).filters.size(); }
    static std::size_t frames(std::size_t samples) { return (samples + hop - 1) / hop; }

    /// Rows of columns() floats for frames(signal.size()) frames; `signal` holds int16
    /// sample values (what madmom reads from a 16-bit file or from ffmpeg).
    std::vector<float> compute(std::span<const std::int16_t> signal) {
        const std::size_t T = frames(signal.size());
        std::vector<float> out(T * columns_);
        for (std::size_t t = 0; t < T; ++t) {
            const float* row = out.data() + t * columns_;
            compute_row(signal, 0, signal.size(), t, out.data() + t * columns_,
                        {t >= 1 ? row - columns_ : nullptr, t >= 2 ? row - 2 * columns_ : nullptr});
        }
        return out;
    }

    /// The columns of the log spectra alone (39 + 45 + 49 = 133): a row's positive
    /// differences follow from them and the rows before (expand()), so a row kept this way
    /// is exact in half the space.
    std::size_t log_columns() const { return log_columns_; }
    /// The largest lag of the positive differences (2): expand() needs as many rows before.
    static constexpr std::size_t max_lag = 2;

    /// The log part (log_columns() floats) of a row of columns() floats.
    void pack_log(const float* row, float* log) const {
        for (const Size& z : sizes_) {
            const std::size_t bands = z.filters.size();
            std::memcpy(log, row + z.column, bands * sizeof(float));
            log += bands;
        }
    }

    /// Rows t0 .. t0 + n - 1 (n x columns()) from their log parts: `log` holds the log
    /// rows from t0 - min(t0, max_lag) to t0 + n - 1. The differences are computed as
    /// compute() computes them, so the rows are compute()'s bit for bit.
    void expand(const float* log, std::size_t t0, std::size_t n, float* rows) const {
        const std::size_t before = std::min(t0, max_lag);
        for (std::size_t r = 0; r < n; ++r) {
            const std::size_t t = t0 + r;
            const float* lt = log + (before + r) * log_columns_;
            float* row = rows + r * columns_;
            std::size_t lc = 0;
            for (const Size& z : sizes_) {
                const std::size_t bands = z.filters.size();
                std::memcpy(row + z.column, lt + lc, bands * sizeof(float));
                const float* back = t >= z.diff ? lt + lc - z.diff * log_columns_ : nullptr;
                for (std::size_t b = 0; b < bands; ++b) {
                    float d = 0.0f;
                    if (back) {
                        d = lt[lc + b] - back[b];
                        if (!(d > 0.0f)) d = 0.0f;
                    }
                    row[z.column + bands + b] = d;
                }
                lc += bands;
            }
        }
    }

    /// The same rows from a signal given in blocks: begin(), push() blocks, finish().
    /// Only the samples of the frames not yet computed are kept (4096 + a block), so a
    /// stream costs its T x columns() output (nothing with the on_row forms below) and no
    /// copy of the signal. `expected_samples` (0: unknown) reserves the output once
    /// instead of growing it.
    void begin(std::size_t expected_samples = 0) {
        window_.clear();
        window_start_ = seen_ = next_frame_ = 0;
        rows_.clear();
        rows_.shrink_to_fit();
        // A little over the hint: a resampled length can differ from the header's by a few
        // samples, and growing past the reservation would copy the whole block.
        if (expected_samples > 0) rows_.reserve((frames(expected_samples) + 16) * columns_);
        streaming_ = true;
    }

    void push(std::span<const std::int16_t> samples) {
        push(samples, [this](std::span<const float> row) { append(row); });
    }

    std::vector<float> finish() {
        finish([this](std::span<const float> row) { append(row); });
        return std::move(rows_);
    }

    /// The same rows handed to on_row(std::span<const float> row) in order as they
    /// complete, instead of kept: a stream then costs a few rows and the samples of the
    /// frames not yet computed.
    template <class OnRow>
    void push(std::span<const std::int16_t> samples, OnRow&& on_row) {
        if (!streaming_) throw InvalidArgument("madmom features: push() before begin()");
        window_.insert(window_.end(), samples.begin(), samples.end());
        seen_ += samples.size();
        // Frame t is complete once sample 441 t + 2047 (the largest frame's last) is in.
        const std::size_t half = frame_sizes.back() / 2;
        run_rows(seen_ >= half ? (seen_ - half) / hop + 1 : 0, on_row);
    }

    template <class OnRow>
    void finish(OnRow&& on_row) {
        if (!streaming_) throw InvalidArgument("madmom features: finish() before begin()");
        run_rows(frames(seen_), on_row);
        streaming_ = false;
        window_ = {};
    }

    /// Samples pushed since begin().
    std::size_t samples_seen() const { return seen_; }

    /// Float samples in [-1, 1) as madmom's ffmpeg path turns them into int16 (scaled by
    /// 32768, rounded to nearest, clipped): the input compute() expects.
    static std::vector<std::int16_t> to_int16(std::span<const float> samples) {
        std::vector<std::int16_t> out(samples.size());
        to_int16(samples, out, 0);
        return out;
    }

    /// The same into `out` (samples.size() values); `first` numbers the samples in the
    /// error message (their position in the whole signal).
    static void to_int16(std::span<const float> samples, std::span<std::int16_t> out,
                         std::size_t first) {
        for (std::size_t i = 0; i < samples.size(); ++i) {
            const float v = std::nearbyint(samples[i] * 32768.0f);
            if (!std::isfinite(samples[i]))
                throw AudioError("madmom features: sample " + std::to_string(first + i) +
                                 " is not finite");
            out[i] = static_cast<std::int16_t>(std::clamp(v, -32768.0f, 32767.0f));
        }
    }

  private:
    /// Row t of the features into row (columns_ floats); back[d - 1] is row t - d (null
    /// before the first), for the positive differences. `signal` holds samples first ..
    /// of a signal of `signal_size` samples, every sample of frame t that exists among them.
    void compute_row(std::span<const std::int16_t> signal, std::size_t first,
                     std::size_t signal_size, std::size_t t, float* out_row,
                     std::array<const float*, max_lag> back) {
        for (Size& z : sizes_) {
            const std::size_t n = z.n, bins = n / 2, bands = z.filters.size();
            mag_.resize(bins);
            const auto start = static_cast<std::ptrdiff_t>(t * hop) - std::ptrdiff_t(n / 2);
            for (std::size_t i = 0; i < n; ++i) {
                const std::ptrdiff_t k = start + std::ptrdiff_t(i);
                const double x = k >= 0 && std::size_t(k) < signal_size
                                     ? double(signal[std::size_t(k) - first])
                                     : 0.0;
                z.in[i] = x * z.window[i];
            }
            z.plan.execute(z.in.data(), z.out.data());
            for (std::size_t k = 0; k < bins; ++k) {
                // stored as complex64, then abs() in float32
                const std::complex<float> c(static_cast<float>(z.out[k].real()),
                                            static_cast<float>(z.out[k].imag()));
                mag_[k] = std::hypot(c.real(), c.imag());
            }
            float* row = out_row + z.column;
            for (std::size_t b = 0; b < bands; ++b) {
                const TriangularFilter& f = z.filters[b];
                double acc = 0;
                for (std::size_t i = 0; i < f.weights.size(); ++i)
                    acc += double(mag_[f.start + i]) * double(f.weights[i]);
                row[b] = std::log10(static_cast<float>(acc) + 1.0f);
            }
            // positive difference with lag d; zero for the first d frames
            for (std::size_t b = 0; b < bands; ++b) {
                float d = 0.0f;
                if (t >= z.diff) {
                    d = row[b] - back[z.diff - 1][z.column + b];
                    if (!(d > 0.0f)) d = 0.0f;
                }
                row[bands + b] = d;
            }
        }
    }

    void append(std::span<const float> row) { rows_.insert(rows_.end(), row.begin(), row.end()); }

    /// Streaming: rows next_frame_ .. end - 1 to on_row (the last max_lag + 1 rows are kept
    /// in ring_ for the differences), then drops the samples no later row needs.
    template <class OnRow>
    void run_rows(std::size_t end, OnRow& on_row) {
        constexpr std::size_t ring = max_lag + 1;
        for (; next_frame_ < end; ++next_frame_) {
            const std::size_t t = next_frame_;
            const auto slot = [&](std::size_t u) { return ring_.data() + (u % ring) * columns_; };
            float* row = slot(t);
            compute_row(window_, window_start_, seen_, t, row,
                        {t >= 1 ? slot(t - 1) : nullptr, t >= 2 ? slot(t - 2) : nullptr});
            on_row(std::span<const float>(row, columns_));
        }
        const std::size_t half = frame_sizes.back() / 2;
        const std::size_t keep_from = next_frame_ * hop > half ? next_frame_ * hop - half : 0;
        const std::size_t drop = std::min(keep_from, seen_) - window_start_;
        if (drop >= 65536 || drop == window_.size()) {
            window_.erase(window_.begin(), window_.begin() + std::ptrdiff_t(drop));
            window_start_ += drop;
        }
    }

    struct Size {
        std::size_t n = 0, diff = 1, column = 0;
        std::vector<double> window;
        std::vector<TriangularFilter> filters;
        FftwBuffer<double> in;
        FftwBuffer<std::complex<double>> out;
        RealFftPlan<double> plan;
    };
    std::array<Size, 3> sizes_;
    std::size_t columns_ = 0, log_columns_ = 0;
    std::vector<float> mag_;
    std::vector<float> ring_;  // the last rows, for the differences of a streamed row
    // Streaming state (begin .. finish).
    bool streaming_ = false;
    std::vector<std::int16_t> window_;  // samples window_start_ .. seen_ - 1
    std::size_t window_start_ = 0, seen_ = 0, next_frame_ = 0;
    std::vector<float> rows_;
};

}  // namespace tagmap::audio
