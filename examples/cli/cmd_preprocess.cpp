// tagmap preprocess-all / preprocess-track FILE: embeds indexed tracks with every model
// whose weights are found, storing per-chunk and track-level outputs in the library, and
// runs the sequence models (crepe-tiny, madmom-beats) storing one time series per track.
// --shard K/N takes a stable 1/N of the tracks; with --out-db the results go to a shard
// database of their own (the library is only read), merged later by merge-db.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

#include "cli_library.hpp"
#include "cli_progress.hpp"
#include "commands.hpp"
#include "indexer.hpp"
#include "preprocess.hpp"
#include "shard.hpp"
#include "track_probe.hpp"

namespace tagmap::cli {
namespace {

struct PreprocessArgs {
    DbArgs db;
    std::vector<std::string> models;
    std::string weights_dir = "weights";
    TagSource tags;
    int jobs = 0;
    bool retry_failed = false;
    bool quiet = false;
    std::string file;           // preprocess-track
    std::string shard, out_db;  // preprocess-all
};

void add_common(CLI::App* cmd, PreprocessArgs& a) {
    add_db_options(cmd, a.db);
    cmd->add_option("--models", a.models,
                    "Model ids, comma-separated, taggers and sequence models (crepe-tiny, "
                    "madmom-beats); default: every model whose weights are found")
        ->delimiter(',');
    cmd->add_option("--weights-dir", a.weights_dir,
                    "Folder of <model id>.tmw/.pth (or <dataset>/<family>.pth)")
        ->capture_default_str();
    cmd->add_option("--tags-dir", a.tags.tags_dir, "Folder of tag-name lists (<set>.txt)");
    cmd->add_option("-j,--jobs", a.jobs, "Worker threads, 0 = all cores")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cmd->add_flag("--retry-failed", a.retry_failed,
                  "Also retry files that failed before (otherwise skipped until they change)");
    cmd->add_flag("-q,--quiet", a.quiet, "No progress bar (failures and summary still shown)");
}

/// A sequence model ready for the library: weights mapped, checked, digest known.
struct SeriesModel {
    std::string id;
    std::unique_ptr<weights::WeightFile> weights;
    store::SeriesModelRecord record;
};

/// The models to run: taggers and sequence models, each with weights found in the
/// weights folder. `--models` may name both kinds; without it, every known model whose
/// weights exist. Missing weights are reported once and skipped; none at all is an error.
struct Models {
    std::vector<LibraryModel> taggers;
    std::vector<SeriesModel> series;
};

Models load_models_for(const PreprocessArgs& a) {
    // --models is split at commas by CLI11; sequence models go their own way.
    std::vector<std::string> ids, sequence_ids;
    for (const auto& id : a.models) {
        auto& list = store::is_sequence_model(id) ? sequence_ids : ids;
        if (!id.empty() && std::find(list.begin(), list.end(), id) == list.end())
            list.push_back(id);
    }
    const bool every = a.models.empty();
    if (every) sequence_ids = store::sequence_model_ids();
    Models out;
    if (every || !ids.empty()) out.taggers = load_library_models(ids, a.weights_dir, a.tags, true);
    std::string missing;
    for (const auto& id : sequence_ids) {
        const auto path = find_library_weights(id, a.weights_dir);
        if (path.empty()) {
            missing += (missing.empty() ? "" : ", ") + id;
            continue;
        }
        SeriesModel m;
        m.id = id;
        m.weights = std::make_unique<weights::WeightFile>(weights::WeightFile::load(path));
        m.record = store::series_model_record(id, *m.weights);
        m.record.weights_digest = store::sha256_file(path);
        m.record.weights_file = std::filesystem::absolute(path).string();
        out.series.push_back(std::move(m));
    }
    if (!missing.empty())
        std::fprintf(stderr, "tagmap: no weights in %s for: %s (skipped)\n", a.weights_dir.c_str(),
                     missing.c_str());
    if (out.taggers.empty() && out.series.empty())
        throw IoError("no model weights found in " + a.weights_dir +
                      " (expected <model id>.tmw or .pth, or <dataset>/<family>.pth)");
    return out;
}

/// The shard database of --out-db, filled with the shard's tracks that `source` has
/// pending for a model in `loaded` (the array tasks only read the library).
store::Library open_out_db(const PreprocessArgs& a, const store::Shard& shard,
                           const Models& loaded) {
    store::Library source(a.db.db, store::OpenMode::read_only, a.db.busy_timeout_ms);
    std::vector<std::int64_t> pending;
    for (const auto& m : loaded.taggers) {
        const auto p = source.pending_tracks(m.id, m.record.weights_digest, a.retry_failed);
        pending.insert(pending.end(), p.begin(), p.end());
    }
    for (const auto& m : loaded.series) {
        const auto p = source.pending_series(m.id, m.record.weights_digest, a.retry_failed);
        pending.insert(pending.end(), p.begin(), p.end());
    }
    return store::open_shard_db(source, a.out_db, shard, pending);
}

int run_preprocess(const PreprocessArgs& a, bool one_track) {
    std::optional<store::Shard> shard;
    if (!a.shard.empty()) shard = store::parse_shard(a.shard);
    if (!a.out_db.empty() && !shard)
        throw InvalidArgument("--out-db writes one shard: give --shard K/N too (0/1: all tracks)");
    std::optional<store::Library> out;
    std::optional<Models> preloaded;
    if (!a.out_db.empty()) {
        preloaded = load_models_for(a);
        out.emplace(open_out_db(a, *shard, *preloaded));
    } else {
        out.emplace(a.db.db, store::OpenMode::read_write, a.db.busy_timeout_ms);
    }
    store::Library& lib = *out;
    store::PreprocessOptions options;
    options.shard = shard;
    if (one_track) {
        // The file may be anywhere below the library's folder; index it if needed.
        const auto root = require_audio_root(lib);
        std::error_code ec;
        if (!std::filesystem::is_regular_file(a.file, ec))
            throw IoError("audio file not found: " + a.file);
        const auto path = std::filesystem::canonical(a.file);
        const auto key = store::relative_key(root, path);
        if (key.empty() || key.rfind("..", 0) == 0)
            throw InvalidArgument(a.file + " is not below the library's audio folder " +
                                  root.string());
        auto track = lib.track_by_filename(key);
        const auto state = store::file_state(path);
        if (!track || track->vanished_at || track->size_bytes != state.size_bytes ||
            track->mtime_ns != state.mtime_ns) {
            auto probed = store::probe_track(path, key);
            if (probed.probe_error)
                probed.probe_error = store::scrub_path(*probed.probe_error, path, key);
            store::Transaction tx(lib.db());
            lib.upsert_track(probed);
            tx.commit();
            track = lib.track_by_filename(key);
        }
        options.only_tracks = {track->id};
    }
    const auto root = require_audio_root(lib);
    auto loaded = preloaded ? std::move(*preloaded) : load_models_for(a);
    std::vector<store::ModelSpec> specs;
    for (auto& m : loaded.taggers) {
        lib.upsert_model(m.record);
        specs.push_back({m.id, m.weights.get(), m.record.weights_digest});
    }
    for (auto& m : loaded.series) {
        lib.upsert_series_model(m.record);
        specs.push_back({m.id, m.weights.get(), m.record.weights_digest});
    }
    options.jobs = a.jobs;
    options.retry_failed = a.retry_failed || one_track;
    std::unique_ptr<Progress> progress;
    options.on_start = [&](std::size_t tracks, std::uintmax_t bytes) {
        progress = std::make_unique<Progress>(tracks, bytes, a.quiet);
        if (!a.quiet && tracks > 0)
            std::fprintf(stderr, "preprocess: %zu track(s) to embed with %zu model(s)\n", tracks,
                         specs.size());
    };
    options.on_track = [&](const std::string& name, std::uintmax_t bytes, double seconds,
                           const std::string& status, const std::vector<std::string>& problems) {
        for (const auto& p : problems) progress->message("FAILED " + name + ": " + p);
        progress->file_done(name, bytes, seconds, status);
    };
    const auto summary = store::preprocess(lib, root, specs, options);
    // Only a run that got here wrote every track of its shard (failures are recorded).
    if (!a.out_db.empty()) store::mark_shard_complete(lib);
    bool failed = false;
    for (const auto& [id, t] : summary.per_model) {
        failed = failed || t.failed > 0;
        std::printf(
            "%s: %lld embedded, %lld failed, %lld up to date, %lld failed before "
            "(skipped; --retry-failed)\n",
            id.c_str(), (long long)t.ok, (long long)t.failed, (long long)t.up_to_date,
            (long long)t.failed_before);
    }
    if (summary.tracks > 0)
        std::printf("%lld track(s), %.1f s of audio in %.1f s (%.1f s audio/s)\n",
                    (long long)summary.tracks, summary.audio_seconds, summary.seconds,
                    summary.seconds > 0 ? summary.audio_seconds / summary.seconds : 0.0);
    return failed ? 1 : 0;
}

}  // namespace

void add_preprocess_commands(CLI::App& app) {
    auto all = std::make_shared<PreprocessArgs>();
    auto* cmd_all = app.add_subcommand(
        "preprocess-all", "Embed every indexed track that lacks a current result of a model");
    add_common(cmd_all, *all);
    cmd_all->add_option("--shard", all->shard,
                        "K/N: only the tracks whose relative path hashes to K of N (0 <= K < N)");
    cmd_all->add_option("--out-db", all->out_db,
                        "Write this shard's results to its own database (the library is only "
                        "read); merge them with merge-db");
    cmd_all->callback([all] {
        if (const int code = run_preprocess(*all, false); code != 0) throw CLI::RuntimeError(code);
    });

    auto one = std::make_shared<PreprocessArgs>();
    auto* cmd_one = app.add_subcommand(
        "preprocess-track", "Embed one file of the library (indexing it first if needed)");
    add_common(cmd_one, *one);
    cmd_one->add_option("file", one->file, "Audio file below the library's folder")->required();
    cmd_one->callback([one] {
        if (const int code = run_preprocess(*one, true); code != 0) throw CLI::RuntimeError(code);
    });
}

}  // namespace tagmap::cli
