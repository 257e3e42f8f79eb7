// Runs tagmap's t-SNE on a raw float32 matrix, for bench/tsne/fmnist_vs_peers.py.
//   tsne_driver IN.f32 N D OUT.f32 [--dims 2|3] [--threads T] [--gradient auto|exact|bh|fft]
//               [--perplexity P] [--n-iter I] [--seed S] [--pca-dims K]
//               [--rerank-factor F] [--learning-rate L]
// Prints one JSON line: seconds (PCA + kNN + affinities + optimisation, file I/O excluded), the
// process CPU seconds over the same span, the final KL, the gradient method used.
#include <Eigen/Core>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <string>

#include "tagmap/project/tsne/tsne.hpp"

int main(int argc, char** argv) {
    using namespace tagmap::project;
    if (argc < 5) {
        std::cerr << "usage: tsne_driver IN.f32 N D OUT.f32 [--dims 2|3] [--threads T] "
                     "[--gradient auto|exact|bh|fft] [--perplexity P] [--n-iter I] [--seed S] "
                     "[--pca-dims K] [--rerank-factor F] [--learning-rate L]\n";
        return 2;
    }
    const long n = std::atol(argv[2]), d = std::atol(argv[3]);
    TsneOptions o;
    for (int a = 5; a + 1 < argc; a += 2) {
        const std::string key = argv[a], value = argv[a + 1];
        if (key == "--dims")
            o.dims = std::stoi(value);
        else if (key == "--threads")
            o.threads = std::stoi(value);
        else if (key == "--perplexity")
            o.perplexity = std::stod(value);
        else if (key == "--n-iter")
            o.n_iter = std::stoi(value);
        else if (key == "--seed")
            o.seed = std::stoull(value);
        else if (key == "--pca-dims")
            o.pca_dims = std::stoi(value);
        else if (key == "--rerank-factor")
            o.rerank_factor = std::stod(value);
        else if (key == "--learning-rate")
            o.learning_rate = std::stod(value);
        else if (key == "--gradient")
            o.gradient = value == "exact" ? TsneOptions::Gradient::exact
                         : value == "bh"  ? TsneOptions::Gradient::barnes_hut
                         : value == "fft" ? TsneOptions::Gradient::fft
                                          : TsneOptions::Gradient::automatic;
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
    // Elapsed time at each report: t(50) minus 50 iterations' worth is the set-up time
    // (kNN graph, affinities, initialisation).
    o.progress = [&](int iter, double kl) {
        const double t =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::fprintf(stderr, "iter %d KL %.4f elapsed %.2f s\n", iter, kl, t);
    };
    const auto fit = tsne_fit(X, o);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> Y = fit.embedding;
    std::ofstream out(argv[4], std::ios::binary);
    out.write(reinterpret_cast<const char*>(Y.data()),
              static_cast<std::streamsize>(sizeof(float) * Y.size()));
    const double cpu = double(std::clock() - cpu_start) / CLOCKS_PER_SEC;
    std::printf("{\"seconds\": %.3f, \"cpu_seconds\": %.3f, \"kl\": %.5f, \"gradient\": \"%s\"}\n",
                seconds, cpu, fit.kl, gradient_name(fit.gradient));
    return out ? 0 : 1;
}
