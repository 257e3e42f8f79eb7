// A map of an Eigen matrix: one kNN graph, both UMAP and t-SNE from it, each stepped with a
// printed progress (what an animated map page does), and a new point placed on each map.
//   map_matrix [N]      (N points in 6 clusters of 20 dimensions; default 2000)
#include <cstdio>
#include <cstdlib>

#include <Eigen/Core>
#include <tagmap/core/random.hpp>
#include <tagmap/project/knn.hpp>
#include <tagmap/project/tsne.hpp>
#include <tagmap/project/umap.hpp>

namespace tp = tagmap::project;

int main(int argc, char** argv) {
    const int n = argc > 1 ? std::atoi(argv[1]) : 2000, dims = 20, clusters = 6;
    tagmap::Rng rng(1);
    Eigen::MatrixXf centres =
        Eigen::MatrixXf::NullaryExpr(clusters, dims, [&] { return float(8 * rng.normal()); });
    Eigen::MatrixXf X(n, dims);
    for (int i = 0; i < n; ++i)
        for (int d = 0; d < dims; ++d) X(i, d) = centres(i % clusters, d) + float(rng.normal());

    // One graph, wide enough for t-SNE's perplexity 30 (k = 91); UMAP uses its first 14.
    tp::KnnOptions knn;
    knn.k = tp::tsne_neighbours_for(30, n);
    const tp::KnnGraph graph = tp::knn_graph(X, knn);
    std::printf("kNN graph: %d points x %d neighbours\n", graph.size(), graph.k());

    tp::UmapOptions umap_options;
    auto umap = tp::Umap<float>::initialize(X, graph, umap_options);
    while (!umap.done()) {
        umap.run(100);  // draw umap.embedding() here
        std::printf("UMAP epoch %d / %d\n", umap.epoch(), umap.n_epochs());
    }

    tp::TsneOptions tsne_options;
    auto tsne = tp::Tsne<float>::initialize(X, graph, tsne_options);
    while (!tsne.done()) {
        tsne.run(250);
        std::printf("t-SNE iteration %d / %d  KL %.3f\n", tsne.iteration(), tsne.n_iter(),
                    tsne.kl());
    }

    // A new point near cluster 0's centre lands near cluster 0 on both maps.
    const Eigen::MatrixXf fresh = centres.row(0);
    const auto umap_map = std::move(umap).map();
    const auto tsne_map = std::move(tsne).map();
    const Eigen::MatrixXf u = umap_map.transform(fresh), t = tsne_map.transform(fresh);
    std::printf("new point: UMAP (%.2f, %.2f), t-SNE (%.2f, %.2f)\n", u(0, 0), u(0, 1), t(0, 0),
                t(0, 1));
    std::printf("a cluster-0 point: UMAP (%.2f, %.2f), t-SNE (%.2f, %.2f)\n",
                umap_map.embedding()(0, 0), umap_map.embedding()(0, 1), tsne_map.embedding()(0, 0),
                tsne_map.embedding()(0, 1));
    return 0;
}
