// Map quality on seeded synthetic labelled data (the acceptance test): 10 Gaussian
// clusters in 200-D, 3,000 points. Metrics from tagmap/project/metrics.hpp (tested against
// scikit-learn by the knn area).
#include <gtest/gtest.h>

#include "tagmap/project/metrics/metrics.hpp"
#include "tagmap/project/umap/umap.hpp"
#include "umap_test_util.hpp"

namespace tp = tagmap::project;

TEST(UmapQuality, TenClustersIn200DAreKeptAndHeldOutPointsLandInTheirCluster) {
    const auto all = tagmap::test::gaussian_clusters(3500, 10, 200, 1.0, 2024);
    const Eigen::MatrixXf train = all.points.topRows(3000);
    const Eigen::MatrixXf held_out = all.points.bottomRows(500);
    const std::vector<int> train_labels(all.labels.begin(), all.labels.begin() + 3000);
    const std::vector<int> test_labels(all.labels.begin() + 3000, all.labels.end());

    tp::UmapOptions options;
    options.threads = 2;
    for (int dims : {2, 3}) {
        SCOPED_TRACE("dims " + std::to_string(dims));
        options.dims = dims;
        const auto model = tp::Umap<float>::fit(train, options);
        const Eigen::MatrixXf& map = model.embedding();
        ASSERT_TRUE(map.allFinite());
        const double trust = tp::trustworthiness(train, map, 10, 2);
        const double accuracy =
            tp::knn_accuracy_loo(map, std::span<const int>(train_labels), 10, 2);
        EXPECT_GE(trust, 0.95);
        EXPECT_GE(accuracy, 0.95);

        const Eigen::MatrixXf placed = model.transform(held_out);
        ASSERT_TRUE(placed.allFinite());
        const double transform_accuracy =
            tp::knn_accuracy(map, std::span<const int>(train_labels), placed,
                             std::span<const int>(test_labels), 10, 2);
        EXPECT_GE(transform_accuracy, 0.9);
        std::printf(
            "dims %d: trustworthiness@10 %.4f, 10NN accuracy %.4f, transform 10NN "
            "accuracy %.4f, init %d\n",
            dims, trust, accuracy, transform_accuracy, int(model.initialisation()));
    }
}
