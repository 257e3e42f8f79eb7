// What the library commands share: the --db option, and finding every model whose
// weights are present (a missing checkpoint is reported once and skipped).
#pragma once

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <tagmap/models/registry.hpp>
#include <tagmap/weights/weight_file.hpp>

#include "cli_models.hpp"
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
    for (const auto& p : {dir / (id + ".tmw"), dir / (id + ".pth"),
                          dir / dataset / (family + ".pth")})
        if (std::filesystem::is_regular_file(p)) return p;
    return {};
}

/// Every requested model (all known ids when `requested` is empty) whose weights exist.
/// Missing ones are reported once on stderr and skipped; none at all is an error.
inline std::vector<LibraryModel> load_library_models(const std::vector<std::string>& requested,
                                                     const std::string& weights_dir,
                                                     const TagSource& tags) {
    std::vector<std::string> ids = model_list(requested);
    if (ids.empty())
        for (auto id : models::model_ids()) ids.emplace_back(id);
    for (const auto& id : ids) {
        const auto known = models::model_ids();
        if (std::find(known.begin(), known.end(), id) == known.end()) {
            std::string list;
            for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
            throw InvalidArgument("unknown model id '" + id + "' (known: " + list + ")");
        }
    }
    std::vector<LibraryModel> out;
    std::string missing;
    for (const auto& id : ids) {
        const auto path = find_library_weights(id, weights_dir);
        if (path.empty()) {
            missing += (missing.empty() ? "" : ", ") + id;
            continue;
        }
        LibraryModel m;
        m.id = id;
        m.weights_path = path;
        m.weights = std::make_unique<weights::WeightFile>(weights::WeightFile::load(path));
        const auto problems = models::check_weights(id, *m.weights);
        if (!problems.empty()) {
            std::string text = "weights " + path.string() + " do not fit model " + id + ":";
            for (const auto& p : problems) text += "\n  " + p;
            throw BindError(text);
        }
        auto probe = models::make_model(id, *m.weights);
        const auto [family, dataset] = family_and_dataset(id);
        m.record.model_id = id;
        m.record.model = family;
        m.record.dataset = dataset;
        m.record.n_tags = int(probe->n_tags());
        m.record.embedding_dim = int(probe->embedding_dim());
        m.record.input_samples = int(probe->input_samples());
        m.record.weights_digest = store::sha256_file(path);
        m.record.weights_file = std::filesystem::absolute(path).string();
        try {
            m.record.tag_names = load_tags(find_tags_file(std::string(probe->tag_set()), tags),
                                           probe->n_tags());
        } catch (const Error& e) {
            std::fprintf(stderr, "tagmap: warning: %s: no tag names (%s); tags will show as tag<i>\n",
                         id.c_str(), e.what());
        }
        out.push_back(std::move(m));
    }
    if (!missing.empty())
        std::fprintf(stderr, "tagmap: no weights in %s for: %s (skipped)\n", weights_dir.c_str(),
                     missing.c_str());
    if (out.empty())
        throw IoError("no model weights found in " + weights_dir +
                      " (expected <model id>.tmw or .pth, or <dataset>/<family>.pth)");
    return out;
}

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
