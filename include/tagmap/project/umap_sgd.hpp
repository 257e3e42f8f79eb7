// UMAP's layout optimisation: stochastic gradient descent on the fuzzy cross-entropy with
// negative sampling, umap-learn's schedule (epochs_per_sample = max weight / weight,
// negative_sample_rate negatives per positive sample, learning rate decaying linearly to 0,
// gradients clipped to [-4, 4], repulsion strength gamma 1).
//
// Determinism at any thread count: within an epoch each point moves only itself (the head of
// its edges) and reads every other point from a snapshot taken at the start of the epoch.
// Points are processed in fixed blocks of kBlock heads, block b of epoch e drawing its
// negative samples from Rng::for_stream(seed, b, e), so the result does not depend on which
// thread ran which block. umap-learn moves both ends of an edge (move_other); here the other
// end moves when its own copy of the symmetric edge is processed, and the head's attractive
// step is doubled so that each point still receives two attractive moves per undirected edge
// per sample, as in umap-learn.
//
// API (namespace tagmap::project::umap_detail): SgdGraph, SgdSettings, optimize_layout(...)
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <vector>

#include "tagmap/project/fuzzy_graph.hpp"
#include "tagmap/project/parallel.hpp"
#include "tagmap/project/random.hpp"

namespace tagmap::project::umap_detail {

/// Edges grouped by head (CSR) with umap-learn's per-edge sampling schedule.
struct SgdGraph {
    std::vector<int> row_start;  ///< heads + 1
    std::vector<int> tail;
    std::vector<double> epochs_per_sample;
};

/// The graph's edges with weight >= max / n_epochs (umap-learn drops the rest), as a
/// sampling schedule: an edge of weight w is sampled every max / w epochs.
inline SgdGraph make_sgd_graph(const FuzzyGraph& graph, int n_epochs) {
    SgdGraph out;
    float max_weight = 0;
    for (Eigen::Index i = 0; i < graph.nonZeros(); ++i)
        max_weight = std::max(max_weight, graph.valuePtr()[i]);
    const float threshold = max_weight / static_cast<float>(n_epochs);
    out.row_start.reserve(std::size_t(graph.rows()) + 1);
    out.row_start.push_back(0);
    for (Eigen::Index i = 0; i < graph.rows(); ++i) {
        for (FuzzyGraph::InnerIterator it(graph, i); it; ++it) {
            if (!(it.value() >= threshold) || it.value() <= 0) continue;
            out.tail.push_back(it.col());
            // make_epochs_per_sample: n_epochs / (n_epochs * w / max)
            out.epochs_per_sample.push_back(double(n_epochs) /
                                            (double(n_epochs) * (double(it.value()) / max_weight)));
        }
        out.row_start.push_back(int(out.tail.size()));
    }
    return out;
}

struct SgdSettings {
    double a = 1.577, b = 0.895;
    double gamma = 1.0;  ///< repulsion strength
    double initial_alpha = 1.0;
    int negative_sample_rate = 5;
    int n_epochs = 200;
    /// true when heads and tails are the same points (fit): negatives equal to the head are
    /// skipped and attraction is doubled (see header comment). false for transform().
    bool same_set = true;
    std::uint64_t seed = 42;
    int threads = 0;
    std::function<void(int, int)> progress;
};

inline constexpr std::size_t kBlock = 256;  // heads per block: fixed, never thread-dependent

inline float clip4(float v) {
    return v > 4.0f ? 4.0f : (v < -4.0f ? -4.0f : v);
}

/// Moves the heads in [begin, end) through one epoch. Dims > 0 unrolls the coordinate loops.
template <int Dims>
void sgd_block(std::size_t begin, std::size_t end, int dims_runtime, float* heads,
               const float* tails, std::size_t n_tails, const SgdGraph& graph,
               std::vector<double>& next_sample, std::vector<double>& next_negative,
               const SgdSettings& s, int epoch, float alpha, Rng& rng) {
    const int dims = Dims > 0 ? Dims : dims_runtime;
    const float a = float(s.a), b = float(s.b);
    const float attract_coeff = float(-2.0 * s.a * s.b);
    const float repel_coeff = float(2.0 * s.gamma * s.b);
    const float attract_alpha = s.same_set ? 2.0f * alpha : alpha;
    const double negatives_per_epoch_scale = double(s.negative_sample_rate);
    const auto n_tails32 = static_cast<std::uint32_t>(n_tails);
    for (std::size_t head = begin; head < end; ++head) {
        float* current = heads + head * std::size_t(dims);
        for (int e = graph.row_start[head]; e < graph.row_start[head + 1]; ++e) {
            const auto edge = std::size_t(e);
            if (next_sample[edge] > epoch) continue;
            const float* other = tails + std::size_t(graph.tail[edge]) * std::size_t(dims);
            float dist2 = 0;
            for (int d = 0; d < dims; ++d) {
                const float diff = current[d] - other[d];
                dist2 += diff * diff;
            }
            float coeff = 0;
            if (dist2 > 0) {
                const float p = std::pow(dist2, b);
                coeff = attract_coeff * (p / dist2) / (a * p + 1.0f);
            }
            for (int d = 0; d < dims; ++d)
                current[d] += clip4(coeff * (current[d] - other[d])) * attract_alpha;
            const double eps = graph.epochs_per_sample[edge];
            next_sample[edge] += eps;
            const double eps_negative = eps / negatives_per_epoch_scale;
            if (s.negative_sample_rate <= 0) continue;
            const double due = (double(epoch) - next_negative[edge]) / eps_negative;
            const int n_negative = due > 0 ? int(due) : 0;
            for (int p = 0; p < n_negative; ++p) {
                const std::uint32_t k = rng.below(n_tails32);
                if (s.same_set && k == head) continue;
                const float* neg = tails + std::size_t(k) * std::size_t(dims);
                float nd2 = 0;
                for (int d = 0; d < dims; ++d) {
                    const float diff = current[d] - neg[d];
                    nd2 += diff * diff;
                }
                if (nd2 > 0) {
                    const float rc = repel_coeff / ((0.001f + nd2) * (a * std::pow(nd2, b) + 1.0f));
                    for (int d = 0; d < dims; ++d)
                        current[d] += clip4(rc * (current[d] - neg[d])) * alpha;
                } else {
                    // umap-learn 0.5.3 pushes coincident points apart by the clip value
                    for (int d = 0; d < dims; ++d) current[d] += 4.0f * alpha;
                }
            }
            next_negative[edge] += n_negative * eps_negative;
        }
    }
}

/// Optimises `heads` (n_heads x dims, row-major) against `tails` (n_tails x dims). When
/// settings.same_set, heads and tails are the same points and `tails` is ignored (the epoch
/// snapshot is used instead).
inline void optimize_layout(std::vector<float>& heads, const std::vector<float>& tails, int dims,
                            const SgdGraph& graph, const SgdSettings& s) {
    const std::size_t n_heads = graph.row_start.size() - 1;
    const std::size_t n_edges = graph.tail.size();
    std::vector<double> next_sample(graph.epochs_per_sample);
    std::vector<double> next_negative(n_edges);
    for (std::size_t e = 0; e < n_edges; ++e)
        next_negative[e] = graph.epochs_per_sample[e] / s.negative_sample_rate;
    std::vector<float> snapshot;
    const std::size_t n_tails = s.same_set ? n_heads : tails.size() / std::size_t(dims);
    if (n_tails == 0 || n_heads == 0) return;
    for (int epoch = 0; epoch < s.n_epochs; ++epoch) {
        const float alpha = float(s.initial_alpha * (1.0 - double(epoch) / double(s.n_epochs)));
        if (s.same_set) snapshot = heads;
        const float* tail_data = s.same_set ? snapshot.data() : tails.data();
        parallel_for_blocks(
            n_heads, kBlock, s.threads, [&](std::size_t block, std::size_t begin, std::size_t end) {
                Rng rng = Rng::for_stream(s.seed, block, std::uint64_t(epoch));
                auto run = [&]<int D>() {
                    sgd_block<D>(begin, end, dims, heads.data(), tail_data, n_tails, graph,
                                 next_sample, next_negative, s, epoch, alpha, rng);
                };
                if (dims == 2)
                    run.template operator()<2>();
                else if (dims == 3)
                    run.template operator()<3>();
                else
                    run.template operator()<0>();
            });
        if (s.progress) s.progress(epoch + 1, s.n_epochs);
    }
}

}  // namespace tagmap::project::umap_detail
