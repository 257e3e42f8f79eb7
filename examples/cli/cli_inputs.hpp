// Input files of `tagmap tag` / `tagmap embed`: files as given, directories walked
// recursively in sorted order, keeping audio extensions (case-insensitive).
#pragma once

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <tagmap/core/error.hpp>

#include "audio_files.hpp"

namespace tagmap::cli {

struct InputFile {
    std::filesystem::path path;      ///< as found on disk
    std::filesystem::path relative;  ///< file name, or path below the directory argument
};

/// Extensions picked up when walking a directory: the store's list (files named
/// explicitly are always tried, whatever their extension: the decoder decides).
using store::is_audio_extension;

/// Expands the command-line arguments (directories are walked; an unreadable
/// directory is an IoError).
inline std::vector<InputFile> collect_inputs(const std::vector<std::string>& args) {
    std::vector<InputFile> files;
    for (const auto& arg : args) {
        const std::filesystem::path p(arg);
        std::error_code ec;
        if (std::filesystem::is_directory(p, ec)) {
            std::vector<InputFile> found;
            for (auto it = std::filesystem::recursive_directory_iterator(
                     p, std::filesystem::directory_options::follow_directory_symlink, ec);
                 !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
                if (it->is_regular_file(ec) && is_audio_extension(it->path()))
                    found.push_back({it->path(), it->path().lexically_relative(p)});
            }
            if (ec) throw IoError("cannot walk directory " + arg + ": " + ec.message());
            std::sort(found.begin(), found.end(), [](const InputFile& a, const InputFile& b) {
                return a.relative.generic_string() < b.relative.generic_string();
            });
            files.insert(files.end(), found.begin(), found.end());
        } else {
            // Files, and paths that do not exist: the latter fail in the decoder with a
            // typed error, reported like any other bad file while the run goes on.
            files.push_back({p, p.filename()});
        }
    }
    return files;
}

}  // namespace tagmap::cli
