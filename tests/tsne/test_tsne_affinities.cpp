// Perplexity calibration and symmetrisation against scikit-learn (tools/make_tsne_fixtures.py).
#include <gtest/gtest.h>

#include "tagmap/project/knn.hpp"
#include "tagmap/project/tsne_affinities.hpp"
#include "tsne_test_support.hpp"

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
