// UMAP API behaviour: options validation, typed errors, shapes, float/double inputs,
// progress reports and bitwise determinism across thread counts (fit and transform).
#include <gtest/gtest.h>

#include <cstring>

#include "tagmap/project/umap/umap.hpp"
#include "umap_test_util.hpp"

namespace tp = tagmap::project;

namespace {

bool bitwise_equal(const Eigen::MatrixXf& a, const Eigen::MatrixXf& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() &&
           std::memcmp(a.data(), b.data(), sizeof(float) * std::size_t(a.size())) == 0;
}

}  // namespace

TEST(UmapApi, SameSeedSameBitsWithOneAndTwoThreads) {
    // 1,300 points: six SGD blocks, so two threads really interleave them.
    const auto data = tagmap::test::gaussian_clusters(1300, 5, 20, 1.0, 11);
    tp::UmapOptions options;
    options.n_epochs = 60;
    options.seed = 123;
    options.threads = 1;
    const auto one = tp::Umap<float>::fit(data.points, options);
    options.threads = 2;
    const auto two = tp::Umap<float>::fit(data.points, options);
    EXPECT_TRUE(bitwise_equal(one.embedding(), two.embedding()));
    ASSERT_TRUE(one.embedding().allFinite());

    const auto fresh = tagmap::test::gaussian_clusters(300, 5, 20, 1.0, 11);  // same centres
    EXPECT_TRUE(bitwise_equal(one.transform(fresh.points), two.transform(fresh.points)));

    options.seed = 124;
    const auto other_seed = tp::Umap<float>::fit(data.points, options);
    EXPECT_FALSE(bitwise_equal(one.embedding(), other_seed.embedding()));
}

TEST(UmapApi, ShapesIn2DAnd3DAndFloatDoubleAgree) {
    const auto data = tagmap::test::gaussian_clusters(300, 3, 8, 3.0, 5);
    tp::UmapOptions options;
    options.n_epochs = 50;
    options.threads = 2;
    for (int dims : {2, 3, 4}) {
        options.dims = dims;
        const Eigen::MatrixXf yf = tp::umap(data.points, options);
        ASSERT_EQ(yf.rows(), 300);
        ASSERT_EQ(yf.cols(), dims);
        EXPECT_TRUE(yf.allFinite());
        // double input goes through the same float pipeline: same map, double output
        const Eigen::MatrixXd X = data.points.cast<double>();
        const Eigen::MatrixXd yd = tp::umap(X, options);
        EXPECT_TRUE(bitwise_equal(yf, yd.cast<float>())) << "dims " << dims;
    }
}

TEST(UmapApi, ProgressReportsEveryEpoch) {
    const auto data = tagmap::test::gaussian_clusters(200, 2, 5, 3.0, 5);
    tp::UmapOptions options;
    options.n_epochs = 37;
    std::vector<int> seen;
    options.progress = [&](int epoch, int total) {
        EXPECT_EQ(total, 37);
        seen.push_back(epoch);
    };
    (void)tp::umap(data.points, options);
    ASSERT_EQ(seen.size(), 37u);
    EXPECT_EQ(seen.front(), 1);
    EXPECT_EQ(seen.back(), 37);
}

TEST(UmapApi, BadOptionsAndInputsThrowTypedErrors) {
    const auto data = tagmap::test::gaussian_clusters(50, 2, 4, 3.0, 5);
    auto fit_with = [&](auto change) {
        tp::UmapOptions o;
        change(o);
        return tp::umap(data.points, o);
    };
    EXPECT_THROW(fit_with([](auto& o) { o.dims = 0; }), tagmap::InvalidArgument);
    EXPECT_THROW(fit_with([](auto& o) { o.n_neighbors = 1; }), tagmap::InvalidArgument);
    EXPECT_THROW(fit_with([](auto& o) { o.min_dist = 2.0; }), tagmap::InvalidArgument);
    EXPECT_THROW(fit_with([](auto& o) { o.n_epochs = -1; }), tagmap::InvalidArgument);
    EXPECT_THROW(fit_with([](auto& o) { o.learning_rate = 0; }), tagmap::InvalidArgument);
    EXPECT_THROW(fit_with([](auto& o) { o.threads = -2; }), tagmap::InvalidArgument);

    Eigen::MatrixXf bad = data.points;
    bad(7, 2) = std::numeric_limits<float>::quiet_NaN();
    EXPECT_THROW(tp::umap(bad, {}), tagmap::InvalidArgument);
    EXPECT_THROW(tp::umap(Eigen::MatrixXf(1, 4), {}), tagmap::InvalidArgument);
    EXPECT_THROW(tp::umap(Eigen::MatrixXf(0, 4), {}), tagmap::InvalidArgument);

    tp::UmapOptions o;
    o.n_epochs = 20;
    const auto model = tp::Umap<float>::fit(data.points, o);
    EXPECT_THROW((void)model.transform(Eigen::MatrixXf::Zero(3, 5)), tagmap::InvalidArgument);
    EXPECT_EQ(model.transform(Eigen::MatrixXf(0, 4)).rows(), 0);
}

TEST(UmapApi, FewerPointsThanNeighboursStillWork) {
    const auto data = tagmap::test::gaussian_clusters(6, 2, 3, 3.0, 5);
    tp::UmapOptions o;
    o.n_epochs = 30;
    const Eigen::MatrixXf y = tp::umap(data.points, o);
    ASSERT_EQ(y.rows(), 6);
    EXPECT_TRUE(y.allFinite());
}

TEST(UmapApi, DuplicatePointsGiveFiniteMap) {
    Eigen::MatrixXf X = Eigen::MatrixXf::Zero(100, 3);
    X.bottomRows(50).setConstant(1.0f);
    tp::UmapOptions o;
    o.n_epochs = 30;
    const auto model = tp::Umap<float>::fit(X, o);
    EXPECT_TRUE(model.embedding().allFinite());
    EXPECT_TRUE(model.transform(X.topRows(3)).allFinite());
}

TEST(UmapApi, NoNegativeSamplingStillFinite) {
    const auto data = tagmap::test::gaussian_clusters(200, 2, 5, 3.0, 5);
    tp::UmapOptions o;
    o.n_epochs = 20;
    o.negative_sample_rate = 0;
    EXPECT_TRUE(tp::umap(data.points, o).allFinite());
}

TEST(UmapApi, FromEmbeddingTransformsLikeTheFittedModel) {
    // A cached map restored from its points and coordinates must place new points exactly
    // as the model that produced it (the library's --place-new relies on it).
    const auto data = tagmap::test::gaussian_clusters(400, 4, 12, 1.0, 5);
    tp::UmapOptions options;
    options.n_epochs = 50;
    options.seed = 9;
    const auto fitted = tp::Umap<float>::fit(data.points, options);
    const Eigen::MatrixXd stored = fitted.embedding().cast<double>();  // as the DB keeps it
    const auto restored = tp::Umap<float>::from_embedding(data.points, stored, options);
    EXPECT_TRUE(bitwise_equal(restored.embedding(), fitted.embedding()));
    const auto fresh = tagmap::test::gaussian_clusters(60, 4, 12, 1.0, 5);
    EXPECT_TRUE(bitwise_equal(restored.transform(fresh.points), fitted.transform(fresh.points)));
    EXPECT_THROW((void)tp::Umap<float>::from_embedding(data.points, stored.topRows(10), options),
                 tagmap::InvalidArgument);
    options.dims = 3;
    EXPECT_THROW((void)tp::Umap<float>::from_embedding(data.points, stored, options),
                 tagmap::InvalidArgument);
}
