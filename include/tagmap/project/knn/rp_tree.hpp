// Random-projection trees (Dasgupta & Freund 2008, as used by pynndescent) to seed NN-descent:
// points that share a leaf are likely neighbours.
//
// A node is split by the hyperplane halfway between two of its points picked at random
// (Euclidean; for unit-length cosine rows this is the angular split); points exactly on the
// plane and splits that leave one side empty are resolved by a coin flip. Each tree draws from
// its own RNG stream (seed, tree), so a forest is identical for any thread count.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <vector>

#include "tagmap/core/parallel.hpp"
#include "tagmap/core/random.hpp"
#include "tagmap/project/knn/kernels.hpp"

namespace tagmap::project::knn_detail {

/// One tree's partition of the points: leaf l holds order[leaf_begin[l] .. leaf_begin[l+1]).
struct RpTreeLeaves {
    std::vector<int> order;
    std::vector<int> leaf_begin;
    int leaf_count() const { return static_cast<int>(leaf_begin.size()) - 1; }
};

using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Splits all points into leaves of at most `leaf_size` points.
inline RpTreeLeaves build_rp_tree(const RowMatrixF& points, const Eigen::VectorXf& norms,
                                  int leaf_size, Rng rng) {
    const auto n = static_cast<int>(points.rows());
    const auto dims = static_cast<std::size_t>(points.cols());
    const DotKernel dot(dims);
    RpTreeLeaves tree;
    tree.order.resize(n);
    for (int i = 0; i < n; ++i) tree.order[i] = i;
    tree.leaf_begin.push_back(0);
    Eigen::VectorXf normal(points.cols());
    std::vector<int> right;
    // Depth-first over [begin, end) ranges of `order`, left before right, so leaves come out
    // in order and leaf_begin stays sorted.
    std::vector<std::pair<int, int>> stack{{0, n}};
    while (!stack.empty()) {
        const auto [begin, end] = stack.back();
        stack.pop_back();
        const int size = end - begin;
        if (size <= leaf_size) {
            tree.leaf_begin.push_back(end);
            continue;
        }
        const int a = tree.order[begin + static_cast<int>(rng.below(size))];
        int b = tree.order[begin + static_cast<int>(rng.below(size - 1))];
        if (b == a) b = tree.order[end - 1];
        normal = points.row(a).transpose() - points.row(b).transpose();
        const float offset = 0.5f * (norms[a] - norms[b]);  // plane through the midpoint
        int write = begin;
        right.clear();
        for (int p = begin; p < end; ++p) {
            const int i = tree.order[p];
            const float margin = dot(normal.data(), points.row(i).data()) - offset;
            const bool left = margin > 0 || (margin == 0 && (rng.next_u32() & 1u));
            if (left)
                tree.order[write++] = i;
            else
                right.push_back(i);
        }
        if (write == begin || write == end) {  // degenerate plane (duplicates): random halves
            for (int p = begin; p < end; ++p) {
                const int j = p + static_cast<int>(rng.below(end - p));
                std::swap(tree.order[p], tree.order[j]);
            }
            write = begin + size / 2;
        } else {
            std::copy(right.begin(), right.end(), tree.order.begin() + write);
        }
        stack.emplace_back(write, end);  // popped second
        stack.emplace_back(begin, write);
    }
    return tree;
}

/// `trees` independent trees, tree t seeded by the stream (seed, t), built in parallel.
inline std::vector<RpTreeLeaves> build_rp_forest(const RowMatrixF& points,
                                                 const Eigen::VectorXf& norms, int trees,
                                                 int leaf_size, std::uint64_t seed, int threads) {
    std::vector<RpTreeLeaves> forest(trees);
    parallel_for_blocks(
        static_cast<std::size_t>(trees), 1, threads, [&](std::size_t t, std::size_t, std::size_t) {
            forest[t] = build_rp_tree(points, norms, leaf_size, Rng::for_stream(seed, 0x7EE5, t));
        });
    return forest;
}

}  // namespace tagmap::project::knn_detail
