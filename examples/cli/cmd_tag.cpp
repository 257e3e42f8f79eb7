// tagmap tag: the top-N tags of each audio file (mean of the per-chunk taggrams over
// the track, like musicnn's tagger), as text or JSON. Tag names come from tag-list
// files found at run time (cli_tags.hpp), never from the binary. Files run on a pool of
// --jobs workers (one model instance each), the chunks of each file too; results are
// printed in input order, so the output is the same bytes at any --jobs.
#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <numeric>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include <tagmap/audio/read_resampled.hpp>
#include <tagmap/embed/pipeline.hpp>
#include <tagmap/embed/pooled_chunks.hpp>
#include <tagmap/embed/task_queue.hpp>
#include "cli_inputs.hpp"
#include "cli_models.hpp"
#include "cli_tags.hpp"
#include "commands.hpp"

namespace tagmap::cli {
namespace {

struct TagArgs {
    std::vector<std::string> inputs;
    std::string model = "musicnn-mtat";
    std::string weights;
    std::string weights_dir = "weights";
    std::size_t top = 5;
    bool json = false;
    TagSource tags;
    int jobs = 0;                    // 0: every core
    std::string precision = "fp32";  // or bf16 (models that have it, AVX512_BF16 CPUs)
};

/// One file's result, kept until every earlier file has been printed.
struct TagResult {
    std::vector<float> scores;  ///< mean taggram; empty when the file failed
    std::size_t chunks = 0;
    double seconds = 0.0;
    bool near_silent = false;
    std::string error;
};

/// Worker w's instance of the model.
struct ModelOf {
    std::vector<models::AnyModel*>* models;
    models::AnyModel& operator()(std::size_t w) const { return *(*models)[w]; }
};

/// One file decoded on worker `owner`, its chunks run on the pool, the mean taggram
/// summed in chunk order (the same bytes as one thread).
TagResult tag_file(const InputFile& f, std::size_t owner, embed::TaskQueue& queue,
                   std::vector<models::AnyModel*>& models) {
    TagResult r;
    try {
        auto& model = *models[owner];
        embed::PooledChunks<models::AnyModel, ModelOf> windows(queue, owner, model, {},
                                                               ModelOf{&models});
        const auto report = audio::read_resampled(
            f.path, [&](std::span<const float> block) { windows.push(block); });
        windows.finish();
        if (const auto e = windows.error(); !e.empty()) throw Error(e);
        embed::TrackAggregate track(model.n_tags(), model.embedding_dim());
        windows.results([&](const embed::ChunkResult& c) { track.add(c.taggram, c.embedding); });
        r.near_silent = report.near_silent();
        r.seconds = report.seconds();
        r.chunks = track.chunks();
        r.scores = track.taggram_mean();
    } catch (const std::exception& e) {
        r.error = e.what();
        if (r.error.empty()) r.error = "unknown error";
    }
    return r;
}

int run_tag(const TagArgs& a) {
    const auto files = collect_inputs(a.inputs);
    auto loaded =
        load_models({a.model}, a.weights, a.weights_dir, models::parse_precision(a.precision));
    auto& model = *loaded.front().model;
    const auto tag_file_path = find_tags_file(std::string(model.tag_set()), a.tags);
    const auto names = load_tags(tag_file_path, model.n_tags());
    const std::size_t top = std::min(a.top, names.size());

    // One model instance per worker (own arena); a file's scores depend only on the file.
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    const std::size_t jobs = a.jobs > 0 ? std::size_t(a.jobs) : cores;
    std::vector<LoadedModel> extra;
    std::vector<models::AnyModel*> instances = {&model};
    for (std::size_t k = 1; k < jobs; ++k) {
        auto more =
            load_models({a.model}, a.weights, a.weights_dir, models::parse_precision(a.precision));
        extra.push_back(std::move(more.front()));
        instances.push_back(extra.back().model.get());
    }

    nlohmann::json out = nlohmann::json::array();
    bool any_failed = false;
    // Printed in input order as soon as every earlier file is done.
    const auto print = [&](const InputFile& f, const TagResult& r) {
        if (!r.error.empty()) {
            any_failed = true;
            std::fprintf(stderr, "FAILED %s: %s\n", f.path.string().c_str(), r.error.c_str());
            if (a.json) out.push_back({{"file", f.path.string()}, {"error", r.error}});
            return;
        }
        if (r.near_silent)
            std::fprintf(stderr, "warning: near-silent audio, tags are not meaningful: %s\n",
                         f.path.string().c_str());
        std::vector<std::size_t> order(r.scores.size());
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(),
                         [&](std::size_t x, std::size_t y) { return r.scores[x] > r.scores[y]; });
        if (a.json) {
            nlohmann::json tags = nlohmann::json::array();
            for (std::size_t k = 0; k < top; ++k)
                tags.push_back({{"tag", names[order[k]]}, {"score", r.scores[order[k]]}});
            out.push_back({{"file", f.path.string()},
                           {"model", loaded.front().id},
                           {"chunks", r.chunks},
                           {"seconds", r.seconds},
                           {"tags", tags}});
        } else {
            std::printf("%s\n", f.path.string().c_str());
            for (std::size_t k = 0; k < top; ++k)
                std::printf("  %-20s %.3f\n", names[order[k]].c_str(), r.scores[order[k]]);
        }
        std::fflush(stdout);
    };

    std::mutex mutex;
    std::vector<std::optional<TagResult>> results(files.size());
    std::size_t printed = 0;
    // Files on the workers, their chunks on every worker (one long file uses them all).
    embed::TaskQueue queue(2 * jobs);
    embed::run_items(queue, jobs, files.size(), jobs, [&](std::size_t i, std::size_t k) {
        auto r = tag_file(files[i], k, queue, instances);
        std::lock_guard lock(mutex);
        results[i] = std::move(r);
        for (; printed < files.size() && results[printed]; ++printed) {
            print(files[printed], *results[printed]);
            results[printed].reset();
        }
    });
    if (a.json) std::cout << out.dump(2) << '\n';
    return any_failed ? 1 : 0;
}

}  // namespace

void add_tag_command(CLI::App& app) {
    auto args = std::make_shared<TagArgs>();
    auto* cmd = app.add_subcommand("tag", "Print the top tags of audio files");
    cmd->add_option("inputs", args->inputs, "Audio files and/or directories")->required();
    cmd->add_option("--model", args->model, "Model id")->capture_default_str();
    cmd->add_option("--weights", args->weights, "Weight file (.tmw or .pth)");
    cmd->add_option("--weights-dir", args->weights_dir,
                    "Directory holding <model id>.tmw (or .pth), used without --weights")
        ->capture_default_str();
    cmd->add_option("-n,--top", args->top, "Number of tags per file")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    cmd->add_flag("--json", args->json, "JSON array on stdout instead of text");
    cmd->add_option("--tags", args->tags.tags_file, "Tag-name list (one per line, model order)");
    cmd->add_option("--tags-dir", args->tags.tags_dir, "Directory with <tag set>.txt lists");
    cmd->add_option("--precision", args->precision,
                    "Arithmetic of the heavy convolutions: fp32 (reference) or bf16 (bfloat16 "
                    "operands, fp32 accumulation; musicnn-mtat on CPUs with AVX512_BF16)")
        ->check(CLI::IsMember({"fp32", "bf16"}))
        ->capture_default_str();
    cmd->add_option("-j,--jobs", args->jobs,
                    "Workers: files, and the chunks of each file, run in parallel, each worker "
                    "with its own model instance (0: every core); the output is identical at "
                    "any value")
        ->capture_default_str()
        ->check(CLI::Range(0, 256));
    cmd->callback([args] {
        const int code = run_tag(*args);
        if (code != 0) throw CLI::RuntimeError(code);
    });
}

}  // namespace tagmap::cli
