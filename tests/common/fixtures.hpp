// Where tests find their data: the shared test data beside the checkout
// (TAGMAP_FIXTURES, default ../shared) and the small committed fixtures in tests/data.
#pragma once

#include <cstdlib>
#include <filesystem>

namespace tagmap::test {

inline std::filesystem::path fixtures_dir() {
    if (const char* env = std::getenv("TAGMAP_FIXTURES"); env && *env) return env;
    return TAGMAP_DEFAULT_FIXTURES;
}

inline std::filesystem::path test_data_dir() { return TAGMAP_TEST_DATA_DIR; }

/// A built program of the project (tagmap-convert, tagmap), for end-to-end tests.
inline std::filesystem::path binary(const char* name) {
    return std::filesystem::path(TAGMAP_BINARY_DIR) / "bin" / name;
}

}  // namespace tagmap::test
