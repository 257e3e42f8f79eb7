// CREPE's decoding of the 360-bin activation (salience) into pitch and confidence,
// as the original crepe.core does it: bins are 20 cents apart from 1997.38 cents
// (31.7 Hz); the pitch of a frame is the salience-weighted average of the cents of
// the nine bins around a centre bin, the centre being the frame's argmax, or with
// Viterbi smoothing the state of the most likely path of an HMM over the per-frame
// argmaxes; the confidence is the frame's maximum salience.
#pragma once

#include <algorithm>
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
inline std::vector<std::uint16_t> viterbi_path(std::span<const float> activations,
                                               std::size_t frames) {
    constexpr std::size_t S = n_bins;
    constexpr int band = 12;  // |i - j| < band have non-zero probability
    if (activations.size() != frames * S)
        throw InvalidArgument("crepe::viterbi_path: activations are not frames x 360");
    std::vector<std::uint16_t> path(frames);
    if (frames == 0) return path;

    // log_transition[i][d] for d = j - i + band - 1 in [0, 2 band - 1).
    std::vector<double> log_transition(S * (2 * band - 1));
    for (std::size_t i = 0; i < S; ++i) {
        double sum = 0.0;
        for (std::size_t j = 0; j < S; ++j) sum += std::max(band - std::abs(int(j) - int(i)), 0);
        for (int d = -(band - 1); d <= band - 1; ++d)
            log_transition[i * (2 * band - 1) + std::size_t(d + band - 1)] =
                std::log(double(band - std::abs(d)) / sum);
    }
    const double log_hit = std::log(0.1 + 0.9 / double(S));
    const double log_miss = std::log(0.9 / double(S));
    const double minus_inf = -std::numeric_limits<double>::infinity();
    const auto transition = [&](std::size_t from, std::size_t to) {
        const int d = int(to) - int(from);
        return std::abs(d) < band
                   ? log_transition[from * (2 * band - 1) + std::size_t(d + band - 1)]
                   : minus_inf;
    };

    std::vector<double> lattice(S), next(S);
    std::vector<std::uint16_t> from(frames * S);
    std::size_t observed = argmax(activations.subspan(0, S));
    for (std::size_t i = 0; i < S; ++i)
        lattice[i] = std::log(1.0 / double(S)) + (i == observed ? log_hit : log_miss);
    for (std::size_t t = 1; t < frames; ++t) {
        observed = argmax(activations.subspan(t * S, S));
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
            next[i] = best + (i == observed ? log_hit : log_miss);
            from[t * S + i] = static_cast<std::uint16_t>(best_j);
        }
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
        const std::size_t peak = argmax(s);
        const std::size_t center = viterbi ? path[t] : peak;
        out[2 * t] = static_cast<float>(cents_to_hz(local_average_cents(s, center)));
        out[2 * t + 1] = s[peak];
    }
    return out;
}

}  // namespace tagmap::models::crepe
