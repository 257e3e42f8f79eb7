// End-to-end t-SNE on seeded synthetic clusters: quality, agreement of the three gradient
// methods, determinism across thread counts, progress reporting and input validation.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <vector>

#include "tagmap/project/metrics/metrics.hpp"
#include "tagmap/project/tsne/tsne.hpp"
#include "tsne_test_support.hpp"

using namespace tagmap;
using namespace tagmap::project;
using Gradient = TsneOptions::Gradient;

namespace {

// 10 well-separated Gaussian clusters in 50-D, 60 points each.
const tagmap::test::Clusters& clusters() {
    static const auto data = tagmap::test::make_clusters(10, 60, 50, 3.0, 11);
    return data;
}

// KL(P || Q) of an embedding, computed exactly on the affinities tsne_fit uses.
double exact_kl(const Eigen::MatrixXf& X, const Eigen::MatrixXd& Y, double perplexity) {
    const int k = tsne_neighbours_for(perplexity, static_cast<int>(X.rows()));
    const auto P = tsne_affinities(exact_knn(X, k), perplexity, 0);
    return tsne_gradient(P, Y, Gradient::exact).kl;
}

template <class M>
bool bitwise_equal(const M& a, const M& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() &&
           std::memcmp(a.data(), b.data(), sizeof(typename M::Scalar) * a.size()) == 0;
}

}  // namespace

class TsneMethods : public ::testing::TestWithParam<int> {};

// Done-when of the issue: BH and FFT runs end within 2 % of the exact run's KL, and the map
// separates the clusters (10NN accuracy >= 0.95), in 2D and 3D.
TEST_P(TsneMethods, ApproximationsReachTheExactRunsKlAndSeparateClusters) {
    const int dims = GetParam();
    const auto& data = clusters();
    double kl[3] = {};
    const Gradient methods[3] = {Gradient::exact, Gradient::barnes_hut, Gradient::fft};
    for (int m = 0; m < 3; ++m) {
        TsneOptions o;
        o.dims = dims;
        o.gradient = methods[m];
        const auto fit = tsne_fit(data.points, o);
        ASSERT_EQ(fit.embedding.rows(), data.points.rows());
        ASSERT_EQ(fit.embedding.cols(), dims);
        ASSERT_TRUE(fit.embedding.allFinite());
        EXPECT_EQ(fit.gradient, methods[m]);
        const Eigen::MatrixXd Y = fit.embedding.cast<double>();
        kl[m] = exact_kl(data.points, Y, o.perplexity);
        const double accuracy = knn_accuracy_loo(fit.embedding, data.labels, 10);
        EXPECT_GE(accuracy, 0.95) << gradient_name(methods[m]) << " " << dims << "D";
        // The reported KL uses the method's own Z: close to the exact value.
        EXPECT_NEAR(fit.kl, kl[m], 0.02 * kl[m]) << gradient_name(methods[m]);
        std::printf("%dD %-10s KL %.4f  10NN accuracy %.3f\n", dims, gradient_name(methods[m]),
                    kl[m], accuracy);
    }
    EXPECT_NEAR(kl[1], kl[0], 0.02 * kl[0]) << "Barnes-Hut vs exact, " << dims << "D";
    EXPECT_NEAR(kl[2], kl[0], 0.02 * kl[0]) << "FFT vs exact, " << dims << "D";
}

INSTANTIATE_TEST_SUITE_P(Dims, TsneMethods, ::testing::Values(2, 3));

TEST(Tsne, BitwiseIdenticalAcrossThreadCounts) {
    const auto data = tagmap::test::make_clusters(6, 200, 30, 3.0, 5);
    for (int dims : {2, 3})
        for (Gradient g : {Gradient::barnes_hut, Gradient::fft}) {
            TsneOptions o;
            o.dims = dims;
            o.gradient = g;
            o.n_iter = 80;
            o.exaggeration_iter = 40;
            o.threads = 1;
            const auto one = tsne(data.points, o);
            o.threads = 2;
            const auto two = tsne(data.points, o);
            o.threads = 3;
            const auto three = tsne(data.points, o);
            EXPECT_TRUE(bitwise_equal(one, two)) << gradient_name(g) << " " << dims << "D";
            EXPECT_TRUE(bitwise_equal(one, three)) << gradient_name(g) << " " << dims << "D";
        }
}

TEST(Tsne, SeedChangesOnlyRandomInitialisation) {
    const auto& data = clusters();
    TsneOptions o;
    o.n_iter = 60;
    o.seed = 1;
    const auto pca1 = tsne(data.points, o);
    o.seed = 2;
    const auto pca2 = tsne(data.points, o);
    EXPECT_TRUE(bitwise_equal(pca1, pca2)) << "PCA init with exact kNN does not use the seed";
    o.init = TsneOptions::Init::random;
    const auto random2 = tsne(data.points, o);
    o.seed = 3;
    const auto random3 = tsne(data.points, o);
    EXPECT_FALSE(bitwise_equal(random2, random3));
    EXPECT_TRUE(bitwise_equal(random3, tsne(data.points, o)));
}

TEST(Tsne, InitialisationIsScaledPca) {
    const auto& data = clusters();
    TsneOptions o;
    const Eigen::MatrixXd Y = tsne_initial_embedding(data.points, o);
    const double sd =
        std::sqrt((Y.col(0).array() - Y.col(0).mean()).square().sum() / (Y.rows() - 1));
    EXPECT_NEAR(sd, 1e-4, 1e-12);
    // Same subspace as the top-2 eigenvectors of the covariance (exact reference).
    Eigen::MatrixXd centred = data.points.cast<double>();
    centred.rowwise() -= centred.colwise().mean();
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(centred.transpose() * centred);
    for (int c = 0; c < 2; ++c) {
        const Eigen::VectorXd reference = centred * eig.eigenvectors().col(49 - c);
        const double cosine =
            std::abs(reference.dot(Y.col(c))) / (reference.norm() * Y.col(c).norm());
        EXPECT_GT(cosine, 1 - 1e-6) << "component " << c;
    }
}

TEST(Tsne, AutomaticLearningRateIsNOverExaggerationPerPhase) {
    // 3,000 points, so that N / 12 = 250 and N = 3,000 both clear the floor of 200.
    static const auto data = tagmap::test::make_clusters(10, 300, 20, 3.0, 5);
    const double n = static_cast<double>(data.points.rows());
    TsneOptions o;
    o.threads = 2;
    o.gradient = Gradient::barnes_hut;
    o.n_iter = 20;
    auto with_rate = [&](double rate) {
        TsneOptions fixed = o;
        fixed.learning_rate = rate;
        return tsne(data.points, fixed);
    };
    o.exaggeration_iter = 20;  // exaggerated throughout: N / 12
    EXPECT_TRUE(bitwise_equal(tsne(data.points, o), with_rate(n / 12)));
    EXPECT_FALSE(bitwise_equal(tsne(data.points, o), with_rate(n)));
    o.exaggeration_iter = 0;  // main phase throughout: N
    EXPECT_TRUE(bitwise_equal(tsne(data.points, o), with_rate(n)));
    EXPECT_FALSE(bitwise_equal(tsne(data.points, o), with_rate(n / 12)));
    o.exaggeration = 4;  // the rate follows the exaggeration actually used
    o.exaggeration_iter = 20;
    EXPECT_TRUE(bitwise_equal(tsne(data.points, o), with_rate(n / 4)));
}

TEST(Tsne, ReportsProgressEveryFiftyIterations) {
    const auto& data = clusters();
    TsneOptions o;
    o.n_iter = 420;
    std::vector<int> iters;
    std::vector<double> kls;
    o.progress = [&](int iter, double kl) {
        iters.push_back(iter);
        kls.push_back(kl);
    };
    const auto fit = tsne_fit(data.points, o);
    ASSERT_EQ(iters.size(), 9u);
    for (std::size_t k = 0; k + 1 < iters.size(); ++k) EXPECT_EQ(iters[k], 50 * int(k + 1));
    EXPECT_EQ(iters.back(), 420);
    EXPECT_EQ(kls.back(), fit.kl);
    EXPECT_LT(kls.back(), kls[4]);  // still improving after early exaggeration
}

TEST(Tsne, OutputScalarFollowsInput) {
    const auto& data = clusters();
    TsneOptions o;
    o.n_iter = 50;
    const Eigen::MatrixXd Xd = data.points.cast<double>();
    const Eigen::MatrixXd Yd = tsne(Xd, o);
    const Eigen::MatrixXf Yf = tsne(data.points, o);
    EXPECT_TRUE(Yd.allFinite());
    EXPECT_LT((Yd.cast<float>() - Yf).cwiseAbs().maxCoeff(), 1e-3 * Yf.cwiseAbs().maxCoeff());
}

TEST(Tsne, RejectsBadInput) {
    const auto& data = clusters();
    TsneOptions o;
    o.n_iter = 10;
    Eigen::MatrixXf nan_points = data.points;
    nan_points(17, 3) = std::numeric_limits<float>::quiet_NaN();
    EXPECT_THROW(tsne(nan_points, o), tagmap::InvalidArgument);
    auto bad = o;
    bad.dims = 4;
    EXPECT_THROW(tsne(data.points, bad), tagmap::InvalidArgument);
    bad = o;
    bad.perplexity = 600;
    EXPECT_THROW(tsne(data.points, bad), tagmap::InvalidArgument);
    bad = o;
    bad.threads = -1;
    EXPECT_THROW(tsne(data.points, bad), tagmap::InvalidArgument);
    bad = o;
    bad.learning_rate = -1;
    EXPECT_THROW(tsne(data.points, bad), tagmap::InvalidArgument);
    EXPECT_THROW(tsne(Eigen::MatrixXf(1, 5), o), tagmap::InvalidArgument);
}

TEST(Tsne, DuplicatePointsStayFinite) {
    Eigen::MatrixXf X = Eigen::MatrixXf::Ones(300, 8);
    X.bottomRows(150) *= 2.0f;
    TsneOptions o;
    o.n_iter = 100;
    for (Gradient g : {Gradient::exact, Gradient::barnes_hut, Gradient::fft}) {
        o.gradient = g;
        EXPECT_TRUE(tsne(X, o).allFinite()) << gradient_name(g);
    }
}
