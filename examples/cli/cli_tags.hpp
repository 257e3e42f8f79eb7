// Tag-name lists (tags/<set>.txt, one name per line, model output order), looked up
// at run time: never compiled into the binary.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <tagmap/core/error.hpp>

#ifndef TAGMAP_TAGS_INSTALL_DIR
#define TAGMAP_TAGS_INSTALL_DIR ""
#endif

namespace tagmap::cli {

struct TagSource {
    std::string tags_file;  ///< --tags FILE (wins)
    std::string tags_dir;   ///< --tags-dir DIR
};

/// Search order: --tags FILE; --tags-dir DIR/<set>.txt; $TAGMAP_FIXTURES/tags;
/// ./../shared/tags; the install dir. The error names every path tried.
inline std::filesystem::path find_tags_file(const std::string& tag_set, const TagSource& src) {
    if (!src.tags_file.empty()) {
        if (!std::filesystem::is_regular_file(src.tags_file))
            throw IoError("tags file not found: " + src.tags_file + " (--tags)");
        return src.tags_file;
    }
    std::vector<std::filesystem::path> dirs;
    if (!src.tags_dir.empty()) dirs.emplace_back(src.tags_dir);
    if (const char* env = std::getenv("TAGMAP_FIXTURES"); env && *env)
        dirs.push_back(std::filesystem::path(env) / "tags");
    dirs.push_back(std::filesystem::current_path() / ".." / "shared" / "tags");
    if (std::string(TAGMAP_TAGS_INSTALL_DIR).size() > 0) dirs.emplace_back(TAGMAP_TAGS_INSTALL_DIR);
    std::string tried;
    for (const auto& d : dirs) {
        const auto candidate = d / (tag_set + ".txt");
        if (std::filesystem::is_regular_file(candidate)) return candidate;
        tried += "\n  " + candidate.string();
    }
    throw IoError("no tag list '" + tag_set + ".txt' found; tried:" + tried +
                  "\n(pass --tags FILE or --tags-dir DIR)");
}

/// Reads one name per line (blank lines skipped) and checks the count.
inline std::vector<std::string> load_tags(const std::filesystem::path& file, std::size_t expected) {
    std::ifstream in(file);
    if (!in) throw IoError("cannot read tags file " + file.string());
    std::vector<std::string> tags;
    for (std::string line; std::getline(in, line);) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        if (!line.empty()) tags.push_back(line);
    }
    if (tags.size() != expected)
        throw FormatError("tags file " + file.string() + " has " + std::to_string(tags.size()) +
                          " names, the model has " + std::to_string(expected) + " outputs");
    return tags;
}

}  // namespace tagmap::cli
