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
