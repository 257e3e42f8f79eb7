// Where t-SNE's time goes, phase by phase, on a raw float32 matrix (issue 17's 3D timing):
//   tsne_phases IN.f32 N D [--dims 2|3] [--threads T] [--seed S]
// Prints the set-up phases (PCA, candidate kNN, re-ranking, affinities), then the stepped
// optimisation in 50-iteration slices (Tsne::initialize + run(50)) with seconds per iteration,
// and, for the FFT gradient, the grid the repulsion uses on the map at that point.
#include <Eigen/Core>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <string>

#include "tagmap/project/tsne.hpp"

namespace tp = tagmap::project;
using Clock = std::chrono::steady_clock;

// Wall and process CPU seconds (all threads) since a mark: on a machine shared with other
// work the CPU seconds are the steadier figure.
struct Mark {
    Clock::time_point wall = Clock::now();
    std::clock_t cpu = std::clock();
};
static double since(const Mark& m) {
    return std::chrono::duration<double>(Clock::now() - m.wall).count();
}
static double cpu_since(const Mark& m) {
    return double(std::clock() - m.cpu) / CLOCKS_PER_SEC;
}

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr,
                     "usage: tsne_phases IN.f32 N D [--dims 2|3] [--threads T] [--seed S]\n");
        return 2;
    }
    const long n = std::atol(argv[2]), d = std::atol(argv[3]);
    tp::TsneOptions o;
    for (int a = 4; a + 1 < argc; a += 2) {
        const std::string key = argv[a];
        if (key == "--dims") o.dims = std::atoi(argv[a + 1]);
        if (key == "--threads") o.threads = std::atoi(argv[a + 1]);
        if (key == "--seed") o.seed = std::strtoull(argv[a + 1], nullptr, 10);
    }
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> X(n, d);
    std::ifstream in(argv[1], std::ios::binary);
    if (!in.read(reinterpret_cast<char*>(X.data()), std::streamsize(sizeof(float) * n * d))) {
        std::fprintf(stderr, "cannot read %ld x %ld floats\n", n, d);
        return 1;
    }
    // The set-up phases, as tsne_detail::prepare runs them.
    const int k = tp::tsne_neighbours_for(o.perplexity, int(n));
    Mark t;
    const Eigen::MatrixXd reduced = tp::pca_scores(X, o.pca_dims, o.seed, o.threads);
    std::printf("pca to %d: %.2f s (cpu %.2f s)\n", o.pca_dims, since(t), cpu_since(t));
    t = Mark();
    const auto order = tp::tsne_detail::locality_order(reduced);
    std::printf("locality order: %.2f s (cpu %.2f s)\n", since(t), cpu_since(t));
    t = Mark();
    const int searched = int(std::ceil(k * o.rerank_factor));
    const tp::KnnGraph candidates = tp::tsne_detail::knn_for_tsne(reduced, searched, o);
    std::printf("kNN (k = %d candidates, %s): %.2f s (cpu %.2f s)\n", searched,
                n >= tp::KnnSearch::kExactBelow ? "NN-descent" : "exact", since(t), cpu_since(t));
    t = Mark();
    const tp::KnnGraph graph =
        tp::tsne_detail::rerank_by_input_distance(X, candidates, k, o.threads, order);
    std::printf("re-rank to k = %d in %ld-D: %.2f s (cpu %.2f s)\n", k, d, since(t), cpu_since(t));
    t = Mark();
    const tp::TsneAffinities P = tp::tsne_affinities(graph, o.perplexity, o.threads);
    std::printf("affinities (nnz %zu): %.2f s (cpu %.2f s)\n", P.nnz(), since(t), cpu_since(t));

    // The whole optimisation, stepped, from the same start tsne_fit uses.
    t = Mark();
    auto status = tp::Tsne<float>::initialize(X, o);
    std::printf("initialize (all of the above again, in one): %.2f s (cpu %.2f s), gradient %s\n",
                since(t), cpu_since(t), tp::gradient_name(status.gradient()));
    double total = 0, total_cpu = 0;
    while (!status.done()) {
        t = Mark();
        status.run(50);
        const double s = since(t), cpu = cpu_since(t);
        total += s;
        total_cpu += cpu;
        const Eigen::MatrixXd Y = status.embedding().cast<double>();
        const double extent = (Y.colwise().maxCoeff() - Y.colwise().minCoeff()).maxCoeff();
        std::printf("iterations %3d: %.3f s/iter (cpu %.3f), map extent %.1f", status.iteration(),
                    s / 50, cpu / 50, extent);
        if (status.gradient() == tp::TsneOptions::Gradient::fft) {
            const tp::tsne_detail::RowMatrixD y = Y;
            std::vector<double> rep(std::size_t(Y.size()));
            auto probe = [&](auto fft) {
                fft(y.data(), std::size_t(Y.rows()), rep.data(), o.threads);
                std::printf(", grid %d^%d spacing %.3f near radius %.2f", fft.nodes(), o.dims,
                            fft.spacing(), fft.near_radius());
            };
            if (o.dims == 2)
                probe(tp::tsne_detail::FftRepulsion<2>());
            else
                probe(tp::tsne_detail::FftRepulsion<3>());
        }
        std::printf("\n");
        std::fflush(stdout);
    }
    std::printf("optimisation: %.2f s (cpu %.2f s), KL %.4f\n", total, total_cpu, status.kl());
    return 0;
}
