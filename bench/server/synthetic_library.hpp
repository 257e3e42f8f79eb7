// A synthetic library for load tests: N tracks with random 200-d embeddings and 50-d
// taggrams of one model, written through the store API, and a cached 2D UMAP-keyed map
// with random coordinates (no audio, no model, no map fitting needed).
#pragma once

#include <cstdint>
#include <filesystem>

namespace tagmap::bench {

void make_synthetic_library(const std::filesystem::path& db, int tracks, std::uint64_t seed = 1);

}  // namespace tagmap::bench
