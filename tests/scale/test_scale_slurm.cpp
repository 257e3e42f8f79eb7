// The Slurm workflow of docs/scale.md for real, on a one-node cluster (munged, slurmctld,
// slurmd for 2 CPUs) that this test starts in a temporary folder with its own config and
// stops at the end (one_node_slurm.sh; never the system's services). examples/slurm/submit.sh
// indexes the 13 shared clips once, runs a 4-task preprocess-all array (one shard each,
// own databases) and a dependent merge-db; the merged library's export must equal a
// single-process run's byte for byte, and merging again must change nothing. Then the map
// as array tasks: a fit job on a sample, 3 placement tasks, a final merge-db, whose map
// must equal a single-process `project --fit-sample` map bit for bit. Skipped, with
// the reason, where Slurm cannot start (no slurm-wlm/munge, not root). Labelled slow.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include <bit>

#include "library.hpp"
#include "map_points.hpp"
#include "projection_cache.hpp"
#include "store_test_util.hpp"

using namespace tagmap::store;
using namespace tagmap::store::test;

namespace {

const fs::path kSource = TAGMAP_SOURCE_DIR;

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

RunResult run_program(const fs::path& dir, const fs::path& program,
                      const std::vector<std::string>& args) {
    static int n = 0;
    const auto out = dir / ("run" + std::to_string(++n) + ".stdout");
    const auto err = dir / ("run" + std::to_string(n) + ".stderr");
    return wait_for(spawn(program, args, out, err), out, err);
}

std::string field(const std::string& text, const std::string& key) {
    const auto at = text.find(key + "=");
    if (at == std::string::npos) return {};
    const auto start = at + key.size() + 1;
    return text.substr(start, text.find_first_of(" \n", start) - start);
}

class SlurmCluster : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        suite_ = std::make_unique<TempDir>();
        slurm_dir_ = suite_->path() / "slurm";
        const auto r = run_program(
            suite_->path(), "/bin/bash",
            {(kSource / "tests/scale/one_node_slurm.sh").string(), "start", slurm_dir_.string()});
        if (r.code != 0) {
            skip_reason_ = r.code == 77 ? r.err : "one_node_slurm.sh failed: " + r.text();
            std::fprintf(stderr, "test_scale_slurm: SKIPPED: %s\n", skip_reason_.c_str());
            return;
        }
        started_ = true;
        ::setenv("SLURM_CONF", (slurm_dir_ / "slurm.conf").c_str(), 1);
        weights_ = suite_->path() / "weights";
        convert_weights(weights_);
        clips_ = suite_->path() / "clips";
        const auto all = shared_clips();
        for (std::size_t i = 0; i < all.size(); ++i)
            copy_clip(all[i], clips_ / (i % 3 == 0 ? "" : "sub" + std::to_string(i % 3)) /
                                  all[i].filename());
    }
    static void TearDownTestSuite() {
        if (started_)
            run_program(suite_->path(), "/bin/bash",
                        {(kSource / "tests/scale/one_node_slurm.sh").string(), "stop",
                         slurm_dir_.string()});
        suite_.reset();
    }
    void SetUp() override {
        if (!started_) GTEST_SKIP() << "Slurm cannot start here: " << skip_reason_;
    }

    RunResult tagmap(const std::vector<std::string>& args) { return run_tagmap(dir_.path(), args); }
    void export_to(const fs::path& db, const fs::path& out, bool per_chunk) {
        std::vector<std::string> args{"export", "--db", db.string(), "--out", out.string()};
        if (per_chunk) args.push_back("--per-chunk");
        const auto r = tagmap(args);
        ASSERT_EQ(r.code, 0) << r.text();
        ASSERT_TRUE(contains(r.out, "musicnn-mtat: exported 13 track(s)")) << r.out;
    }
    /// Waits for a job to leave the queue; its final state ("COMPLETED", ...).
    std::string wait_job(const std::string& id, int timeout_s) {
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
        std::string state;
        while (std::chrono::steady_clock::now() < end) {
            const auto r = run_program(dir_.path(), "/usr/bin/scontrol", {"show", "job", id});
            state = field(r.out, "JobState");
            if (state == "COMPLETED" || state == "FAILED" || state == "CANCELLED" ||
                state == "TIMEOUT" || state == "NODE_FAIL" || state == "OUT_OF_MEMORY")
                return state;
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
        }
        return "still " + state + " after " + std::to_string(timeout_s) + " s";
    }

    static std::unique_ptr<TempDir> suite_;
    static fs::path slurm_dir_, weights_, clips_;
    static bool started_;
    static std::string skip_reason_;
    TempDir dir_;
};

std::unique_ptr<TempDir> SlurmCluster::suite_;
fs::path SlurmCluster::slurm_dir_, SlurmCluster::weights_, SlurmCluster::clips_;
bool SlurmCluster::started_ = false;
std::string SlurmCluster::skip_reason_;

}  // namespace

TEST_F(SlurmCluster, ArrayOfFourShardsMergesToTheSingleProcessExport) {
    // The reference: one process, one library.
    const auto single = dir_ / "single.db";
    auto r = tagmap({"init-db", "--db", single.string(), "--audio-dir", clips_.string()});
    ASSERT_EQ(r.code, 0) << r.text();
    r = tagmap({"index-audio", "--db", single.string(), "-q"});
    ASSERT_EQ(r.code, 0) << r.text();
    r = tagmap({"preprocess-all", "--db", single.string(), "--weights-dir", weights_.string(),
                "--jobs", "2", "-q"});
    ASSERT_EQ(r.code, 0) << r.text();
    export_to(single, dir_ / "single-export", false);
    export_to(single, dir_ / "single-export-chunks", true);
    // The map of 13 tracks fitted on 6, the other 7 placed in batches of 3 (3 batches).
    const std::vector<std::string> map_args{"--source", "embedding",         "--dims",
                                            "2",        "--transform-batch", "3"};
    MapSpec spec;
    spec.model_id = "musicnn-mtat";
    spec.fit_sample = 6;
    spec.transform_batch = 3;
    {
        std::vector<std::string> args{"project",      "--db", single.string(), "--method", "umap",
                                      "--fit-sample", "6"};
        args.insert(args.end(), map_args.begin(), map_args.end());
        r = tagmap(args);
        ASSERT_EQ(r.code, 0) << r.text();
    }
    const auto single_map = map_points(single, spec);
    ASSERT_EQ(single_map.size(), 13u);

    // The cluster run: index job, 4 array tasks of 1 CPU (2 at a time), merge job; then the
    // map: fit job, 3 placement tasks of 1 CPU, final merge job.
    const auto db = dir_ / "cluster.db", shards = dir_ / "shards";
    ::setenv("TAGMAP", tagmap::test::binary("tagmap").c_str(), 1);
    ::setenv("TAGMAP_DB", db.c_str(), 1);
    ::setenv("TAGMAP_AUDIO", clips_.c_str(), 1);
    ::setenv("TAGMAP_WEIGHTS", weights_.c_str(), 1);
    ::setenv("TAGMAP_SHARD_DIR", shards.c_str(), 1);
    ::setenv("TAGMAP_SHARDS", "4", 1);
    ::setenv("TAGMAP_SHARD_CPUS", "1", 1);
    ::setenv("TAGMAP_FIT_SAMPLE", "6", 1);
    ::setenv("TAGMAP_PLACE_TASKS", "3", 1);
    ::setenv("TAGMAP_PLACE_CPUS", "1", 1);
    ::setenv("TAGMAP_MAP_ARGS", "--source embedding --dims 2 --transform-batch 3", 1);
    r = run_program(dir_.path(), "/bin/bash", {(kSource / "examples/slurm/submit.sh").string()});
    ASSERT_EQ(r.code, 0) << r.text();
    const auto last_job = r.out.substr(0, r.out.find('\n'));
    ASSERT_FALSE(last_job.empty()) << r.text();
    const auto state = wait_job(last_job, 420);
    std::string logs;
    for (const auto& [name, bytes] : tree(shards))
        if (name.ends_with(".out")) logs += "--- " + name + "\n" + bytes;
    ASSERT_EQ(state, "COMPLETED") << logs;
    EXPECT_TRUE(contains(logs, "(shard 3/4)")) << logs;
    EXPECT_TRUE(contains(logs, "musicnn-mtat embedding umap 2D: fitted (13 points, 7 new)"))
        << logs;
    EXPECT_TRUE(contains(logs, "shard 2/3 placed 1 of 7 track(s) (1 of 3 batch(es))")) << logs;
    EXPECT_TRUE(contains(logs, "(placement shard 2/3): 1 point(s) placed, 0 unchanged")) << logs;

    // The map placed by the array is the single-process map, bit for bit.
    EXPECT_EQ(map_points(db, spec), single_map);

    // Each shard was one task's own database, complete, with only its tracks.
    std::int64_t shard_tracks = 0;
    for (int k = 0; k < 4; ++k) {
        Library s(shards / ("shard-" + std::to_string(k) + ".db"), OpenMode::read_only);
        EXPECT_EQ(s.info("shard"), std::to_string(k) + "/4");
        EXPECT_EQ(s.info("shard_state"), "complete");
        shard_tracks += s.track_count();
    }
    EXPECT_EQ(shard_tracks, 13);

    export_to(db, dir_ / "export", false);
    export_to(db, dir_ / "export-chunks", true);
    EXPECT_TRUE(same_tree(dir_ / "export", dir_ / "single-export"));
    EXPECT_TRUE(same_tree(dir_ / "export-chunks", dir_ / "single-export-chunks"));

    // Merging again changes nothing, and nothing is left to embed.
    std::vector<std::string> args{"merge-db", db.string()};
    for (int k = 0; k < 4; ++k)
        args.push_back((shards / ("shard-" + std::to_string(k) + ".db")).string());
    r = tagmap(args);
    ASSERT_EQ(r.code, 0) << r.text();
    EXPECT_TRUE(contains(r.out, "0 result(s) copied")) << r.out;
    EXPECT_FALSE(contains(r.out, " 1 result(s) copied")) << r.out;
    r = tagmap({"preprocess-all", "--db", db.string(), "--weights-dir", weights_.string(), "-q"});
    ASSERT_EQ(r.code, 0) << r.text();
    EXPECT_TRUE(contains(r.out, "musicnn-mtat: 0 embedded, 0 failed, 13 up to date")) << r.out;
    export_to(db, dir_ / "export-again", false);
    EXPECT_TRUE(same_tree(dir_ / "export-again", dir_ / "single-export"));
    args = {"merge-db", db.string()};
    for (int k = 0; k < 3; ++k)
        args.push_back((shards / ("place-" + std::to_string(k) + ".db")).string());
    r = tagmap(args);
    ASSERT_EQ(r.code, 0) << r.text();
    EXPECT_TRUE(contains(r.out, "(placement shard 0/3): 0 point(s) placed, 3 unchanged")) << r.out;
    EXPECT_EQ(map_points(db, spec), single_map);
}
