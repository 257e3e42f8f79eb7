// The library commands of the tagmap binary on databases they cannot use: locked by
// another connection, read-only, or not a database at all. Each must fail with a message
// that names the file and says what is wrong, and leave the file as it was. No model
// runs here (these tests also run under the sanitizers).
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <random>

#include "library.hpp"
#include "store_test_util.hpp"

using namespace tagmap::store;
using namespace tagmap::store::test;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string out(n, '\0');
    for (auto& c : out) c = char(rng() & 0xff);
    return out;
}

class StoreCli : public ::testing::Test {
  protected:
    void SetUp() override {
        const auto audio = tagmap::test::fixtures_dir() / "audio";
        copy_clip(audio / "wesnoth-silence-short.ogg", music_ / "sub" / "quiet.ogg");
        const auto r = run_tagmap(
            dir_.path(), {"init-db", "--db", db_.string(), "--audio-dir", music_.string()});
        ASSERT_EQ(r.code, 0) << r.text();
        const auto idx = run_tagmap(dir_.path(), {"index-audio", "--db", db_.string()});
        ASSERT_EQ(idx.code, 0) << idx.text();
        ASSERT_TRUE(contains(idx.out, "1 audio files: 1 new")) << idx.text();
    }
    RunResult run(const std::vector<std::string>& args,
                  std::optional<uid_t> as_user = std::nullopt) {
        return run_tagmap(dir_.path(), args, as_user);
    }

    TempDir dir_;
    fs::path music_ = dir_ / "music";
    fs::path db_ = dir_ / "L.db";
};

}  // namespace

TEST_F(StoreCli, LockedDatabaseFailsClearlyAndStaysIntact) {
    // A second file to index while another connection holds the write lock.
    copy_clip(tagmap::test::fixtures_dir() / "audio" / "warzone-track4.opus", music_ / "new.opus");
    sqlite3* holder = nullptr;
    ASSERT_EQ(sqlite3_open(db_.c_str(), &holder), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(holder, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);

    const auto start = std::chrono::steady_clock::now();
    const auto r = run({"index-audio", "--db", db_.string(), "--busy-timeout", "200"});
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_NE(r.code, 0) << r.text();
    EXPECT_TRUE(contains(r.err, db_.string())) << r.text();
    EXPECT_TRUE(contains(r.err, "locked by another process")) << r.text();
    EXPECT_FALSE(contains(r.out, "audio files")) << r.text();  // no summary of a failed run
    // It waited for the lock (--busy-timeout 200), not the default 5 s.
    EXPECT_GE(seconds, 0.2);
    EXPECT_LT(seconds, 4.9);  // with room for a slow start (sanitizers, a busy machine)

    // Commands that would delete or rewrite rows are refused the same way.
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"clean-db", "--db", db_.string(), "--busy-timeout", "100"},
          std::vector<std::string>{"clean-db", "--drop-tables", "--db", db_.string(),
                                   "--busy-timeout", "100"},
          std::vector<std::string>{"init-db", "--db", db_.string(), "--busy-timeout", "100"}}) {
        const auto c = run(args);
        EXPECT_NE(c.code, 0) << args[0] << "\n" << c.text();
        EXPECT_TRUE(contains(c.err, "locked")) << c.text();
    }
    ASSERT_EQ(sqlite3_exec(holder, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(holder);

    {
        Library lib(db_, OpenMode::read_only);
        EXPECT_EQ(lib.integrity_check(), "ok");
        const auto tracks = lib.tracks(true);
        ASSERT_EQ(tracks.size(), 1u);  // nothing of the failed run, nothing removed
        EXPECT_EQ(tracks[0].filename, "sub/quiet.ogg");
        EXPECT_FALSE(tracks[0].vanished_at);
        EXPECT_EQ(lib.audio_root(), fs::canonical(music_));
    }
    const auto again = run({"index-audio", "--db", db_.string(), "--busy-timeout", "200"});
    ASSERT_EQ(again.code, 0) << again.text();
    EXPECT_TRUE(contains(again.out, "2 audio files: 1 new, 0 changed, 1 unchanged")) << again.out;
    Library lib(db_, OpenMode::read_only);
    EXPECT_EQ(lib.track_count(), 2);
    EXPECT_TRUE(lib.track_by_filename("new.opus"));
}

// Root ignores file permissions, so a chmod 0444 alone proves nothing when the suite runs
// as root (as in CI): then the commands run as the unprivileged uid 65534 (fork, setuid,
// exec), for which the permissions hold. The API-level refusal of writes through a
// read-only Library is in test_store_unit (ReadOnlyLibraryRefusesWrites).
TEST_F(StoreCli, ReadOnlyDatabaseFailsClearlyAndIsUntouched) {
    const std::optional<uid_t> user = ::geteuid() == 0 ? std::optional<uid_t>(65534) : std::nullopt;
    if (user) {
        // exec fails (127) when a folder above the binary denies that user search
        // permission, e.g. a build under a 0700 mktemp -d: nothing here can be tested then.
        const auto probe = run({"--help"}, user);
        if (probe.code == 127)
            GTEST_SKIP() << "uid 65534 cannot execute " << tagmap::test::binary("tagmap")
                         << " (a parent folder denies it search permission)";
        ASSERT_EQ(probe.code, 0) << probe.text();
    }
    {
        // One (made-up) result, so that there is something to export.
        Library lib(db_, OpenMode::read_write);
        lib.upsert_model({"musicnn-mtat", "musicnn", "mtat", 2, 3, 48000, "d", "w", {}});
        TrackResult r;
        r.model_id = "musicnn-mtat";
        r.weights_digest = "d";
        r.chunks = r.chunk_hop = 1;
        r.embedding_dim = 3;
        r.n_tags = 2;
        r.embedding = r.chunk_embeddings = {1, 2, 3};
        r.taggram = r.chunk_taggrams = {0.5f, 0.25f};
        lib.store_track(lib.tracks().at(0).id, {r}, {}, true);
    }
    // A new file, so that index-audio has something to write (with nothing to change it
    // succeeds without writing, which is right).
    copy_clip(tagmap::test::fixtures_dir() / "audio" / "warzone-track4.opus", music_ / "new.opus");
    const auto out = dir_ / "out";
    fs::create_directories(out);
    fs::permissions(out, fs::perms::all);  // the export may write here whoever runs it
    fs::permissions(dir_.path(), fs::perms::others_read | fs::perms::others_exec,
                    fs::perm_options::add);
    // The library in a folder of its own: writable (only the file is read-only), or
    // read-only too (then no -wal/-shm file can be created beside it).
    for (const bool folder_read_only : {false, true}) {
        SCOPED_TRACE(folder_read_only ? "read-only folder" : "writable folder");
        const auto folder = dir_ / (folder_read_only ? "ro-folder" : "ro-file");
        fs::create_directories(folder);
        const auto db = folder / "L.db";
        fs::copy_file(db_, db);
        fs::permissions(db, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
        fs::permissions(folder, folder_read_only
                                    ? fs::perms::owner_read | fs::perms::owner_exec |
                                          fs::perms::others_read | fs::perms::others_exec
                                    : fs::perms::all);
        const std::string before = slurp(db);
        ASSERT_FALSE(before.empty());
        for (const std::vector<std::string>& args :
             {std::vector<std::string>{"index-audio", "--db", db.string()},
              std::vector<std::string>{"clean-db", "--db", db.string()},
              // init-db with nothing to change succeeds without writing; a new folder must
              // be written.
              std::vector<std::string>{"init-db", "--db", db.string(), "--audio-dir",
                                       dir_.path().string()}}) {
            const auto r = run(args, user);
            EXPECT_NE(r.code, 0) << args[0] << "\n" << r.text();
            EXPECT_TRUE(contains(r.err, db.string())) << r.text();
            EXPECT_TRUE(contains(r.err, "read-only")) << r.text();
            EXPECT_EQ(slurp(db), before) << args[0] << " modified the read-only library";
        }
        const auto e = run({"export", "--db", db.string(), "--out", out.string()}, user);
        if (!folder_read_only) {
            // A reader only needs to read: exporting a write-protected library works.
            EXPECT_EQ(e.code, 0) << e.text();
            EXPECT_TRUE(fs::exists(out / "musicnn-mtat" / "sub" / "quiet.ogg.embedding.npy"));
        } else {
            // SQLite cannot open a WAL database whose folder forbids the -shm file, even
            // for reading; the failure is at least explained. (Reported: readers could
            // fall back to an immutable open there.)
            EXPECT_NE(e.code, 0) << e.text();
            EXPECT_TRUE(contains(e.err, db.string())) << e.text();
            EXPECT_TRUE(contains(e.err, "read-only")) << e.text();
        }
        EXPECT_EQ(slurp(db), before) << "the read-only library was modified";
        fs::permissions(folder, fs::perms::all);
    }
}

TEST_F(StoreCli, CorruptFileIsRefusedAndUntouched) {
    const auto junk = dir_ / "junk.db";
    const std::string bytes = random_bytes(8192, 1234);
    write_file(junk, bytes);
    const auto weights = dir_ / "weights";  // not needed: the database fails first
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"init-db", "--audio-dir", music_.string()},
          std::vector<std::string>{"index-audio"},
          std::vector<std::string>{"preprocess-all", "--weights-dir", weights.string()},
          std::vector<std::string>{"export", "--out", (dir_ / "out").string()},
          std::vector<std::string>{"clean-db"},
          std::vector<std::string>{"clean-db", "--drop-tables"},
          std::vector<std::string>{"project"}}) {
        auto full = args;
        full.insert(full.end(), {"--db", junk.string()});
        const auto r = run(full);
        EXPECT_NE(r.code, 0) << args[0] << "\n" << r.text();
        EXPECT_TRUE(contains(r.err, "not a tagmap database or is corrupt")) << r.text();
        EXPECT_TRUE(contains(r.err, junk.string())) << r.text();
        EXPECT_EQ(slurp(junk), bytes) << args[0] << " modified the file";
    }
    for (const char* side : {"-wal", "-shm", "-journal"})
        EXPECT_FALSE(fs::exists(junk.string() + side)) << side;
    EXPECT_FALSE(fs::exists(dir_ / "out" / "musicnn-mtat"));
}

TEST_F(StoreCli, DamagedLibraryIsReportedAsCorrupt) {
    // A real library whose first page (header and the start of the schema) is intact and
    // every other page overwritten.
    const auto damaged = dir_ / "damaged.db";
    std::string bytes = slurp(db_);
    ASSERT_GT(bytes.size(), 8192u);
    const std::string noise = random_bytes(bytes.size() - 4096, 99);
    bytes.replace(4096, noise.size(), noise);
    write_file(damaged, bytes);
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"index-audio"},
          std::vector<std::string>{"export", "--out", (dir_ / "out").string()}}) {
        auto full = args;
        full.insert(full.end(), {"--db", damaged.string()});
        const auto r = run(full);
        EXPECT_NE(r.code, 0) << args[0] << "\n" << r.text();
        EXPECT_TRUE(contains(r.err, "not a tagmap database or is corrupt")) << r.text();
        EXPECT_TRUE(contains(r.err, damaged.string())) << r.text();
    }
    EXPECT_EQ(slurp(damaged), bytes);
}
