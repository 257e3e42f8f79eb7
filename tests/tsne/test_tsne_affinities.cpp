// Perplexity calibration and symmetrisation against scikit-learn (tools/make_tsne_fixtures.py).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "tagmap/project/knn/knn.hpp"
#include "tagmap/project/tsne/pca.hpp"
#include "tagmap/project/tsne/tsne.hpp"
#include "tagmap/project/tsne/affinities.hpp"
#include "tsne_test_support.hpp"

using namespace tagmap;
using namespace tagmap::project;

TEST(TsneAffinities, MatchesScikitLearnJointProbabilities) {
    const auto ref = tagmap::test::TsneReference::load();
    const Eigen::MatrixXd& X = ref.matrices.at("X");
    const int k = tsne_neighbours_for(ref.perplexity, static_cast<int>(X.rows()));
    ASSERT_EQ(k, ref.k);
    const TsneAffinities P = tsne_affinities(exact_knn(X, k), ref.perplexity, 2);
    const Eigen::MatrixXd mine = tagmap::test::dense(P);
    EXPECT_EQ(static_cast<long>(P.nnz()), static_cast<long>((ref.P.array() > 0).count()));
    // sklearn works from float32 squared distances: agreement to ~1e-6 relative.
    EXPECT_LT((mine - ref.P).cwiseAbs().maxCoeff(), 1e-6 * ref.P.maxCoeff());
    EXPECT_NEAR(mine.sum(), 1.0, 1e-12);
    EXPECT_LT((mine - mine.transpose()).cwiseAbs().maxCoeff(), 1e-15);
}

TEST(TsneAffinities, RowsReachTheRequestedPerplexity) {
    const auto ref = tagmap::test::TsneReference::load();
    const Eigen::MatrixXd& X = ref.matrices.at("X");
    const auto graph = exact_knn(X, 16);
    for (double perplexity : {2.0, 5.0, 10.0}) {
        const auto cond = tsne_conditional_probabilities(graph, perplexity, 1);
        for (int i = 0; i < graph.size(); ++i) {
            double sum = 0, entropy = 0;
            for (int j = 0; j < 16; ++j) {
                const double p = cond[static_cast<std::size_t>(i) * 16 + j];
                sum += p;
                if (p > 0) entropy -= p * std::log(p);
            }
            EXPECT_NEAR(sum, 1.0, 1e-12);
            EXPECT_NEAR(std::exp(entropy), perplexity, 1e-3 * perplexity) << "row " << i;
        }
    }
}

TEST(TsneAffinities, RejectsBadInput) {
    const auto ref = tagmap::test::TsneReference::load();
    const auto graph = exact_knn(ref.matrices.at("X"), 5);
    EXPECT_THROW(tsne_conditional_probabilities(graph, 0.0), tagmap::InvalidArgument);
    EXPECT_THROW(tsne_conditional_probabilities(graph, std::nan("")), tagmap::InvalidArgument);
    auto broken = graph;
    broken.indices(3, 2) = 1000;
    EXPECT_THROW(tsne_affinities(broken, 2.0), tagmap::InvalidArgument);
}

TEST(TsnePca, ScoresMatchNumpy) {
    const auto ref = tagmap::test::TsneReference::load();
    const Eigen::MatrixXd& X = ref.matrices.at("X");
    const Eigen::MatrixXd& S = ref.matrices.at("S3");
    // Same axes and the same sign convention (largest-magnitude score positive).
    EXPECT_LT((pca_scores(X, 3, 42, 2) - S).cwiseAbs().maxCoeff(), 1e-10 * S.cwiseAbs().maxCoeff());
    const Eigen::MatrixXf Xf = X.cast<float>();
    EXPECT_LT((pca_scores(Xf, 3, 42, 2) - S).cwiseAbs().maxCoeff(), 1e-5 * S.cwiseAbs().maxCoeff());
    EXPECT_THROW(pca_scores(X, 6), tagmap::InvalidArgument);
}

TEST(TsnePca, ScoresAreBitwiseIdenticalAcrossThreadCounts) {
    // More rows than one 8192-row chunk, so the chunked covariance sum is exercised, and
    // wider than 64 float columns, so the float products are.
    const auto data = tagmap::test::make_clusters(4, 5000, 80, 3.0, 9);
    const Eigen::MatrixXd one = pca_scores(data.points, 5, 42, 1);
    const Eigen::MatrixXd two = pca_scores(data.points, 5, 42, 2);
    const Eigen::MatrixXd three = pca_scores(data.points, 5, 42, 3);
    ASSERT_EQ(one.rows(), 20000);
    EXPECT_EQ(std::memcmp(one.data(), two.data(), sizeof(double) * one.size()), 0);
    EXPECT_EQ(std::memcmp(one.data(), three.data(), sizeof(double) * one.size()), 0);
    // And equal to the scores of the exact double-precision covariance.
    Eigen::MatrixXd centred = data.points.cast<double>();
    centred.rowwise() -= centred.colwise().mean();
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(centred.transpose() * centred);
    for (int c = 0; c < 5; ++c) {
        const Eigen::VectorXd reference = centred * eig.eigenvectors().col(79 - c);
        EXPECT_GT(std::abs(reference.dot(one.col(c))) / (reference.norm() * one.col(c).norm()),
                  1 - 1e-6)
            << "component " << c;
    }
}

TEST(TsnePca, PcaDimsAffinitiesMatchNumpyOnProjectedInput) {
    const auto ref = tagmap::test::TsneReference::load();
    const Eigen::MatrixXd& X = ref.matrices.at("X");
    TsneOptions o;
    o.perplexity = ref.perplexity;
    o.threads = 2;
    o.pca_dims = ref.pca_dims;
    o.rerank_factor = 0;  // neighbours and distances of the PCA scores as they are
    ASSERT_LT(o.pca_dims, X.cols());
    const Eigen::MatrixXd reduced = tagmap::test::dense(tsne_input_affinities(X, o));
    EXPECT_LT((reduced - ref.P_pca).cwiseAbs().maxCoeff(), 1e-6 * ref.P_pca.maxCoeff());
    // The reduction changes P (else this test could not fail) ...
    EXPECT_GT((ref.P_pca - ref.P).cwiseAbs().maxCoeff(), 1e-3 * ref.P.maxCoeff());
    // ... and is off for pca_dims = 0 or >= D.
    for (int dims : {0, static_cast<int>(X.cols()), 50}) {
        o.pca_dims = dims;
        const Eigen::MatrixXd full = tagmap::test::dense(tsne_input_affinities(X, o));
        EXPECT_LT((full - ref.P).cwiseAbs().maxCoeff(), 1e-6 * ref.P.maxCoeff()) << dims;
    }
    o.pca_dims = -1;
    EXPECT_THROW(tsne_input_affinities(X, o), tagmap::InvalidArgument);
}

TEST(TsnePca, RerankedNeighboursMatchNumpy) {
    const auto ref = tagmap::test::TsneReference::load();
    const Eigen::MatrixXd& X = ref.matrices.at("X");
    TsneOptions o;
    o.perplexity = ref.perplexity;
    o.pca_dims = ref.rerank_pca_dims;
    o.rerank_factor = ref.rerank_factor;
    ASSERT_GT(o.rerank_factor, 1.0);
    for (int threads : {1, 2}) {
        o.threads = threads;
        const Eigen::MatrixXd P = tagmap::test::dense(tsne_input_affinities(X, o));
        EXPECT_LT((P - ref.P_rerank).cwiseAbs().maxCoeff(), 1e-6 * ref.P_rerank.maxCoeff())
            << threads << " threads";
    }
    // Re-ranking gives neither the reduced input's P nor the input's own (the candidates miss
    // some of its neighbours), else this test could not fail.
    o.rerank_factor = 0;
    const Eigen::MatrixXd reduced = tagmap::test::dense(tsne_input_affinities(X, o));
    EXPECT_GT((ref.P_rerank - reduced).cwiseAbs().maxCoeff(), 1e-3 * ref.P_rerank.maxCoeff());
    EXPECT_GT((ref.P_rerank - ref.P).cwiseAbs().maxCoeff(), 1e-3 * ref.P_rerank.maxCoeff());
    o.rerank_factor = ref.rerank_factor;
    // The same float input, row-major (no copy) and column-major (copied), gives the same P.
    const Eigen::MatrixXf xf = X.cast<float>();
    const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> xr = xf;
    EXPECT_EQ(tagmap::test::dense(tsne_input_affinities(xf, o)),
              tagmap::test::dense(tsne_input_affinities(xr, o)));
    for (double bad : {-1.0, 0.5, 101.0, std::nan("")}) {
        o.rerank_factor = bad;
        EXPECT_THROW(tsne_input_affinities(X, o), tagmap::InvalidArgument) << bad;
    }
}
