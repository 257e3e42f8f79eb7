// Shared helpers for the t-SNE tests: the golden-value file and seeded synthetic clusters.
#pragma once

#include <Eigen/Core>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "tagmap/core/random.hpp"
#include "tagmap/project/tsne/affinities.hpp"

namespace tagmap::test {

/// tests/data/tsne/tsne_reference.txt, written by tools/make_tsne_fixtures.py.
struct TsneReference {
    double perplexity = 0;
    int k = 0;
    std::map<std::string, Eigen::MatrixXd> matrices;  // X, Y2, G2, Y3, G3, S3
    std::map<std::string, double> scalars;            // KL2, KL3
    Eigen::MatrixXd P;                                // dense joint probabilities
    int pca_dims = 0;                                 // P_pca is P of X's top pca_dims scores
    Eigen::MatrixXd P_pca;
    double rerank_factor = 0;  // P_rerank: neighbours re-ranked in X from candidates found in
    int rerank_pca_dims = 0;   // X's top rerank_pca_dims scores
    Eigen::MatrixXd P_rerank;

    static TsneReference load() {
        const auto path = test_data_dir() / "tsne" / "tsne_reference.txt";
        std::ifstream in(path);
        if (!in) throw std::runtime_error("cannot open " + path.string());
        TsneReference ref;
        std::string word;
        while (in >> word) {
            if (word[0] == '#') {
                std::getline(in, word);
            } else if (word == "perplexity") {
                in >> ref.perplexity >> word >> ref.k;
            } else if (word == "rerank_factor") {
                in >> ref.rerank_factor;
            } else if (word == "P" || word == "Ppca" || word == "Prr") {
                if (word != "P") in >> (word == "Ppca" ? ref.pca_dims : ref.rerank_pca_dims);
                long nnz = 0;
                in >> nnz;
                const auto n = ref.matrices.at("X").rows();
                Eigen::MatrixXd& P = word == "P"      ? ref.P
                                     : word == "Ppca" ? ref.P_pca
                                                      : ref.P_rerank;
                P = Eigen::MatrixXd::Zero(n, n);
                for (long e = 0; e < nnz; ++e) {
                    int i = 0, j = 0;
                    double v = 0;
                    in >> i >> j >> v;
                    P(i, j) = v;
                }
            } else if (word.rfind("KL", 0) == 0) {
                in >> ref.scalars[word];
            } else {
                long rows = 0, cols = 0;
                in >> rows >> cols;
                Eigen::MatrixXd M(rows, cols);
                for (long i = 0; i < rows; ++i)
                    for (long j = 0; j < cols; ++j) in >> M(i, j);
                ref.matrices[word] = M;
            }
        }
        return ref;
    }
};

/// `clusters` Gaussian blobs (unit spread, centres with std `separation`) in `dims`
/// dimensions, `per_cluster` points each; labels are the blob index.
struct Clusters {
    Eigen::MatrixXf points;
    std::vector<int> labels;
};

inline Clusters make_clusters(int clusters, int per_cluster, int dims, double separation,
                              std::uint64_t seed) {
    tagmap::Rng rng(seed);
    Eigen::MatrixXd centres(clusters, dims);
    for (int c = 0; c < clusters; ++c)
        for (int d = 0; d < dims; ++d) centres(c, d) = separation * rng.normal();
    Clusters out;
    out.points.resize(clusters * per_cluster, dims);
    for (int c = 0; c < clusters; ++c)
        for (int k = 0; k < per_cluster; ++k) {
            const int row = c * per_cluster + k;
            for (int d = 0; d < dims; ++d)
                out.points(row, d) = static_cast<float>(centres(c, d) + rng.normal());
            out.labels.push_back(c);
        }
    return out;
}

/// Dense copy of sparse affinities.
inline Eigen::MatrixXd dense(const project::TsneAffinities& P) {
    Eigen::MatrixXd M = Eigen::MatrixXd::Zero(P.n, P.n);
    for (int i = 0; i < P.n; ++i)
        for (auto e = P.row_ptr[i]; e < P.row_ptr[i + 1]; ++e) M(i, P.cols[e]) = P.values[e];
    return M;
}

}  // namespace tagmap::test
