// UMAP step by step (Umap::initialize -> UmapStatus): any split of run() calls gives the bits
// of one fit() at any thread count, the epoch bookkeeping, the progress callback across
// calls, and the precomputed-kNN-graph entry (equal to fit() on the same graph, wider graphs
// cut to n_neighbors - 1 columns, malformed graphs rejected).
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <vector>

#include "tagmap/project/umap.hpp"
#include "umap_test_util.hpp"

namespace {

using tagmap::InvalidArgument;
using tagmap::project::KnnGraph;
using tagmap::project::Umap;
using tagmap::project::UmapOptions;

UmapOptions small_options(int threads) {
    UmapOptions o;
    o.n_epochs = 60;
    o.threads = threads;
    o.seed = 7;
    return o;
}

const Eigen::MatrixXf& points() {
    static const auto data = tagmap::test::gaussian_clusters(600, 4, 8, 6.0, 11);
    return data.points;
}

TEST(UmapStatus, AnySplitOfRunCallsGivesTheBitsOfOneFit) {
    for (int threads : {1, 2}) {
        const Eigen::MatrixXf whole =
            Umap<float>::fit(points(), small_options(threads)).embedding();
        auto status = Umap<float>::initialize(points(), small_options(threads));
        EXPECT_EQ(status.epoch(), 0);
        EXPECT_EQ(status.n_epochs(), 60);
        EXPECT_FALSE(status.done());
        status.run(0);
        EXPECT_EQ(status.epoch(), 0);
        status.run(7);
        EXPECT_EQ(status.epoch(), 7);
        status.run(13).run(1);
        EXPECT_EQ(status.epoch(), 21);
        status.run(1000);  // clamped to the last epoch
        EXPECT_EQ(status.epoch(), 60);
        EXPECT_TRUE(status.done());
        EXPECT_EQ(status.embedding(), whole) << "threads " << threads;
        status.run();  // nothing left to do
        EXPECT_EQ(status.embedding(), whole);
        EXPECT_EQ(std::move(status).map().embedding(), whole);
    }
    // and the same bits at 1 and 2 threads
    EXPECT_EQ(Umap<float>::fit(points(), small_options(1)).embedding(),
              Umap<float>::fit(points(), small_options(2)).embedding());
}

TEST(UmapStatus, EmbeddingMovesBetweenRunsAndTransformWorksMidway) {
    auto status = Umap<float>::initialize(points(), small_options(2));
    const Eigen::MatrixXf start = status.embedding();
    ASSERT_EQ(start.rows(), points().rows());
    ASSERT_EQ(start.cols(), 2);
    status.run(20);
    const Eigen::MatrixXf middle = status.embedding();
    EXPECT_GT((middle - start).norm(), 0.0);
    const auto partial = status.map();  // a copy of the map at epoch 20
    EXPECT_EQ(partial.embedding(), middle);
    EXPECT_EQ(partial.transform(points().topRows(5)).rows(), 5);
    status.run();
    EXPECT_GT((status.embedding() - middle).norm(), 0.0);
    EXPECT_EQ(partial.embedding(), middle);  // the copy did not move
}

TEST(UmapStatus, ProgressIsCalledOncePerEpochAcrossRunCalls) {
    UmapOptions o = small_options(2);
    std::vector<int> seen;
    o.progress = [&](int epoch, int total) {
        EXPECT_EQ(total, 60);
        seen.push_back(epoch);
    };
    auto status = Umap<float>::initialize(points(), o);
    status.run(25);
    ASSERT_EQ(seen.size(), 25u);
    status.run();
    ASSERT_EQ(seen.size(), 60u);
    for (int i = 0; i < 60; ++i) EXPECT_EQ(seen[std::size_t(i)], i + 1);
    EXPECT_THROW(status.run(-1), InvalidArgument);
}

TEST(UmapStatus, PrecomputedGraphGivesTheBitsOfFit) {
    const UmapOptions o = small_options(2);
    tagmap::project::KnnOptions knn;
    knn.k = o.n_neighbors - 1;
    knn.seed = o.seed;
    const KnnGraph graph = tagmap::project::knn_graph(points(), knn);
    const Eigen::MatrixXf direct = Umap<float>::fit(points(), o).embedding();
    EXPECT_EQ(Umap<float>::fit(points(), graph, o).embedding(), direct);
    // A wider graph (e.g. t-SNE's) is cut to its first n_neighbors - 1 columns.
    knn.k = 40;
    const KnnGraph wide = tagmap::project::knn_graph(points(), knn);
    EXPECT_EQ(Umap<float>::initialize(points(), wide, o).run().embedding(), direct);
}

TEST(UmapStatus, MalformedGraphsAreRejected) {
    const UmapOptions o = small_options(1);
    tagmap::project::KnnOptions knn;
    knn.k = o.n_neighbors - 1;
    const KnnGraph graph = tagmap::project::knn_graph(points(), knn);
    KnnGraph narrow;  // too few neighbours
    narrow.indices = graph.indices.leftCols(5);
    narrow.distances = graph.distances.leftCols(5);
    EXPECT_THROW(Umap<float>::initialize(points(), narrow, o), InvalidArgument);
    EXPECT_THROW(Umap<float>::initialize(points().topRows(500), graph, o), InvalidArgument);
    KnnGraph bad = graph;
    bad.indices(3, 2) = int(points().rows());  // out of range
    EXPECT_THROW(Umap<float>::initialize(points(), bad, o), InvalidArgument);
    bad = graph;
    bad.indices(4, 0) = 4;  // itself
    EXPECT_THROW(Umap<float>::initialize(points(), bad, o), InvalidArgument);
    bad = graph;
    bad.distances(5, 1) = std::numeric_limits<float>::quiet_NaN();
    EXPECT_THROW(Umap<float>::initialize(points(), bad, o), InvalidArgument);
}

TEST(UmapStatus, UnsetEpochsAreAutomaticAndZeroIsRejected) {
    UmapOptions o;
    EXPECT_EQ(o.epochs_for(10000), 500);
    EXPECT_EQ(o.epochs_for(10001), 200);
    o.n_epochs = 0;
    EXPECT_THROW(Umap<float>::initialize(points(), o), InvalidArgument);
}

}  // namespace
