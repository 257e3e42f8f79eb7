// t-SNE step by step (Tsne::initialize -> TsneStatus) and transform():
//  - any split of run() calls gives the bits of tsne_fit, for the exact, Barnes-Hut and FFT
//    gradients, at 1 and 2 threads; the KL and the progress callback follow the split;
//  - a precomputed kNN graph gives tsne_fit's bits when it is the graph tsne_fit builds
//    (no PCA reduction: D <= pca_dims), wider graphs are cut, malformed ones rejected;
//  - from affinities alone (with or without an initial map);
//  - transform() as openTSNE's: held-out points land among their input-space neighbours'
//    map positions and in their own cluster, a batch equals one-by-one calls bitwise,
//    thread counts do not matter, and a restored map (from_embedding) transforms alike.
#include <gtest/gtest.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <vector>

#include "tagmap/project/tsne.hpp"
#include "tsne_test_support.hpp"

namespace {

using tagmap::InvalidArgument;
using tagmap::project::KnnGraph;
using tagmap::project::Tsne;
using tagmap::project::TsneOptions;

const tagmap::test::Clusters& data() {
    static const auto clusters = tagmap::test::make_clusters(5, 140, 12, 5.0, 3);  // 700 x 12
    return clusters;
}

TsneOptions options(TsneOptions::Gradient g, int threads) {
    TsneOptions o;
    o.gradient = g;
    o.threads = threads;
    o.n_iter = 300;
    o.exaggeration_iter = 100;
    o.seed = 5;
    return o;
}

TEST(TsneStatus, AnySplitOfRunCallsGivesTheBitsOfTsneFit) {
    using G = TsneOptions::Gradient;
    for (G g : {G::exact, G::barnes_hut, G::fft})
        for (int threads : {1, 2}) {
            const TsneOptions o = options(g, threads);
            const auto whole = tagmap::project::tsne_fit(data().points, o);
            auto status = Tsne<float>::initialize(data().points, o);
            EXPECT_EQ(status.gradient(), g);
            EXPECT_EQ(status.iteration(), 0);
            EXPECT_TRUE(std::isnan(status.kl()));
            status.run(60);  // inside the exaggeration phase
            EXPECT_EQ(status.iteration(), 60);
            EXPECT_TRUE(std::isfinite(status.kl()));
            status.run(40).run(200);  // across the phase change, to the end
            EXPECT_TRUE(status.done());
            status.run(5);
            EXPECT_EQ(status.iteration(), 300);
            EXPECT_EQ(status.embedding(), whole.embedding)
                << tagmap::project::gradient_name(g) << ", threads " << threads;
            EXPECT_EQ(status.kl(), whole.kl)
                << tagmap::project::gradient_name(g) << ", threads " << threads;
        }
}

TEST(TsneStatus, ProgressFollowsTheIterationsAcrossCalls) {
    TsneOptions o = options(TsneOptions::Gradient::barnes_hut, 2);
    std::vector<int> seen;
    o.progress = [&](int iter, double kl) {
        EXPECT_TRUE(std::isfinite(kl));
        seen.push_back(iter);
    };
    auto status = Tsne<float>::initialize(data().points, o);
    status.run(75).run(100).run();
    EXPECT_EQ(seen, (std::vector<int>{50, 100, 150, 200, 250, 300}));
    EXPECT_THROW(status.run(-1), InvalidArgument);
}

TEST(TsneStatus, PrecomputedGraphGivesTheBitsOfTsneFit) {
    const TsneOptions o = options(TsneOptions::Gradient::barnes_hut, 2);
    const int n = int(data().points.rows());
    const int k = tagmap::project::tsne_neighbours_for(o.perplexity, n);
    const KnnGraph graph = tagmap::project::exact_knn(data().points, k);
    const auto whole = tagmap::project::tsne_fit(data().points, o);
    EXPECT_EQ(Tsne<float>::initialize(data().points, graph, o).run().embedding(), whole.embedding);
    const KnnGraph wide = tagmap::project::exact_knn(data().points, k + 20);
    EXPECT_EQ(Tsne<float>::initialize(data().points, wide, o).run().embedding(), whole.embedding);
    KnnGraph narrow;
    narrow.indices = graph.indices.leftCols(k - 1);
    narrow.distances = graph.distances.leftCols(k - 1);
    EXPECT_THROW(Tsne<float>::initialize(data().points, narrow, o), InvalidArgument);
    KnnGraph bad = graph;
    bad.indices(2, 3) = -1;
    EXPECT_THROW(Tsne<float>::initialize(data().points, bad, o), InvalidArgument);
}

// Share of points whose map position's 10 nearest other points mostly carry its label.
double neighbour_label_agreement(const Eigen::MatrixXf& Y, const std::vector<int>& labels) {
    const KnnGraph g = tagmap::project::exact_knn(Y, 10);
    int good = 0;
    for (Eigen::Index i = 0; i < Y.rows(); ++i) {
        int same = 0;
        for (int c = 0; c < 10; ++c)
            same += labels[std::size_t(g.indices(i, c))] == labels[std::size_t(i)];
        good += same >= 6;
    }
    return double(good) / double(Y.rows());
}

TEST(TsneStatus, FromAffinitiesAlone) {
    TsneOptions o = options(TsneOptions::Gradient::barnes_hut, 2);
    const auto P = tagmap::project::tsne_input_affinities(data().points, o);
    const Eigen::MatrixXf random_start = Tsne<float>::initialize(P, o).run().embedding();
    EXPECT_GT(neighbour_label_agreement(random_start, data().labels), 0.95);
    o.threads = 1;  // deterministic at any thread count
    EXPECT_EQ(Tsne<float>::initialize(P, o).run().embedding(), random_start);
    const Eigen::MatrixXd init = 1e-4 * Eigen::MatrixXd::Random(P.n, 2);
    auto status = Tsne<float>::initialize(P, init, o);
    EXPECT_EQ(status.embedding(), init.cast<float>());
    status.run();
    EXPECT_GT(neighbour_label_agreement(status.embedding(), data().labels), 0.95);
    EXPECT_THROW(std::move(status).map().transform(data().points.topRows(2)), InvalidArgument);
    EXPECT_THROW(Tsne<float>::initialize(P, Eigen::MatrixXd::Zero(P.n, 3), o), InvalidArgument);
    auto broken = P;
    broken.cols[7] = P.n;
    EXPECT_THROW(Tsne<float>::initialize(broken, o), InvalidArgument);
}

struct Split {
    Eigen::MatrixXf train, held_out;
    std::vector<int> train_labels, held_labels;
};

Split split_every_fifth() {
    Split s;
    std::vector<Eigen::Index> tr, ho;
    for (Eigen::Index i = 0; i < data().points.rows(); ++i) (i % 5 == 2 ? ho : tr).push_back(i);
    s.train.resize(Eigen::Index(tr.size()), data().points.cols());
    s.held_out.resize(Eigen::Index(ho.size()), data().points.cols());
    for (std::size_t r = 0; r < tr.size(); ++r) {
        s.train.row(Eigen::Index(r)) = data().points.row(tr[r]);
        s.train_labels.push_back(data().labels[std::size_t(tr[r])]);
    }
    for (std::size_t r = 0; r < ho.size(); ++r) {
        s.held_out.row(Eigen::Index(r)) = data().points.row(ho[r]);
        s.held_labels.push_back(data().labels[std::size_t(ho[r])]);
    }
    return s;
}

TEST(TsneTransform, HeldOutPointsLandAmongTheirNeighbours) {
    const Split s = split_every_fifth();
    for (int dims : {2, 3}) {
        TsneOptions o = options(TsneOptions::Gradient::automatic, 2);
        o.dims = dims;
        const auto map = Tsne<float>::fit(s.train, o);
        const Eigen::MatrixXf placed = map.transform(s.held_out);
        ASSERT_EQ(placed.rows(), s.held_out.rows());
        ASSERT_EQ(placed.cols(), dims);
        ASSERT_TRUE(placed.allFinite());
        // The 10 nearest training points in the map carry the held-out point's label...
        const KnnGraph in_map = tagmap::project::knn_query(map.embedding(), placed, 10);
        // ... and the point sits closer to its input-space neighbours' positions than the
        // typical distance between two points of the map.
        const KnnGraph in_input = tagmap::project::knn_query(s.train, s.held_out, 10);
        int agree = 0, near = 0;
        double spread = 0;
        for (Eigen::Index i = 0; i < 200; ++i)
            spread += (map.embedding().row(i) - map.embedding().row(i + 200)).norm();
        spread /= 200;
        for (Eigen::Index i = 0; i < placed.rows(); ++i) {
            int same = 0;
            Eigen::RowVectorXf centre = Eigen::RowVectorXf::Zero(dims);
            for (int c = 0; c < 10; ++c) {
                same += s.train_labels[std::size_t(in_map.indices(i, c))] ==
                        s.held_labels[std::size_t(i)];
                centre += map.embedding().row(in_input.indices(i, c)) / 10.0f;
            }
            agree += same >= 8;
            near += (placed.row(i) - centre).norm() < 0.1 * spread;
        }
        EXPECT_GT(double(agree) / placed.rows(), 0.95) << dims << "D";
        EXPECT_GT(double(near) / placed.rows(), 0.9) << dims << "D";
        // The map itself does not move.
        EXPECT_EQ(map.embedding(), Tsne<float>::fit(s.train, o).embedding());
    }
}

TEST(TsneTransform, BatchEqualsOneByOneAndThreadsDoNotMatter) {
    const Split s = split_every_fifth();
    TsneOptions o = options(TsneOptions::Gradient::barnes_hut, 2);
    const auto map = Tsne<float>::fit(s.train, o);
    const Eigen::MatrixXf batch = map.transform(s.held_out);
    for (Eigen::Index i = 0; i < s.held_out.rows(); i += 7)
        EXPECT_EQ(Eigen::MatrixXf(map.transform(s.held_out.row(i))), Eigen::MatrixXf(batch.row(i)))
            << "row " << i;
    o.threads = 1;
    const auto restored = Tsne<float>::from_embedding(s.train, map.embedding(), o);
    EXPECT_EQ(restored.transform(s.held_out), batch);
    EXPECT_EQ(map.transform(s.held_out.topRows(0)).rows(), 0);
    EXPECT_THROW(map.transform(Eigen::MatrixXf::Zero(2, 5)), InvalidArgument);
    EXPECT_THROW(Tsne<float>::from_embedding(s.train, map.embedding().leftCols(1), o),
                 InvalidArgument);
}

TEST(TsneStatus, UnsetLearningRateIsAutomaticAndNonPositiveIsRejected) {
    TsneOptions o = options(TsneOptions::Gradient::exact, 1);
    o.learning_rate = 0.0;
    EXPECT_THROW(Tsne<float>::initialize(data().points, o), InvalidArgument);
    o.learning_rate = 200.0;
    o.n_iter = 20;
    EXPECT_NO_THROW(Tsne<float>::initialize(data().points, o).run());
}

}  // namespace
