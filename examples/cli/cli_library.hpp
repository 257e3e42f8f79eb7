// What the library commands share: the --db option, and finding every model whose
// weights are present (a missing checkpoint is reported once and skipped). Cheap to
// include: the models themselves are compiled only in cli_library.cpp and cli_models.hpp.
#pragma once

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <tagmap/weights/weight_file.hpp>

#include "cli_tags.hpp"
#include "digest.hpp"
#include "library.hpp"

namespace tagmap::cli {

struct DbArgs {
    std::string db = "tagmap.db";
    int busy_timeout_ms = store::Database::kDefaultBusyTimeoutMs;
};

inline void add_db_options(CLI::App* cmd, DbArgs& a) {
    cmd->add_option("--db", a.db, "Library database file")->capture_default_str();
    cmd->add_option("--busy-timeout", a.busy_timeout_ms,
                    "Milliseconds to wait for another process's write lock before failing")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
}

/// A model ready for the library: weights mapped, digest known, tag names if found.
struct LibraryModel {
    std::string id;
    std::filesystem::path weights_path;
    std::unique_ptr<weights::WeightFile> weights;
    store::ModelRecord record;
};

/// Model family and dataset of an id ("musicnn-mtat" -> musicnn, mtat).
inline std::pair<std::string, std::string> family_and_dataset(const std::string& id) {
    const auto dash = id.find('-');
    return {id.substr(0, dash), dash == std::string::npos ? std::string() : id.substr(dash + 1)};
}

/// Where a model's weights are: <dir>/<id>.tmw, <dir>/<id>.pth, or the old system's
/// layout <dir>/<dataset>/<family>.pth. Empty if none exists.
inline std::filesystem::path find_library_weights(const std::string& id,
                                                  const std::filesystem::path& dir) {
    const auto [family, dataset] = family_and_dataset(id);
    for (const auto& p :
         {dir / (id + ".tmw"), dir / (id + ".pth"), dir / dataset / (family + ".pth")})
        if (std::filesystem::is_regular_file(p)) return p;
    return {};
}

/// Every requested model (all known ids when `requested` is empty) whose weights exist.
/// Missing ones are reported once on stderr and skipped; none at all is an error unless
/// `allow_none` (the caller has other models to run). Defined in cli_library.cpp, the one
/// file that compiles the model table: the other commands need not instantiate the models.
std::vector<LibraryModel> load_library_models(const std::vector<std::string>& requested,
                                              const std::string& weights_dir, const TagSource& tags,
                                              bool allow_none = false);

/// The audio root recorded by init-db/index-audio, or an error saying how to set it.
inline std::filesystem::path require_audio_root(store::Library& lib) {
    const auto root = lib.audio_root();
    if (!root)
        throw InvalidArgument("library " + lib.file().string() +
                              " has no audio folder yet: run `tagmap index-audio --db " +
                              lib.file().string() + " DIR`");
    if (!std::filesystem::is_directory(*root))
        throw IoError("the library's audio folder " + root->string() +
                      " is missing (moved? set it again with `tagmap init-db --audio-dir DIR`)");
    return *root;
}

}  // namespace tagmap::cli
