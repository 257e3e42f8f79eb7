// index-audio: walks the library's audio root recursively and brings the tracks table in
// line with it: new files are added, changed ones (size or mtime) re-probed, vanished
// ones marked (never deleted: their results stay until clean-db).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "library.hpp"

namespace tagmap::store {

struct IndexSummary {
    std::int64_t found = 0, added = 0, changed = 0, unchanged = 0, vanished = 0, returned = 0;
    std::int64_t unreadable = 0;  ///< indexed, but the header could not be read
};

struct IndexOptions {
    /// Called after each file that was probed (new or changed): (relative name, problem or "").
    std::function<void(const std::string& filename, const std::string& problem)> on_file;
    std::int64_t files_per_transaction = 500;
};

/// Library-relative key of `file` below `root` ('/'-separated).
std::string relative_key(const std::filesystem::path& root, const std::filesystem::path& file);

/// Replaces `absolute` in an error message by the library-relative `filename`, so stored
/// errors never reveal where the library lives.
std::string scrub_path(std::string message, const std::filesystem::path& absolute,
                       const std::string& filename);

IndexSummary index_audio(Library& library, const std::filesystem::path& root,
                         const IndexOptions& options = {});

}  // namespace tagmap::store
