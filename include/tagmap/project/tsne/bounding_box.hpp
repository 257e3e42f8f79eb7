// The axis-aligned bounding box of n points in D dimensions, stored row-major (n x D): the
// extent that the t-SNE space tree and FFT grid are laid over.
//
// API (namespace tagmap::project):
//   BoundingBox<D> bounding_box<D>(const double* points, std::size_t n)
//        lo / hi per axis; for n = 0, lo = +inf and hi = -inf
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>

namespace tagmap::project {

template <int D>
struct BoundingBox {
    std::array<double, D> lo, hi;
};

template <int D>
BoundingBox<D> bounding_box(const double* points, std::size_t n) {
    BoundingBox<D> box;
    box.lo.fill(INFINITY);
    box.hi.fill(-INFINITY);
    for (std::size_t i = 0; i < n; ++i)
        for (int c = 0; c < D; ++c) {
            box.lo[c] = std::min(box.lo[c], points[i * D + c]);
            box.hi[c] = std::max(box.hi[c], points[i * D + c]);
        }
    return box;
}

}  // namespace tagmap::project
