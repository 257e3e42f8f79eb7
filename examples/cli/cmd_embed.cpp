// tagmap embed: embeddings and taggrams of audio files as .npy, for one or several
// models in one run (each model loaded once, each file decoded and resampled once).
//
// Output naming (docs/cli.md): OUT/<model id>/<relative path>.{embedding,taggram}.npy,
// where <relative path> is the file name for a file argument and the path below the
// directory for files found in a directory argument, extension included, so a.mp3 and
// a.wav do not collide (a.mp3.embedding.npy, a.wav.embedding.npy). Sequence models
// (crepe-tiny, ...) write one time series per file, OUT/<model id>/<relative path>.npy:
// T x columns float32, or (T,) for a one-column model. Each file is decoded once and
// resampled once per distinct rate the models need (16 kHz taggers and CREPE, ...).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <tagmap/audio/read_resampled.hpp>
#include <tagmap/embed/pipeline.hpp>
#include <tagmap/embed/pooled_chunks.hpp>
#include <tagmap/embed/task_queue.hpp>
#include "cli_inputs.hpp"
#include "cli_models.hpp"
#include "cli_npy.hpp"
#include "cli_progress.hpp"
#include "commands.hpp"

namespace tagmap::cli {
namespace {

struct EmbedArgs {
    std::vector<std::string> inputs;
    std::string model;
    std::vector<std::string> models;
    std::string weights;
    std::string weights_dir = "weights";
    std::string out = "embeddings";
    bool per_chunk = false;
    std::string aggregate = "mean";
    double overlap = 0.0;
    bool skip_existing = false;
    bool quiet = false;
    int jobs = 0;                    // 0: every core
    std::string precision = "fp32";  // or bf16 (models that have it, AVX512_BF16 CPUs)
};

std::filesystem::path output_path(const EmbedArgs& a, const std::string& model_id,
                                  const InputFile& f, const char* kind) {
    return std::filesystem::path(a.out) / model_id / (f.relative.string() + "." + kind + ".npy");
}

std::filesystem::path sequence_path(const EmbedArgs& a, const std::string& model_id,
                                    const InputFile& f) {
    return std::filesystem::path(a.out) / model_id / (f.relative.string() + ".npy");
}

struct ModelTally {
    std::size_t ok = 0, failed = 0, skipped = 0;
};

/// The models of one worker: each worker binds its own instances (own arenas), so
/// workers share nothing but the read-only weight files.
struct WorkerModels {
    std::vector<LoadedModel> loaded;
    std::vector<LoadedSequenceModel> sequences;
    std::vector<models::AnyModel*> all_models;
};

/// Everything the workers share: the tallies and the progress output (behind `mutex`),
/// the queue of windows, and every worker's models (a window runs on whichever worker
/// takes it, with that worker's instance).
struct SharedState {
    std::mutex mutex;
    std::map<std::string, ModelTally> tally;
    Progress* progress = nullptr;
    embed::TaskQueue* queue = nullptr;
    std::vector<WorkerModels>* workers = nullptr;
};

/// Worker w's instance of tagger `index`.
struct TaggerOf {
    std::vector<WorkerModels>* workers;
    std::size_t index;
    models::AnyModel& operator()(std::size_t w) const { return *(*workers)[w].all_models[index]; }
};
using Windows = embed::PooledChunks<models::AnyModel, TaggerOf>;

/// One input file through every model that still needs it, decoded on worker `owner`
/// while its windows run on the pool; outputs are written here, the tallies and messages
/// go through `shared`.
void process_file(const EmbedArgs& a, const InputFile& f, std::size_t owner, SharedState& shared) {
    WorkerModels& w = (*shared.workers)[owner];
    auto& loaded = w.loaded;
    auto& sequences = w.sequences;
    auto& all_models = w.all_models;
    auto& tally = shared.tally;
    auto& progress = *shared.progress;
    const auto locked = [&](auto&& fn) {
        std::lock_guard lock(shared.mutex);
        fn();
    };
    std::error_code ec;
    std::uintmax_t bytes = std::filesystem::file_size(f.path, ec);
    if (ec) bytes = 0;
    // Which models still need this file?
    std::vector<models::AnyModel*> todo;
    std::vector<std::size_t> todo_index;
    for (std::size_t i = 0; i < loaded.size(); ++i) {
        const bool done = a.skip_existing &&
                          std::filesystem::exists(output_path(a, loaded[i].id, f, "embedding")) &&
                          std::filesystem::exists(output_path(a, loaded[i].id, f, "taggram"));
        if (done) {
            locked([&] { ++tally[loaded[i].id].skipped; });
        } else {
            todo.push_back(all_models[i]);
            todo_index.push_back(i);
        }
    }
    std::vector<std::size_t> sequence_todo;
    for (std::size_t i = 0; i < sequences.size(); ++i) {
        if (a.skip_existing && std::filesystem::exists(sequence_path(a, sequences[i].id, f)))
            locked([&] { ++tally[sequences[i].id].skipped; });
        else
            sequence_todo.push_back(i);
    }
    if (todo.empty() && sequence_todo.empty()) {
        locked([&] { progress.file_done(f.relative.string(), bytes, 0.0, "skipped"); });
        return;
    }
    // One resampler per distinct rate: the taggers' 16 kHz stream feeds their chunkers
    // and each sequence model's stream at its own rate, as the file decodes.
    std::vector<double> rates;
    const std::size_t tagger_rate =
        todo.empty() ? std::size_t(-1) : audio::rate_index(rates, audio::kModelSampleRate);
    std::vector<std::size_t> sequence_rate;
    for (auto i : sequence_todo)
        sequence_rate.push_back(audio::rate_index(rates, sequences[i].model->sample_rate()));
    try {
        // Overlap is a fraction of each model's own window.
        std::vector<std::unique_ptr<Windows>> windows;
        for (std::size_t j = 0; j < todo.size(); ++j) {
            const auto window = todo[j]->input_samples();
            const auto hop = static_cast<std::size_t>(
                std::max(1.0, std::round(static_cast<double>(window) * (1.0 - a.overlap))));
            windows.push_back(std::make_unique<Windows>(*shared.queue, owner, *todo[j],
                                                        embed::ChunkOptions{hop},
                                                        TaggerOf{shared.workers, todo_index[j]}));
        }
        // The header's length reserves a sequence model's per-frame state once (madmom
        // keeps T x 266 features: growing them by doubling would peak at up to twice that).
        std::size_t expected_seconds_x1000 = 0;
        if (!sequence_todo.empty()) {
            try {
                const audio::AudioFileReader probe(f.path);
                if (probe.info().sample_rate > 0 && probe.info().frames > 0)
                    expected_seconds_x1000 = std::size_t(1000.0 * double(probe.info().frames) /
                                                         double(probe.info().sample_rate));
            } catch (const std::exception&) {
                // The decode below reports what is wrong with the file.
            }
        }
        for (auto k : sequence_todo) {
            auto& m = *sequences[k].model;
            m.begin(std::size_t(double(expected_seconds_x1000) / 1000.0 * m.sample_rate()));
        }
        const auto report =
            audio::read_at_rates(f.path, rates, [&](std::size_t r, std::span<const float> block) {
                if (r == tagger_rate)
                    for (auto& win : windows) win->push(block);
                for (std::size_t k = 0; k < sequence_todo.size(); ++k)
                    if (sequence_rate[k] == r) sequences[sequence_todo[k]].model->push(block);
            });
        for (auto& win : windows) win->finish();
        for (auto& win : windows)
            if (const auto e = win->error(); !e.empty()) throw Error(e);
        std::vector<std::vector<float>> series;
        for (auto k : sequence_todo) series.push_back(sequences[k].model->finish());
        if (report.near_silent())
            locked([&] {
                progress.message("warning: near-silent audio (peak " +
                                 std::to_string(20 * std::log10(std::max(report.peak, 1e-12f))) +
                                 " dBFS), processed anyway: " + f.path.string());
            });
        if (report.recovered_errors > 0)
            locked([&] {
                progress.message("warning: " + std::to_string(report.recovered_errors) +
                                 " damaged block(s) skipped by the decoder: " + f.path.string());
            });
        for (std::size_t j = 0; j < todo.size(); ++j) {
            const auto& id = loaded[todo_index[j]].id;
            const auto emb_path = output_path(a, id, f, "embedding");
            const auto tag_path = output_path(a, id, f, "taggram");
            // Chunk order, whichever worker ran each: the same sums as one thread.
            if (a.per_chunk) {
                embed::ChunkMatrix per;
                per.n_tags = todo[j]->n_tags();
                per.embedding_dim = todo[j]->embedding_dim();
                windows[j]->results([&](const embed::ChunkResult& r) { per.append(r); });
                write_npy_atomic(tag_path, per.taggrams, {per.chunks, per.n_tags});
                write_npy_atomic(emb_path, per.embeddings, {per.chunks, per.embedding_dim});
            } else {
                embed::TrackAggregate track(todo[j]->n_tags(), todo[j]->embedding_dim());
                windows[j]->results(
                    [&](const embed::ChunkResult& r) { track.add(r.taggram, r.embedding); });
                auto pick = [&](std::vector<float> mean, std::vector<float> max) {
                    if (a.aggregate == "max") return max;
                    if (a.aggregate == "meanmax") mean.insert(mean.end(), max.begin(), max.end());
                    return mean;
                };
                const auto tg = pick(track.taggram_mean(), track.taggram_max());
                const auto em = pick(track.embedding_mean(), track.embedding_max());
                write_npy_atomic(tag_path, tg, {tg.size()});
                write_npy_atomic(emb_path, em, {em.size()});
            }
            locked([&] { ++tally[id].ok; });
        }
        for (std::size_t k = 0; k < sequence_todo.size(); ++k) {
            const auto& m = sequences[sequence_todo[k]];
            const std::size_t cols = m.model->columns();
            const std::size_t rows = series[k].size() / cols;
            write_npy_atomic(
                sequence_path(a, m.id, f), series[k],
                cols == 1 ? std::vector<std::size_t>{rows} : std::vector<std::size_t>{rows, cols});
            locked([&] { ++tally[m.id].ok; });
        }
        locked([&] { progress.file_done(f.relative.string(), bytes, report.seconds(), "ok"); });
    } catch (const std::exception& e) {
        locked([&] {
            for (std::size_t j = 0; j < todo.size(); ++j) ++tally[loaded[todo_index[j]].id].failed;
            for (auto i : sequence_todo) ++tally[sequences[i].id].failed;
            progress.message("FAILED " + f.path.string() + ": " + e.what());
            progress.file_done(f.relative.string(), bytes, 0.0, "FAILED");
        });
    }
}

int run_embed(const EmbedArgs& a) {
    auto ids = model_list(a.models);
    if (!a.model.empty()) {
        if (!ids.empty()) throw InvalidArgument("give either --model or --models, not both");
        ids.push_back(a.model);
    }
    if (a.overlap < 0.0 || a.overlap >= 1.0)
        throw InvalidArgument("--overlap must be in [0, 1), got " + std::to_string(a.overlap));
    const auto sequence_ids = take_sequence_ids(ids);
    if (ids.empty() && sequence_ids.empty())
        throw InvalidArgument("no model given (--model ID or --models A,B)");
    if (!a.weights.empty() && ids.size() + sequence_ids.size() != 1)
        throw InvalidArgument(
            "--weights FILE needs exactly one model; with several, use "
            "--weights-dir DIR holding <model id>.tmw");
    const auto files = collect_inputs(a.inputs);
    std::vector<LoadedModel> loaded;
    if (!ids.empty())
        loaded = load_models(ids, a.weights, a.weights_dir, models::parse_precision(a.precision));
    // A sequence model without weights is reported once here and left out of the run.
    std::vector<std::string> missing;
    auto sequences = load_sequence_models(sequence_ids, a.weights, a.weights_dir, missing);
    for (const auto& m : missing) std::fprintf(stderr, "warning: skipping model: %s\n", m.c_str());
    if (loaded.empty() && sequences.empty())
        throw IoError("none of the models has weights (see the warnings above)");

    std::uintmax_t total_bytes = 0;
    for (const auto& f : files) {
        std::error_code ec;
        const auto size = std::filesystem::file_size(f.path, ec);
        total_bytes += ec ? 0 : size;
    }
    Progress progress(files.size(), total_bytes, a.quiet);

    // Files on a pool of workers, each with its own model instances: a worker decodes
    // a file and queues its windows, which any worker runs (so one long file uses every
    // worker, and decoding overlaps the networks). Every output depends only on its file
    // and is assembled in chunk order, so the outputs are the same bytes at any --jobs.
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    const std::size_t jobs = a.jobs > 0 ? std::size_t(a.jobs) : cores;
    std::vector<WorkerModels> workers(jobs);
    workers[0].loaded = std::move(loaded);
    workers[0].sequences = std::move(sequences);
    for (std::size_t k = 1; k < jobs; ++k) {
        std::vector<std::string> ignored;  // reported once, above
        if (!ids.empty())
            workers[k].loaded =
                load_models(ids, a.weights, a.weights_dir, models::parse_precision(a.precision));
        // Sequence models run on the worker that decodes the file: only as many
        // instances as files can be decoded at once.
        if (k < files.size())
            workers[k].sequences =
                load_sequence_models(sequence_ids, a.weights, a.weights_dir, ignored);
    }
    for (auto& w : workers)
        for (auto& m : w.loaded) w.all_models.push_back(m.model.get());
    embed::TaskQueue queue(2 * jobs);
    SharedState shared;
    shared.progress = &progress;
    shared.queue = &queue;
    shared.workers = &workers;
    auto& tally = shared.tally;

    // Two inputs with the same relative path (x/a.wav and y/a.wav given as files) would
    // write the same outputs: the later one (in input order) fails instead of overwriting.
    std::vector<std::string> overwrites(files.size());
    {
        std::map<std::string, std::string> claimed;  // output name -> the input that owns it
        for (std::size_t i = 0; i < files.size(); ++i) {
            const auto [owner, fresh] =
                claimed.emplace(files[i].relative.generic_string(), files[i].path.string());
            if (!fresh) overwrites[i] = owner->second;
        }
    }
    embed::run_items(
        queue, jobs, files.size(), std::min(jobs, files.size()), [&](std::size_t i, std::size_t k) {
            const auto& f = files[i];
            if (overwrites[i].empty()) return process_file(a, f, k, shared);
            std::lock_guard lock(shared.mutex);
            for (const auto& m : workers[0].loaded) ++tally[m.id].failed;
            for (const auto& m : workers[0].sequences) ++tally[m.id].failed;
            progress.message("FAILED " + f.path.string() +
                             ": its outputs would overwrite those of " + overwrites[i] +
                             " (same relative name; pass their directory instead)");
            progress.file_done(f.relative.string(), 0, 0.0, "FAILED");
        });
    const auto& loaded_ids = workers[0].loaded;
    const auto& sequence_models = workers[0].sequences;

    bool any_failed = false;
    std::vector<std::string> run_ids;
    for (const auto& m : loaded_ids) run_ids.push_back(m.id);
    for (const auto& m : sequence_models) run_ids.push_back(m.id);
    for (const auto& id : run_ids) {
        const auto& t = tally[id];
        any_failed = any_failed || t.failed > 0;
        std::fprintf(stderr, "%s: %zu ok, %zu failed, %zu skipped -> %s\n", id.c_str(), t.ok,
                     t.failed, t.skipped, (std::filesystem::path(a.out) / id).string().c_str());
    }
    if (!a.quiet)
        std::fprintf(stderr, "%zu file(s), %.1f s of audio in %.1f s (%.1f s audio/s)\n",
                     files.size(), progress.audio_seconds(), progress.seconds(),
                     progress.seconds() > 0 ? progress.audio_seconds() / progress.seconds() : 0.0);
    return any_failed ? 1 : 0;
}

}  // namespace

void add_embed_command(CLI::App& app) {
    auto args = std::make_shared<EmbedArgs>();
    auto* cmd = app.add_subcommand(
        "embed",
        "Write embeddings and taggrams (or pitch/beat series) of audio files (or folders) as .npy");
    cmd->add_option("inputs", args->inputs, "Audio files and/or directories (walked recursively)")
        ->required();
    cmd->add_option("--model", args->model,
                    "Model id (musicnn-mtat, musicnn-msd, vgg-mtat, vgg-msd; sequence models: "
                    "crepe-tiny, ...)");
    cmd->add_option("--models", args->models,
                    "Several model ids, comma-separated: one decode per file, one resampling "
                    "per sample rate")
        ->delimiter(',');
    cmd->add_option("--weights", args->weights, "Weight file (.tmw or .pth) for a single --model");
    cmd->add_option("--weights-dir", args->weights_dir,
                    "Directory holding <model id>.tmw (or .pth)")
        ->capture_default_str();
    cmd->add_option("-o,--out", args->out, "Output directory: OUT/<model>/<relative path>.*.npy")
        ->capture_default_str();
    cmd->add_flag("--per-chunk", args->per_chunk,
                  "One row per chunk (n_chunks x dim) instead of one track-level vector");
    cmd->add_option("--aggregate", args->aggregate,
                    "Track-level summary over chunks: mean, max, or meanmax (mean then max)")
        ->capture_default_str()
        ->check(CLI::IsMember({"mean", "max", "meanmax"}));
    cmd->add_option("--overlap", args->overlap,
                    "Overlap of consecutive chunks, fraction of the window in [0, 1)")
        ->capture_default_str();
    cmd->add_flag("--skip-existing", args->skip_existing,
                  "Skip (file, model) pairs whose outputs already exist");
    cmd->add_option("--precision", args->precision,
                    "Arithmetic of the heavy convolutions: fp32 (reference) or bf16 (bfloat16 "
                    "operands, fp32 accumulation; musicnn-mtat on CPUs with AVX512_BF16)")
        ->check(CLI::IsMember({"fp32", "bf16"}))
        ->capture_default_str();
    cmd->add_option("-j,--jobs", args->jobs,
                    "Workers: files, and the chunks of each file, run in parallel, each worker "
                    "with its own model instances (0: every core); outputs are identical at any "
                    "value")
        ->capture_default_str()
        ->check(CLI::Range(0, 256));
    cmd->add_flag("-q,--quiet", args->quiet,
                  "No progress output (failures and summary still shown)");
    cmd->callback([args] {
        const int code = run_embed(*args);
        if (code != 0) throw CLI::RuntimeError(code);
    });
}

}  // namespace tagmap::cli
