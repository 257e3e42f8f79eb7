// Quality metrics and exact kNN against scikit-learn golden values
// (tools/make_knn_fixtures.py -> tests/data/knn), plus properties the definitions imply.
#include <gtest/gtest.h>

#include <Eigen/Core>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "tagmap/project/knn/knn.hpp"
#include "tagmap/project/metrics/metrics.hpp"
#include "tagmap/core/random.hpp"

using namespace tagmap;
using namespace tagmap::project;
using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

namespace {

constexpr int kPoints = 240;

template <class T>
std::vector<T> read_binary(const std::string& name, std::size_t count) {
    const auto path = tagmap::test::test_data_dir() / "knn" / name;
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in) << "missing fixture " << path;
    std::vector<T> values(count);
    in.read(reinterpret_cast<char*>(values.data()), std::streamsize(count * sizeof(T)));
    EXPECT_EQ(in.gcount(), std::streamsize(count * sizeof(T))) << path;
    return values;
}

RowMatrixF read_matrix(const std::string& name, int cols) {
    const auto values = read_binary<float>(name, std::size_t(kPoints) * cols);
    return Eigen::Map<const RowMatrixF>(values.data(), kPoints, cols);
}

std::map<std::string, double> expected() {
    std::ifstream in(tagmap::test::test_data_dir() / "knn" / "expected.txt");
    std::map<std::string, double> values;
    std::string name;
    double value;
    while (in >> name >> value) values[name] = value;
    return values;
}

class SklearnGolden : public ::testing::Test {
  protected:
    RowMatrixF high = read_matrix("high.f32", 20);
    RowMatrixF low = read_matrix("low.f32", 2);
    std::vector<int> labels = read_binary<int>("labels.i32", kPoints);
    std::map<std::string, double> want = expected();
};

}  // namespace

TEST_F(SklearnGolden, ExactKnnMatchesNearestNeighbors) {
    for (auto [metric, file] : {std::pair{Metric::euclidean, "nn_euclidean.i32"},
                                std::pair{Metric::cosine, "nn_cosine.i32"}}) {
        const auto truth = read_binary<int>(file, kPoints * 10);
        const auto g = exact_knn(high, 10, metric, 2);
        int mismatches = 0;
        for (int i = 0; i < kPoints; ++i)
            for (int c = 0; c < 10; ++c) mismatches += g.indices(i, c) != truth[i * 10 + c];
        EXPECT_EQ(mismatches, 0) << metric_name(metric);
    }
}

TEST_F(SklearnGolden, Trustworthiness) {
    ASSERT_EQ(want.size(), 9u);
    for (int k : {5, 10, 15})
        EXPECT_NEAR(trustworthiness(high, low, k, 2),
                    want.at("trustworthiness_k" + std::to_string(k)), 1e-9)
            << "k = " << k;
}

TEST_F(SklearnGolden, KnnPreservation) {
    EXPECT_NEAR(knn_preservation(high, low, 10, 2), want.at("preservation_k10"), 1e-12);
    EXPECT_NEAR(knn_preservation(high, low, 15, 2), want.at("preservation_k15"), 1e-12);
}

TEST_F(SklearnGolden, KnnAccuracy) {
    const std::span<const int> all(labels);
    for (int k : {5, 10})
        EXPECT_NEAR(knn_accuracy(low.topRows(180), all.first(180), low.bottomRows(60),
                                 all.subspan(180), k, 2),
                    want.at("accuracy_low_k" + std::to_string(k)), 1e-12);
    EXPECT_NEAR(knn_accuracy_loo(low, all, 10, 2), want.at("accuracy_loo_low_k10"), 1e-12);
    EXPECT_NEAR(knn_accuracy_loo(high, all, 10, 2), want.at("accuracy_loo_high_k10"), 1e-12);
}

TEST_F(SklearnGolden, PerfectEmbeddingScoresOne) {
    EXPECT_NEAR(trustworthiness(high, high, 10, 1), 1.0, 1e-12);
    EXPECT_DOUBLE_EQ(knn_preservation(high, high, 15, 1), 1.0);
    // Scaling and translating the map changes no neighbourhood.
    const RowMatrixF moved = (3.0f * high).rowwise() + Eigen::RowVectorXf::Constant(20, 7.f);
    EXPECT_NEAR(trustworthiness(high, moved, 10, 2), 1.0, 1e-12);
}

TEST_F(SklearnGolden, SampledPreservationIsSeededAndClose) {
    const double full = knn_preservation(high, low, 15, 2);
    const double a = knn_preservation(high, low, 15, 1, 120, 7);
    const double b = knn_preservation(high, low, 15, 2, 120, 7);
    EXPECT_EQ(a, b);
    EXPECT_NEAR(a, full, 0.08);
    EXPECT_EQ(knn_preservation(high, low, 15, 2, 1000), full);  // sample >= n: all points
}

TEST_F(SklearnGolden, ResultsDoNotDependOnThreads) {
    EXPECT_EQ(trustworthiness(high, low, 10, 1), trustworthiness(high, low, 10, 3));
    EXPECT_EQ(knn_preservation(high, low, 15, 1), knn_preservation(high, low, 15, 3));
}

TEST(Metrics, RejectBadArguments) {
    const Eigen::MatrixXd a = Eigen::MatrixXd::Random(20, 3);
    const Eigen::MatrixXd b = Eigen::MatrixXd::Random(19, 2);
    EXPECT_THROW(trustworthiness(a, b), tagmap::InvalidArgument);
    EXPECT_THROW(trustworthiness(a, a, 10), tagmap::InvalidArgument);  // k >= n / 2
    EXPECT_THROW(knn_preservation(a, a, 15, 0, -1), tagmap::InvalidArgument);
    const std::vector<int> labels(20, 0);
    EXPECT_THROW(knn_accuracy_loo(b, labels), tagmap::InvalidArgument);
    EXPECT_THROW(knn_accuracy(a, labels, a.topRows(5), std::span(labels).first(4)),
                 tagmap::InvalidArgument);
}
