// Times knn_graph on a raw float32 matrix (e.g. Fashion-MNIST written by fmnist.py) and
// reports recall@k against exact neighbours of a seeded sample of rows.
// Usage: bench_knn_fmnist data.f32 rows cols [k=15] [threads=2] [out.i32]
//        [method=approximate|exact|hnsw]
//        [n_trees leaf_size max_candidates max_iterations]
#include <Eigen/Core>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "tagmap/project/knn/knn.hpp"
#include "tagmap/project/knn/nn_descent.hpp"
#include "tagmap/core/random.hpp"

using namespace tagmap;
using namespace tagmap::project;
using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: %s data.f32 rows cols [k] [threads] [out.i32] [method]\n",
                     argv[0]);
        return 2;
    }
    const int rows = std::atoi(argv[2]), cols = std::atoi(argv[3]);
    const int k = argc > 4 ? std::atoi(argv[4]) : 15;
    const int threads = argc > 5 ? std::atoi(argv[5]) : 2;
    const std::string out_path = argc > 6 ? argv[6] : "";
    const std::string method = argc > 7 ? argv[7] : "approximate";
    RowMatrixF X(rows, cols);
    std::ifstream in(argv[1], std::ios::binary);
    in.read(reinterpret_cast<char*>(X.data()), std::streamsize(sizeof(float)) * rows * cols);
    if (!in) {
        std::fprintf(stderr, "cannot read %d x %d floats from %s\n", rows, cols, argv[1]);
        return 1;
    }
    const auto t0 = std::chrono::steady_clock::now();
    const std::clock_t cpu0 = std::clock();
    KnnGraph graph;
    if (method == "hnsw") {
        // hnswlib as packaged by Debian (M = 16, ef_construction = 200, ef = 50), inserting
        // and querying with `threads` threads: fast, but the graph depends on thread timing.
        hnswlib::L2Space space(cols);
        hnswlib::HierarchicalNSW<float> index(&space, rows, 16, 200, 42);
        auto run = [&](auto&& body) {
            std::atomic<int> next{0};
            std::vector<std::thread> pool;
            for (int t = 0; t < threads; ++t)
                pool.emplace_back([&] {
                    for (int i; (i = next.fetch_add(1)) < rows;) body(i);
                });
            for (auto& th : pool) th.join();
        };
        index.addPoint(X.row(0).data(), 0);
        run([&](int i) {
            if (i > 0) index.addPoint(X.row(i).data(), i);
        });
        index.setEf(50);
        graph.indices.resize(rows, k);
        graph.distances.resize(rows, k);
        run([&](int i) {
            auto result = index.searchKnn(X.row(i).data(), k + 1);
            std::vector<std::pair<float, int>> found;
            while (!result.empty()) {
                if (int(result.top().second) != i)
                    found.emplace_back(std::sqrt(result.top().first), int(result.top().second));
                result.pop();
            }
            std::sort(found.begin(), found.end());
            for (int c = 0; c < k; ++c) {
                graph.indices(i, c) = c < int(found.size()) ? found[c].second : -1;
                graph.distances(i, c) = c < int(found.size()) ? found[c].first : 0.f;
            }
        });
    } else if (method == "exact") {
        graph = exact_knn(X, k, Metric::euclidean, threads);
    } else {
        NnDescentOptions options;
        options.k = k;
        options.threads = threads;
        if (argc > 8) options.n_trees = std::atoi(argv[8]);
        if (argc > 9) options.leaf_size = std::atoi(argv[9]);
        if (argc > 10) options.max_candidates = std::atoi(argv[10]);
        if (argc > 11) options.max_iterations = std::atoi(argv[11]);
        graph = nn_descent(X, options);
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu_seconds = double(std::clock() - cpu0) / CLOCKS_PER_SEC;

    // Exact neighbours of 1,000 sampled rows (env KNN_SAMPLE to change) (k + 1, then drop the row
    // itself).
    const int sample =
        std::min(rows, std::getenv("KNN_SAMPLE") ? std::atoi(std::getenv("KNN_SAMPLE")) : 1000);
    std::vector<int> picked(rows);
    for (int i = 0; i < rows; ++i) picked[i] = i;
    Rng rng(7);
    shuffle(std::span(picked), rng);
    picked.resize(sample);
    RowMatrixF queries(sample, cols);
    for (int s = 0; s < sample; ++s) queries.row(s) = X.row(picked[s]);
    const KnnGraph truth_raw = knn_query(X, queries, k + 1, Metric::euclidean, threads);
    KnnGraph truth, found;
    truth.indices.resize(sample, k);
    found.indices.resize(sample, k);
    for (int s = 0; s < sample; ++s) {
        int c = 0;
        for (int t = 0; t <= k && c < k; ++t)
            if (truth_raw.indices(s, t) != picked[s])
                truth.indices(s, c++) = truth_raw.indices(s, t);
        found.indices.row(s) = graph.indices.row(picked[s]);
    }
    std::printf(
        "knn_graph %s: %d x %d, k=%d, threads=%d: %.3f s wall, %.3f s cpu, "
        "recall@%d %.4f (%d sampled rows)\n",
        method.c_str(), rows, cols, k, threads, seconds, cpu_seconds, k, knn_recall(found, truth),
        sample);
    if (!out_path.empty()) {
        std::ofstream out(out_path, std::ios::binary);
        out.write(reinterpret_cast<const char*>(graph.indices.data()),
                  std::streamsize(sizeof(int)) * graph.indices.size());
    }
    return 0;
}
