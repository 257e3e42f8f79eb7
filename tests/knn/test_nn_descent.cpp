// Approximate kNN (NN-descent) on small inputs, fast enough for the sanitizer run: thread-count
// determinism, recall on a small set, and degenerate inputs (tiny sets, identical points).
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

TEST(NnDescent, SmallRunIsIdenticalAcrossThreadCounts) {
    const RowMatrixF X = clusters(1500, 12, 4, 17);
    NnDescentOptions options;
    options.k = 8;
    options.threads = 1;
    const KnnGraph one = nn_descent(X, options);
    options.threads = 3;
    const KnnGraph three = nn_descent(X, options);
    EXPECT_TRUE(one.indices == three.indices && one.distances == three.distances);
    EXPECT_GE(knn_recall(one, exact_knn(X, 8, Metric::euclidean, 2)), 0.95);
}

TEST(NnDescent, SmallAndDegenerateInputs) {
    // Fewer points than a leaf, and all-identical points (every split is degenerate).
    const RowMatrixF few = clusters(12, 5, 2, 15);
    NnDescentOptions options;
    options.k = 11;
    const KnnGraph g = nn_descent(few, options);
    EXPECT_DOUBLE_EQ(knn_recall(g, exact_knn(few, 11)), 1.0);

    const RowMatrixF same = RowMatrixF::Constant(300, 7, 3.f);
    options.k = 5;
    const KnnGraph s = nn_descent(same, options);
    for (int i = 0; i < 300; ++i)
        for (int c = 0; c < 5; ++c) {
            EXPECT_NE(s.indices(i, c), i);
            EXPECT_EQ(s.distances(i, c), 0.f);
        }
    options.k = 300;
    EXPECT_THROW(nn_descent(same, options), tagmap::InvalidArgument);
}
