// UMAP building blocks against umap-learn 0.5.3 (golden values from
// tools/make_umap_fixtures.py): the a, b curve fit, the fuzzy simplicial set and the spectral
// initialisation.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <utility>

#include "tagmap/project/knn/knn.hpp"
#include "tagmap/project/umap/ab.hpp"
#include "tagmap/project/umap/fuzzy_graph.hpp"
#include "tagmap/project/umap/spectral.hpp"
#include "umap_test_util.hpp"

namespace tp = tagmap::project;
using tagmap::test::read_umap_csv;

TEST(UmapAbParams, MatchUmapLearnFindAbParams) {
    const Eigen::MatrixXd golden = read_umap_csv("ab_params.csv", true);
    ASSERT_GE(golden.rows(), 8);
    for (Eigen::Index r = 0; r < golden.rows(); ++r) {
        const auto curve = tp::find_ab_params(golden(r, 0), golden(r, 1));
        SCOPED_TRACE("spread " + std::to_string(golden(r, 0)) + " min_dist " +
                     std::to_string(golden(r, 1)));
        EXPECT_NEAR(curve.a, golden(r, 2), 1e-4 * golden(r, 2));
        EXPECT_NEAR(curve.b, golden(r, 3), 1e-4 * golden(r, 3));
    }
}

TEST(UmapAbParams, RejectsBadSpreadAndMinDist) {
    EXPECT_THROW(tp::find_ab_params(0.0, 0.1), tagmap::InvalidArgument);
    EXPECT_THROW(tp::find_ab_params(1.0, -0.1), tagmap::InvalidArgument);
    EXPECT_THROW(tp::find_ab_params(1.0, 1.5), tagmap::InvalidArgument);
    EXPECT_THROW(tp::find_ab_params(std::nan(""), 0.1), tagmap::InvalidArgument);
}

TEST(UmapFuzzyGraph, MatchesUmapLearnFuzzySimplicialSet) {
    const Eigen::MatrixXf X = read_umap_csv("graph_input.csv").cast<float>();
    const Eigen::MatrixXd golden = read_umap_csv("graph_weights.csv", true);
    // umap-learn n_neighbors = 10 counts the point itself: 9 neighbours here.
    const auto knn = tp::exact_knn(X, 9);
    const tp::FuzzyGraph graph = tp::fuzzy_simplicial_set(knn, 2);
    std::map<std::pair<int, int>, double> expected;
    for (Eigen::Index r = 0; r < golden.rows(); ++r)
        expected[{int(golden(r, 0)), int(golden(r, 1))}] = golden(r, 2);
    EXPECT_EQ(graph.nonZeros(), Eigen::Index(expected.size()));
    for (Eigen::Index i = 0; i < graph.outerSize(); ++i)
        for (tp::FuzzyGraph::InnerIterator it(graph, i); it; ++it) {
            const auto found = expected.find({int(i), it.col()});
            ASSERT_NE(found, expected.end()) << "unexpected edge " << i << " -> " << it.col();
            EXPECT_NEAR(it.value(), found->second, 2e-5) << "edge " << i << " -> " << it.col();
        }
}

TEST(UmapSmoothKnn, SigmaSolvesTheTargetSum) {
    // Exact math: sum_j exp(-(d_j - rho) / sigma) over the non-self entries equals log2(k).
    const std::vector<float> row = {0.0f, 0.5f, 0.7f, 1.0f, 1.1f, 1.6f, 2.0f, 2.2f};
    const double target = std::log2(double(row.size()));
    const auto s = tp::smooth_knn_row(row, target, 1.0, 1.0);
    EXPECT_FLOAT_EQ(s.rho, 0.5);
    double sum = 0;
    for (std::size_t j = 1; j < row.size(); ++j)
        sum += std::exp(-std::max(0.0, row[j] - s.rho) / s.sigma);
    EXPECT_NEAR(sum, target, 1e-4);
}

TEST(UmapSpectral, MatchesUmapLearnSpectralLayoutUpToSign) {
    const Eigen::MatrixXf Y = read_umap_csv("spectral_input.csv").cast<float>();
    const Eigen::MatrixXd golden = read_umap_csv("spectral_layout.csv");
    ASSERT_EQ(golden.rows(), Y.rows());
    const auto graph = tp::fuzzy_simplicial_set(tp::exact_knn(Y, 14), 2);
    const auto layout = tp::spectral_layout(Y, graph, 2, 42);
    ASSERT_EQ(layout.kind, tp::SpectralLayout::Kind::spectral);
    ASSERT_EQ(layout.components, 1);
    ASSERT_EQ(layout.coords.rows(), Y.rows());
    for (int d = 0; d < 2; ++d) {
        const Eigen::VectorXd a = layout.coords.col(d), b = golden.col(d);
        const double cosine = a.dot(b) / (a.norm() * b.norm());
        EXPECT_GT(std::abs(cosine), 0.999) << "eigenvector " << d;
    }
}

TEST(UmapSpectral, SameBitsAtAnyThreadCount) {
    // 3,000 points: the Lanczos path, its matrix products split into several row blocks.
    const auto data = tagmap::test::gaussian_clusters(3000, 1, 5, 1.0, 7);
    const auto graph = tp::fuzzy_simplicial_set(tp::exact_knn(data.points, 14), 2);
    const auto one = tp::spectral_layout(data.points, graph, 2, 42, 1);
    const auto three = tp::spectral_layout(data.points, graph, 2, 42, 3);
    ASSERT_EQ(one.kind, tp::SpectralLayout::Kind::spectral);
    EXPECT_TRUE(one.coords == three.coords);
}

TEST(UmapSpectral, DisconnectedGraphGetsPerComponentLayoutWithoutNaN) {
    // Three far-apart blobs of 60 points: three components of the 10-neighbour graph.
    const auto data = tagmap::test::gaussian_clusters(180, 3, 5, 100.0, 3);
    const Eigen::MatrixXf& X = data.points;
    const auto graph = tp::fuzzy_simplicial_set(tp::exact_knn(X, 9), 1);
    const auto layout = tp::spectral_layout(X, graph, 2, 42);
    EXPECT_EQ(layout.kind, tp::SpectralLayout::Kind::components);
    EXPECT_EQ(layout.components, 3);
    ASSERT_TRUE(layout.coords.allFinite());
    // Each blob sits around its own centre: blobs' mean positions are far apart relative to
    // their spread.
    Eigen::MatrixXd means = Eigen::MatrixXd::Zero(3, 2);
    for (int i = 0; i < 180; ++i)
        means.row(data.labels[std::size_t(i)]) += layout.coords.row(i) / 60.0;
    for (int c = 0; c < 3; ++c)
        for (int o = c + 1; o < 3; ++o) EXPECT_GT((means.row(c) - means.row(o)).norm(), 0.5);
}
