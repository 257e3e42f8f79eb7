// The exact gradient and KL against numpy (tools/make_tsne_fixtures.py); Barnes-Hut and FFT
// gradients against the exact one.
#include <gtest/gtest.h>

#include <cstdio>
#include <vector>

#include "tagmap/project/tsne/tsne.hpp"
#include "tsne_test_support.hpp"

using namespace tagmap;
using namespace tagmap::project;
using Gradient = TsneOptions::Gradient;

namespace {

TsneAffinities reference_affinities(const tagmap::test::TsneReference& ref) {
    const Eigen::MatrixXd& X = ref.matrices.at("X");
    return tsne_affinities(exact_knn(X, ref.k), ref.perplexity, 1);
}

double relative_error(const Eigen::MatrixXd& approx, const Eigen::MatrixXd& exact) {
    return (approx - exact).norm() / exact.norm();
}

}  // namespace

TEST(TsneGradient, ExactMatchesNumpy) {
    const auto ref = tagmap::test::TsneReference::load();
    const auto P = reference_affinities(ref);
    for (int dims : {2, 3}) {
        const std::string suffix = dims == 2 ? "2" : "3";
        const auto& Y = ref.matrices.at("Y" + suffix);
        const auto& G = ref.matrices.at("G" + suffix);
        const auto g = tsne_gradient(P, Y, Gradient::exact, 0.5, 2);
        EXPECT_LT(relative_error(g.gradient, G), 1e-5) << dims << "D";
        EXPECT_NEAR(g.kl, ref.scalars.at("KL" + suffix), 1e-5) << dims << "D";
        // theta = 0 opens every cell: Barnes-Hut is then the exact sum.
        const auto bh0 = tsne_gradient(P, Y, Gradient::barnes_hut, 0.0, 2);
        EXPECT_LT(relative_error(bh0.gradient, g.gradient), 1e-12) << dims << "D";
    }
}

// Barnes-Hut (theta 0.5) and FFT against the exact gradient, within 1 % (the bound),
// at two realistic clustered embeddings:
//  - after 100 iterations (early exaggeration): the full gradient, which is large there;
//  - after 300 iterations: the repulsive forces and Z. Near convergence the full gradient
//    nearly cancels (attraction ~ repulsion), so its relative error says little; the
//    repulsive part is what the methods approximate.
class TsneApproximateGradient : public ::testing::TestWithParam<int> {};

TEST_P(TsneApproximateGradient, WithinOnePercentOfExact) {
    const int dims = GetParam();
    const auto data = tagmap::test::make_clusters(8, 150, 20, 3.0, 7);
    const int k = tsne_neighbours_for(30, static_cast<int>(data.points.rows()));
    const auto P = tsne_affinities(exact_knn(data.points, k), 30, 0);
    auto repulsion_only = P;
    for (double& v : repulsion_only.values) v = 0.0;  // gradient = -4 rep / Z

    TsneOptions o;
    o.dims = dims;
    o.gradient = Gradient::barnes_hut;
    o.n_iter = 100;
    const Eigen::MatrixXd early = tsne_fit(data.points, o).embedding.cast<double>();
    o.n_iter = 300;
    const Eigen::MatrixXd clustered = tsne_fit(data.points, o).embedding.cast<double>();

    struct Case {
        const char* name;
        const TsneAffinities& P;
        const Eigen::MatrixXd& Y;
    };
    for (const Case& c : {Case{"full gradient, 100 iterations", P, early},
                          Case{"repulsion, 300 iterations", repulsion_only, clustered}}) {
        const auto exact = tsne_gradient(c.P, c.Y, Gradient::exact, 0, 0);
        const auto bh = tsne_gradient(c.P, c.Y, Gradient::barnes_hut, 0.5, 0);
        const auto fft = tsne_gradient(c.P, c.Y, Gradient::fft, 0, 0);
        const double bh_err = relative_error(bh.gradient, exact.gradient);
        const double fft_err = relative_error(fft.gradient, exact.gradient);
        std::printf("%dD %s: relative error BH %.2e, FFT %.2e; Z error BH %.1e, FFT %.1e\n", dims,
                    c.name, bh_err, fft_err, bh.z / exact.z - 1, fft.z / exact.z - 1);
        EXPECT_LT(bh_err, 1e-2) << c.name;
        EXPECT_LT(fft_err, 1e-2) << c.name;
        EXPECT_NEAR(bh.z / exact.z, 1.0, 1e-2) << c.name;
        EXPECT_NEAR(fft.z / exact.z, 1.0, 1e-2) << c.name;
    }
}

// The FFT method's split regime (a capped grid plus an exact near field), which large maps
// reach: forced here on the 300-iteration map with a small cap, against the exact sum, and
// bitwise identical at 1, 2 and 3 threads (the spreading runs in parallel slabs).
TEST_P(TsneApproximateGradient, FftNearFieldSplit) {
    using namespace tagmap::project::tsne_detail;
    const int dims = GetParam();
    const auto data = tagmap::test::make_clusters(8, 150, 20, 3.0, 7);
    TsneOptions o;
    o.dims = dims;
    o.gradient = Gradient::barnes_hut;
    o.n_iter = 300;
    const RowMatrixD Y = tsne_fit(data.points, o).embedding.cast<double>();
    const auto n = static_cast<std::size_t>(Y.rows());
    std::vector<double> exact(n * dims), approx(n * dims), other(n * dims);
    const double z = dims == 2 ? exact_repulsion<2>(Y.data(), n, exact.data(), 0)
                               : exact_repulsion<3>(Y.data(), n, exact.data(), 0);
    auto run = [&](int threads, std::vector<double>& out, double* radius) {
        FftGrid grid = FftGrid::defaults(dims);
        grid.min_nodes = 16;
        grid.max_nodes = 20;  // well below what the map needs at spacing 0.25
        if (dims == 2) {
            FftRepulsion<2> fft(grid);
            const double zf = fft(Y.data(), n, out.data(), threads);
            *radius = fft.near_radius();
            return zf;
        }
        FftRepulsion<3> fft(grid);
        const double zf = fft(Y.data(), n, out.data(), threads);
        *radius = fft.near_radius();
        return zf;
    };
    double radius = 0;
    const double zf = run(1, approx, &radius);
    ASSERT_GT(radius, 0.0) << "the grid should be capped";
    const Eigen::Map<const Eigen::VectorXd> e(exact.data(), static_cast<Eigen::Index>(n * dims));
    const Eigen::Map<const Eigen::VectorXd> a(approx.data(), static_cast<Eigen::Index>(n * dims));
    const double err = (a - e).norm() / e.norm();
    std::printf("%dD split (R = %.2f): repulsion error %.2e, Z error %.1e\n", dims, radius, err,
                zf / z - 1);
    EXPECT_LT(err, 1e-2);
    EXPECT_NEAR(zf / z, 1.0, 1e-2);
    for (int threads : {2, 3}) {
        double r = 0;
        EXPECT_EQ(run(threads, other, &r), zf) << threads << " threads";
        EXPECT_EQ(other, approx) << threads << " threads";
    }
}

INSTANTIATE_TEST_SUITE_P(Dims, TsneApproximateGradient, ::testing::Values(2, 3));

TEST(TsneGradient, RejectsMismatchedShapes) {
    const auto ref = tagmap::test::TsneReference::load();
    const auto P = reference_affinities(ref);
    EXPECT_THROW(tsne_gradient(P, Eigen::MatrixXd::Zero(3, 2), Gradient::exact),
                 tagmap::InvalidArgument);
    EXPECT_THROW(tsne_gradient(P, Eigen::MatrixXd::Zero(P.n, 4), Gradient::exact),
                 tagmap::InvalidArgument);
}
