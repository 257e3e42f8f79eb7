// Principal-component scores for initialising embeddings, deterministic for a seed.
//
// Small inputs (D <= 64) use the exact D x D covariance eigendecomposition; wider ones a
// randomised range finder (Halko, Martinsson & Tropp 2011) with power iterations, which needs
// only products with X (in X's own scalar type, so no centred double copy of a large X).
// Each component's sign is fixed so that its largest-magnitude score is positive.
#pragma once

#include <Eigen/Core>
#include <Eigen/Eigenvalues>
#include <Eigen/QR>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "tagmap/core/error.hpp"
#include "tagmap/project/random.hpp"

namespace tagmap::project {

/// Scores (N x components, double) of the centred rows of X on its top principal axes.
template <class Derived>
Eigen::MatrixXd pca_scores(const Eigen::MatrixBase<Derived>& X, int components,
                           std::uint64_t seed = 42) {
    using Scalar = typename Derived::Scalar;
    const Eigen::Index n = X.rows(), d = X.cols();
    if (components < 1 || components > d || components > n)
        throw InvalidArgument("pca_scores: cannot take " + std::to_string(components) +
                              " components of a " + std::to_string(n) + " x " + std::to_string(d) +
                              " matrix");
    const Eigen::RowVectorXd mean = X.template cast<double>().colwise().mean();
    Eigen::MatrixXd scores;
    if (d <= 64) {
        Eigen::MatrixXd centred = X.template cast<double>();
        centred.rowwise() -= mean;
        const Eigen::MatrixXd cov = centred.transpose() * centred;
        Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(cov);
        // Eigenvalues come in increasing order: the last columns are the top axes.
        const Eigen::MatrixXd axes = eig.eigenvectors().rightCols(components).rowwise().reverse();
        scores = centred * axes;
    } else {
        const Eigen::Index l = std::min<Eigen::Index>(components + 10, std::min(n, d));
        Rng rng(seed, 0x9ca);
        Eigen::MatrixXd omega(d, l);
        for (Eigen::Index j = 0; j < l; ++j)
            for (Eigen::Index i = 0; i < d; ++i) omega(i, j) = rng.normal();
        // (X - 1 mean) M = X M - 1 (mean M): centring without a centred copy.
        auto times_centred = [&](const Eigen::MatrixXd& M) {
            Eigen::MatrixXd out = (X.derived() * M.template cast<Scalar>()).template cast<double>();
            out.rowwise() -= mean * M;
            return out;
        };
        auto centred_t_times = [&](const Eigen::MatrixXd& Q) {  // (X - 1 mean)^T Q
            Eigen::MatrixXd out =
                (X.derived().transpose() * Q.template cast<Scalar>()).template cast<double>();
            out -= mean.transpose() * Q.colwise().sum();
            return out;
        };
        auto orthonormal = [](const Eigen::MatrixXd& A) {
            Eigen::HouseholderQR<Eigen::MatrixXd> qr(A);
            return Eigen::MatrixXd(qr.householderQ() *
                                   Eigen::MatrixXd::Identity(A.rows(), A.cols()));
        };
        Eigen::MatrixXd Q = orthonormal(times_centred(omega));
        for (int power = 0; power < 4; ++power)
            Q = orthonormal(times_centred(orthonormal(centred_t_times(Q))));
        const Eigen::MatrixXd B = centred_t_times(Q).transpose();  // l x d = Q^T Xc
        Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(B * B.transpose());
        const Eigen::MatrixXd U = eig.eigenvectors().rightCols(components).rowwise().reverse();
        // Scores = Xc V = Q B V = Q U S, with B^T U = V S.
        scores = Q * (B * (B.transpose() * U)).eval();
        for (int c = 0; c < components; ++c) {
            const double s2 = eig.eigenvalues()(l - 1 - c);
            if (s2 > 0) scores.col(c) /= std::sqrt(s2);
        }
    }
    for (int c = 0; c < components; ++c) {
        Eigen::Index at = 0;
        scores.col(c).cwiseAbs().maxCoeff(&at);
        if (scores(at, c) < 0) scores.col(c) = -scores.col(c);
    }
    return scores;
}

}  // namespace tagmap::project
