// Exact kNN against a direct O(N^2) double-precision oracle, determinism across thread
// counts, tie order, cosine, knn_query and the error paths.
#include <gtest/gtest.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "tagmap/core/random.hpp"
#include "tagmap/project/knn/knn.hpp"

using namespace tagmap;
using namespace tagmap::project;

namespace {

Eigen::MatrixXd random_points(int n, int d, std::uint64_t seed) {
    Rng rng(seed);
    Eigen::MatrixXd X(n, d);
    for (int i = 0; i < n; ++i)
        for (int j = 0; j < d; ++j) X(i, j) = rng.normal();
    return X;
}

// Oracle: all distances in double, stable sort by (d, index).
std::vector<std::vector<std::pair<double, int>>> oracle(const Eigen::MatrixXd& ref,
                                                        const Eigen::MatrixXd& queries,
                                                        bool exclude_self, Metric metric) {
    Eigen::MatrixXd R = ref;
    Eigen::MatrixXd Q = queries;
    if (metric == Metric::cosine) {
        R.rowwise().normalize();
        Q.rowwise().normalize();
    }
    // Plain loops over raw arrays: fast even in unoptimised sanitizer builds.
    const Eigen::Index dims = R.cols();
    const std::vector<double> r(R.data(), R.data() + R.size()), q(Q.data(), Q.data() + Q.size());
    const Eigen::Index nr = R.rows(), nq = Q.rows();  // column-major: element (i, d) at d * n + i
    std::vector<std::vector<std::pair<double, int>>> out(nq);
    for (Eigen::Index i = 0; i < nq; ++i) {
        for (Eigen::Index j = 0; j < nr; ++j) {
            if (exclude_self && i == j) continue;
            double acc = 0;
            for (Eigen::Index d = 0; d < dims; ++d) {
                const double a = q[d * nq + i], b = r[d * nr + j];
                acc += metric == Metric::cosine ? a * b : (a - b) * (a - b);
            }
            out[i].emplace_back(metric == Metric::cosine ? 1.0 - acc : std::sqrt(acc), int(j));
        }
        std::sort(out[i].begin(), out[i].end());
    }
    return out;
}

void expect_matches_oracle(const KnnGraph& g,
                           const std::vector<std::vector<std::pair<double, int>>>& truth, int k) {
    ASSERT_EQ(g.indices.rows(), static_cast<Eigen::Index>(truth.size()));
    ASSERT_EQ(g.indices.cols(), k);
    for (std::size_t i = 0; i < truth.size(); ++i)
        for (int c = 0; c < k; ++c) {
            EXPECT_EQ(g.indices(i, c), truth[i][c].second) << "row " << i << " rank " << c;
            EXPECT_NEAR(g.distances(i, c), truth[i][c].first, 1e-5 * truth[i][c].first + 1e-7);
        }
}

}  // namespace

TEST(ExactKnn, MatchesDirectOracleEuclidean) {
    // 1100 points: several query blocks and two reference blocks, the last ones partial.
    const auto X = random_points(1100, 37, 1);
    const auto g = exact_knn(X, 15, Metric::euclidean, 2);
    expect_matches_oracle(g, oracle(X, X, true, Metric::euclidean), 15);
}

TEST(ExactKnn, MatchesDirectOracleCosine) {
    const auto X = random_points(700, 20, 2);
    const auto g = exact_knn(X, 10, Metric::cosine, 2);
    expect_matches_oracle(g, oracle(X, X, true, Metric::cosine), 10);
}

TEST(ExactKnn, NearDuplicatesAreOrderedCorrectly) {
    // Far from the origin with tiny offsets: the GEMM identity alone cancels catastrophically.
    Eigen::MatrixXd X = random_points(300, 8, 3) * 1e-3;
    X.array() += 1000.0;
    const auto g = exact_knn(X, 5, Metric::euclidean, 1);
    expect_matches_oracle(g, oracle(X, X, true, Metric::euclidean), 5);
}

TEST(ExactKnn, IdenticalOutputAcrossThreadCounts) {
    const Eigen::MatrixXf X = random_points(1300, 24, 4).cast<float>();
    const auto one = exact_knn(X, 15, Metric::euclidean, 1);
    const auto two = exact_knn(X, 15, Metric::euclidean, 2);
    const auto five = exact_knn(X, 15, Metric::euclidean, 5);
    EXPECT_TRUE(one.indices == two.indices && one.indices == five.indices);
    EXPECT_TRUE(one.distances == two.distances && one.distances == five.distances);
}

TEST(ExactKnn, DuplicatesTieByIndexAndSelfIsExcluded) {
    Eigen::MatrixXd X = Eigen::MatrixXd::Zero(6, 3);  // all points identical
    const auto g = exact_knn(X, 5, Metric::euclidean, 1);
    for (int i = 0; i < 6; ++i) {
        std::vector<int> expected;
        for (int j = 0; j < 6; ++j)
            if (j != i) expected.push_back(j);
        for (int c = 0; c < 5; ++c) {
            EXPECT_EQ(g.indices(i, c), expected[c]);
            EXPECT_EQ(g.distances(i, c), 0.f);
        }
    }
}

TEST(ExactKnn, ZeroRowIsAtCosineDistanceOne) {
    Eigen::MatrixXd X(3, 2);
    X << 0, 0, 1, 0, 0, 2;
    const auto g = exact_knn(X, 2, Metric::cosine, 1);
    EXPECT_FLOAT_EQ(g.distances(0, 0), 1.f);
    EXPECT_FLOAT_EQ(g.distances(0, 1), 1.f);
    EXPECT_FLOAT_EQ(g.distances(1, 0), 1.f);  // orthogonal and zero rows both at 1
}

TEST(KnnQuery, MatchesOracleAndFindsItselfAtZero) {
    const auto R = random_points(900, 12, 5);
    Eigen::MatrixXd Q = random_points(150, 12, 6);
    Q.row(7) = R.row(33);
    const auto g = knn_query(R, Q, 15, Metric::euclidean, 2);
    expect_matches_oracle(g, oracle(R, Q, false, Metric::euclidean), 15);
    EXPECT_EQ(g.indices(7, 0), 33);
    EXPECT_EQ(g.distances(7, 0), 0.f);
}

TEST(KnnRecall, CountsSharedNeighbours) {
    KnnGraph exact, approx;
    exact.indices.resize(2, 2);
    exact.indices << 1, 2, 0, 2;
    approx.indices.resize(2, 2);
    approx.indices << 2, 3, 2, 0;
    EXPECT_DOUBLE_EQ(knn_recall(approx, exact), 0.75);
    EXPECT_DOUBLE_EQ(knn_recall(exact, exact), 1.0);
}

TEST(KnnGraph, ExactMethodEqualsExactKnn) {
    const auto X = random_points(500, 10, 7);
    KnnOptions options;
    options.method = KnnOptions::Method::exact;
    options.threads = 2;
    const auto g = knn_graph(X, options);
    const auto e = exact_knn(X, 15, Metric::euclidean, 1);
    EXPECT_TRUE(g.indices == e.indices);
}

TEST(ExactKnn, RejectsBadInput) {
    const auto X = random_points(10, 3, 8);
    EXPECT_THROW(exact_knn(X, 0), tagmap::InvalidArgument);
    EXPECT_THROW(exact_knn(X, 10), tagmap::InvalidArgument);  // only 9 others
    EXPECT_NO_THROW(exact_knn(X, 9));
    Eigen::MatrixXd bad = X;
    bad(4, 1) = std::nan("");
    EXPECT_THROW(exact_knn(bad, 3), tagmap::InvalidArgument);
    EXPECT_THROW(exact_knn(Eigen::MatrixXd(0, 3), 1), tagmap::InvalidArgument);
    EXPECT_THROW(knn_query(X, random_points(4, 5, 9), 3), tagmap::InvalidArgument);
    EXPECT_THROW(exact_knn(X, 3, Metric::euclidean, -1), tagmap::InvalidArgument);
}

TEST(ExactKnn, ANonFiniteValueIsReportedAtItsOwnRow) {
    // Issue 17: the NaN column mean used for centring made every row non-finite ("row 0").
    Eigen::MatrixXf X = Eigen::MatrixXf::Random(50, 4);
    X(3, 2) = std::numeric_limits<float>::quiet_NaN();
    for (Metric metric : {Metric::euclidean, Metric::cosine}) {
        try {
            (void)exact_knn(X, 5, metric, 1);
            ADD_FAILURE() << "no exception for " << metric_name(metric);
        } catch (const tagmap::InvalidArgument& e) {
            EXPECT_NE(std::string(e.what()).find("row 3 "), std::string::npos) << e.what();
        }
    }
    X(3, 2) = 0;
    X(40, 0) = std::numeric_limits<float>::infinity();
    try {
        (void)exact_knn(X, 5, Metric::euclidean, 1);
        ADD_FAILURE() << "no exception";
    } catch (const tagmap::InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("row 40 "), std::string::npos) << e.what();
    }
}
