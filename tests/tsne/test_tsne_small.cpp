// A quick run of every gradient method in 2D and 3D on a small set: fast enough for the
// ASan/UBSan build (the larger t-SNE tests are labelled slow), so the tree, the FFT buffers
// and the parallel loops are checked for memory errors there too.
#include <gtest/gtest.h>

#include "tagmap/project/tsne/tsne.hpp"
#include "tsne_test_support.hpp"

using namespace tagmap;
using namespace tagmap::project;
using Gradient = TsneOptions::Gradient;

TEST(TsneSmall, EveryMethodRunsAndKeepsClustersApart) {
    const auto data = tagmap::test::make_clusters(3, 50, 10, 4.0, 21);
    for (int dims : {2, 3})
        for (Gradient g : {Gradient::exact, Gradient::barnes_hut, Gradient::fft}) {
            TsneOptions o;
            o.dims = dims;
            o.gradient = g;
            o.perplexity = 10;
            o.n_iter = 150;
            o.exaggeration_iter = 100;
            o.threads = 2;
            const auto Y = tsne(data.points, o);
            ASSERT_EQ(Y.cols(), dims);
            ASSERT_TRUE(Y.allFinite()) << gradient_name(g);
            // Every point is nearer its own cluster's centroid than any other's.
            Eigen::MatrixXf centroids = Eigen::MatrixXf::Zero(3, dims);
            for (int i = 0; i < Y.rows(); ++i) centroids.row(data.labels[i]) += Y.row(i) / 50.0f;
            int wrong = 0;
            for (int i = 0; i < Y.rows(); ++i) {
                Eigen::Index nearest = 0;
                (centroids.rowwise() - Y.row(i)).rowwise().squaredNorm().minCoeff(&nearest);
                wrong += nearest != data.labels[i];
            }
            EXPECT_EQ(wrong, 0) << gradient_name(g) << " " << dims << "D";
        }
}

// The attractive term's vector kernel (8 lanes with AVX-512, masked row tails, a reciprocal
// estimate refined by Newton steps) against a plain loop, on rows of 0..19 edges; 16-bit
// column indices (the optimiser's copy below 65,536 points) give the same bits as 32-bit.
TEST(TsneSmall, AttractionKernelMatchesPlainLoop) {
    using namespace tagmap::project::tsne_detail;
    constexpr std::size_t n = 40;
    Rng rng(5);
    std::vector<std::int64_t> row_ptr{0};
    std::vector<int> cols;
    std::vector<float> values;
    for (std::size_t i = 0; i < n; ++i) {
        const auto edges = static_cast<int>(i % 20);
        for (int e = 0; e < edges; ++e) {
            cols.push_back(static_cast<int>(rng.below(n)));
            values.push_back(static_cast<float>(rng.uniform()));
        }
        row_ptr.push_back(static_cast<std::int64_t>(cols.size()));
    }
    const std::vector<std::uint16_t> narrow(cols.begin(), cols.end());
    auto check = [&]<int D>(std::integral_constant<int, D>) {
        std::vector<double> y(n * D);
        for (double& v : y) v = 20.0 * (rng.uniform() - 0.5);
        std::vector<double> wide_attr(n * D), narrow_attr(n * D);
        const double wide_log = attraction_csr<D>(n, row_ptr.data(), cols.data(), values.data(),
                                                  y.data(), wide_attr.data(), 3.0, 2, true);
        const double narrow_log = attraction_csr<D>(n, row_ptr.data(), narrow.data(), values.data(),
                                                    y.data(), narrow_attr.data(), 3.0, 2, true);
        EXPECT_EQ(wide_attr, narrow_attr) << D << "D";
        EXPECT_EQ(wide_log, narrow_log) << D << "D";
        double log_w = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
            double force[D] = {};
            for (std::int64_t e = row_ptr[i]; e < row_ptr[i + 1]; ++e) {
                const auto j = static_cast<std::size_t>(cols[static_cast<std::size_t>(e)]);
                double d2 = 0.0;
                for (int c = 0; c < D; ++c)
                    d2 += (y[i * D + c] - y[j * D + c]) * (y[i * D + c] - y[j * D + c]);
                const double p = values[static_cast<std::size_t>(e)];
                for (int c = 0; c < D; ++c)
                    force[c] += p / (1.0 + d2) * (y[i * D + c] - y[j * D + c]);
                log_w -= p * std::log1p(d2);
            }
            for (int c = 0; c < D; ++c)
                EXPECT_NEAR(wide_attr[i * D + c], 3.0 * force[c],
                            1e-12 * (1.0 + std::abs(force[c])))
                    << D << "D row " << i;
        }
        EXPECT_NEAR(wide_log, log_w, 1e-10 * std::abs(log_w)) << D << "D";
    };
    check(std::integral_constant<int, 2>{});
    check(std::integral_constant<int, 3>{});
}
