// UMAP's layout optimisation: stochastic gradient descent on the fuzzy cross-entropy with
// negative sampling, umap-learn's schedule (epochs_per_sample = max weight / weight,
// negative_sample_rate negatives per positive sample, learning rate decaying linearly to 0,
// gradients clipped to [-4, 4], repulsion strength gamma 1).
//
// Determinism at any thread count: within an epoch each point moves only itself (the head of
// its edges) and reads every other point from a snapshot taken at the start of the epoch.
// Points are processed in fixed blocks of heads (block_size_for(N)), block b of epoch e drawing its
// negative samples from Rng::for_stream(seed, b, e), so the result does not depend on which
// thread ran which block. umap-learn moves both ends of an edge (move_other); here the other
// end moves when its own copy of the symmetric edge is processed, and the head's attractive
// step is doubled so that each point still receives two attractive moves per undirected edge
// per sample, as in umap-learn.
//
// Speed: a block's epoch runs in two passes. draw_samples walks the schedule and draws the
// negatives in the block's stream order; move_samples then moves kSlots heads together, so
// that their dependency chains (position -> distances -> pow -> step -> position) overlap.
// Each head's terms are evaluated exactly as by the one-head-at-a-time sgd_block (kept for
// other dims and as the reference), so the bits do not depend on the number of slots.
//
// API (namespace tagmap::project::umap_detail): SgdGraph, SgdSettings, LayoutOptimizer,
// optimize_layout(...); sgd_block, SgdSchedule, draw_samples, move_samples (tests)
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "tagmap/core/parallel.hpp"
#include "tagmap/core/random.hpp"
#include "tagmap/project/umap/fast_pow.hpp"
#include "tagmap/project/umap/fuzzy_graph.hpp"

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

/// Heads per block: a function of the number of heads only (never of the thread count), small
/// enough that a few thousand points still spread over both cores.
inline std::size_t block_size_for(std::size_t n_heads) {
    return std::clamp<std::size_t>(n_heads / 32, 32, 256);
}
inline constexpr int kLanes = 8;  // terms of one sample evaluated together (vector width)
/// Heads moved together by move_samples: enough independent chains to fill the core (more than
/// 6 measured no faster, docs/notes/2026-12-02-umap-zen5.md).
inline constexpr int kSlots = 6;

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
    // The head's position before the current sample (all its terms are evaluated there).
    std::vector<float> runtime_origin(Dims > 0 ? 0 : std::size_t(dims));
    float fixed_origin[Dims > 0 ? Dims : 1];
    float* const origin = Dims > 0 ? fixed_origin : runtime_origin.data();
    for (std::size_t head = begin; head < end; ++head) {
        float* const current = heads + head * std::size_t(dims);
        for (int e = graph.row_start[head]; e < graph.row_start[head + 1]; ++e) {
            const auto edge = std::size_t(e);
            if (next_sample[edge] > epoch) continue;
            const double eps = graph.epochs_per_sample[edge];
            next_sample[edge] += eps;
            int remaining = 0;  // negative samples still to draw for this positive sample
            if (s.negative_sample_rate > 0) {
                const double eps_negative = eps / negatives_per_epoch_scale;
                const double due = (double(epoch) - next_negative[edge]) / eps_negative;
                remaining = due > 0 ? int(due) : 0;
                next_negative[edge] += remaining * eps_negative;
            }
            for (int d = 0; d < dims; ++d) origin[d] = current[d];
            // Lane 0 of the first batch is the edge's tail (attraction), the other lanes are
            // negative samples (repulsion).
            for (bool first = true; first || remaining > 0; first = false) {
                const float* point[kLanes];
                int count = 0;
                if (first)
                    point[count++] = tails + std::size_t(graph.tail[edge]) * std::size_t(dims);
                while (count < kLanes && remaining > 0) {
                    --remaining;
                    const std::uint32_t k = rng.below(n_tails32);
                    if (s.same_set && k == head) continue;
                    point[count++] = tails + std::size_t(k) * std::size_t(dims);
                }
                float d2[kLanes], coeff[kLanes];
                for (int j = 0; j < kLanes; ++j) {
                    d2[j] = 1.0f;
                    if (j >= count) continue;
                    float sum = 0;
                    for (int d = 0; d < dims; ++d) {
                        const float diff = origin[d] - point[j][d];
                        sum += diff * diff;
                    }
                    d2[j] = sum;
                }
                float pw[kLanes];
                for (int j = 0; j < kLanes; ++j) {  // vectorises: fast_pow is branch-free
                    pw[j] = fast_pow(d2[j], b);
                    coeff[j] = repel_coeff / ((0.001f + d2[j]) * (a * pw[j] + 1.0f));
                }
                if (first)
                    coeff[0] =
                        d2[0] > 0 ? attract_coeff * (pw[0] / d2[0]) / (a * pw[0] + 1.0f) : 0.0f;
                for (int j = 0; j < count; ++j) {
                    const bool attraction = first && j == 0;
                    if (!attraction && !(d2[j] > 0)) {
                        // umap-learn 0.5.3 pushes coincident points apart by the clip value
                        for (int d = 0; d < dims; ++d) current[d] += 4.0f * alpha;
                        continue;
                    }
                    const float step = attraction ? attract_alpha : alpha;
                    for (int d = 0; d < dims; ++d)
                        current[d] += clip4(coeff[j] * (origin[d] - point[j][d])) * step;
                }
            }
        }
    }
}

/// A block's positive samples of one epoch, drawn before any point moves: per head, its
/// samples in edge order, each as [number of points, tail, negatives...]. Drawing them first
/// keeps the random stream's order of sgd_block while the moves run on several heads at once.
struct SgdSamples {
    std::vector<std::uint32_t> terms;
    std::vector<std::uint32_t> head_end;  ///< end offset in `terms` of each head's samples
    std::vector<int> due;                 ///< scratch: one head's due edges
};

/// umap-learn's per-edge sampling state (next_sample, next_negative as in sgd_block), with
/// two derived arrays that make draw_samples cheaper without changing a bit: the first epoch
/// at which each edge is due (ceil(next_sample): the scan of all edges reads 4 bytes each)
/// and each edge's epochs per negative sample (one division less per sample).
struct SgdSchedule {
    std::vector<double> next_sample, next_negative, epochs_per_negative;
    std::vector<std::int32_t> next_due;

    SgdSchedule() = default;
    SgdSchedule(const SgdGraph& graph, int negative_sample_rate)
        : next_sample(graph.epochs_per_sample),
          next_negative(graph.tail.size()),
          epochs_per_negative(graph.tail.size()),
          next_due(graph.tail.size()) {
        for (std::size_t e = 0; e < next_negative.size(); ++e) {
            epochs_per_negative[e] = graph.epochs_per_sample[e] / double(negative_sample_rate);
            next_negative[e] = epochs_per_negative[e];
            next_due[e] = due_epoch(next_sample[e]);
        }
    }
    /// The first integer epoch >= t (t <= epoch exactly when due_epoch(t) <= epoch).
    static std::int32_t due_epoch(double t) {
        const double c = std::ceil(t);
        return c < 2147483647.0 ? std::int32_t(c) : 2147483647;
    }
};

/// Draws the samples of heads [begin, end) for `epoch` (the schedule and the random draws of
/// sgd_block, in the same order) and advances the per-edge schedule.
inline void draw_samples(std::size_t begin, std::size_t end, std::size_t n_tails,
                         const SgdGraph& graph, SgdSchedule& schedule, const SgdSettings& s,
                         int epoch, Rng& rng, SgdSamples& out) {
    out.terms.clear();
    out.head_end.clear();
    const auto n_tails32 = static_cast<std::uint32_t>(n_tails);
    const std::int32_t* const next_due = schedule.next_due.data();
    for (std::size_t head = begin; head < end; ++head) {
        // The head's due edges, collected without a branch (which edges are due is random).
        const int first = graph.row_start[head], last = graph.row_start[head + 1];
        out.due.resize(std::size_t(last - first));
        int n_due = 0;
        for (int e = first; e < last; ++e) {
            out.due[std::size_t(n_due)] = e;
            n_due += next_due[e] <= epoch;
        }
        for (int i = 0; i < n_due; ++i) {
            const auto edge = std::size_t(out.due[std::size_t(i)]);
            const double eps = graph.epochs_per_sample[edge];
            schedule.next_sample[edge] += eps;
            schedule.next_due[edge] = SgdSchedule::due_epoch(schedule.next_sample[edge]);
            int remaining = 0;
            if (s.negative_sample_rate > 0) {
                const double eps_negative = schedule.epochs_per_negative[edge];
                const double due = (double(epoch) - schedule.next_negative[edge]) / eps_negative;
                remaining = due > 0 ? int(due) : 0;
                schedule.next_negative[edge] += remaining * eps_negative;
            }
            const std::size_t at = out.terms.size();
            out.terms.resize(at + 2 + std::size_t(remaining));
            std::uint32_t* t = &out.terms[at];
            t[1] = std::uint32_t(graph.tail[edge]);
            std::uint32_t n_points = 1;
            for (; remaining > 0; --remaining) {
                const std::uint32_t k = rng.below(n_tails32);
                t[1 + n_points] = k;
                n_points += !(s.same_set && k == head);  // negatives equal to the head: skipped
            }
            t[0] = n_points;
            out.terms.resize(at + 1 + n_points);
        }
        out.head_end.push_back(std::uint32_t(out.terms.size()));
    }
}

/// The moves of sgd_block<Dims> for samples drawn by draw_samples: bitwise the same result,
/// but `Slots` heads advance together, one batch of up to kLanes terms each per step, so that
/// their independent dependency chains (position -> distances -> pow -> step -> position)
/// overlap instead of each sample waiting for the one before.
template <int Dims, int Slots>
void move_samples(std::size_t begin, std::size_t end, float* heads, const float* tails,
                  const SgdSamples& samples, const SgdSettings& s, float alpha) {
    static_assert(Dims > 0);
    constexpr int L = Slots * kLanes;
    const float a = float(s.a), b = float(s.b);
    const float attract_coeff = float(-2.0 * s.a * s.b);
    const float repel_coeff = float(2.0 * s.gamma * s.b);
    const float attract_alpha = s.same_set ? 2.0f * alpha : alpha;
    const std::uint32_t* const terms = samples.terms.data();
    struct Slot {
        float* current = nullptr;
        const std::uint32_t* next = nullptr;  // next sample's header
        const std::uint32_t* stop = nullptr;  // end of this head's samples
        const std::uint32_t* points = nullptr;
        std::uint32_t left = 0;  // points of the current sample not yet moved
        bool first = false;      // the next batch starts with the attraction term
        float origin[Dims];
    };
    Slot slot[Slots];
    std::size_t next_head = begin;
    for (;;) {
        float p[Dims][L], d2[L], pw[L], coeff[L];
        int count[Slots];
        bool first[Slots];
        int active = 0;
        for (int q = 0; q < Slots; ++q) {
            Slot& sl = slot[q];
            while (sl.left == 0) {
                if (sl.next == sl.stop) {
                    if (next_head == end) break;
                    const std::size_t h = next_head++;
                    sl.current = heads + h * std::size_t(Dims);
                    sl.next = terms + (h == begin ? 0 : samples.head_end[h - begin - 1]);
                    sl.stop = terms + samples.head_end[h - begin];
                    continue;
                }
                sl.left = *sl.next;
                sl.points = sl.next + 1;
                sl.next += 1 + sl.left;
                sl.first = true;
                for (int d = 0; d < Dims; ++d) sl.origin[d] = sl.current[d];
            }
            const int c = int(std::min<std::uint32_t>(sl.left, kLanes));
            count[q] = c;
            first[q] = sl.first;
            active += c;
            for (int j = 0; j < kLanes; ++j) {
                float sum = 1.0f;
                if (j < c) {
                    const float* point = tails + std::size_t(sl.points[j]) * std::size_t(Dims);
                    sum = 0;
                    for (int d = 0; d < Dims; ++d) {
                        p[d][q * kLanes + j] = point[d];
                        const float diff = sl.origin[d] - point[d];
                        sum += diff * diff;
                    }
                }
                d2[q * kLanes + j] = sum;
            }
            sl.points += c;
            sl.left -= std::uint32_t(c);
            sl.first = false;
        }
        if (active == 0) return;
        for (int j = 0; j < L; ++j) {  // vectorises: fast_pow is branch-free
            pw[j] = fast_pow(d2[j], b);
            coeff[j] = repel_coeff / ((0.001f + d2[j]) * (a * pw[j] + 1.0f));
        }
        for (int q = 0; q < Slots; ++q) {
            Slot& sl = slot[q];
            const int o = q * kLanes;
            if (count[q] == 0) continue;  // a slot without heads left
            if (first[q])
                coeff[o] = d2[o] > 0 ? attract_coeff * (pw[o] / d2[o]) / (a * pw[o] + 1.0f) : 0.0f;
            float position[Dims];  // in registers: the chain does not go through memory
            for (int d = 0; d < Dims; ++d) position[d] = sl.current[d];
            for (int j = 0; j < count[q]; ++j) {
                const bool attraction = first[q] && j == 0;
                if (!attraction && !(d2[o + j] > 0)) {
                    for (int d = 0; d < Dims; ++d) position[d] += 4.0f * alpha;
                    continue;
                }
                const float step = attraction ? attract_alpha : alpha;
                for (int d = 0; d < Dims; ++d)
                    position[d] += clip4(coeff[o + j] * (sl.origin[d] - p[d][o + j])) * step;
            }
            for (int d = 0; d < Dims; ++d) sl.current[d] = position[d];
        }
    }
}

/// The SGD's state between epochs, so that a layout can be optimised in steps: run(e) then
/// run(f) gives the same bits as run(f) alone (each epoch draws from its own RNG streams and
/// starts from a snapshot of the previous one). Heads are n_heads x dims, row-major; when
/// settings.same_set, heads and tails are the same points and `tails` is ignored.
class LayoutOptimizer {
  public:
    LayoutOptimizer() = default;
    LayoutOptimizer(std::vector<float> heads, std::vector<float> tails, int dims, SgdGraph graph,
                    SgdSettings settings)
        : heads_(std::move(heads)),
          tails_(std::move(tails)),
          dims_(dims),
          graph_(std::move(graph)),
          s_(std::move(settings)),
          schedule_(graph_, s_.negative_sample_rate) {
        if (s_.same_set) tails_ = heads_;  // the snapshot of the epoch before
    }

    int epoch() const { return epoch_; }
    int n_epochs() const { return s_.n_epochs; }
    const std::vector<float>& heads() const { return heads_; }
    std::vector<float> release_heads() && { return std::move(heads_); }

    /// Runs the epochs [epoch(), min(end, n_epochs)).
    void run_until(int end) {
        end = std::min(end, s_.n_epochs);
        const std::size_t n_heads = graph_.row_start.size() - 1;
        const std::size_t n_tails = s_.same_set ? n_heads : tails_.size() / std::size_t(dims_);
        if (end <= epoch_) return;
        const int first = epoch_;
        epoch_ = end;
        if (n_tails == 0 || n_heads == 0) return;
        auto alpha_of = [&](int epoch) {
            return float(s_.initial_alpha * (1.0 - double(epoch) / double(s_.n_epochs)));
        };
        parallel_rounds(
            end - first, n_heads, block_size_for(n_heads), s_.threads,
            [&](int round, std::size_t block, std::size_t begin, std::size_t stop) {
                const int epoch = first + round;
                Rng rng = Rng::for_stream(s_.seed, block, std::uint64_t(epoch));
                if (dims_ == 2 || dims_ == 3) {
                    thread_local SgdSamples samples;
                    draw_samples(begin, stop, n_tails, graph_, schedule_, s_, epoch, rng, samples);
                    if (dims_ == 2)
                        move_samples<2, kSlots>(begin, stop, heads_.data(), tails_.data(), samples,
                                                s_, alpha_of(epoch));
                    else
                        move_samples<3, kSlots>(begin, stop, heads_.data(), tails_.data(), samples,
                                                s_, alpha_of(epoch));
                } else {
                    sgd_block<0>(begin, stop, dims_, heads_.data(), tails_.data(), n_tails, graph_,
                                 schedule_.next_sample, schedule_.next_negative, s_, epoch,
                                 alpha_of(epoch), rng);
                }
            },
            [&](int round) {
                if (s_.same_set) std::copy(heads_.begin(), heads_.end(), tails_.begin());
                if (s_.progress) s_.progress(first + round + 1, s_.n_epochs);
            });
    }

  private:
    std::vector<float> heads_, tails_;
    int dims_ = 2;
    SgdGraph graph_;
    SgdSettings s_;
    SgdSchedule schedule_;
    int epoch_ = 0;
};

/// Optimises `heads` through all settings.n_epochs epochs in one go (see LayoutOptimizer).
inline void optimize_layout(std::vector<float>& heads, const std::vector<float>& tails, int dims,
                            SgdGraph graph, const SgdSettings& s) {
    LayoutOptimizer optimizer(std::move(heads), tails, dims, std::move(graph), s);
    optimizer.run_until(s.n_epochs);
    heads = std::move(optimizer).release_heads();
}

}  // namespace tagmap::project::umap_detail
