// Seeded synthetic data shared by the kNN tests.
#pragma once

#include <cstdint>

#include <Eigen/Core>

#include "tagmap/core/random.hpp"

namespace tagmap::test {

using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Gaussian clusters with a spread of scales: neighbourhoods are non-trivial at every level.
inline RowMatrixF clusters(int n, int dims, int n_clusters, std::uint64_t seed) {
    tagmap::Rng rng(seed);
    RowMatrixF centres(n_clusters, dims);
    for (int c = 0; c < n_clusters; ++c)
        for (int d = 0; d < dims; ++d) centres(c, d) = static_cast<float>(4.0 * rng.normal());
    RowMatrixF X(n, dims);
    for (int i = 0; i < n; ++i) {
        const int c = static_cast<int>(rng.below(n_clusters));
        for (int d = 0; d < dims; ++d) X(i, d) = centres(c, d) + static_cast<float>(rng.normal());
    }
    return X;
}

}  // namespace tagmap::test
