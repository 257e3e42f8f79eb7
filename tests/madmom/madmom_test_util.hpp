// Shared helpers of the madmom tests: paths, the converted ensemble, max |a - b|.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "npy.hpp"
#include "tagmap/weights/madmom_reader.hpp"
#include "tagmap/weights/tmw_writer.hpp"
#include "tagmap/weights/weight_file.hpp"

namespace tagmap::test {

inline std::filesystem::path madmom_dir() {
    return fixtures_dir() / "madmom";
}
inline std::filesystem::path madmom_data() {
    return test_data_dir() / "madmom";
}

inline std::vector<std::filesystem::path> madmom_pickles() {
    std::vector<std::filesystem::path> files;
    for (int i = 1; i <= 8; ++i)
        files.push_back(madmom_dir() / "models" / ("beats_blstm_" + std::to_string(i) + ".pkl"));
    return files;
}

inline bool have_madmom_models() {
    for (const auto& f : madmom_pickles())
        if (!std::filesystem::exists(f)) return false;
    return true;
}

/// The 8 shared pickles converted in memory, as tagmap-convert writes them.
inline weights::WeightFile madmom_ensemble_weights() {
    return weights::WeightFile::from_bytes(
        weights::encode_tmw(weights::read_madmom_ensemble(madmom_pickles())));
}

inline double max_abs_diff(std::span<const float> a, std::span<const float> b) {
    EXPECT_EQ(a.size(), b.size());
    double m = 0;
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
        m = std::max(m, double(std::abs(a[i] - b[i])));
    return m;
}

}  // namespace tagmap::test

#define TAGMAP_REQUIRE_MADMOM()                                                             \
    do {                                                                                    \
        if (!::tagmap::test::have_madmom_models())                                          \
            GTEST_SKIP() << "shared madmom data missing: " << ::tagmap::test::madmom_dir(); \
    } while (0)
