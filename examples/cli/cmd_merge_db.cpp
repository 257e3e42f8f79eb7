// tagmap merge-db OUT.db SHARD.db...: the shard databases of preprocess-all --shard K/N
// --out-db merged into one library, or the placement shards of project --place-shard K/N
// --out-db into its cached maps (docs/scale.md). Every shard is checked before any is
// merged; merging again changes nothing.
#include <cstdio>
#include <memory>
#include <set>

#include "commands.hpp"
#include "merge.hpp"

namespace tagmap::cli {
namespace {

struct MergeArgs {
    std::string out;
    std::vector<std::string> shards;
};

int run_merge(const MergeArgs& a) {
    std::vector<std::filesystem::path> shards(a.shards.begin(), a.shards.end());
    const auto tallies = store::merge_shards(a.out, shards);
    std::set<std::string> labels;
    std::string count;
    for (const auto& t : tallies) {
        if (t.placement) {
            std::printf("%s (placement shard %s): %lld point(s) placed, %lld unchanged\n",
                        t.shard.string().c_str(), t.shard_label.c_str(), (long long)t.points_added,
                        (long long)t.points_unchanged);
            continue;
        }
        std::printf(
            "%s%s: %lld track(s) added, %lld result(s) copied, %lld unchanged, %lld "
            "failure(s)\n",
            t.shard.string().c_str(),
            t.shard_label.empty() ? "" : (" (shard " + t.shard_label + ")").c_str(),
            (long long)t.tracks_added, (long long)t.results_copied, (long long)t.results_unchanged,
            (long long)t.failures_copied);
        if (const auto slash = t.shard_label.find('/'); slash != std::string::npos) {
            labels.insert(t.shard_label.substr(0, slash));
            count = t.shard_label.substr(slash + 1);
        }
    }
    // Merging a subset is allowed (shards can be merged as they finish), but say so.
    if (!count.empty() && labels.size() < std::size_t(std::stoi(count)))
        std::fprintf(stderr, "merge-db: note: %zu of %s shards merged so far\n", labels.size(),
                     count.c_str());
    return 0;
}

}  // namespace

void add_merge_db_command(CLI::App& app) {
    auto a = std::make_shared<MergeArgs>();
    auto* cmd = app.add_subcommand(
        "merge-db",
        "Merge shard databases (preprocess-all --shard K/N --out-db) into a library, or "
        "placement shards (project --place-shard K/N --out-db) into its maps");
    cmd->add_option("out", a->out, "Library to merge into (created if missing)")->required();
    cmd->add_option("shards", a->shards,
                    "Shard databases (all N placement shards of a map together)")
        ->required();
    cmd->callback([a] {
        if (const int code = run_merge(*a); code != 0) throw CLI::RuntimeError(code);
    });
}

}  // namespace tagmap::cli
