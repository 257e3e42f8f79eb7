// Loading models for the CLI: ids, weight files (--weights FILE for one model, else
// <weights dir>/<id>.tmw, falling back to <id>.pth), tag lists. Taggers (registry.hpp)
// and sequence models (sequence_model.hpp: crepe-tiny, ...) are found the same way.
#pragma once

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <tagmap/core/error.hpp>
#include <tagmap/models/registry.hpp>
#include <tagmap/models/sequence_model.hpp>
#include <tagmap/weights/weight_file.hpp>

namespace tagmap::cli {

struct LoadedModel {
    std::string id;
    std::filesystem::path weights_path;
    weights::WeightFile weights;  // kept alive with the model that was bound to it
    std::unique_ptr<models::AnyModel> model;
};

inline std::filesystem::path weights_for(const std::string& id, const std::string& weights_file,
                                         const std::string& weights_dir) {
    if (!weights_file.empty()) return weights_file;
    const std::filesystem::path dir(weights_dir.empty() ? "weights" : weights_dir);
    const auto tmw = dir / (id + ".tmw");
    if (std::filesystem::exists(tmw)) return tmw;
    const auto pth = dir / (id + ".pth");
    if (std::filesystem::exists(pth)) return pth;
    throw IoError("no weights for model '" + id + "': tried " + tmw.string() + " and " +
                  pth.string() + " (use --weights-dir DIR or --weights FILE)");
}

/// Splits "a,b" lists and removes duplicates, keeping order.
inline std::vector<std::string> model_list(const std::vector<std::string>& raw) {
    std::vector<std::string> ids;
    for (const auto& item : raw) {
        std::size_t start = 0;
        while (start <= item.size()) {
            const std::size_t comma = item.find(',', start);
            const std::string id =
                item.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
            if (!id.empty() && std::find(ids.begin(), ids.end(), id) == ids.end())
                ids.push_back(id);
            if (comma == std::string::npos) break;
            start = comma + 1;
        }
    }
    return ids;
}

/// `precision` bf16 throws UnsupportedError for a model without a bf16 variant or a CPU
/// without AVX512_BF16.
inline std::vector<LoadedModel> load_models(const std::vector<std::string>& ids,
                                            const std::string& weights_file,
                                            const std::string& weights_dir,
                                            models::Precision precision = models::Precision::fp32) {
    if (ids.empty()) throw InvalidArgument("no model given (--model ID or --models A,B)");
    if (!weights_file.empty() && ids.size() != 1)
        throw InvalidArgument(
            "--weights FILE needs exactly one model; with several, use "
            "--weights-dir DIR holding <model id>.tmw");
    std::vector<LoadedModel> loaded;
    for (const auto& id : ids) {
        if (models::is_sequence_model(id))
            throw InvalidArgument("'" + id +
                                  "' is a sequence model (a time series per file): only "
                                  "`tagmap embed` runs it");
        const auto path = weights_for(id, weights_file, weights_dir);
        LoadedModel m{id, path, weights::WeightFile::load(path), nullptr};
        m.model = models::make_model(id, m.weights, precision);
        loaded.push_back(std::move(m));
    }
    return loaded;
}

struct LoadedSequenceModel {
    std::string id;
    std::filesystem::path weights_path;
    weights::WeightFile weights;
    std::unique_ptr<models::AnySequenceModel> model;
};

/// The ids of `ids` that are sequence models, in order; the others stay in `ids`.
inline std::vector<std::string> take_sequence_ids(std::vector<std::string>& ids) {
    std::vector<std::string> sequence, rest;
    for (auto& id : ids) (models::is_sequence_model(id) ? sequence : rest).push_back(id);
    ids = std::move(rest);
    return sequence;
}

/// Sequence models of `ids`. One whose weights file is missing is left out and its
/// reason appended to `missing` (reported once by the caller); weights that exist but
/// do not fit throw BindError as for the taggers.
inline std::vector<LoadedSequenceModel> load_sequence_models(const std::vector<std::string>& ids,
                                                             const std::string& weights_file,
                                                             const std::string& weights_dir,
                                                             std::vector<std::string>& missing) {
    std::vector<LoadedSequenceModel> loaded;
    for (const auto& id : ids) {
        std::filesystem::path path;
        try {
            path = weights_for(id, weights_file, weights_dir);
        } catch (const IoError& e) {
            missing.push_back(e.what());
            continue;
        }
        LoadedSequenceModel m{id, path, weights::WeightFile::load(path), nullptr};
        // What a model keeps until a file ends (madmom-beats: 832 bytes per 10 ms) goes to
        // an unlinked temporary file instead of the heap (docs/models/madmom.md).
        m.model = models::make_sequence_model(id, m.weights, {temporary_file_scratch});
        loaded.push_back(std::move(m));
    }
    return loaded;
}

}  // namespace tagmap::cli
