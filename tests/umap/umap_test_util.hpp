// Shared helpers of the UMAP tests: CSV fixtures and seeded synthetic clusters.
#pragma once

#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "tagmap/core/random.hpp"

namespace tagmap::test {

/// Numeric CSV (optional header line) from tests/data/umap.
inline Eigen::MatrixXd read_umap_csv(const std::string& name, bool header = false) {
    std::ifstream in(test_data_dir() / "umap" / name);
    if (!in) throw std::runtime_error("missing fixture tests/data/umap/" + name);
    std::vector<std::vector<double>> rows;
    std::string line;
    if (header) std::getline(in, line);
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        std::vector<double> row;
        std::stringstream ss(line);
        std::string cell;
        while (std::getline(ss, cell, ',')) row.push_back(std::stod(cell));
        rows.push_back(std::move(row));
    }
    Eigen::MatrixXd out(Eigen::Index(rows.size()), rows.empty() ? 0 : Eigen::Index(rows[0].size()));
    for (std::size_t i = 0; i < rows.size(); ++i)
        for (std::size_t j = 0; j < rows[i].size(); ++j)
            out(Eigen::Index(i), Eigen::Index(j)) = rows[i][j];
    return out;
}

struct Clusters {
    Eigen::MatrixXf points;
    std::vector<int> labels;
};

/// `n` points in `clusters` isotropic Gaussian clusters (unit variance) in `dims` dimensions,
/// centres drawn N(0, centre_scale^2); point i belongs to cluster i % clusters.
inline Clusters gaussian_clusters(int n, int clusters, int dims, double centre_scale,
                                  std::uint64_t seed) {
    tagmap::Rng rng(seed);
    Eigen::MatrixXf centres(clusters, dims);
    for (int c = 0; c < clusters; ++c)
        for (int d = 0; d < dims; ++d) centres(c, d) = float(rng.normal() * centre_scale);
    Clusters out{Eigen::MatrixXf(n, dims), std::vector<int>(std::size_t(n))};
    for (int i = 0; i < n; ++i) {
        out.labels[std::size_t(i)] = i % clusters;
        for (int d = 0; d < dims; ++d)
            out.points(i, d) = centres(i % clusters, d) + float(rng.normal());
    }
    return out;
}

}  // namespace tagmap::test
