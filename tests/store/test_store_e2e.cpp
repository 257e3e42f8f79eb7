// The library on the 13 shared clips (copied; ../shared is never modified), with the
// real MusiCNN weights: `tagmap export` equals `tagmap embed` byte for byte, and
// preprocess-all killed with SIGKILL at any point leaves a sound database that a rerun
// completes to exactly the export of an uninterrupted run. Labelled slow.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <set>
#include <thread>

#include "library.hpp"
#include "store_test_util.hpp"

using namespace tagmap::store;
using namespace tagmap::store::test;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

class Library13 : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        suite_dir_ = std::make_unique<TempDir>();
        weights_dir_ = suite_dir_->path() / "weights";
        convert_weights(weights_dir_);
        clips_ = suite_dir_->path() / "clips";
        // Spread over sub-folders, as a music folder is.
        const auto all = shared_clips();
        for (std::size_t i = 0; i < all.size(); ++i)
            copy_clip(all[i], clips_ / (i % 3 == 0 ? "" : "sub" + std::to_string(i % 3)) /
                                  all[i].filename());
    }
    static void TearDownTestSuite() { suite_dir_.reset(); }

    RunResult run(const std::vector<std::string>& args) { return run_tagmap(dir_.path(), args); }
    /// init-db and index-audio of the copied clips into a new library.
    void make_library(const fs::path& db) {
        auto r = run({"init-db", "--db", db.string(), "--audio-dir", clips_.string()});
        ASSERT_EQ(r.code, 0) << r.text();
        r = run({"index-audio", "--db", db.string(), "-q"});
        ASSERT_EQ(r.code, 0) << r.text();
        ASSERT_TRUE(contains(r.out, "13 audio files: 13 new")) << r.out;
    }
    std::vector<std::string> preprocess_args(const fs::path& db) {
        return {"preprocess-all",      "--db",   db.string(), "--weights-dir",
                weights_dir_.string(), "--jobs", "2",         "-q"};
    }
    void export_to(const fs::path& db, const fs::path& out, bool per_chunk) {
        std::vector<std::string> args{"export", "--db", db.string(), "--out", out.string()};
        if (per_chunk) args.push_back("--per-chunk");
        const auto r = run(args);
        ASSERT_EQ(r.code, 0) << r.text();
        ASSERT_TRUE(contains(r.out, "musicnn-mtat: exported 13 track(s)")) << r.out;
    }

    static std::unique_ptr<TempDir> suite_dir_;
    static fs::path weights_dir_, clips_;
    TempDir dir_;
};

std::unique_ptr<TempDir> Library13::suite_dir_;
fs::path Library13::weights_dir_;
fs::path Library13::clips_;

/// The embeddings rows (track id -> row id) of a library.
std::map<std::int64_t, std::int64_t> result_rows(Database& db) {
    std::map<std::int64_t, std::int64_t> out;
    auto q = db.prepare("SELECT track_id, id FROM embeddings");
    while (q.step()) out[q.int64(0)] = q.int64(1);
    return out;
}

/// What must hold however the writer died: a sound file, and every track's rows whole.
void expect_consistent(const fs::path& file) {
    Database db(file, OpenMode::read_only);
    {
        auto q = db.prepare("PRAGMA integrity_check");
        ASSERT_TRUE(q.step());
        EXPECT_EQ(q.text(0), "ok");
        EXPECT_FALSE(q.step());
    }
    {
        auto q = db.prepare("PRAGMA foreign_key_check");
        EXPECT_FALSE(q.step()) << "foreign key violation in " << q.text(0);
    }
    EXPECT_EQ(scalar(db,
                     "SELECT count(*) FROM (SELECT track_id, model_id FROM embeddings "
                     "GROUP BY track_id, model_id HAVING count(*) > 1)"),
              0);
    EXPECT_EQ(scalar(db,
                     "SELECT count(*) FROM embeddings e LEFT JOIN chunk_outputs c ON "
                     "c.embedding_id = e.id WHERE c.embedding_id IS NULL"),
              0);
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM chunk_outputs"),
              scalar(db, "SELECT count(*) FROM embeddings"));
    EXPECT_EQ(scalar(db,
                     "SELECT count(*) FROM embeddings e JOIN chunk_outputs c ON "
                     "c.embedding_id = e.id WHERE length(c.embeddings) != 4 * e.chunks * "
                     "e.embedding_dim OR length(c.taggrams) != 4 * e.chunks * e.n_tags"),
              0);
    // processed_at is written in the same transaction as the track's (single) result.
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM tracks WHERE processed_at IS NOT NULL"),
              scalar(db, "SELECT count(*) FROM embeddings"));
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM failures"), 0);
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM tracks"), 13);
}

}  // namespace

TEST_F(Library13, ExportEqualsEmbedByteForByte) {
    const auto db = dir_ / "L.db";
    make_library(db);
    const auto r = run(preprocess_args(db));
    ASSERT_EQ(r.code, 0) << r.text();
    ASSERT_TRUE(contains(r.out, "musicnn-mtat: 13 embedded, 0 failed, 0 up to date")) << r.out;

    for (const bool per_chunk : {false, true}) {
        SCOPED_TRACE(per_chunk ? "--per-chunk" : "track level");
        const std::string tag = per_chunk ? "-chunks" : "";
        const auto embedded = dir_ / ("embed" + tag), exported = dir_ / ("export" + tag);
        std::vector<std::string> args{
            "embed", "--models",       "musicnn-mtat", "--weights-dir", weights_dir_.string(),
            "--out", embedded.string()};
        if (per_chunk) args.push_back("--per-chunk");
        args.push_back(clips_.string());
        const auto e = run(args);
        ASSERT_EQ(e.code, 0) << e.text();
        export_to(db, exported, per_chunk);
        EXPECT_EQ(tree(exported).size(), 26u);  // 13 tracks x (embedding, taggram)
        EXPECT_TRUE(same_tree(exported, embedded));
    }
    // The two layouts differ (means vs chunk rows), so the comparison above means something.
    const auto means = tree(dir_ / "export"), chunks = tree(dir_ / "export-chunks");
    ASSERT_EQ(means.size(), chunks.size());
    const std::string any = means.begin()->first;
    EXPECT_NE(means.at(any), chunks.at(any)) << any;
}

TEST_F(Library13, KilledPreprocessLeavesASoundLibraryAndResumes) {
    // The reference: an uninterrupted run.
    const auto clean = dir_ / "clean.db";
    make_library(clean);
    auto r = run(preprocess_args(clean));
    ASSERT_EQ(r.code, 0) << r.text();
    export_to(clean, dir_ / "clean-export", false);
    export_to(clean, dir_ / "clean-export-chunks", true);

    // The same library, killed right after start and then when it holds 2, 5 and 9
    // results; each run resumes where the previous one died.
    const auto db = dir_ / "L.db";
    make_library(db);
    std::map<std::int64_t, std::int64_t> kept;  // results stored before the last kill
    for (const int target : {0, 2, 5, 9}) {
        SCOPED_TRACE("kill at " + std::to_string(target) + " results");
        const auto out = dir_ / "killed.stdout", err = dir_ / "killed.stderr";
        const pid_t pid = spawn(tagmap::test::binary("tagmap"), preprocess_args(db), out, err);
        ASSERT_GT(pid, 0);
        if (target > 0) {
            Database poll(db, OpenMode::read_only);
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
            for (;;) {
                if (scalar(poll, "SELECT count(*) FROM embeddings") >= target) break;
                int status = 0;
                if (::waitpid(pid, &status, WNOHANG) == pid) {
                    FAIL() << "preprocess-all ended before it held " << target << " results\n"
                           << slurp(out) << slurp(err);
                }
                if (std::chrono::steady_clock::now() > deadline) {
                    ::kill(pid, SIGKILL);
                    FAIL() << "no progress to " << target << " results in 120 s";
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(2));
            }
        }
        ASSERT_EQ(::kill(pid, SIGKILL), 0);
        const auto killed = wait_for(pid, out, err);
        EXPECT_EQ(killed.signal, SIGKILL) << "it finished before the kill:\n" << killed.text();

        expect_consistent(db);
        Database check(db, OpenMode::read_only);
        const auto rows = result_rows(check);
        std::printf("killed at %d: %zu results stored\n", target, rows.size());
        EXPECT_GE(std::int64_t(rows.size()), target);
        EXPECT_LT(rows.size(), 13u);
        // What was stored before stays, as it was (not redone by the resumed run).
        for (const auto& [track, row] : kept) {
            ASSERT_TRUE(rows.count(track)) << "track " << track << " lost its result";
            EXPECT_EQ(rows.at(track), row) << "track " << track << " was embedded again";
        }
        kept = rows;
    }

    // A last run completes exactly the tracks without a result.
    const auto n = std::to_string(kept.size());
    r = run(preprocess_args(db));
    ASSERT_EQ(r.code, 0) << r.text();
    EXPECT_TRUE(contains(r.out, "musicnn-mtat: " + std::to_string(13 - kept.size()) +
                                    " embedded, 0 failed, " + n + " up to date"))
        << r.out;
    expect_consistent(db);
    {
        Database check(db, OpenMode::read_only);
        const auto rows = result_rows(check);
        EXPECT_EQ(rows.size(), 13u);
        for (const auto& [track, row] : kept) EXPECT_EQ(rows.at(track), row) << track;
    }
    // And the library's export is the uninterrupted run's, file for file, byte for byte.
    export_to(db, dir_ / "export", false);
    export_to(db, dir_ / "export-chunks", true);
    EXPECT_TRUE(same_tree(dir_ / "export", dir_ / "clean-export"));
    EXPECT_TRUE(same_tree(dir_ / "export-chunks", dir_ / "clean-export-chunks"));
}
