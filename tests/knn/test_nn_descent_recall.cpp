// Approximate kNN (NN-descent) at sizes where recall means something: recall@k >= 0.95
// against exact neighbours, bitwise determinism across thread counts, seeds, cosine, and the
// automatic exact/approximate switch. Labelled slow (skipped by the sanitizer run).
#include <gtest/gtest.h>

#include <Eigen/Core>

#include "knn_test_data.hpp"
#include "tagmap/project/knn/knn.hpp"
#include "tagmap/project/knn/nn_descent.hpp"
#include "tagmap/core/random.hpp"

using namespace tagmap;
using namespace tagmap::project;
using tagmap::test::clusters;
using tagmap::test::RowMatrixF;

TEST(NnDescent, RecallAtLeast95PercentEuclidean) {
    const RowMatrixF X = clusters(6000, 48, 12, 11);
    NnDescentOptions options;
    options.threads = 2;
    const KnnGraph approx = nn_descent(X, options);
    const KnnGraph exact = exact_knn(X, 15, Metric::euclidean, 2);
    const double recall = knn_recall(approx, exact);
    EXPECT_GE(recall, 0.95);
    // Distances are exact for the neighbours found, sorted, and never the point itself.
    for (int i = 0; i < approx.size(); ++i) {
        for (int c = 0; c < 15; ++c) {
            const int j = approx.indices(i, c);
            ASSERT_NE(j, i);
            EXPECT_NEAR(approx.distances(i, c), (X.row(i) - X.row(j)).norm(),
                        1e-4f * (1 + approx.distances(i, c)));
            if (c > 0) {
                EXPECT_LE(approx.distances(i, c - 1), approx.distances(i, c));
            }
        }
    }
    std::printf("nn_descent recall@15 on 6000 x 48 clusters: %.4f\n", recall);
}

TEST(NnDescent, RecallAtLeast95PercentCosine) {
    const RowMatrixF X = clusters(5000, 32, 10, 12);
    NnDescentOptions options;
    options.metric = Metric::cosine;
    options.k = 10;
    options.threads = 2;
    const double recall = knn_recall(nn_descent(X, options), exact_knn(X, 10, Metric::cosine, 2));
    EXPECT_GE(recall, 0.95);
}

TEST(NnDescent, BitwiseIdenticalAcrossThreadCounts) {
    const RowMatrixF X = clusters(9000, 40, 8, 13);  // > one join round and several chunks
    NnDescentOptions options;
    options.seed = 5;
    options.threads = 1;
    const KnnGraph one = nn_descent(X, options);
    options.threads = 2;
    const KnnGraph two = nn_descent(X, options);
    options.threads = 3;
    const KnnGraph three = nn_descent(X, options);
    EXPECT_TRUE(one.indices == two.indices && one.indices == three.indices);
    EXPECT_TRUE(one.distances == two.distances && one.distances == three.distances);
}

TEST(NnDescent, SeedChangesTheSearchNotTheQuality) {
    const RowMatrixF X = clusters(5000, 24, 6, 14);
    NnDescentOptions a, b;
    a.seed = 1;
    b.seed = 2;
    a.threads = b.threads = 2;
    const KnnGraph ga = nn_descent(X, a), gb = nn_descent(X, b);
    EXPECT_EQ(nn_descent(X, a).indices, ga.indices);  // same seed, same graph
    const KnnGraph exact = exact_knn(X, 15, Metric::euclidean, 2);
    EXPECT_GE(knn_recall(ga, exact), 0.95);
    EXPECT_GE(knn_recall(gb, exact), 0.95);
}

TEST(KnnGraph, AutomaticSwitchesToApproximateAtThreshold) {
    const RowMatrixF X = clusters(KnnOptions::kExactBelow, 16, 5, 16);
    KnnOptions options;
    options.threads = 2;
    const KnnGraph automatic = knn_graph(X, options);
    options.method = KnnOptions::Method::approximate;
    EXPECT_EQ(knn_graph(X, options).indices, automatic.indices);
    options.method = KnnOptions::Method::exact;
    EXPECT_GE(knn_recall(automatic, knn_graph(X, options)), 0.95);
    // One point fewer: exact.
    options.method = KnnOptions::Method::automatic;
    const auto below = X.topRows(KnnOptions::kExactBelow - 1);
    EXPECT_EQ(knn_graph(below, options).indices,
              exact_knn(below, 15, Metric::euclidean, 2).indices);
}
