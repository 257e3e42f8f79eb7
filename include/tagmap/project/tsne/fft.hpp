// FFT-accelerated interpolation of the t-SNE repulsive term (Linderman et al. 2019, FIt-SNE),
// in 2D and 3D, on FFTW, with an exact near field once the grid has to be coarse.
//
// D + 1 charges per point (1, y_1..y_D) are spread with Lagrange weights (p nodes per
// dimension, the stencil centred on the point) onto a regular grid of spacing s and
// convolved (zero-padded circulant embedding, real FFTs) with K(d) = 1 / (1 + d^2)^2, and
// charge 1 also with W(d) = 1 / (1 + d^2); the potentials are interpolated back. With
// phi_q(i) = sum_j K_ij q(j) and psi(i) = sum_j W_ij (j = i included):
//   rep_i = y_i phi_1(i) - phi_y(i),   Z = sum_i psi(i) - N.
// Coordinates are relative to the grid's centre (rep is unchanged, cancellation smaller).
// The grid is single precision (the result needs ~1e-4; floats halve the transforms' cost);
// spreading and interpolation weights are double.
//
// Grid rule. K varies on a unit scale: interpolated directly it needs s <= ~1/4 (0.1-0.5 %
// error). That is affordable while the map is small (s = min(spacing, extent / min_nodes));
// converged maps span ~100 units (2D and 3D FMNIST 20k), beyond `max_nodes` per side. Past
// that cap the grid has `split_nodes` per side (3D: 32, fewer than the cap: a 64^3 transform
// costs a third of a 72^3 or 80^3 one), the spacing grows with the map and the kernels are
// split at a radius R = max(near_ratio * s, min_radius) (particle-particle/particle-mesh, as
// in molecular dynamics):
//   K_far(u) = K(u) for u = d^2 >= R^2, else K's first-order Taylor polynomial in u at R^2
//   (C^1 at R, nearly flat inside, so smooth on the grid's scale; higher orders follow K's
//   peak and measured less accurate), W_far = (1 + u) K_far;
//   the grid carries K_far and W_far, and K - K_far, which vanishes beyond R, is summed
//   exactly over the points in neighbouring cells (side R / 2, single-precision vectors, up
//   to 8 points of a cell per pass over their neighbours; cells wholly beyond R of those
//   points are skipped).
// The grid (and the kernels' transforms) is kept while the map fits and the spacing is
// within 25 % of the target, with 10 % room for growth: it changes every few iterations.
// Cost savings: the transforms are pruned to the m^D corner that holds charges and
// potentials, and the kernels' transforms are DCT-Is of (m + 1)^D values (both are even);
// the interpolation reads the potentials' corner interleaved (4 floats per node) and the
// per-point passes a copy of the positions in sorted order (fewer cache lines per point).
// Determinism: the points are counting-sorted into cells; spreading runs over slabs of cells
// wider than a stencil (even slabs in parallel, then odd; one task per slab and charge),
// everything else per point.
// Accuracy and cost measured: docs/tsne.md.
#pragma once

#include <fftw3.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "tagmap/core/error.hpp"
#include "tagmap/core/fftw_plan.hpp"
#include "tagmap/core/parallel.hpp"
#include "tagmap/project/tsne/bounding_box.hpp"
#include "tagmap/project/tsne/exact.hpp"

namespace tagmap::project::tsne_detail {

/// Grid parameters of the FFT method.
struct FftGrid {
    int interp_points;  ///< p: Lagrange nodes per dimension around each point (2..8)
    double spacing;     ///< node spacing while the map fits in max_nodes (no near field)
    int min_nodes;      ///< nodes per side never fall below this (finer spacing on small maps)
    int max_nodes;      ///< cap on nodes per side; beyond it the spacing grows with the map
    double near_ratio;  ///< near-field radius R in units of the spacing, once capped
    double min_radius;  ///< R never falls below this, once capped
    int split_nodes;    ///< nodes per side once capped (at most max_nodes)
    /// Before the map takes more nodes than a power of two (>= min_nodes), the spacing may
    /// grow to stretch * spacing instead (1: never). FFTW_ESTIMATE's plans for other padded
    /// lengths were 2-2.5x slower per node (72^3, 80^3 against 64^3).
    double stretch = 1.0;

    static FftGrid defaults(int dims) {
        return dims == 2 ? FftGrid{4, 0.25, 128, 256, 3.0, 4.0, 256, 1.0}
                         : FftGrid{4, 0.25, 32, 40, 3.0, 2.5, 32, 1.12};
    }
};

// Near-field vector width (floats): one vector register (AVX-512 16, AVX 8, SSE 4). Wider
// vectors than a register made GCC lower the comparisons lane by lane: the near field ran
// 3x slower with AVX (16 lanes) and 2x without (8 lanes).
#if defined(__AVX512F__)
inline constexpr int kNearFieldLanes = 16;
#elif defined(__AVX__)
inline constexpr int kNearFieldLanes = 8;
#else
inline constexpr int kNearFieldLanes = 4;
#endif
// Doubles per register for interpolate_4, for the same reason: with 8-double vectors on
// AVX2, GCC moved each conversion through the stack in 16-byte pieces.
inline constexpr int kInterpolateDoubles = kNearFieldLanes / 2;

/// Smallest n' >= n whose only prime factors are 2, 3 and 5 (fast FFT sizes).
inline int fft_friendly(int n) {
    for (int m = std::max(n, 1);; ++m) {
        int r = m;
        for (int f : {2, 3, 5})
            while (r % f == 0) r /= f;
        if (r == 1) return m;
    }
}

template <int D>
class FftRepulsion {
    static_assert(D == 2 || D == 3, "the FFT method supports 2 and 3 dimensions");
    static constexpr int kCharges = D + 1;          // 1, y_1..y_D
    static constexpr int kPotentials = D + 1;       // K * charges
    static constexpr int kReach = 2;                // near-field cells have side R / kReach
    static constexpr int kLanes = kNearFieldLanes;  // near-field vector width (floats)
    static constexpr int kGroup = 8;                // near-field points per pass over neighbours

  public:
    explicit FftRepulsion(FftGrid grid = FftGrid::defaults(D)) : grid_(grid) {
        if (grid_.interp_points < 2 || grid_.interp_points > 8 || !(grid_.spacing > 0) ||
            grid_.min_nodes < 2 * grid_.interp_points + 2 || grid_.max_nodes < grid_.min_nodes ||
            !(grid_.near_ratio >= 1) || !(grid_.min_radius >= 0) ||
            grid_.split_nodes < 2 * grid_.interp_points + 2 || !(grid_.stretch >= 1))
            throw InvalidArgument("t-SNE FFT grid: invalid parameters");
    }
    FftRepulsion(const FftRepulsion&) = delete;
    FftRepulsion& operator=(const FftRepulsion&) = delete;
    ~FftRepulsion() { release(); }

    /// Nodes per side, spacing and near-field radius (0: none) used by the last call.
    int nodes() const { return m_; }
    double spacing() const { return s_; }
    double near_radius() const { return radius_; }

    /// rep_i = sum_j w_ij^2 (y_i - y_j) into `rep`; returns Z (both approximate).
    double operator()(const double* y, std::size_t n, double* rep, int threads) {
        const int p = grid_.interp_points;
        const auto [lo, hi] = bounding_box<D>(y, n);
        double extent = 0.0;
        for (int c = 0; c < D; ++c) extent = std::max(extent, hi[c] - lo[c]);
        choose_grid(extent);
        const double s = s_;
        const int m = m_;
        const int len = 2 * m;
        // Node 0 sits p/2 spacings below the lowest point, so every stencil is inside.
        std::array<double, D> origin, centre;
        for (int c = 0; c < D; ++c) {
            origin[c] = lo[c] - 0.5 * p * s;
            centre[c] = origin[c] + 0.5 * (m - 1) * s;
        }

        sort_points(y, n, origin, centre);
        // From here on y is the sorted copy: point k of the sorted order at y[k * D].
        y = sorted_y_.data();

        // Stencil start and Lagrange weights per point, in sorted order.
        weights_.resize(n * static_cast<std::size_t>(D) * p);
        start_.resize(n * D);
        parallel_for_blocks(n, kBlock, threads, [&](std::size_t, std::size_t b, std::size_t e) {
            if (p == 4)
                weigh<4>(y, origin, b, e);
            else
                weigh<0>(y, origin, b, e);
        });

        const std::size_t real_size = ipow<std::size_t>(static_cast<std::size_t>(len), D);
        auto spread_range = [&](int q, std::size_t b, std::size_t e) {
            if (p == 4)
                spread<4>(y, centre, len, q, b, e);
            else
                spread<0>(y, centre, len, q, b, e);
        };
        // Spread. Slabs of cells along the first axis, each wider than a stencil, are spread
        // serially in sorted order; even slabs in parallel, then odd ones. Slabs of one
        // parity never touch the same node, so every node sums its terms in a fixed order.
        // One task per (slab, charge): clustered maps put most points in a few slabs.
        for (int q = 0; q < kCharges; ++q) clear_corner(real_[q], m, len);
        const int slab = static_cast<int>(std::ceil((p + 1) * s / cell_side_));
        const int slabs = (cells_ + slab - 1) / slab;
        const std::size_t plane = ipow<std::size_t>(static_cast<std::size_t>(cells_), D - 1);
        for (int parity = 0; parity < 2; ++parity)
            parallel_for_blocks(
                static_cast<std::size_t>((slabs + 1 - parity) / 2) * kCharges, 1, threads,
                [&](std::size_t task, std::size_t, std::size_t) {
                    const int first = (2 * static_cast<int>(task / kCharges) + parity) * slab;
                    const int last = std::min(first + slab, cells_);
                    spread_range(static_cast<int>(task % kCharges),
                                 static_cast<std::size_t>(cell_start_[first * plane]),
                                 static_cast<std::size_t>(cell_start_[last * plane]));
                });

        // Convolve each charge grid with the kernel: independent transforms, run in parallel.
        const std::size_t complex_size = real_size / len * (len / 2 + 1);
        // One task per transform (blocks of 1: parallel_for's blocks of 64 would be serial).
        parallel_for_blocks(kCharges, 1, threads,
                            [&](std::size_t q, std::size_t, std::size_t) { forward(q); });
        double grid_z = 0.0;
        parallel_for_blocks(kPotentials + 1, 1, threads,
                            [&](std::size_t q, std::size_t, std::size_t) {
                                if (q == kPotentials) {
                                    grid_z = parseval_z(len);
                                    return;
                                }
                                const fftwf_complex* in = spectrum_[q];
                                fftwf_complex* out = product_[q];
                                for (std::size_t g = 0; g < complex_size; ++g) {
                                    out[g][0] = in[g][0] * k_hat_[g];
                                    out[g][1] = in[g][1] * k_hat_[g];
                                }
                                backward(out, potential_[q]);
                            });
        if (p == 4)
            parallel_for_blocks(
                static_cast<std::size_t>(m), 1, threads,
                [&](std::size_t x, std::size_t, std::size_t) { interleave(x, len); });

        // Interpolate the potentials back and add the near field, point by point.
        z_terms_.resize(n);
        parallel_for_blocks(n, kBlock, threads, [&](std::size_t, std::size_t b, std::size_t e) {
            if (p == 4)
                interpolate<4>(y, centre, len, rep, b, e);
            else
                interpolate<0>(y, centre, len, rep, b, e);
        });
        return grid_z + ordered_sum(z_terms_) - static_cast<double>(n);
    }

  private:
    template <class T>
    static T ipow(T base, int e) {
        T r = 1;
        for (int k = 0; k < e; ++k) r *= base;
        return r;
    }

    // The per-block bodies below are out of line so that every thread runs the same machine
    // code: inlined copies may contract a * b + c into FMAs differently, changing the bits.

    // Stencil start and Lagrange weights of sorted points [begin, end).
    // P: the number of interpolation points if known at compile time (4, the default), else 0.
    template <int P>
    [[gnu::noinline]] void weigh(const double* y, const std::array<double, D>& origin,
                                 std::size_t begin, std::size_t end) {
        const int p = P > 0 ? P : grid_.interp_points;
        const std::size_t pw = static_cast<std::size_t>(D) * p;
        const double shift = 0.5 * (p - 2);
        for (std::size_t k = begin; k < end; ++k) {
            for (int c = 0; c < D; ++c) {
                const double u = (y[k * D + c] - origin[c]) / s_;
                const int first = std::clamp(static_cast<int>(std::floor(u - shift)), 0, m_ - p);
                start_[k * D + c] = first;
                lagrange(u - first, p, &weights_[k * pw + static_cast<std::size_t>(c) * p]);
            }
        }
    }

    // Interpolates the potentials at sorted points [begin, end), adds the near field, and
    // writes rep (by original index) and the points' Z terms.
    template <int P>
    [[gnu::noinline]] void interpolate(const double* y, const std::array<double, D>& centre,
                                       int len, double* rep, std::size_t begin, std::size_t end) {
        const int p = P > 0 ? P : grid_.interp_points;
        if constexpr (P == 4) {
            interpolate_4(y, centre, rep, begin, end);
        } else {
            for (std::size_t k = begin; k < end; ++k) {
                const std::size_t i = static_cast<std::size_t>(order_[k]);
                double phi[kPotentials] = {};
                for_stencil<P>(k, len, [&](std::size_t index, const double* wz) {
                    for (int q = 0; q < kPotentials; ++q) {
                        const float* pot = potential_[q] + index;
                        double sum = 0.0;
                        for (int a = 0; a < p; ++a) sum += wz[a] * pot[a];
                        phi[q] += sum;
                    }
                });
                for (int c = 0; c < D; ++c)
                    rep[i * D + c] = (y[k * D + c] - centre[c]) * phi[0] - phi[1 + c];
                z_terms_[k] = 0.0;
            }
        }
        if (radius_ == 0.0) return;
        // The near field for runs of up to kGroup points of one cell, which share the
        // neighbours' loads and ranges.
        for (std::size_t k = begin; k < end;) {
            const int cell = cell_of_[static_cast<std::size_t>(order_[k])];
            std::size_t count = 1;
            while (count < kGroup && k + count < end &&
                   cell_of_[static_cast<std::size_t>(order_[k + count])] == cell)
                ++count;
            near_field_group(count, k, y, rep);
            k += count;
        }
    }

    // GCC/Clang vector extensions for the 4-node rows of the default stencil (the
    // auto-vectoriser kept those loops scalar, with run-time alias checks).
    using Floats4 = float __attribute__((vector_size(16)));
    using UnalignedFloats4 = float __attribute__((vector_size(16), aligned(4)));
    using FloatsN = float __attribute__((vector_size(4 * kInterpolateDoubles)));
    using DoublesN = double __attribute__((vector_size(8 * kInterpolateDoubles)));

    /// row(grid index of the row's first node, product of the other axes' weights) for
    /// each of the P^(D-1) rows of a point's stencil, whose last axis is contiguous.
    template <int P, class Row>
    static void for_each_stencil_row(const int* first, std::size_t l, const double* w, Row&& row) {
        if constexpr (D == 2) {
            for (int a = 0; a < P; ++a)
                row(static_cast<std::size_t>(first[0] + a) * l + static_cast<std::size_t>(first[1]),
                    w[a]);
        } else {
            for (int a = 0; a < P; ++a)
                for (int b = 0; b < P; ++b)
                    row((static_cast<std::size_t>(first[0] + a) * l +
                         static_cast<std::size_t>(first[1] + b)) *
                                l +
                            static_cast<std::size_t>(first[2]),
                        w[a] * w[P + b]);
        }
    }

    // interpolate<4>'s grid part, on the interleaved potentials (4 floats per node, the m^D
    // corner only): per stencil row 16 floats (4 nodes x 4 potentials) loaded and
    // multiply-added in double, one register of the build's width at a time (two of 8
    // with AVX-512), the lanes combined in a fixed order at the end. The
    // same products and sums per (node, potential) as one grid per potential would give,
    // with a quarter of the loads and cache lines.
    void interpolate_4(const double* y, const std::array<double, D>& centre, double* rep,
                       std::size_t begin, std::size_t end) {
        constexpr int p = 4;
        const auto l = static_cast<std::size_t>(m_);
        const float* grid = interleaved_.data();
        for (std::size_t k = begin; k < end; ++k) {
            const std::size_t i = static_cast<std::size_t>(order_[k]);
            const double* w = &weights_[k * static_cast<std::size_t>(D) * p];
            const int* first = &start_[k * D];
            // Lane 4a + q: node a (0, 1 low; 2, 3 high) of the row, potential q; lanes
            // L = N j + n are lane n of register j.
            constexpr int N = kInterpolateDoubles, R = 8 / N;
            DoublesN low[R], high[R], acc_low[R] = {}, acc_high[R] = {};
            for (int lane = 0; lane < 8; ++lane) {
                const int a = lane / 4;
                low[lane / N][lane % N] = w[(D - 1) * p + a];
                high[lane / N][lane % N] = w[(D - 1) * p + 2 + a];
            }
            auto row = [&](std::size_t index, double scale) {
                const float* pot = grid + 4 * index;  // 16 floats: nodes 0, 1 then 2, 3
                for (int j = 0; j < R; ++j) {
                    FloatsN pot_low, pot_high;
                    std::memcpy(&pot_low, pot + N * j, sizeof pot_low);
                    std::memcpy(&pot_high, pot + 8 + N * j, sizeof pot_high);
                    acc_low[j] += (scale * low[j]) * __builtin_convertvector(pot_low, DoublesN);
                    acc_high[j] += (scale * high[j]) * __builtin_convertvector(pot_high, DoublesN);
                }
            };
            for_each_stencil_row<p>(first, l, w, row);
            auto at = [&](const DoublesN* v, int lane) { return v[lane / N][lane % N]; };
            double phi[kPotentials];
            for (int q = 0; q < kPotentials; ++q)
                phi[q] =
                    (at(acc_low, q) + at(acc_high, q)) + (at(acc_low, 4 + q) + at(acc_high, 4 + q));
            for (int c = 0; c < D; ++c)
                rep[i * D + c] = (y[k * D + c] - centre[c]) * phi[0] - phi[1 + c];
            z_terms_[k] = 0.0;
        }
    }

    // The potentials' m^D corner at first-axis index x, as 4 floats per node (potential q at
    // lane q; 2D leaves lane 3 zero), for interpolate_4.
    void interleave(std::size_t x, int len) {
        const auto m = static_cast<std::size_t>(m_), l = static_cast<std::size_t>(len);
        const std::size_t lines = D == 2 ? 1 : m;
        for (std::size_t r = 0; r < lines; ++r) {
            const std::size_t from = D == 2 ? x * l : (x * l + r) * l;
            float* to = interleaved_.data() + 4 * (D == 2 ? x * m : (x * m + r) * m);
            for (std::size_t z = 0; z < m; ++z)
                for (int q = 0; q < kPotentials; ++q) to[4 * z + q] = potential_[q][from + z];
        }
    }

    // sum_i psi(i) = sum_nodes rho psi, rho the spread charge 1 and psi = W_far * rho, by
    // Parseval from rho's half spectrum (no inverse transform, no interpolation).
    [[gnu::noinline]] double parseval_z(int len) const {
        const auto h = static_cast<std::size_t>(len / 2 + 1);
        const std::size_t lines = ipow<std::size_t>(static_cast<std::size_t>(len), D - 1);
        const fftwf_complex* c = spectrum_[0];
        double total = 0.0;
        for (std::size_t l = 0; l < lines; ++l) {
            double line = 0.0;
            for (std::size_t f = 0; f < h; ++f) {
                const std::size_t g = l * h + f;
                const double power =
                    static_cast<double>(c[g][0]) * c[g][0] + static_cast<double>(c[g][1]) * c[g][1];
                // Frequencies 1..len/2-1 stand for their conjugates too.
                line += (f == 0 || f == h - 1 ? 1.0 : 2.0) * power * w_hat_[g];
            }
            total += line;
        }
        return total;
    }

    // Spreads charge q (0: 1, else y_q - centre) of sorted points [begin, end) onto its grid.
    template <int P>
    [[gnu::noinline]] void spread(const double* y, const std::array<double, D>& centre, int len,
                                  int q, std::size_t begin, std::size_t end) {
        const int p = P > 0 ? P : grid_.interp_points;
        float* grid = real_[static_cast<std::size_t>(q)];
        if constexpr (P == 4) {
            // Per point, the last axis' weights times the charge as one float vector; per
            // stencil row one multiply-add of it scaled by the other axes' weights.
            const auto l = static_cast<std::size_t>(len);
            for (std::size_t k = begin; k < end; ++k) {
                const double charge = q == 0 ? 1.0
                                             : y[k * D + static_cast<std::size_t>(q - 1)] -
                                                   centre[static_cast<std::size_t>(q - 1)];
                const double* w = &weights_[k * static_cast<std::size_t>(D) * P];
                const int* first = &start_[k * D];
                Floats4 last;
                for (int c = 0; c < P; ++c)
                    last[c] = static_cast<float>(w[(D - 1) * P + c] * charge);
                auto row = [&](std::size_t index, double scale) {
                    *reinterpret_cast<UnalignedFloats4*>(grid + index) +=
                        static_cast<float>(scale) * last;
                };
                for_each_stencil_row<P>(first, l, w, row);
            }
            return;
        }
        for (std::size_t k = begin; k < end; ++k) {
            const double charge = q == 0 ? 1.0
                                         : y[k * D + static_cast<std::size_t>(q - 1)] -
                                               centre[static_cast<std::size_t>(q - 1)];
            for_stencil<P>(k, len, [&](std::size_t index, const double* wz) {
                float* row = grid + index;
                for (int a = 0; a < p; ++a) row[a] += static_cast<float>(wz[a] * charge);
            });
        }
    }

    // Calls f(index of the row's first node, weights along the last axis scaled by the other
    // axes' weights) for each of the p^(D-1) rows of point k's stencil (k in sorted order).
    template <int P, class F>
    void for_stencil(std::size_t k, int len, F&& f) const {
        const int p = P > 0 ? P : grid_.interp_points;
        const double* w = &weights_[k * static_cast<std::size_t>(D) * p];
        const int* first = &start_[k * D];
        double scaled[8];
        const auto l = static_cast<std::size_t>(len);
        if constexpr (D == 2) {
            for (int a = 0; a < p; ++a) {
                for (int b = 0; b < p; ++b) scaled[b] = w[a] * w[p + b];
                f(static_cast<std::size_t>(first[0] + a) * l + static_cast<std::size_t>(first[1]),
                  scaled);
            }
        } else {
            for (int a = 0; a < p; ++a)
                for (int b = 0; b < p; ++b) {
                    const double wab = w[a] * w[p + b];
                    for (int c = 0; c < p; ++c) scaled[c] = wab * w[2 * p + c];
                    f((static_cast<std::size_t>(first[0] + a) * l +
                       static_cast<std::size_t>(first[1] + b)) *
                              l +
                          static_cast<std::size_t>(first[2]),
                      scaled);
                }
        }
    }

    // Lagrange weights of nodes 0..p-1 at position t (in node units).
    static void lagrange(double t, int p, double* out) {
        for (int a = 0; a < p; ++a) {
            double num = 1.0, den = 1.0;
            for (int b = 0; b < p; ++b)
                if (b != a) {
                    num *= t - b;
                    den *= a - b;
                }
            out[a] = num / den;
        }
    }

    // K_far(u) = K(u) beyond R^2 and, inside, K's first-order Taylor polynomial in u = d^2
    // at R^2: (1 + 3 R^2 - 2 u) / (1 + R^2)^3 (C^1 at R, slowly varying inside). Higher
    // orders follow K's peak more closely and measured less accurate on the grid.
    double far_kernel(double u) const {
        const double r2 = radius_ * radius_;
        if (u >= r2 || radius_ == 0.0) {
            const double w = 1.0 / (1.0 + u);
            return w * w;
        }
        const double inv = 1.0 / (1.0 + r2);
        return (1.0 + 3.0 * r2 - 2.0 * u) * inv * inv * inv;
    }

    // Nodes per side once capped.
    int split_nodes() const {
        int m = std::min(grid_.split_nodes, grid_.max_nodes);
        while (fft_friendly(m) != m) --m;
        return m;
    }

    // Target spacing for a map of this extent: `spacing`, finer while min_nodes nodes span
    // the map more finely; once max_nodes nodes cannot span it at `spacing`, split_nodes
    // nodes span it.
    double target_spacing(double extent) const {
        const int pad = grid_.interp_points + 1;
        if (extent > grid_.spacing * (grid_.max_nodes - pad)) return extent / (split_nodes() - pad);
        return std::min(grid_.spacing, extent / (grid_.min_nodes - pad));
    }

    // Picks spacing, nodes per side and near radius for a map of this extent; keeps the
    // current grid (and its transformed kernels) while the map still fits in it and its
    // spacing is within 25 % of the target.
    void choose_grid(double extent) {
        const int pad = grid_.interp_points + 1;  // nodes past the points (stencil, rounding)
        extent = std::max(extent, 1e-6);
        const double target = target_spacing(extent);
        const bool fits =
            m_ > 0 && extent <= (m_ - pad) * s_ && s_ <= 1.25 * target && s_ >= 0.8 * target &&
            m_ <= std::max(grid_.min_nodes, 2 * static_cast<int>(std::ceil(extent / s_)) + 2 * pad);
        if (fits) return;
        // Room for 10 % growth before the next change.
        const double roomy = 1.1 * extent;
        double s = target_spacing(roomy);
        int m = fft_friendly(static_cast<int>(std::ceil(roomy / s)) + pad);
        const bool split = m > grid_.max_nodes || s > grid_.spacing * (1 + 1e-9);
        if (split) {
            m = split_nodes();
            s = roomy / (m - pad);
        } else {
            int power = 1;
            while (2 * power <= m) power *= 2;
            if (power != m && power >= grid_.min_nodes &&
                roomy / (power - pad) <= grid_.stretch * grid_.spacing) {
                m = power;
                s = roomy / (m - pad);
            }
        }
        const double radius = split ? std::max(grid_.near_ratio * s, grid_.min_radius) : 0.0;
        if (m != m_) prepare(m);
        s_ = s;
        radius_ = radius;
        kernel_transform();
    }

    // The far kernels K and W = (1 + d^2) K on the circulant embedding, transformed, with
    // the 1 / len^D of the inverse transform folded in. Both are even along every axis, so
    // their DFTs are real and equal the DCT-I (REDFT00) of the (m + 1)^D values at offsets
    // 0..m, which is 8x (3D) smaller than the full transform.
    void kernel_transform() {
        const int m = m_, len = 2 * m_, e = m_ + 1, h = m_ + 1;
        const std::size_t size = ipow<std::size_t>(static_cast<std::size_t>(e), D);
        const double scale = 1.0 / ipow(static_cast<double>(len), D);
        std::vector<float> values(size);
        for (int which = 0; which < 2; ++which) {
            for (std::size_t g = 0; g < size; ++g) {
                std::size_t rest = g;
                double d2 = 0.0;
                for (int c = 0; c < D; ++c) {
                    const auto off = static_cast<double>(rest % static_cast<std::size_t>(e));
                    rest /= static_cast<std::size_t>(e);
                    d2 += off * off;
                }
                const double u = d2 * s_ * s_;
                const double k = far_kernel(u);
                values[g] = static_cast<float>((which == 0 ? k : (1.0 + u) * k) * scale);
            }
            fftwf_plan plan;
            {
                std::lock_guard lock(fftw_planner_mutex());
                std::array<int, D> shape;
                std::array<fftwf_r2r_kind, D> kinds;
                shape.fill(e);
                kinds.fill(FFTW_REDFT00);
                plan = fftwf_plan_r2r(D, shape.data(), values.data(), values.data(), kinds.data(),
                                      FFTW_ESTIMATE);
            }
            if (!plan) throw Error("t-SNE FFT: FFTW could not plan the kernel transform");
            fftwf_execute(plan);
            {
                std::lock_guard lock(fftw_planner_mutex());
                fftwf_destroy_plan(plan);
            }
            // Spread over the r2c layout: frequency f > m along the first axes is len - f.
            float* hat = which == 0 ? k_hat_ : w_hat_;
            auto fold = [&](int f) { return static_cast<std::size_t>(f <= m ? f : len - f); };
            if constexpr (D == 2) {
                for (int x = 0; x < len; ++x)
                    for (int z = 0; z < h; ++z)
                        hat[static_cast<std::size_t>(x) * h + z] =
                            values[fold(x) * e + static_cast<std::size_t>(z)];
            } else {
                for (int x = 0; x < len; ++x)
                    for (int y = 0; y < len; ++y)
                        for (int z = 0; z < h; ++z)
                            hat[(static_cast<std::size_t>(x) * len + y) * h + z] =
                                values[(fold(x) * e + fold(y)) * e + static_cast<std::size_t>(z)];
            }
        }
    }

    // Zeroes the m^D corner of a padded len^D array (the rest stays zero).
    static void clear_corner(float* a, int m, int len) {
        if constexpr (D == 2) {
            for (int r = 0; r < m; ++r)
                std::fill(a + static_cast<std::size_t>(r) * len,
                          a + static_cast<std::size_t>(r) * len + m, 0.0f);
        } else {
            for (int r = 0; r < m; ++r)
                for (int c = 0; c < m; ++c) {
                    float* row = a + (static_cast<std::size_t>(r) * len + c) * len;
                    std::fill(row, row + m, 0.0f);
                }
        }
    }

    // Counting sort of the points into cells (of side R with a near field, else p nodes):
    // fixes the spreading order and makes neighbour lists contiguous per cell.
    void sort_points(const double* y, std::size_t n, const std::array<double, D>& origin,
                     const std::array<double, D>& centre) {
        const double side = radius_ > 0 ? radius_ / kReach : grid_.interp_points * s_;
        cell_side_ = side;
        const int cells = static_cast<int>(std::ceil(m_ * s_ / side)) + 1;
        cells_ = cells;
        for (int c = 0; c < D; ++c) cell_origin_[c] = origin[c];
        const std::size_t total = ipow<std::size_t>(static_cast<std::size_t>(cells), D);
        cell_start_.assign(total + 1, 0);
        cell_of_.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
            std::size_t id = 0;
            for (int c = 0; c < D; ++c) {
                const int cell =
                    std::clamp(static_cast<int>((y[i * D + c] - origin[c]) / side), 0, cells - 1);
                id = id * static_cast<std::size_t>(cells) + static_cast<std::size_t>(cell);
            }
            cell_of_[i] = static_cast<int>(id);
            ++cell_start_[id + 1];
        }
        for (std::size_t g = 0; g < total; ++g) cell_start_[g + 1] += cell_start_[g];
        order_.resize(n);
        fill_.assign(cell_start_.begin(), cell_start_.end() - 1);
        for (std::size_t i = 0; i < n; ++i)
            order_[static_cast<std::size_t>(fill_[static_cast<std::size_t>(cell_of_[i])]++)] =
                static_cast<int>(i);
        // Single precision, relative to the centre, padded for whole vectors at the end.
        stride_ = n + kLanes;
        sorted_.assign(stride_ * D, 0.0f);
        sorted_y_.resize(n * D);
        for (std::size_t k = 0; k < n; ++k)
            for (int c = 0; c < D; ++c) {
                const double v = y[static_cast<std::size_t>(order_[k]) * D + c];
                sorted_y_[k * D + c] = v;
                sorted_[static_cast<std::size_t>(c) * stride_ + k] =
                    static_cast<float>(v - centre[c]);
            }
    }

    // near_field<count>(k0, y, rep), count in 1..kGroup.
    void near_field_group(std::size_t count, std::size_t k0, const double* y, double* rep) {
        using Member = void (FftRepulsion::*)(std::size_t, const double*, double*);
        static constexpr auto table = []<std::size_t... G>(std::index_sequence<G...>) {
            return std::array<Member, kGroup>{
                &FftRepulsion::near_field<static_cast<int>(G) + 1>...};
        }
        (std::make_index_sequence<kGroup>{});
        (this->*table[count - 1])(k0, y, rep);
    }

    // For the G sorted points k0.. (one cell): adds sum_{|y_i - y_j| < R} (K - K_far)(y_i - y_j)
    // to rep_i and sets the matching Z term sum (1 + d^2)(K - K_far) (the point itself
    // included: 1 - K_far(0)).
    template <int G>
    [[gnu::noinline]] void near_field(std::size_t k0, const double* y, double* rep) {
        static_assert(G >= 1 && G <= kGroup);
        const int cells = cells_;
        const double r2 = radius_ * radius_;
        const auto id = static_cast<std::size_t>(cell_of_[static_cast<std::size_t>(order_[k0])]);
        int cell[D];
        std::size_t rest = id;
        for (int c = D - 1; c >= 0; --c) {
            cell[c] = static_cast<int>(rest % static_cast<std::size_t>(cells));
            rest /= static_cast<std::size_t>(cells);
        }
        // Squared distance (cell units) from the nearest of the points to the slab of the
        // neighbour cell at offset o - kReach along each axis (infinite outside the grid).
        // R is kReach cells; the margin keeps pairs that rounding puts at the boundary.
        constexpr int kWidth = 2 * kReach + 1;
        const double reach2 = (kReach + 1e-3) * (kReach + 1e-3);
        double gap2[D][kWidth];
        // Single precision (the near field is ~1e-3 of nothing but itself; float keeps ~1e-6),
        // kLanes independent partial sums per point, combined in a fixed order.
        float yi[G][D];
        for (int c = 0; c < D; ++c) {
            for (int o = 0; o < kWidth; ++o) gap2[c][o] = INFINITY;
            for (int g = 0; g < G; ++g) {
                const std::size_t k = k0 + static_cast<std::size_t>(g);
                yi[g][c] = sorted_[static_cast<std::size_t>(c) * stride_ + k];
                const double pos = (y[k * D + c] - cell_origin_[c]) / cell_side_;
                for (int o = 0; o < kWidth; ++o) {
                    const int nb = cell[c] + o - kReach;
                    const double gap = o > kReach ? nb - pos : o < kReach ? pos - (nb + 1) : 0.0;
                    if (nb >= 0 && nb < cells) gap2[c][o] = std::min(gap2[c][o], gap * gap);
                }
            }
        }
        // K - K_far = w^2 - (1 + 3 R^2 - 2 d^2) / (1 + R^2)^3 inside R.
        const double inv = 1.0 / (1.0 + r2);
        const auto t0 = static_cast<float>((1.0 + 3.0 * r2) * inv * inv * inv);
        const auto t1 = static_cast<float>(-2.0 * inv * inv * inv);
        const auto r2f = static_cast<float>(r2);
        // GCC/Clang vector extensions: the auto-vectoriser leaves this loop scalar.
        using Floats = float __attribute__((vector_size(4 * kLanes)));
        using Ints = int __attribute__((vector_size(4 * kLanes)));
        // For plain unaligned vector loads (a memcpy into an array of vectors compiled to
        // 16-byte copies through the stack, whose wider reloads stalled).
        using UnalignedFloats = float __attribute__((vector_size(4 * kLanes), aligned(4)));
        // Lane numbers as floats: one float comparison per register.
        Floats lane{};
        for (int l = 0; l < kLanes; ++l) lane[l] = static_cast<float>(l);
        Floats f[G][D] = {};
        Floats zl[G] = {};
        // Neighbour cells (side R / kReach) within kReach cells, skipping those wholly beyond
        // R of the points; those adjacent along the last axis are contiguous in sorted order:
        // one range per row.
        const auto row_cells = static_cast<std::size_t>(cells);
        for (int r = 0; r < ipow(kWidth, D - 1); ++r) {
            int left = r;
            std::size_t row = 0;
            double g2 = 0.0;
            for (int c = 0; c < D - 1; ++c) {
                const int o = left % kWidth;
                left /= kWidth;
                g2 += gap2[c][o];
                row = (row + static_cast<std::size_t>(cell[c] + o - kReach)) * row_cells;
            }
            if (!(g2 < reach2)) continue;
            const double* gz = gap2[D - 1];
            int o0 = 0, o1 = kWidth - 1;
            while (!(g2 + gz[o0] < reach2)) ++o0;
            while (!(g2 + gz[o1] < reach2)) --o1;
            const int z0 = cell[D - 1] + o0 - kReach, z1 = cell[D - 1] + o1 - kReach;
            const int begin = cell_start_[row + static_cast<std::size_t>(z0)];
            const int end = cell_start_[row + static_cast<std::size_t>(z1) + 1];
            for (int j = begin; j < end; j += kLanes) {
                Floats v[D];
                for (int c = 0; c < D; ++c)
                    v[c] = *reinterpret_cast<const UnalignedFloats*>(
                        &sorted_[static_cast<std::size_t>(c) * stride_ +
                                 static_cast<std::size_t>(j)]);
                // Lanes past `end` (padding or other cells) and pairs beyond R count zero.
                const Ints live = lane < static_cast<float>(end - j);
                for (int g = 0; g < G; ++g) {
                    Floats diff[D];
                    Floats d2{};
                    for (int c = 0; c < D; ++c) {
                        diff[c] = yi[g][c] - v[c];
                        d2 += diff[c] * diff[c];
                    }
                    const Floats x = 1.0f + d2;
                    const Floats w = reciprocal(x);
                    Floats corr = w * w - (t0 + t1 * d2);
                    const Ints keep = (d2 < r2f) & live;
                    corr = reinterpret_cast<Floats>(reinterpret_cast<Ints>(corr) & keep);
                    zl[g] += x * corr;
                    for (int c = 0; c < D; ++c) f[g][c] += corr * diff[c];
                }
            }
        }
        for (int g = 0; g < G; ++g) {
            const std::size_t k = k0 + static_cast<std::size_t>(g);
            const auto i = static_cast<std::size_t>(order_[k]);
            double z = 0.0;
            for (int l = 0; l < kLanes; ++l) {
                z += zl[g][l];
                for (int c = 0; c < D; ++c) rep[i * D + c] += f[g][c][l];
            }
            z_terms_[k] = z;
        }
    }

    // 1 / x for the near field's vectors. With AVX-512 a 14-bit estimate and one Newton step
    // (within ~2 ulp of the quotient, below the near field's float error): a zmm division
    // took half the near field's time.
    template <class Floats>
    static Floats reciprocal(Floats x) {
#if defined(__AVX512F__)
        if constexpr (sizeof(Floats) == 64) {
            const auto r = reinterpret_cast<Floats>(_mm512_rcp14_ps(reinterpret_cast<__m512>(x)));
            return r * (2.0f - x * r);
        }
#endif
        return 1.0f / x;
    }

    // (Re)allocates buffers and plans for m nodes per side (padded length 2m).
    void prepare(int m) {
        release();
        const int len = 2 * m;
        const std::size_t real_size = ipow<std::size_t>(static_cast<std::size_t>(len), D);
        const std::size_t complex_size = real_size / len * (len / 2 + 1);
        k_hat_buffer_ = FftwBuffer<float>(complex_size);
        w_hat_buffer_ = FftwBuffer<float>(complex_size);
        k_hat_ = k_hat_buffer_.data();
        w_hat_ = w_hat_buffer_.data();
        for (int q = 0; q < kCharges; ++q) {
            buffers_[q] = FftwBuffer<float>(real_size);  // zero: the padding stays zero
            spectra_[q] = FftwBuffer<std::complex<float>>(complex_size);
            real_[q] = buffers_[q].data();
            spectrum_[q] = reinterpret_cast<fftwf_complex*>(spectra_[q].data());
        }
        // Zero: 2D leaves lane 3 of every node zero.
        interleaved_.assign(4 * ipow<std::size_t>(static_cast<std::size_t>(m), D), 0.0f);
        for (int q = 0; q < kPotentials; ++q) {
            potentials_[q] = FftwBuffer<float>(real_size);
            products_[q] = FftwBuffer<std::complex<float>>(complex_size);
            potential_[q] = potentials_[q].data();
            product_[q] = reinterpret_cast<fftwf_complex*>(products_[q].data());
        }
        // The charges fill only the m^D corner of the padded grid and only that corner of the
        // potentials is read, so the transforms are pruned: along the last axis only lines
        // inside the corner, then along the middle axis (3D) only planes x < m. This does
        // about 60 % (3D) / 75 % (2D) of a full multidimensional transform's work.
        const int h = len / 2 + 1;
        using Dim = fftwf_iodim;
        const Dim line_r{len, 1, 1};
        {
            std::lock_guard lock(fftw_planner_mutex());
            // FFTW_ESTIMATE: the algorithm (hence every bit) never depends on timing.
            float* r = real_[0];
            fftwf_complex* c = spectrum_[0];
            if constexpr (D == 2) {
                const Dim rows_r2c{m, len, h};
                const Dim rows_c2r{m, h, len};
                const Dim line_c{len, h, h};
                const Dim cols{h, 1, 1};
                plans_[0] = fftwf_plan_guru_dft_r2c(1, &line_r, 1, &rows_r2c, r, c, FFTW_ESTIMATE);
                plans_[1] =
                    fftwf_plan_guru_dft(1, &line_c, 1, &cols, c, c, FFTW_FORWARD, FFTW_ESTIMATE);
                plans_[2] =
                    fftwf_plan_guru_dft(1, &line_c, 1, &cols, c, c, FFTW_BACKWARD, FFTW_ESTIMATE);
                plans_[3] = fftwf_plan_guru_dft_c2r(1, &line_r, 1, &rows_c2r, c, r,
                                                    FFTW_ESTIMATE | FFTW_DESTROY_INPUT);
            } else {
                const Dim rows_r2c[2] = {{m, len * len, len * h}, {m, len, h}};
                const Dim rows_c2r[2] = {{m, len * h, len * len}, {m, h, len}};
                const Dim line_y{len, h, h};
                const Dim planes_y[2] = {{m, len * h, len * h}, {h, 1, 1}};
                const Dim line_x{len, len * h, len * h};
                const Dim all_x{len * h, 1, 1};
                plans_[0] = fftwf_plan_guru_dft_r2c(1, &line_r, 2, rows_r2c, r, c, FFTW_ESTIMATE);
                plans_[1] =
                    fftwf_plan_guru_dft(1, &line_y, 2, planes_y, c, c, FFTW_FORWARD, FFTW_ESTIMATE);
                plans_[2] =
                    fftwf_plan_guru_dft(1, &line_x, 1, &all_x, c, c, FFTW_FORWARD, FFTW_ESTIMATE);
                plans_[3] =
                    fftwf_plan_guru_dft(1, &line_x, 1, &all_x, c, c, FFTW_BACKWARD, FFTW_ESTIMATE);
                plans_[4] = fftwf_plan_guru_dft(1, &line_y, 2, planes_y, c, c, FFTW_BACKWARD,
                                                FFTW_ESTIMATE);
                plans_[5] = fftwf_plan_guru_dft_c2r(1, &line_r, 2, rows_c2r, c, r,
                                                    FFTW_ESTIMATE | FFTW_DESTROY_INPUT);
            }
        }
        bool ok = true;
        for (int k = 0; k < kPlans; ++k) ok = ok && plans_[k] != nullptr;
        if (!ok)
            throw Error("t-SNE FFT: FFTW could not plan a " + std::to_string(len) + "^" +
                        std::to_string(D) + " transform");
        m_ = m;
    }

    void release() {
        {
            std::lock_guard lock(fftw_planner_mutex());
            for (auto& plan : plans_)
                if (plan) fftwf_destroy_plan(plan);
        }
        plans_.fill(nullptr);
        m_ = 0;
    }

    // Pruned forward transform of charge q's grid into spectrum_[q].
    void forward(std::size_t q) {
        const auto m = static_cast<std::size_t>(m_), len = 2 * m, h = m + 1;
        fftwf_complex* c = spectrum_[q];
        // The pruned steps read rows they did not write: those must be zero.
        if constexpr (D == 2) {
            std::fill(&c[m * h][0], &c[len * h][0], 0.0f);
            fftwf_execute_dft_r2c(plans_[0], real_[q], c);
            fftwf_execute_dft(plans_[1], c, c);
        } else {
            for (std::size_t x = 0; x < m; ++x)
                std::fill(&c[(x * len + m) * h][0], &c[(x + 1) * len * h][0], 0.0f);
            std::fill(&c[m * len * h][0], &c[len * len * h][0], 0.0f);
            fftwf_execute_dft_r2c(plans_[0], real_[q], c);
            fftwf_execute_dft(plans_[1], c, c);
            fftwf_execute_dft(plans_[2], c, c);
        }
    }

    // Pruned inverse transform of a product spectrum (destroyed) into a potential grid.
    void backward(fftwf_complex* c, float* out) {
        if constexpr (D == 2) {
            fftwf_execute_dft(plans_[2], c, c);
            fftwf_execute_dft_c2r(plans_[3], c, out);
        } else {
            fftwf_execute_dft(plans_[3], c, c);
            fftwf_execute_dft(plans_[4], c, c);
            fftwf_execute_dft_c2r(plans_[5], c, out);
        }
    }

    FftGrid grid_;
    int m_ = 0;          // nodes per side
    double s_ = 0.0;     // spacing
    double radius_ = 0;  // near-field radius (0: none)
    // Single precision on the grid: the potentials need ~1e-4 relative accuracy, and it
    // halves the cost of the transforms.
    static constexpr int kPlans = D == 2 ? 4 : 6;
    std::array<fftwf_plan, kPlans> plans_{};
    FftwBuffer<float> k_hat_buffer_, w_hat_buffer_;
    std::array<FftwBuffer<float>, kCharges> buffers_;
    std::array<FftwBuffer<std::complex<float>>, kCharges> spectra_;
    std::array<FftwBuffer<float>, kPotentials> potentials_;
    std::array<FftwBuffer<std::complex<float>>, kPotentials> products_;
    float* k_hat_ = nullptr;
    float* w_hat_ = nullptr;
    std::array<float*, kCharges> real_{};
    std::array<fftwf_complex*, kCharges> spectrum_{};
    std::array<float*, kPotentials> potential_{};
    std::array<fftwf_complex*, kPotentials> product_{};
    std::vector<float> interleaved_;  // the potentials' corner, 4 floats per node
    std::vector<double> weights_;
    std::vector<int> start_;
    std::vector<double> z_terms_;
    // Cell sort.
    double cell_side_ = 0;
    int cells_ = 0;
    std::array<double, D> cell_origin_{};
    std::vector<int> cell_start_, fill_, cell_of_, order_;
    std::vector<float> sorted_;  // coordinates in sorted order, one array per axis
    // The positions in sorted order (a copy: the per-point passes read them in that order,
    // and reading y through order_ missed cache on most points).
    std::vector<double> sorted_y_;
    std::size_t stride_ = 0;  // of sorted_: n plus kLanes of padding
};

}  // namespace tagmap::project::tsne_detail
