// The a, b parameters of UMAP's low-dimensional similarity 1 / (1 + a d^(2b)), fitted to
// min_dist and spread exactly as umap-learn's find_ab_params does: a least-squares fit
// (Levenberg-Marquardt, started at a = b = 1 like scipy's curve_fit) of that curve to
// 1 for d < min_dist and exp(-(d - min_dist) / spread) beyond, on 300 points of [0, 3 spread].
//
// API (namespace tagmap::project):
//   struct UmapCurve { double a, b; };
//   UmapCurve find_ab_params(double spread, double min_dist);  // InvalidArgument if
//                                                              // spread <= 0, min_dist < 0 or
//                                                              // min_dist > spread
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <string>

#include "tagmap/core/error.hpp"

namespace tagmap::project {

struct UmapCurve {
    double a = 1.0;
    double b = 1.0;
};

namespace umap_detail {

struct CurveResidual {
    double cost = 0;              // 0.5 * sum of squared residuals
    std::array<double, 3> jtj{};  // J^T J as (aa, ab, bb)
    std::array<double, 2> jtr{};  // J^T r
};

inline CurveResidual curve_residual(double a, double b, double spread, double min_dist) {
    constexpr int kPoints = 300;  // np.linspace(0, 3 * spread, 300), as umap-learn
    CurveResidual out;
    for (int i = 0; i < kPoints; ++i) {
        const double x = 3.0 * spread * i / (kPoints - 1);
        const double target = x < min_dist ? 1.0 : std::exp(-(x - min_dist) / spread);
        // x^(2b) and its derivative in b; both vanish at x = 0 for b > 0.
        const double x2b = x > 0 ? std::pow(x, 2.0 * b) : 0.0;
        const double dx2b_db = x > 0 ? x2b * 2.0 * std::log(x) : 0.0;
        const double denom = 1.0 + a * x2b;
        const double f = 1.0 / denom;
        const double r = f - target;
        const double ja = -x2b / (denom * denom);
        const double jb = -a * dx2b_db / (denom * denom);
        out.cost += 0.5 * r * r;
        out.jtj[0] += ja * ja;
        out.jtj[1] += ja * jb;
        out.jtj[2] += jb * jb;
        out.jtr[0] += ja * r;
        out.jtr[1] += jb * r;
    }
    return out;
}

}  // namespace umap_detail

/// a, b such that 1 / (1 + a d^(2b)) best fits UMAP's target curve (see header comment).
inline UmapCurve find_ab_params(double spread, double min_dist) {
    if (!(spread > 0) || !std::isfinite(spread))
        throw InvalidArgument("UMAP: spread must be a positive number, got " +
                              std::to_string(spread));
    if (!(min_dist >= 0) || !std::isfinite(min_dist))
        throw InvalidArgument("UMAP: min_dist must be >= 0, got " + std::to_string(min_dist));
    if (min_dist > spread)
        throw InvalidArgument("UMAP: min_dist (" + std::to_string(min_dist) +
                              ") must be <= spread (" + std::to_string(spread) + ")");
    double a = 1.0, b = 1.0, lambda = 1e-3;
    auto current = umap_detail::curve_residual(a, b, spread, min_dist);
    for (int iter = 0; iter < 500; ++iter) {
        // Marquardt's scaled damping: (J^T J + lambda diag(J^T J)) step = -J^T r.
        const double m00 = current.jtj[0] * (1 + lambda), m11 = current.jtj[2] * (1 + lambda);
        const double m01 = current.jtj[1];
        const double det = m00 * m11 - m01 * m01;
        if (!(std::abs(det) > 0)) break;
        const double da = -(m11 * current.jtr[0] - m01 * current.jtr[1]) / det;
        const double db = -(m00 * current.jtr[1] - m01 * current.jtr[0]) / det;
        const double na = a + da, nb = b + db;
        if (na > 0 && nb > 0) {
            const auto trial = umap_detail::curve_residual(na, nb, spread, min_dist);
            if (trial.cost <= current.cost) {
                const bool converged =
                    current.cost - trial.cost <= 1e-16 * (current.cost + 1e-300) &&
                    std::abs(da) <= 1e-12 * a && std::abs(db) <= 1e-12 * b;
                a = na;
                b = nb;
                current = trial;
                lambda = std::max(lambda * 0.1, 1e-12);
                if (converged) break;
                continue;
            }
        }
        lambda *= 10;
        if (lambda > 1e12) break;
    }
    return {a, b};
}

}  // namespace tagmap::project
