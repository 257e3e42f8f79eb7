// Runs tagmap's UMAP on a raw float32 matrix, for bench/umap/fmnist_vs_umaplearn.py --driver
// (the same library call as `tagmap project --method umap`, without building the whole CLI).
//   umap_driver IN.f32 N D OUT.f32 [--dims 2|3] [--threads T] [--seed S] [--n-neighbors K]
//               [--min-dist M] [--epochs E]
//               [--knn-cache FILE]
// Prints one JSON line: seconds (kNN graph, fuzzy graph, initialisation, SGD; file I/O
// excluded) and the process CPU seconds over the same span, plus the wall and CPU seconds of
// each phase (knn: the kNN graph; init: fuzzy graph and spectral layout; sgd: the epochs).
// The phases are the steps of Umap::fit (kNN graph, initialize from it, run), same bits.
// --knn-cache FILE: read the kNN graph from FILE if it exists, else build and write it there
// (for repeated runs of the later phases; the kNN phase then times the read).
#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <string>

#include "tagmap/project/umap.hpp"

int main(int argc, char** argv) {
    using namespace tagmap::project;
    if (argc < 5) {
        std::cerr << "usage: umap_driver IN.f32 N D OUT.f32 [--dims 2|3] [--threads T] "
                     "[--seed S] [--n-neighbors K] [--min-dist M] [--epochs E] "
                     "[--knn-cache FILE]\n";
        return 2;
    }
    const long n = std::atol(argv[2]), d = std::atol(argv[3]);
    UmapOptions o;
    std::string knn_cache;
    for (int a = 5; a + 1 < argc; a += 2) {
        const std::string key = argv[a], value = argv[a + 1];
        if (key == "--dims")
            o.dims = std::stoi(value);
        else if (key == "--threads")
            o.threads = std::stoi(value);
        else if (key == "--seed")
            o.seed = std::stoull(value);
        else if (key == "--n-neighbors")
            o.n_neighbors = std::stoi(value);
        else if (key == "--min-dist")
            o.min_dist = std::stod(value);
        else if (key == "--epochs")
            o.n_epochs = std::stoi(value);
        else if (key == "--knn-cache")
            knn_cache = value;
        else {
            std::cerr << "unknown option " << key << "\n";
            return 2;
        }
    }
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> X(n, d);
    std::ifstream in(argv[1], std::ios::binary);
    if (!in.read(reinterpret_cast<char*>(X.data()),
                 static_cast<std::streamsize>(sizeof(float) * n * d))) {
        std::cerr << "cannot read " << n << " x " << d << " float32 values from " << argv[1]
                  << "\n";
        return 1;
    }
    const auto start = std::chrono::steady_clock::now();
    const std::clock_t cpu_start = std::clock();
    const auto elapsed = [&] {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    const auto cpu = [&] { return double(std::clock() - cpu_start) / CLOCKS_PER_SEC; };
    o.progress = [&](int epoch, int total) {
        if (epoch == 1 || epoch % 100 == 0 || epoch == total)
            std::fprintf(stderr, "epoch %d / %d elapsed %.2f s\n", epoch, total, elapsed());
    };
    // As Umap<float>::initialize(X, o): the kNN graph of X's rows, then the rest from it.
    const KnnOptions knn =
        knn_options(o.knn, int(std::min<long>(o.n_neighbors - 1, n - 1)), o.threads, o.seed);
    KnnGraph graph;
    std::ifstream cached(knn_cache, std::ios::binary);
    if (!knn_cache.empty() && cached) {
        graph.indices.resize(n, knn.k);
        graph.distances.resize(n, knn.k);
        cached.read(reinterpret_cast<char*>(graph.indices.data()),
                    std::streamsize(sizeof(int) * graph.indices.size()));
        cached.read(reinterpret_cast<char*>(graph.distances.data()),
                    std::streamsize(sizeof(float) * graph.distances.size()));
        if (!cached) {
            std::cerr << "cannot read the kNN graph from " << knn_cache << "\n";
            return 1;
        }
    } else {
        graph = knn_graph(X, knn);
        if (!knn_cache.empty()) {
            std::ofstream save(knn_cache, std::ios::binary);
            save.write(reinterpret_cast<const char*>(graph.indices.data()),
                       std::streamsize(sizeof(int) * graph.indices.size()));
            save.write(reinterpret_cast<const char*>(graph.distances.data()),
                       std::streamsize(sizeof(float) * graph.distances.size()));
        }
    }
    const double knn_seconds = elapsed(), knn_cpu = cpu();
    auto status = Umap<float>::initialize(X, graph, o);
    const double init_seconds = elapsed(), init_cpu = cpu();
    status.run();
    const Eigen::MatrixXf Y = status.embedding();
    const double seconds = elapsed();
    const double cpu_seconds = cpu();
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rows = Y;
    std::ofstream out(argv[4], std::ios::binary);
    out.write(reinterpret_cast<const char*>(rows.data()),
              static_cast<std::streamsize>(sizeof(float) * rows.size()));
    std::printf(
        "{\"seconds\": %.3f, \"cpu_seconds\": %.3f, \"knn_seconds\": %.3f, \"knn_cpu\": %.3f, "
        "\"init_seconds\": %.3f, \"init_cpu\": %.3f, \"sgd_seconds\": %.3f, \"sgd_cpu\": %.3f}\n",
        seconds, cpu_seconds, knn_seconds, knn_cpu, init_seconds - knn_seconds, init_cpu - knn_cpu,
        seconds - init_seconds, cpu_seconds - init_cpu);
    return out ? 0 : 1;
}
