// preprocess-all / preprocess-track: every indexed track that lacks a current result of a
// model is decoded once (and resampled once per rate the models need) and streamed through
// all the models that need it (sequence models too: no copy of the signal is kept), on a
// pool of worker threads (one model instance per worker and model); the calling thread is the only
// writer and stores each track's rows in one transaction, so a killed run loses at most
// the tracks in flight and the next run redoes exactly those.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <tagmap/weights/weight_file.hpp>

#include "library.hpp"
#include "shard.hpp"

namespace tagmap::store {

/// A model to run: its id, its weights (mapped once, shared by the workers) and digest.
/// A tagger (registry.hpp) stores results and chunk outputs; a sequence model
/// (sequence_model.hpp: crepe-tiny, madmom-beats) stores a time series, and must be in the
/// library's series_models (Library::upsert_series_model) first.
struct ModelSpec {
    std::string id;
    const weights::WeightFile* weights = nullptr;
    std::string weights_digest;
};

struct PreprocessOptions {
    int jobs = 0;               ///< worker threads; 0 = all cores
    bool retry_failed = false;  ///< also redo (track, model) pairs that failed before
    /// Only these tracks (preprocess-track); empty = every pending track.
    std::vector<std::int64_t> only_tracks;
    /// Only the tracks of this shard (by relative path; preprocess-all --shard).
    std::optional<Shard> shard;
    /// After each track is stored: (relative name, input bytes, audio seconds, status
    /// "ok" | "FAILED", failure messages). Called on the calling thread.
    std::function<void(const std::string& filename, std::uintmax_t bytes, double audio_seconds,
                       const std::string& status, const std::vector<std::string>& problems)>
        on_track;
    /// Called once with the number of tracks to process, before the first one.
    std::function<void(std::size_t tracks, std::uintmax_t bytes)> on_start;
};

struct ModelTally {
    std::int64_t ok = 0, failed = 0, up_to_date = 0, failed_before = 0;
};

struct PreprocessSummary {
    std::map<std::string, ModelTally> per_model;
    std::int64_t tracks = 0;
    double audio_seconds = 0, seconds = 0;
};

/// Is `id` a sequence model (a time series per track: crepe-tiny, madmom-beats)? Their
/// ids in the table's order. Here so that the CLI need not compile the models to ask.
bool is_sequence_model(const std::string& id);
std::vector<std::string> sequence_model_ids();

/// The library's record of sequence model `id` on weights `w`: rates, columns, column
/// names and the weights' license (weights_digest and weights_file are left to the
/// caller). BindError listing every problem when the weights do not fit.
SeriesModelRecord series_model_record(const std::string& id, const weights::WeightFile& w);

PreprocessSummary preprocess(Library& library, const std::filesystem::path& audio_root,
                             const std::vector<ModelSpec>& models,
                             const PreprocessOptions& options = {});

}  // namespace tagmap::store
