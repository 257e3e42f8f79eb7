// A 2^D-tree (quadtree in 2D, octree in 3D) over points in D dimensions, built top-down into
// flat arrays (no per-node allocation): each node holds a cube, the centre of mass and count
// of its points, and a contiguous range of a permutation of the point indices. Children of a
// node are 2^D consecutive nodes. Used by Barnes-Hut t-SNE.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tagmap/project/tsne/bounding_box.hpp"

namespace tagmap::project {

template <int D>
class SpaceTree {
    static_assert(D >= 1 && D <= 3, "SpaceTree supports 1 to 3 dimensions");

  public:
    static constexpr int kChildren = 1 << D;

    struct Node {
        std::array<double, D> center{};  ///< centre of the node's cube
        double half_width = 0.0;         ///< half the side of the cube
        std::array<double, D> mass_center{};
        int count = 0;         ///< points inside
        int first_child = -1;  ///< index of the first of 2^D children, -1 for a leaf
        int begin = 0;         ///< range [begin, end) in order()
        int end = 0;
        bool is_leaf() const { return first_child < 0; }
    };

    SpaceTree() = default;

    /// Builds the tree over n points stored row-major (n x D) at `points`. Nodes split while
    /// they hold more than `leaf_size` points; identical points end up together in one leaf.
    void build(const double* points, std::size_t n, int leaf_size = 1) {
        nodes_.clear();
        order_.resize(n);
        for (std::size_t i = 0; i < n; ++i) order_[i] = static_cast<int>(i);
        scratch_.resize(n);
        if (n == 0) return;
        const auto [lo, hi] = bounding_box<D>(points, n);
        Node root;
        double half = 0.0;
        for (int c = 0; c < D; ++c) {
            root.center[c] = 0.5 * (lo[c] + hi[c]);
            half = std::max(half, 0.5 * (hi[c] - lo[c]));
        }
        // A little slack so that points on the upper faces fall strictly inside.
        root.half_width = half * (1.0 + 1e-9) + 1e-12;
        root.begin = 0;
        root.end = static_cast<int>(n);
        nodes_.reserve(2 * n / static_cast<std::size_t>(std::max(leaf_size, 1)) + kChildren);
        nodes_.push_back(root);
        finish(nodes_[0], points);
        const double min_half = root.half_width * 1e-12;
        // Breadth-first: nodes_ grows behind the cursor; no recursion, no per-node allocation.
        for (std::size_t cursor = 0; cursor < nodes_.size(); ++cursor) {
            if (nodes_[cursor].count <= leaf_size || nodes_[cursor].half_width <= min_half)
                continue;
            split(cursor, points);
        }
    }

    const std::vector<Node>& nodes() const { return nodes_; }
    const std::vector<int>& order() const { return order_; }
    std::size_t size() const { return nodes_.size(); }

  private:
    static int orthant(const double* p, const std::array<double, D>& center) {
        int code = 0;
        for (int c = 0; c < D; ++c)
            if (p[c] >= center[c]) code |= 1 << c;
        return code;
    }

    void finish(Node& node, const double* points) {
        node.count = node.end - node.begin;
        node.mass_center.fill(0.0);
        for (int k = node.begin; k < node.end; ++k)
            for (int c = 0; c < D; ++c)
                node.mass_center[c] += points[static_cast<std::size_t>(order_[k]) * D + c];
        if (node.count > 0)
            for (int c = 0; c < D; ++c) node.mass_center[c] /= node.count;
    }

    void split(std::size_t index, const double* points) {
        const Node parent = nodes_[index];
        // Counting sort of the node's range by orthant (stable, so deterministic).
        std::array<int, kChildren + 1> offsets{};
        for (int k = parent.begin; k < parent.end; ++k)
            ++offsets[orthant(points + static_cast<std::size_t>(order_[k]) * D, parent.center) + 1];
        for (int o = 0; o < kChildren; ++o) offsets[o + 1] += offsets[o];
        std::array<int, kChildren> fill{};
        for (int o = 0; o < kChildren; ++o) fill[o] = parent.begin + offsets[o];
        for (int k = parent.begin; k < parent.end; ++k) {
            const int p = order_[k];
            scratch_[fill[orthant(points + static_cast<std::size_t>(p) * D, parent.center)]++] = p;
        }
        std::copy(scratch_.begin() + parent.begin, scratch_.begin() + parent.end,
                  order_.begin() + parent.begin);
        const int first = static_cast<int>(nodes_.size());
        nodes_[index].first_child = first;
        for (int o = 0; o < kChildren; ++o) {
            Node child;
            child.half_width = 0.5 * parent.half_width;
            for (int c = 0; c < D; ++c)
                child.center[c] =
                    parent.center[c] + ((o >> c) & 1 ? child.half_width : -child.half_width);
            child.begin = parent.begin + offsets[o];
            child.end = parent.begin + offsets[o + 1];
            nodes_.push_back(child);
            finish(nodes_.back(), points);
        }
    }

    std::vector<Node> nodes_;
    std::vector<int> order_;
    std::vector<int> scratch_;
};

}  // namespace tagmap::project
