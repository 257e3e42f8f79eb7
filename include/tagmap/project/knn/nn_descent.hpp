// Approximate k-nearest neighbours by NN-descent (Dong, Moses & Li 2011) seeded by a forest
// of random-projection trees, the method of pynndescent / umap-learn, made deterministic:
// identical output for a seed at any thread count.
//
// How determinism is kept while running in parallel:
//  - trees, the random fill and the candidate sampling use RNG streams / hashes named by
//    (seed, tree), (seed, point) and (seed, iteration, i, j): never a shared generator;
//  - the leaves of one tree are disjoint, so their pairs update disjoint heaps concurrently;
//  - the local join runs in rounds of fixed node blocks; each block writes its proposed
//    updates into per-target-chunk buckets, then each chunk applies its buckets in block
//    order. Heaps are only read during a join and only written by their own chunk's task.
//  - heaps order entries by (score, index), so ties never depend on arrival order.
// Final neighbours are re-scored from coordinate differences (no cancellation) and sorted by
// (distance, input index).
//
// API (namespace tagmap::project):
//   struct NnDescentOptions { k, metric, threads, seed, n_trees, leaf_size, max_candidates,
//                             max_iterations, delta };   // 0 = automatic, see below
//   KnnGraph nn_descent(X, NnDescentOptions)   // X any float/double Eigen matrix, rows = points
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "tagmap/core/error.hpp"
#include "tagmap/core/parallel.hpp"
#include "tagmap/core/random.hpp"
#include "tagmap/project/knn/exact.hpp"
#include "tagmap/project/knn/kernels.hpp"
#include "tagmap/project/knn/rp_tree.hpp"

namespace tagmap::project {

struct NnDescentOptions {
    int k = 15;                         ///< neighbours per point (self excluded)
    Metric metric = Metric::euclidean;  ///< cosine = 1 - cos(angle)
    int threads = 0;                    ///< 0 = all cores; the result does not depend on it
    std::uint64_t seed = 42;
    int n_trees = 0;         ///< random-projection trees; 0 = clamp(round(N^0.25 / 2), 3, 8)
    int leaf_size = 0;       ///< max points per leaf; 0 = max(16, k + 1)
    int max_candidates = 0;  ///< new/old candidates sampled per point; 0 = 20
    int max_iterations = 0;  ///< 0 = clamp(round(log2 N), 5, 10); usually stops earlier (delta)
    double delta = 0.001;    ///< stop when fewer than delta * N * k heap updates succeed
};

namespace knn_detail {

/// N bounded max-heaps of (score, index, is_new), k entries each, stored flat.
class NeighborHeaps {
  public:
    NeighborHeaps(int n, int k)
        : k_(k),
          score_(std::size_t(n) * k, std::numeric_limits<float>::infinity()),
          index_(std::size_t(n) * k, -1),
          is_new_(std::size_t(n) * k, 0) {}

    int k() const { return k_; }
    float worst(int i) const { return score_[std::size_t(i) * k_]; }
    float* scores(int i) { return &score_[std::size_t(i) * k_]; }
    int* indices(int i) { return &index_[std::size_t(i) * k_]; }
    const int* indices(int i) const { return &index_[std::size_t(i) * k_]; }
    std::uint8_t* flags(int i) { return &is_new_[std::size_t(i) * k_]; }

    /// Inserts j into heap i unless it is there already or not better than the worst entry.
    bool push(int i, float score, int j) {
        float* s = scores(i);
        int* idx = indices(i);
        if (!less(score, j, s[0], idx[0])) return false;
        // Branch-free scan (vectorises; an early-exit loop does not): matters at t-SNE's k.
        int found = 0;
        for (int c = 0; c < k_; ++c) found |= idx[c] == j;
        if (found) return false;
        std::uint8_t* flag = flags(i);
        int pos = 0;  // sift the new entry down from the root
        for (;;) {
            const int left = 2 * pos + 1, right = left + 1;
            int largest = -1;
            float ls = score;
            int li = j;
            if (left < k_ && less(ls, li, s[left], idx[left])) {
                largest = left;
                ls = s[left];
                li = idx[left];
            }
            if (right < k_ && less(ls, li, s[right], idx[right])) largest = right;
            if (largest < 0) break;
            s[pos] = s[largest];
            idx[pos] = idx[largest];
            flag[pos] = flag[largest];
            pos = largest;
        }
        s[pos] = score;
        idx[pos] = j;
        flag[pos] = 1;
        return true;
    }

  private:
    static bool less(float sa, int ia, float sb, int ib) {
        return sa < sb || (sa == sb && ia < ib);
    }
    int k_;
    std::vector<float> score_;
    std::vector<int> index_;
    std::vector<std::uint8_t> is_new_;
};

/// Per-point bounded candidate sets keeping the `capacity` lowest priorities.
class CandidateSets {
  public:
    CandidateSets(int n, int capacity)
        : capacity_(capacity),
          priority_(std::size_t(n) * capacity),
          index_(std::size_t(n) * capacity),
          size_(n, 0) {}

    void clear(int i) { size_[i] = 0; }
    int size(int i) const { return size_[i]; }
    const int* indices(int i) const { return &index_[std::size_t(i) * capacity_]; }

    void offer(int i, std::uint64_t priority, int j) {
        std::uint64_t* pr = &priority_[std::size_t(i) * capacity_];
        int* idx = &index_[std::size_t(i) * capacity_];
        int& size = size_[i];
        int found = 0;  // branch-free scan, as in NeighborHeaps::push
        for (int c = 0; c < size; ++c) found |= idx[c] == j;
        if (found) return;
        if (size < capacity_) {  // sift up into the max-heap
            int pos = size++;
            while (pos > 0) {
                const int parent = (pos - 1) / 2;
                if (pr[parent] >= priority) break;
                pr[pos] = pr[parent];
                idx[pos] = idx[parent];
                pos = parent;
            }
            pr[pos] = priority;
            idx[pos] = j;
            return;
        }
        if (priority >= pr[0]) return;
        int pos = 0;
        for (;;) {
            const int left = 2 * pos + 1, right = left + 1;
            int largest = pos;
            std::uint64_t lp = priority;
            if (left < size && pr[left] > lp) {
                largest = left;
                lp = pr[left];
            }
            if (right < size && pr[right] > lp) largest = right;
            if (largest == pos) break;
            pr[pos] = pr[largest];
            idx[pos] = idx[largest];
            pos = largest;
        }
        pr[pos] = priority;
        idx[pos] = j;
    }

  private:
    int capacity_;
    std::vector<std::uint64_t> priority_;
    std::vector<int> index_;
    std::vector<int> size_;
};

struct Update {
    int target;
    int source;
    float score;
};

}  // namespace knn_detail

/// NN-descent on rows already prepared by knn_detail::prepare_points (centred for Euclidean,
/// unit length for cosine); nn_descent() below does that preparation.
inline KnnGraph nn_descent_prepared(knn_detail::RowMatrixF points,
                                    const NnDescentOptions& options) {
    using namespace knn_detail;
    const auto n = static_cast<int>(points.rows());
    const int k = options.k;
    check_k(k, n - 1, "nn_descent");
    if (options.n_trees < 0 || options.leaf_size < 0 || options.max_candidates < 0 ||
        options.max_iterations < 0 || !(options.delta >= 0))
        throw InvalidArgument(
            "nn_descent: n_trees, leaf_size, max_candidates, max_iterations "
            "and delta must be >= 0");
    const int threads = resolve_threads(options.threads);
    const int n_trees =
        options.n_trees > 0
            ? options.n_trees
            : std::clamp(static_cast<int>(std::lround(std::pow(double(n), 0.25) / 2)), 3, 8);
    const int leaf_size = options.leaf_size > 0 ? options.leaf_size : std::max(16, k + 1);
    const int max_candidates = options.max_candidates > 0 ? options.max_candidates : 20;
    const int max_iterations =
        options.max_iterations > 0
            ? options.max_iterations
            : std::clamp(static_cast<int>(std::lround(std::log2(double(n)))), 5, 10);
    const bool cosine = options.metric == Metric::cosine;
    const auto dims = points.cols();

    // 1. Random-projection trees. They split a 32-d Gaussian projection of the points: the
    // trees only need sensible partitions, and scanning 32 floats per point and level instead
    // of the full rows takes the tree build from memory-bound to cheap.
    std::vector<RpTreeLeaves> forest;
    {
        constexpr Eigen::Index kTreeDims = 32;
        RowMatrixF projected;
        if (dims > kTreeDims) {
            Eigen::MatrixXf directions(dims, kTreeDims);
            Rng rng = Rng::for_stream(options.seed, 0x9A0);
            for (Eigen::Index c = 0; c < kTreeDims; ++c)
                for (Eigen::Index r = 0; r < dims; ++r)
                    directions(r, c) = static_cast<float>(rng.normal());
            projected.resize(n, kTreeDims);
            parallel_for_blocks(static_cast<std::size_t>(n), 4096, threads,
                                [&](std::size_t, std::size_t begin, std::size_t end) {
                                    const auto rows = static_cast<Eigen::Index>(end - begin);
                                    const auto first = static_cast<Eigen::Index>(begin);
                                    projected.middleRows(first, rows).noalias() =
                                        points.middleRows(first, rows) * directions;
                                });
        }
        const RowMatrixF& split_points = dims > kTreeDims ? projected : points;
        const Eigen::VectorXf split_norms = split_points.rowwise().squaredNorm();
        forest =
            build_rp_forest(split_points, split_norms, n_trees, leaf_size, options.seed, threads);
    }

    // Renumber the points in the order of the first tree's leaves: candidates of a point are
    // then mostly stored near it, which keeps the memory-bound joins in cache. `original[r]`
    // is the input index of row r.
    const std::vector<int> original = forest.front().order;
    {
        std::vector<int> renumbered(n);
        for (int r = 0; r < n; ++r) renumbered[original[r]] = r;
        for (RpTreeLeaves& tree : forest)
            for (int& i : tree.order) i = renumbered[i];
        RowMatrixF reordered(n, dims);
        parallel_for(static_cast<std::size_t>(n), threads,
                     [&](std::size_t r) { reordered.row(r) = points.row(original[r]); });
        points = std::move(reordered);
    }

    const DotKernel dot(static_cast<std::size_t>(dims));
    const auto row = [&](int i) { return points.row(i).data(); };

    Eigen::VectorXf norms(n);
    for (int i = 0; i < n; ++i) norms[i] = dot(row(i), row(i));
    // Monotone in the metric distance; cheaper than the distance itself.
    const auto score_of = [&](int p, int q, float pq_dot) {
        return cosine ? 1.f - pq_dot : norms[p] + norms[q] - 2.f * pq_dot;
    };

    NeighborHeaps heaps(n, k);

    // 2. Seed the heaps with all pairs within each leaf, tree after tree.
    for (const RpTreeLeaves& tree : forest) {
        parallel_for_blocks(static_cast<std::size_t>(tree.leaf_count()), 64, threads,
                            [&](std::size_t, std::size_t leaf_begin, std::size_t leaf_end) {
                                for (std::size_t leaf = leaf_begin; leaf < leaf_end; ++leaf) {
                                    const int* members = &tree.order[tree.leaf_begin[leaf]];
                                    const int size =
                                        tree.leaf_begin[leaf + 1] - tree.leaf_begin[leaf];
                                    for (int a = 0; a < size; ++a)
                                        for (int b = a + 1; b < size; ++b) {
                                            const int p = members[a], q = members[b];
                                            const float s = score_of(p, q, dot(row(p), row(q)));
                                            heaps.push(p, s, q);
                                            heaps.push(q, s, p);
                                        }
                                }
                            });
    }
    // Points whose leaves were too small get random neighbours to start from.
    parallel_for_blocks(static_cast<std::size_t>(n), 1024, threads,
                        [&](std::size_t, std::size_t begin, std::size_t end) {
                            for (auto i = static_cast<int>(begin); i < int(end); ++i) {
                                if (heaps.indices(i)[0] >= 0) continue;  // root filled = full
                                Rng rng = Rng::for_stream(options.seed, 0xF111, i);
                                int guard = 0;
                                while (heaps.indices(i)[0] < 0 && guard++ < 64 * k) {
                                    const int j = static_cast<int>(rng.below(n));
                                    if (j != i)
                                        heaps.push(i, score_of(i, j, dot(row(i), row(j))), j);
                                }
                                for (int j = 0; heaps.indices(i)[0] < 0 && j < n; ++j)
                                    if (j != i)
                                        heaps.push(i, score_of(i, j, dot(row(i), row(j))), j);
                            }
                        });

    // 3. NN-descent iterations.
    CandidateSets new_candidates(n, max_candidates), old_candidates(n, max_candidates);
    constexpr int kTargetChunk = 4096;  // update application unit
    // Candidate sampling: every task scans all heaps, so use at most 16 tasks (linear in N).
    const int sample_chunk = std::max(4096, static_cast<int>(block_count(n, 16)));
    constexpr int kJoinBlock = 256;  // local-join unit
    constexpr int kRound = 8192;     // points joined before their updates are applied
    const int chunks = static_cast<int>(block_count(n, kTargetChunk));
    const int blocks_per_round = kRound / kJoinBlock;
    std::vector<std::vector<Update>> buckets(std::size_t(blocks_per_round) * chunks);

    for (int iteration = 0; iteration < max_iterations; ++iteration) {
        const std::uint64_t iteration_key = derive_seed(options.seed, 0xCA4D, iteration);
        // 3a. Sample new and old candidates (forward and reverse) by hashed priority; each
        // chunk scans every heap and keeps the offers addressed to its own points.
        parallel_for_blocks(
            static_cast<std::size_t>(n), static_cast<std::size_t>(sample_chunk), threads,
            [&](std::size_t, std::size_t begin, std::size_t end) {
                const auto lo = static_cast<int>(begin), hi = static_cast<int>(end);
                for (int i = lo; i < hi; ++i) {
                    new_candidates.clear(i);
                    old_candidates.clear(i);
                }
                for (int i = 0; i < n; ++i) {
                    const int* idx = heaps.indices(i);
                    const std::uint8_t* flag = heaps.flags(i);
                    for (int c = 0; c < k; ++c) {
                        const int j = idx[c];
                        if (j < 0) continue;
                        const bool i_here = i >= lo && i < hi, j_here = j >= lo && j < hi;
                        if (!i_here && !j_here) continue;
                        std::uint64_t key = iteration_key ^ (std::uint64_t(i) << 32 | unsigned(j));
                        const std::uint64_t priority = splitmix64(key);
                        CandidateSets& sets = flag[c] ? new_candidates : old_candidates;
                        if (i_here) sets.offer(i, priority, j);
                        if (j_here) sets.offer(j, priority, i);
                    }
                }
            });
        // Forward entries sampled as new are old from now on (a separate pass: the sampling
        // above reads every heap's flags).
        parallel_for_blocks(
            static_cast<std::size_t>(n), kTargetChunk, threads,
            [&](std::size_t, std::size_t begin, std::size_t end) {
                for (auto i = static_cast<int>(begin); i < static_cast<int>(end); ++i) {
                    const int* idx = heaps.indices(i);
                    std::uint8_t* flag = heaps.flags(i);
                    const int* sampled = new_candidates.indices(i);
                    const int count = new_candidates.size(i);
                    for (int c = 0; c < k; ++c)
                        if (flag[c] &&
                            std::find(sampled, sampled + count, idx[c]) != sampled + count)
                            flag[c] = 0;
                }
            });

        // 3b. Local joins, round by round.
        std::size_t applied = 0;
        for (int round_begin = 0; round_begin < n; round_begin += kRound) {
            const int round_size = std::min(kRound, n - round_begin);
            parallel_for_blocks(
                static_cast<std::size_t>(round_size), kJoinBlock, threads,
                [&](std::size_t block, std::size_t begin, std::size_t end) {
                    std::vector<Update>* out = &buckets[block * chunks];
                    for (int c = 0; c < chunks; ++c) out[c].clear();
                    auto propose = [&](int p, int q, float s) {
                        if (s < heaps.worst(p)) out[p / kTargetChunk].push_back({p, q, s});
                        if (s < heaps.worst(q)) out[q / kTargetChunk].push_back({q, p, s});
                    };
                    std::vector<int> partners;
                    for (auto v = round_begin + static_cast<int>(begin);
                         v < round_begin + static_cast<int>(end); ++v) {
                        const int* fresh = new_candidates.indices(v);
                        const int n_fresh = new_candidates.size(v);
                        const int* old = old_candidates.indices(v);
                        const int n_old = old_candidates.size(v);
                        for (int a = 0; a < n_fresh; ++a) {
                            const int p = fresh[a];
                            partners.assign(fresh + a + 1, fresh + n_fresh);
                            for (int b = 0; b < n_old; ++b)
                                if (old[b] != p) partners.push_back(old[b]);
                            std::size_t t = 0;
                            for (; t + 4 <= partners.size(); t += 4) {
                                const float* others[4] = {row(partners[t]), row(partners[t + 1]),
                                                          row(partners[t + 2]),
                                                          row(partners[t + 3])};
                                float dots[4];
                                dot.four(row(p), others, dots);
                                for (int u = 0; u < 4; ++u)
                                    propose(p, partners[t + u],
                                            score_of(p, partners[t + u], dots[u]));
                            }
                            for (; t < partners.size(); ++t)
                                propose(p, partners[t],
                                        score_of(p, partners[t], dot(row(p), row(partners[t]))));
                        }
                    }
                });
            const int round_blocks = static_cast<int>(block_count(round_size, kJoinBlock));
            const auto counts = parallel_map_blocks<std::size_t>(
                static_cast<std::size_t>(chunks), 1, threads,
                [&](std::size_t chunk, std::size_t, std::size_t) {
                    std::size_t successes = 0;
                    for (int b = 0; b < round_blocks; ++b)
                        for (const Update& u : buckets[std::size_t(b) * chunks + chunk])
                            successes += heaps.push(u.target, u.score, u.source);
                    return successes;
                });
            for (std::size_t c : counts) applied += c;
        }
        if (double(applied) < options.delta * double(n) * double(k)) break;
    }

    // 4. Exact distances, sorted by (distance, input index), in input numbering.
    KnnGraph graph;
    graph.indices.resize(n, k);
    graph.distances.resize(n, k);
    parallel_for_blocks(static_cast<std::size_t>(n), 1024, threads,
                        [&](std::size_t, std::size_t begin, std::size_t end) {
                            std::vector<std::pair<float, int>> found(k);
                            for (auto i = static_cast<int>(begin); i < int(end); ++i) {
                                const int* idx = heaps.indices(i);
                                for (int c = 0; c < k; ++c)
                                    found[c] = {
                                        exact_distance(dot, row(i), row(idx[c]), options.metric,
                                                       norms[i] == 0.f, norms[idx[c]] == 0.f),
                                        original[idx[c]]};
                                std::sort(found.begin(), found.end());
                                for (int c = 0; c < k; ++c) {
                                    graph.indices(original[i], c) = found[c].second;
                                    graph.distances(original[i], c) = found[c].first;
                                }
                            }
                        });
    return graph;
}

/// Approximate k nearest neighbours of every row of X among the other rows.
template <class Derived>
KnnGraph nn_descent(const Eigen::MatrixBase<Derived>& X, const NnDescentOptions& options = {}) {
    knn_detail::check_k(options.k, X.rows() - 1, "nn_descent");
    const Eigen::RowVectorXd center = options.metric == Metric::euclidean
                                          ? knn_detail::column_means(X)
                                          : Eigen::RowVectorXd::Zero(X.cols());
    return nn_descent_prepared(knn_detail::prepare_points(X, options.metric, center, "nn_descent"),
                               options);
}

}  // namespace tagmap::project
