// The library commands' model loading: the one CLI file that includes the model table
// (registry.hpp), so that only it instantiates every model.
#include "cli_library.hpp"

#include <algorithm>
#include <cstdio>

#include <tagmap/models/registry.hpp>

#include "cli_models.hpp"

namespace tagmap::cli {

std::vector<LibraryModel> load_library_models(const std::vector<std::string>& requested,
                                              const std::string& weights_dir, const TagSource& tags,
                                              bool allow_none) {
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
            m.record.tag_names =
                load_tags(find_tags_file(std::string(probe->tag_set()), tags), probe->n_tags());
        } catch (const Error& e) {
            std::fprintf(stderr,
                         "tagmap: warning: %s: no tag names (%s); tags will show as tag<i>\n",
                         id.c_str(), e.what());
        }
        out.push_back(std::move(m));
    }
    if (!missing.empty())
        std::fprintf(stderr, "tagmap: no weights in %s for: %s (skipped)\n", weights_dir.c_str(),
                     missing.c_str());
    if (out.empty() && !allow_none)
        throw IoError("no model weights found in " + weights_dir +
                      " (expected <model id>.tmw or .pth, or <dataset>/<family>.pth)");
    return out;
}

}  // namespace tagmap::cli
