// FFT-accelerated interpolation of the t-SNE repulsive term (Linderman et al. 2019, FIt-SNE),
// in 2D and 3D, on FFTW (double precision).
//
// The embedding's bounding cube is cut into B^D boxes with p equispaced interpolation nodes
// per box and dimension. D + 2 charges per point (1, y_1..y_D, |y|^2) are spread to the nodes
// with Lagrange weights, convolved with the kernel K(d) = 1 / (1 + d^2)^2 on the regular node
// grid (a circulant embedding of twice the size, one real FFT per charge), and interpolated
// back. Then, with phi_c(i) = sum_j K_ij q_c(j) (j = i included),
//   rep_i = y_i phi_1(i) - phi_y(i)
//   Z     = sum_i [(1 + |y_i|^2) phi_1(i) - 2 y_i . phi_y(i) + phi_|y|^2(i)] - N
// because (1 + d^2) K = w. Coordinates are taken relative to the cube's centre, which leaves
// both unchanged and limits cancellation.
//
// Grid choice: the kernel needs about 4 nodes per unit length for ~0.5 % accuracy on tight
// clusters. 2D: p = 4 nodes per box, B = max(50, extent) boxes (FIt-SNE uses p = 3, which
// measured 1.6 % error on a converged 600-point map against 0.35 % for p = 4, at the same
// cost), B rounded up so that 2 p B is an FFT-friendly size. 3D would need (8 x extent)^3
// values per charge, so it uses p = 4 with B = max(6, 0.75 extent) capped at 10 (an 80^3
// padded grid, about 45 MB of buffers): about 1 % error up to an extent of ~13, growing
// beyond (docs/tsne.md). `automatic` therefore uses Barnes-Hut in 3D.
#pragma once

#include <fftw3.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <cstddef>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "tagmap/core/fftw_plan.hpp"
#include "tagmap/core/error.hpp"
#include "tagmap/project/parallel.hpp"
#include "tagmap/project/tsne_exact.hpp"

namespace tagmap::project::tsne_detail {

/// Grid parameters of the FFT method.
struct FftGrid {
    int interp_points;      ///< p: Lagrange nodes per box and dimension
    int min_boxes;          ///< B never falls below this
    double boxes_per_unit;  ///< B grows with the embedding extent at this rate
    int max_boxes;          ///< B never exceeds this (0 = no cap)

    static FftGrid defaults(int dims) {
        return dims == 2 ? FftGrid{4, 50, 1.0, 0} : FftGrid{4, 6, 0.75, 10};
    }
};

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
    static constexpr int kCharges = D + 2;

  public:
    explicit FftRepulsion(FftGrid grid = FftGrid::defaults(D)) : grid_(grid) {
        if (grid_.interp_points < 1 || grid_.interp_points > 8 || grid_.min_boxes < 1)
            throw InvalidArgument("t-SNE FFT grid: need 1..8 interpolation points and >= 1 box");
    }
    FftRepulsion(const FftRepulsion&) = delete;
    FftRepulsion& operator=(const FftRepulsion&) = delete;
    ~FftRepulsion() { release(); }

    /// Boxes per dimension used by the last call (for tests and docs).
    int boxes() const { return boxes_; }

    /// rep_i = sum_j w_ij^2 (y_i - y_j) into `rep`; returns Z (both approximate).
    double operator()(const double* y, std::size_t n, double* rep, int threads) {
        const int p = grid_.interp_points;
        // Bounding cube.
        double lo = INFINITY, hi = -INFINITY;
        for (std::size_t k = 0; k < n * D; ++k) {
            lo = std::min(lo, y[k]);
            hi = std::max(hi, y[k]);
        }
        const double centre = 0.5 * (lo + hi);
        const double extent = std::max(hi - lo, 1e-6) * (1.0 + 1e-9);
        lo = centre - 0.5 * extent;
        int boxes =
            std::max(grid_.min_boxes, static_cast<int>(std::ceil(extent * grid_.boxes_per_unit)));
        if (grid_.max_boxes > 0) boxes = std::min(boxes, grid_.max_boxes);
        // The padded length 2 p B should factor into 2, 3 and 5.
        while (fft_friendly(2 * p * boxes) != 2 * p * boxes) ++boxes;
        const double box = extent / boxes;
        const int m = boxes * p;  // nodes per dimension
        const int len = 2 * m;    // circulant embedding
        prepare(boxes, m, len);
        const double spacing = box / p;

        // Lagrange weights of each point in its box, and the box's first node index.
        const std::size_t pw = static_cast<std::size_t>(D) * p;
        weights_.resize(n * pw);
        first_node_.resize(n * D);
        std::array<double, 8> nodes{};
        for (int k = 0; k < p; ++k) nodes[k] = (k + 0.5) / p;
        std::array<double, 8> denominators{};
        for (int k = 0; k < p; ++k) {
            double den = 1.0;
            for (int l = 0; l < p; ++l)
                if (l != k) den *= nodes[k] - nodes[l];
            denominators[k] = den;
        }
        parallel_for_blocks(n, kBlock, threads, [&](std::size_t, std::size_t b, std::size_t e) {
            for (std::size_t i = b; i < e; ++i)
                for (int c = 0; c < D; ++c) {
                    const double u = (y[i * D + c] - lo) / box;
                    const int cell = std::clamp(static_cast<int>(u), 0, boxes - 1);
                    const double t = u - cell;
                    first_node_[i * D + c] = cell * p;
                    for (int k = 0; k < p; ++k) {
                        double num = 1.0;
                        for (int l = 0; l < p; ++l)
                            if (l != k) num *= t - nodes[l];
                        weights_[i * pw + static_cast<std::size_t>(c) * p + k] =
                            num / denominators[k];
                    }
                }
        });

        // Kernel on the circulant embedding, transformed once per call (its spacing changes).
        const std::size_t real_size = ipow(len, D);
        for (std::size_t g = 0; g < real_size; ++g) {
            std::size_t rest = g;
            double d2 = 0.0;
            for (int c = D - 1; c >= 0; --c) {
                const int idx = static_cast<int>(rest % len);
                rest /= len;
                const int off = idx <= m ? idx : idx - len;
                d2 += static_cast<double>(off) * off;
            }
            const double w = 1.0 / (1.0 + d2 * spacing * spacing);
            kernel_real_[g] = w * w;
        }
        fftw_execute_dft_r2c(forward_, kernel_real_, kernel_hat_);

        // Spread the charges (serial: a scatter whose order must not depend on threads).
        for (int q = 0; q < kCharges; ++q) std::fill(real_[q], real_[q] + real_size, 0.0);
        const int stencil = ipow(p, D);
        for (std::size_t i = 0; i < n; ++i) {
            double charge[kCharges];
            charge[0] = 1.0;
            double norm2 = 0.0;
            for (int c = 0; c < D; ++c) {
                const double v = y[i * D + c] - centre;
                charge[1 + c] = v;
                norm2 += v * v;
            }
            charge[D + 1] = norm2;
            for (int s = 0; s < stencil; ++s) {
                std::size_t index = 0;
                double weight = 1.0;
                int rest = s;
                for (int c = 0; c < D; ++c) {
                    const int k = rest % p;
                    rest /= p;
                    index = index * len + static_cast<std::size_t>(first_node_[i * D + c] + k);
                    weight *= weights_[i * pw + static_cast<std::size_t>(c) * p + k];
                }
                for (int q = 0; q < kCharges; ++q) real_[q][index] += weight * charge[q];
            }
        }

        // Convolve each charge grid with the kernel: independent transforms, run in parallel.
        const std::size_t complex_size = real_size / len * (len / 2 + 1);
        const double scale = 1.0 / static_cast<double>(real_size);
        parallel_for(kCharges, threads, [&](std::size_t q) {
            fftw_execute_dft_r2c(forward_, real_[q], spectrum_[q]);
            for (std::size_t g = 0; g < complex_size; ++g) {
                const double ar = spectrum_[q][g][0], ai = spectrum_[q][g][1];
                const double br = kernel_hat_[g][0], bi = kernel_hat_[g][1];
                spectrum_[q][g][0] = (ar * br - ai * bi) * scale;
                spectrum_[q][g][1] = (ar * bi + ai * br) * scale;
            }
            fftw_execute_dft_c2r(backward_, spectrum_[q], real_[q]);
        });

        // Interpolate the potentials back to the points.
        std::vector<double> z_terms(n);
        parallel_for_blocks(n, kBlock, threads, [&](std::size_t, std::size_t b, std::size_t e) {
            for (std::size_t i = b; i < e; ++i) {
                double phi[kCharges] = {};
                for (int s = 0; s < stencil; ++s) {
                    std::size_t index = 0;
                    double weight = 1.0;
                    int rest = s;
                    for (int c = 0; c < D; ++c) {
                        const int k = rest % p;
                        rest /= p;
                        index = index * len + static_cast<std::size_t>(first_node_[i * D + c] + k);
                        weight *= weights_[i * pw + static_cast<std::size_t>(c) * p + k];
                    }
                    for (int q = 0; q < kCharges; ++q) phi[q] += weight * real_[q][index];
                }
                double norm2 = 0.0, dot = 0.0;
                for (int c = 0; c < D; ++c) {
                    const double v = y[i * D + c] - centre;
                    rep[i * D + c] = v * phi[0] - phi[1 + c];
                    norm2 += v * v;
                    dot += v * phi[1 + c];
                }
                z_terms[i] = (1.0 + norm2) * phi[0] - 2.0 * dot + phi[D + 1];
            }
        });
        return ordered_sum(z_terms) - static_cast<double>(n);
    }

  private:
    template <class T>
    static T ipow(T base, int e) {
        T r = 1;
        for (int k = 0; k < e; ++k) r *= base;
        return r;
    }

    // (Re)allocates buffers and plans when the padded grid size changes.
    void prepare(int boxes, int m, int len) {
        boxes_ = boxes;
        if (len == len_) return;
        release();
        const std::size_t real_size = ipow<std::size_t>(static_cast<std::size_t>(len), D);
        const std::size_t complex_size = real_size / len * (len / 2 + 1);
        auto alloc_real = [&] {
            auto* p = static_cast<double*>(fftw_malloc(sizeof(double) * real_size));
            if (!p) throw std::bad_alloc();
            return p;
        };
        auto alloc_complex = [&] {
            auto* p = static_cast<fftw_complex*>(fftw_malloc(sizeof(fftw_complex) * complex_size));
            if (!p) throw std::bad_alloc();
            return p;
        };
        kernel_real_ = alloc_real();
        kernel_hat_ = alloc_complex();
        for (int q = 0; q < kCharges; ++q) {
            real_[q] = alloc_real();
            spectrum_[q] = alloc_complex();
        }
        std::array<int, D> shape;
        shape.fill(len);
        {
            std::lock_guard lock(fftw_planner_mutex());
            // FFTW_ESTIMATE: the algorithm (hence every bit) never depends on timing.
            forward_ = fftw_plan_dft_r2c(D, shape.data(), real_[0], spectrum_[0], FFTW_ESTIMATE);
            backward_ = fftw_plan_dft_c2r(D, shape.data(), spectrum_[0], real_[0], FFTW_ESTIMATE);
        }
        if (!forward_ || !backward_)
            throw Error("t-SNE FFT: FFTW could not plan a " + std::to_string(len) + "^" +
                        std::to_string(D) + " transform");
        len_ = len;
        (void)m;
    }

    void release() {
        {
            std::lock_guard lock(fftw_planner_mutex());
            if (forward_) fftw_destroy_plan(forward_);
            if (backward_) fftw_destroy_plan(backward_);
        }
        forward_ = backward_ = nullptr;
        fftw_free(kernel_real_);
        fftw_free(kernel_hat_);
        kernel_real_ = nullptr;
        kernel_hat_ = nullptr;
        for (int q = 0; q < kCharges; ++q) {
            fftw_free(real_[q]);
            fftw_free(spectrum_[q]);
            real_[q] = nullptr;
            spectrum_[q] = nullptr;
        }
        len_ = 0;
    }

    FftGrid grid_;
    int boxes_ = 0;
    int len_ = 0;
    fftw_plan forward_ = nullptr;
    fftw_plan backward_ = nullptr;
    double* kernel_real_ = nullptr;
    fftw_complex* kernel_hat_ = nullptr;
    std::array<double*, kCharges> real_{};
    std::array<fftw_complex*, kCharges> spectrum_{};
    std::vector<double> weights_;
    std::vector<int> first_node_;
};

}  // namespace tagmap::project::tsne_detail
