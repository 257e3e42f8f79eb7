// CREPE's decoding of the 360-bin activation (salience) into pitch and confidence,
// as the original crepe.core does it: bins are 20 cents apart from 1997.38 cents
// (31.7 Hz); the pitch of a frame is the salience-weighted average of the cents of
// the nine bins around a centre bin, the centre being the frame's argmax, or with
// Viterbi smoothing the state of the most likely path of an HMM over the per-frame
// argmaxes; the confidence is the frame's maximum salience.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "tagmap/core/error.hpp"

namespace tagmap::models::crepe {

inline constexpr std::size_t n_bins = 360;

/// np.linspace(0, 7180, 360) + 1997.3794084376191.
inline double bin_cents(std::size_t bin) {
    return 7180.0 * static_cast<double>(bin) / double(n_bins - 1) + 1997.3794084376191;
}

/// 10 * 2^(cents / 1200); a NaN (a window of zero salience) gives 0 Hz, as in CREPE.
inline double cents_to_hz(double cents) {
    const double hz = 10.0 * std::exp2(cents / 1200.0);
    return std::isnan(hz) ? 0.0 : hz;
}

inline std::size_t argmax(std::span<const float> salience) {
    return static_cast<std::size_t>(std::max_element(salience.begin(), salience.end()) -
                                    salience.begin());
}

/// to_local_average_cents: the weighted average of bins [center - 4, center + 4].
inline double local_average_cents(std::span<const float> salience, std::size_t center) {
    const std::size_t begin = center >= 4 ? center - 4 : 0;
    const std::size_t end = std::min(salience.size(), center + 5);
    double product = 0.0, weight = 0.0;
    for (std::size_t i = begin; i < end; ++i) {
        product += double(salience[i]) * bin_cents(i);
        weight += double(salience[i]);
    }
    return product / weight;  // 0/0 = NaN -> 0 Hz, as in CREPE
}

/// The most likely state path of CREPE's HMM (crepe.core.to_viterbi_cents): uniform
/// start, transitions max(12 - |i - j|, 0) normalised per row, observations the
/// frame argmaxes with emission 0.1 + 0.9/360 for the own bin and 0.9/360 for the
/// others. Log domain, ties to the lowest state, as hmmlearn's decoder.
/// One step of that decoder, shared by viterbi_path and ViterbiStream so that both do
/// the same arithmetic.
class ViterbiStep {
  public:
    static constexpr std::size_t S = n_bins;
    static constexpr int band = 12;  // |i - j| < band have non-zero probability

    ViterbiStep() : log_transition_(S * (2 * band - 1)) {
        // log_transition[i][d] for d = j - i + band - 1 in [0, 2 band - 1).
        for (std::size_t i = 0; i < S; ++i) {
            double sum = 0.0;
            for (std::size_t j = 0; j < S; ++j)
                sum += std::max(band - std::abs(int(j) - int(i)), 0);
            for (int d = -(band - 1); d <= band - 1; ++d)
                log_transition_[i * (2 * band - 1) + std::size_t(d + band - 1)] =
                    std::log(double(band - std::abs(d)) / sum);
        }
    }

    /// The lattice after the first frame, whose argmax is `observed`.
    void start(std::size_t observed, std::span<double, S> lattice) const {
        for (std::size_t i = 0; i < S; ++i)
            lattice[i] = std::log(1.0 / double(S)) + (i == observed ? log_hit_ : log_miss_);
    }

    /// lattice (frame t - 1) -> next (frame t, argmax `observed`); from[i]: the best
    /// predecessor of state i (ties to the lowest).
    void advance(std::span<const double, S> lattice, std::size_t observed,
                 std::span<double, S> next, std::span<std::uint16_t, S> from) const {
        const double minus_inf = -std::numeric_limits<double>::infinity();
        for (std::size_t i = 0; i < S; ++i) {
            const std::size_t lo = i >= band - 1 ? i - (band - 1) : 0;
            const std::size_t hi = std::min(S - 1, i + (band - 1));
            double best = minus_inf;
            std::size_t best_j = lo;
            for (std::size_t j = lo; j <= hi; ++j) {
                const double v = lattice[j] + transition(j, i);
                if (v > best) {
                    best = v;
                    best_j = j;
                }
            }
            next[i] = best + (i == observed ? log_hit_ : log_miss_);
            from[i] = static_cast<std::uint16_t>(best_j);
        }
    }

  private:
    double transition(std::size_t from, std::size_t to) const {
        const int d = int(to) - int(from);
        return std::abs(d) < band
                   ? log_transition_[from * (2 * band - 1) + std::size_t(d + band - 1)]
                   : -std::numeric_limits<double>::infinity();
    }

    std::vector<double> log_transition_;
    double log_hit_ = std::log(0.1 + 0.9 / double(S));
    double log_miss_ = std::log(0.9 / double(S));
};

inline std::vector<std::uint16_t> viterbi_path(std::span<const float> activations,
                                               std::size_t frames) {
    constexpr std::size_t S = n_bins;
    if (activations.size() != frames * S)
        throw InvalidArgument("crepe::viterbi_path: activations are not frames x 360");
    std::vector<std::uint16_t> path(frames);
    if (frames == 0) return path;

    const ViterbiStep step;
    std::vector<double> lattice(S), next(S);
    std::vector<std::uint16_t> from(frames * S);
    step.start(argmax(activations.subspan(0, S)), std::span<double, S>(lattice.data(), S));
    for (std::size_t t = 1; t < frames; ++t) {
        step.advance(std::span<const double, S>(lattice.data(), S),
                     argmax(activations.subspan(t * S, S)), std::span<double, S>(next.data(), S),
                     std::span<std::uint16_t, S>(from.data() + t * S, S));
        lattice.swap(next);
    }
    std::size_t state = static_cast<std::size_t>(std::max_element(lattice.begin(), lattice.end()) -
                                                 lattice.begin());
    for (std::size_t t = frames; t-- > 0;) {
        path[t] = static_cast<std::uint16_t>(state);
        if (t > 0) state = from[t * S + state];
    }
    return path;
}

/// One output row (Hz, confidence) of a frame's salience, around centre bin `center`.
inline void decoded_row(std::span<const float> salience, std::size_t center, float* row) {
    row[0] = static_cast<float>(cents_to_hz(local_average_cents(salience, center)));
    row[1] = salience[argmax(salience)];
}

/// frames x 360 activations -> frames x 2 (Hz, confidence), row-major; with
/// `viterbi` the centre bins come from viterbi_path, otherwise from each frame's argmax.
inline std::vector<float> decode(std::span<const float> activations, std::size_t frames,
                                 bool viterbi = true) {
    if (activations.size() != frames * n_bins)
        throw InvalidArgument("crepe::decode: activations are not frames x 360");
    std::vector<std::uint16_t> path;
    if (viterbi) path = viterbi_path(activations, frames);
    std::vector<float> out(2 * frames);
    for (std::size_t t = 0; t < frames; ++t) {
        const auto s = activations.subspan(t * n_bins, n_bins);
        decoded_row(s, viterbi ? path[t] : argmax(s), out.data() + 2 * t);
    }
    return out;
}

/// decode() one frame at a time, for signals too long to keep their activations
/// (360 floats per 10 ms: 518 MB for an hour). Without Viterbi each frame decodes on
/// its own. With it, a frame is decoded once every survivor path of the latest frame
/// runs through the same state there: the best final path is one of those survivors,
/// so that state is its state whatever comes later (an exact online Viterbi, not a
/// windowed approximation). Memory: the activations and back-pointers of the frames
/// not yet decided, in practice a few hundred frames; it grows only while the paths
/// stay apart. Output rows are bit-identical to decode() on the whole sequence.
class DecodeStream {
  public:
    static constexpr std::size_t S = n_bins;

    explicit DecodeStream(bool viterbi = true) : viterbi_(viterbi) {}

    /// Frame rows pushed so far, and rows decoded (rows() / 2) so far.
    std::size_t frames() const { return frames_; }
    std::size_t decided() const { return out_.size() / 2; }
    /// Frames held back, waiting for the survivor paths to meet.
    std::size_t pending() const { return frames_ - decided(); }

    /// The next frame's 360 activations.
    void push(std::span<const float> salience) {
        if (salience.size() != S)
            throw InvalidArgument("crepe::DecodeStream: a frame has 360 activations");
        if (!viterbi_) {
            const std::size_t t = out_.size();
            out_.resize(t + 2);
            decoded_row(salience, argmax(salience), out_.data() + t);
            ++frames_;
            return;
        }
        const std::size_t observed = argmax(salience);
        const std::size_t slot = frames_ - first_;
        if (activations_.size() < (slot + 1) * S) {
            activations_.resize((slot + 1) * S);
            from_.resize((slot + 1) * S);
        }
        std::copy(salience.begin(), salience.end(),
                  activations_.begin() + std::ptrdiff_t(slot * S));
        if (frames_ == 0) {
            step_.start(observed, std::span<double, S>(lattice_.data(), S));
        } else {
            step_.advance(std::span<const double, S>(lattice_.data(), S), observed,
                          std::span<double, S>(next_.data(), S),
                          std::span<std::uint16_t, S>(from_.data() + slot * S, S));
            lattice_.swap(next_);
        }
        ++frames_;
        if (frames_ - first_ >= check_at_) settle();
    }

    /// Ends the sequence and returns frames() x 2 rows (Hz, confidence).
    std::vector<float> finish() {
        if (viterbi_ && frames_ > first_) {
            // The best final state, ties to the lowest, as viterbi_path.
            const auto state = static_cast<std::size_t>(
                std::max_element(lattice_.begin(), lattice_.end()) - lattice_.begin());
            emit_through(frames_ - 1, state);
        }
        activations_ = {};
        from_ = {};
        return std::move(out_);
    }

  private:
    /// Looks for the latest frame where every survivor of the newest frame meets; if
    /// found, decodes up to it and drops what it no longer needs.
    void settle() {
        std::array<bool, S> alive, back;
        alive.fill(true);
        std::size_t count = S;
        for (std::size_t t = frames_ - 1; t > first_; --t) {
            back.fill(false);
            count = 0;
            const std::uint16_t* from = from_.data() + (t - first_) * S;
            for (std::size_t i = 0; i < S; ++i)
                if (alive[i] && !back[from[i]]) {
                    back[from[i]] = true;
                    ++count;
                }
            alive = back;
            if (count == 1) {
                const auto state = static_cast<std::size_t>(
                    std::find(alive.begin(), alive.end(), true) - alive.begin());
                emit_through(t - 1, state);
                break;
            }
        }
        // Check again after as many frames again as are pending (at least 64): the
        // search cost stays linear in the sequence length.
        check_at_ = std::max<std::size_t>(64, 2 * (frames_ - first_));
    }

    /// Decodes frames first_ .. last, frame `last` being in `state`, and drops them.
    void emit_through(std::size_t last, std::size_t state) {
        const std::size_t n = last + 1 - first_;
        std::vector<std::uint16_t> path(n);
        for (std::size_t t = last + 1; t-- > first_;) {
            path[t - first_] = static_cast<std::uint16_t>(state);
            if (t > first_) state = from_[(t - first_) * S + state];
        }
        const std::size_t base = out_.size();
        out_.resize(base + 2 * n);
        for (std::size_t k = 0; k < n; ++k)
            decoded_row(std::span<const float>(activations_.data() + k * S, S), path[k],
                        out_.data() + base + 2 * k);
        // Keep the frames after `last`; the back-pointers of frame last + 1 (into frame
        // `last`) are never read again, since the walk stops at the first kept frame.
        const std::size_t keep = frames_ - (last + 1);
        std::copy(activations_.begin() + std::ptrdiff_t(n * S),
                  activations_.begin() + std::ptrdiff_t((n + keep) * S), activations_.begin());
        std::copy(from_.begin() + std::ptrdiff_t(n * S),
                  from_.begin() + std::ptrdiff_t((n + keep) * S), from_.begin());
        first_ = last + 1;
    }

    bool viterbi_;
    ViterbiStep step_;
    std::array<double, S> lattice_{}, next_{};
    std::vector<float> activations_;   // frames first_ .. frames_ - 1
    std::vector<std::uint16_t> from_;  // their back-pointers (row 0's unused)
    std::vector<float> out_;
    std::size_t frames_ = 0, first_ = 0;
    std::size_t check_at_ = 64;
};

}  // namespace tagmap::models::crepe
