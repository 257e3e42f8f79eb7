// tagmap tag: the top-N tags of each audio file (mean of the per-chunk taggrams over
// the track, like musicnn's tagger), as text or JSON. Tag names come from tag-list
// files found at run time (cli_tags.hpp), never from the binary.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <tagmap/embed/pipeline.hpp>
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
};

int run_tag(const TagArgs& a) {
    const auto files = collect_inputs(a.inputs);
    auto loaded = load_models({a.model}, a.weights, a.weights_dir);
    auto& model = *loaded.front().model;
    const auto tag_file = find_tags_file(std::string(model.tag_set()), a.tags);
    const auto names = load_tags(tag_file, model.n_tags());
    const std::size_t top = std::min(a.top, names.size());

    nlohmann::json out = nlohmann::json::array();
    bool any_failed = false;
    for (const auto& f : files) {
        try {
            embed::TrackAggregate track(model.n_tags(), model.embedding_dim());
            models::AnyModel* models[] = {&model};
            const auto report =
                embed::embed_file(f.path, std::span<models::AnyModel* const>(models),
                                  [&](std::size_t, const embed::ChunkResult& r) {
                                      track.add(r.taggram, r.embedding);
                                  });
            if (report.near_silent())
                std::fprintf(stderr, "warning: near-silent audio, tags are not meaningful: %s\n",
                             f.path.string().c_str());
            const auto scores = track.taggram_mean();
            std::vector<std::size_t> order(scores.size());
            std::iota(order.begin(), order.end(), 0);
            std::stable_sort(order.begin(), order.end(),
                             [&](std::size_t x, std::size_t y) { return scores[x] > scores[y]; });
            if (a.json) {
                nlohmann::json tags = nlohmann::json::array();
                for (std::size_t k = 0; k < top; ++k)
                    tags.push_back({{"tag", names[order[k]]}, {"score", scores[order[k]]}});
                out.push_back({{"file", f.path.string()},
                               {"model", loaded.front().id},
                               {"chunks", track.chunks()},
                               {"seconds", report.seconds()},
                               {"tags", tags}});
            } else {
                std::printf("%s\n", f.path.string().c_str());
                for (std::size_t k = 0; k < top; ++k)
                    std::printf("  %-20s %.3f\n", names[order[k]].c_str(), scores[order[k]]);
            }
        } catch (const std::exception& e) {
            any_failed = true;
            std::fprintf(stderr, "FAILED %s: %s\n", f.path.string().c_str(), e.what());
            if (a.json) out.push_back({{"file", f.path.string()}, {"error", e.what()}});
        }
        std::fflush(stdout);
    }
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
    cmd->callback([args] {
        const int code = run_tag(*args);
        if (code != 0) throw CLI::RuntimeError(code);
    });
}

}  // namespace tagmap::cli
