// Helpers shared by the weights tests.
#pragma once

#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include <gtest/gtest.h>

#include "fixtures.hpp"

namespace tagmap::test {

inline std::vector<std::byte> read_bytes(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open test file " + p.string());
    std::vector<char> c((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::byte> out(c.size());
    for (std::size_t i = 0; i < c.size(); ++i) out[i] = static_cast<std::byte>(c[i]);
    return out;
}

inline std::filesystem::path weights_data(const char* name) {
    return test_data_dir() / "weights" / name;
}

/// Runs `fn`, expecting an exception of type E whose message contains `needle`.
template <class E, class F>
void expect_error(F&& fn, const std::string& needle) {
    try {
        fn();
        ADD_FAILURE() << "expected an exception containing '" << needle << "'";
    } catch (const E& e) {
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "message: " << e.what();
    } catch (const std::exception& e) {
        ADD_FAILURE() << "wrong exception type; message: " << e.what();
    }
}

}  // namespace tagmap::test
