// .npy output through xtensor, written under a temporary name and renamed, so that a
// file with the final name is always complete (what --skip-existing relies on).
#pragma once

#include <unistd.h>

#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include <xtensor/xadapt.hpp>
#include <xtensor/xnpy.hpp>

#include <tagmap/core/error.hpp>

namespace tagmap::cli {

/// Writes `values` as a float32 array of the given shape (1-D or 2-D) to `path`.
inline void write_npy_atomic(const std::filesystem::path& path, std::span<const float> values,
                             std::vector<std::size_t> shape) {
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec)
        throw IoError("cannot create directory " + path.parent_path().string() + ": " +
                      ec.message());
    const auto tmp =
        std::filesystem::path(path.string() + ".partial-" + std::to_string(::getpid()));
    try {
        const auto view = xt::adapt(values.data(), values.size(), xt::no_ownership(), shape);
        xt::dump_npy(tmp.string(), view);
    } catch (const std::exception& e) {
        std::filesystem::remove(tmp, ec);
        throw IoError("cannot write " + path.string() + ": " + e.what());
    }
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        std::filesystem::remove(tmp, ec);
        throw IoError("cannot rename " + tmp.string() + " to " + path.string());
    }
}

}  // namespace tagmap::cli
