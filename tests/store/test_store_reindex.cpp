// Re-indexing a library with the tagmap binary: files with the same name in different
// folders, changed, vanished and returning files, and files that cannot be decoded. Runs
// MusiCNN (the shared checkpoint, converted once) on a few clips: labelled slow.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>

#include "digest.hpp"
#include "library.hpp"
#include "store_test_util.hpp"

using namespace tagmap::store;
using namespace tagmap::store::test;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

fs::path clip(const char* name) {
    return tagmap::test::fixtures_dir() / "audio" / name;
}

class Reindex : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        suite_dir_ = std::make_unique<TempDir>();
        weights_dir_ = suite_dir_->path() / "weights";
        convert_weights(weights_dir_);
    }
    static void TearDownTestSuite() { suite_dir_.reset(); }

    RunResult run(const std::vector<std::string>& args) { return run_tagmap(dir_.path(), args); }
    void init() {
        const auto r = run({"init-db", "--db", db_.string(), "--audio-dir", music_.string()});
        ASSERT_EQ(r.code, 0) << r.text();
    }
    RunResult index() {
        auto r = run({"index-audio", "--db", db_.string(), "-q"});
        EXPECT_EQ(r.code, 0) << r.text();
        return r;
    }
    RunResult preprocess(const std::vector<std::string>& extra = {}) {
        std::vector<std::string> args{
            "preprocess-all",      "--db",   db_.string(), "--weights-dir",
            weights_dir_.string(), "--jobs", "2",          "-q"};
        args.insert(args.end(), extra.begin(), extra.end());
        return run(args);
    }
    RunResult export_to(const fs::path& out) {
        auto r = run({"export", "--db", db_.string(), "--out", out.string()});
        EXPECT_EQ(r.code, 0) << r.text();
        return r;
    }
    /// Embedding row id of each track (by filename): a new id means re-embedded.
    std::map<std::string, std::int64_t> embedding_ids() {
        Database db(db_, OpenMode::read_only);
        auto q = db.prepare(
            "SELECT t.filename, e.id FROM embeddings e JOIN tracks t ON t.id = e.track_id");
        std::map<std::string, std::int64_t> out;
        while (q.step()) out[q.text(0)] = q.int64(1);
        return out;
    }
    std::vector<float> embedding_of(const std::string& filename) {
        Library lib(db_, OpenMode::read_only);
        const auto t = lib.track_by_filename(filename);
        if (!t) return {};
        const auto c = lib.chunk_outputs(t->id, "musicnn-mtat");
        const auto v = lib.vectors("musicnn-mtat", Source::embedding);
        for (std::size_t i = 0; i < v.track_ids.size(); ++i)
            if (v.track_ids[i] == t->id) {
                std::vector<float> out(v.rows.row(Eigen::Index(i)).begin(),
                                       v.rows.row(Eigen::Index(i)).end());
                if (c) out.insert(out.end(), c->embeddings.begin(), c->embeddings.end());
                return out;
            }
        return {};
    }

    static std::unique_ptr<TempDir> suite_dir_;
    static fs::path weights_dir_;
    TempDir dir_;
    fs::path music_ = dir_ / "music";
    fs::path db_ = dir_ / "L.db";
};

std::unique_ptr<TempDir> Reindex::suite_dir_;
fs::path Reindex::weights_dir_;

constexpr const char* kModel = "musicnn-mtat: ";

}  // namespace

TEST_F(Reindex, SameNamesChangedVanishedAndReturningFiles) {
    copy_clip(clip("wesnoth-knalgan-theme.wav"), music_ / "a" / "x.wav");
    copy_clip(clip("hedgewars-pirate.wav"), music_ / "b" / "x.wav");
    copy_clip(clip("hedgewars-rock.mp3"), music_ / "c" / "rock.mp3");
    init();

    auto r = index();
    EXPECT_TRUE(contains(r.out,
                         "3 audio files: 3 new, 0 changed, 0 unchanged, 0 back, 0 vanished "
                         "(marked); 0 with an unreadable header"))
        << r.out;
    {
        Library lib(db_, OpenMode::read_only);
        const auto tracks = lib.tracks();
        ASSERT_EQ(tracks.size(), 3u);
        EXPECT_EQ(tracks[0].filename, "a/x.wav");
        EXPECT_EQ(tracks[1].filename, "b/x.wav");
        EXPECT_EQ(tracks[2].filename, "c/rock.mp3");
        EXPECT_NE(tracks[0].id, tracks[1].id);
        EXPECT_EQ(tracks[0].size_bytes, std::int64_t(fs::file_size(music_ / "a" / "x.wav")));
        EXPECT_EQ(tracks[1].size_bytes, std::int64_t(fs::file_size(music_ / "b" / "x.wav")));
        EXPECT_EQ(tracks[0].sample_rate, 44100);  // the two x.wav really are two files
        EXPECT_EQ(tracks[0].channels, 2);
        EXPECT_EQ(tracks[1].sample_rate, 48000);
        EXPECT_EQ(tracks[1].channels, 1);
        for (const auto& t : tracks) EXPECT_FALSE(t.probe_error) << t.filename;
    }

    r = preprocess();
    ASSERT_EQ(r.code, 0) << r.text();
    EXPECT_TRUE(contains(r.out, std::string(kModel) + "3 embedded, 0 failed, 0 up to date"))
        << r.out;
    const auto ids0 = embedding_ids();
    ASSERT_EQ(ids0.size(), 3u);
    const auto a0 = embedding_of("a/x.wav"), b0 = embedding_of("b/x.wav"),
               c0 = embedding_of("c/rock.mp3");
    ASSERT_FALSE(a0.empty());
    EXPECT_NE(a0, b0);
    const auto out0 = dir_ / "export0";
    export_to(out0);
    const auto files0 = tree(out0);
    EXPECT_EQ(files0.size(), 6u);
    EXPECT_TRUE(files0.count("musicnn-mtat/a/x.wav.embedding.npy"));
    EXPECT_TRUE(files0.count("musicnn-mtat/b/x.wav.taggram.npy"));
    EXPECT_NE(files0.at("musicnn-mtat/a/x.wav.embedding.npy"),
              files0.at("musicnn-mtat/b/x.wav.embedding.npy"));

    // Nothing changed: nothing to do.
    r = index();
    EXPECT_TRUE(contains(r.out, "3 audio files: 0 new, 0 changed, 3 unchanged, 0 back, 0 vanished"))
        << r.out;
    r = preprocess();
    EXPECT_EQ(r.code, 0) << r.text();
    EXPECT_TRUE(contains(r.out, std::string(kModel) + "0 embedded, 0 failed, 3 up to date"))
        << r.out;
    EXPECT_EQ(embedding_ids(), ids0);

    // New content (and size) in a/x.wav: changed, re-embedded alone; its embedding is now
    // that of the same audio in b/x.wav.
    copy_clip(clip("hedgewars-pirate.wav"), music_ / "a" / "x.wav");
    r = index();
    EXPECT_TRUE(contains(r.out, "3 audio files: 0 new, 1 changed, 2 unchanged, 0 back, 0 vanished"))
        << r.out;
    r = preprocess();
    ASSERT_EQ(r.code, 0) << r.text();
    EXPECT_TRUE(contains(r.out, std::string(kModel) + "1 embedded, 0 failed, 2 up to date"))
        << r.out;
    auto ids = embedding_ids();
    EXPECT_NE(ids.at("a/x.wav"), ids0.at("a/x.wav"));
    EXPECT_EQ(ids.at("b/x.wav"), ids0.at("b/x.wav"));
    EXPECT_EQ(ids.at("c/rock.mp3"), ids0.at("c/rock.mp3"));
    EXPECT_EQ(embedding_of("a/x.wav"), b0);
    {
        Library lib(db_, OpenMode::read_only);
        EXPECT_EQ(lib.track_by_filename("a/x.wav")->size_bytes,
                  std::int64_t(fs::file_size(clip("hedgewars-pirate.wav"))));
        EXPECT_EQ(lib.track_count(true), 3);
    }

    // Only the modification time changes: changed too, re-embedded to the same values.
    const auto rock = music_ / "c" / "rock.mp3";
    fs::last_write_time(rock, fs::last_write_time(rock) + std::chrono::seconds(10));
    r = index();
    EXPECT_TRUE(contains(r.out, "0 new, 1 changed, 2 unchanged")) << r.out;
    r = preprocess();
    ASSERT_EQ(r.code, 0) << r.text();
    EXPECT_TRUE(contains(r.out, std::string(kModel) + "1 embedded, 0 failed, 2 up to date"))
        << r.out;
    ids = embedding_ids();
    EXPECT_NE(ids.at("c/rock.mp3"), ids0.at("c/rock.mp3"));
    EXPECT_EQ(embedding_of("c/rock.mp3"), c0);

    // b/x.wav goes away (moved out, so its mtime is kept): marked, not deleted.
    const auto parked = dir_ / "parked.wav";
    fs::rename(music_ / "b" / "x.wav", parked);
    r = index();
    EXPECT_TRUE(contains(r.out, "2 audio files: 0 new, 0 changed, 2 unchanged, 0 back, 1 vanished"))
        << r.out;
    {
        Library lib(db_, OpenMode::read_only);
        const auto b = lib.track_by_filename("b/x.wav");
        ASSERT_TRUE(b);
        EXPECT_TRUE(b->vanished_at);
        EXPECT_EQ(lib.track_count(false), 2);
        EXPECT_EQ(lib.track_count(true), 3);
        EXPECT_EQ(lib.vectors("musicnn-mtat", Source::embedding).track_ids.size(), 2u);
    }
    EXPECT_EQ(embedding_ids().size(), 3u);  // its result is kept
    const auto out1 = dir_ / "export1";
    export_to(out1);
    const auto files1 = tree(out1);
    EXPECT_EQ(files1.size(), 4u);
    EXPECT_FALSE(files1.count("musicnn-mtat/b/x.wav.embedding.npy"));
    EXPECT_TRUE(files1.count("musicnn-mtat/a/x.wav.embedding.npy"));
    EXPECT_TRUE(files1.count("musicnn-mtat/c/rock.mp3.embedding.npy"));
    r = preprocess();
    EXPECT_EQ(r.code, 0) << r.text();
    EXPECT_TRUE(contains(r.out, std::string(kModel) + "0 embedded, 0 failed, 2 up to date"))
        << r.out;

    // It comes back unchanged: "back", and its stored result is current again.
    fs::rename(parked, music_ / "b" / "x.wav");
    r = index();
    EXPECT_TRUE(contains(r.out, "3 audio files: 0 new, 0 changed, 2 unchanged, 1 back, 0 vanished"))
        << r.out;
    {
        Library lib(db_, OpenMode::read_only);
        EXPECT_FALSE(lib.track_by_filename("b/x.wav")->vanished_at);
        EXPECT_EQ(lib.track_count(false), 3);
        EXPECT_EQ(lib.integrity_check(), "ok");
    }
    r = preprocess();
    EXPECT_EQ(r.code, 0) << r.text();
    EXPECT_TRUE(contains(r.out, std::string(kModel) + "0 embedded, 0 failed, 3 up to date"))
        << r.out;
    EXPECT_EQ(embedding_ids().at("b/x.wav"), ids0.at("b/x.wav"));
    const auto out2 = dir_ / "export2";
    export_to(out2);
    const auto files2 = tree(out2);
    EXPECT_EQ(files2.size(), 6u);
    for (const char* f : {"musicnn-mtat/b/x.wav.embedding.npy", "musicnn-mtat/b/x.wav.taggram.npy"})
        EXPECT_EQ(files2.at(f), files0.at(f)) << f;
    // a/x.wav now holds b's audio: the same bytes as b's export.
    EXPECT_EQ(files2.at("musicnn-mtat/a/x.wav.embedding.npy"),
              files0.at("musicnn-mtat/b/x.wav.embedding.npy"));
}

TEST_F(Reindex, UndecodableFilesAreRecordedThenSkipped) {
    copy_clip(clip("hedgewars-rock.mp3"), music_ / "rock.mp3");
    copy_clip(clip("wesnoth-silence-short.ogg"), music_ / "quiet" / "short.ogg");
    // A FLAC cut after 3000 bytes, and a text file named .mp3.
    write_file(music_ / "broken.flac", slurp(clip("etr-freezingpoint.flac")).substr(0, 3000));
    write_file(music_ / "notes.mp3", "these are not the sounds you are looking for\n");
    init();

    auto r = index();
    EXPECT_TRUE(contains(r.out,
                         "4 audio files: 4 new, 0 changed, 0 unchanged, 0 back, 0 vanished "
                         "(marked); 2 with an unreadable header"))
        << r.out;
    {
        Library lib(db_, OpenMode::read_only);
        ASSERT_EQ(lib.track_count(), 4);  // indexed, all four
        EXPECT_TRUE(lib.track_by_filename("broken.flac")->probe_error);
        EXPECT_TRUE(lib.track_by_filename("notes.mp3")->probe_error);
        EXPECT_FALSE(lib.track_by_filename("rock.mp3")->probe_error);
        EXPECT_FALSE(lib.track_by_filename("quiet/short.ogg")->probe_error);
    }

    r = preprocess();
    EXPECT_EQ(r.code, 1) << r.text();
    EXPECT_TRUE(contains(
        r.out, std::string(kModel) + "2 embedded, 2 failed, 0 up to date, 0 failed before"))
        << r.out;
    EXPECT_TRUE(contains(r.err, "FAILED broken.flac")) << r.err;
    EXPECT_TRUE(contains(r.err, "FAILED notes.mp3")) << r.err;
    std::vector<FailureRecord> failures;
    {
        Library lib(db_, OpenMode::read_only);
        failures = lib.failures();
        ASSERT_EQ(failures.size(), 2u);
        EXPECT_EQ(failures[0].filename, "broken.flac");
        EXPECT_TRUE(contains(failures[0].error, "corrupt or unreadable audio file"))
            << failures[0].error;
        EXPECT_EQ(failures[1].filename, "notes.mp3");
        EXPECT_TRUE(contains(failures[1].error, "unsupported audio format")) << failures[1].error;
        for (const auto& f : failures) {
            EXPECT_EQ(f.model_id, "musicnn-mtat");
            // Stored errors name the file by its library-relative name only.
            EXPECT_FALSE(contains(f.error, dir_.path().string())) << f.error;
        }
        EXPECT_FALSE(lib.track_by_filename("broken.flac")->processed_at);
        EXPECT_TRUE(lib.track_by_filename("rock.mp3")->processed_at);
        // The near-silent clip, shorter than one window, is one padded chunk.
        Database& db = lib.db();
        EXPECT_EQ(scalar(db,
                         "SELECT chunks * 10 + padded FROM embeddings e JOIN tracks t ON "
                         "t.id = e.track_id WHERE t.filename = 'quiet/short.ogg'"),
                  11);
        EXPECT_EQ(scalar(db, "SELECT count(*) FROM embeddings"), 2);
    }

    // Second run: the failed files are skipped ("failed before"), and that is success.
    r = preprocess();
    EXPECT_EQ(r.code, 0) << r.text();
    EXPECT_TRUE(contains(
        r.out, std::string(kModel) + "0 embedded, 0 failed, 2 up to date, 2 failed before"))
        << r.out;
    {
        Library lib(db_, OpenMode::read_only);
        const auto again = lib.failures();
        ASSERT_EQ(again.size(), 2u);
        EXPECT_EQ(again[0].failed_at, failures[0].failed_at);  // not retried
    }
    // --retry-failed tries them again (and they fail again).
    r = preprocess({"--retry-failed"});
    EXPECT_EQ(r.code, 1) << r.text();
    EXPECT_TRUE(contains(
        r.out, std::string(kModel) + "0 embedded, 2 failed, 2 up to date, 0 failed before"))
        << r.out;

    // Only the embedded tracks are exported.
    const auto out = dir_ / "export";
    export_to(out);
    const auto files = tree(out);
    EXPECT_EQ(files.size(), 4u);
    EXPECT_TRUE(files.count("musicnn-mtat/rock.mp3.embedding.npy"));
    EXPECT_TRUE(files.count("musicnn-mtat/quiet/short.ogg.taggram.npy"));

    // The broken file is repaired: changed, embedded, its failure cleared.
    copy_clip(clip("etr-freezingpoint.flac"), music_ / "broken.flac");
    r = index();
    EXPECT_TRUE(contains(r.out, "0 new, 1 changed, 3 unchanged")) << r.out;
    r = preprocess();
    EXPECT_EQ(r.code, 0) << r.text();
    EXPECT_TRUE(contains(
        r.out, std::string(kModel) + "1 embedded, 0 failed, 2 up to date, 1 failed before"))
        << r.out;
    Library lib(db_, OpenMode::read_only);
    const auto left = lib.failures();
    ASSERT_EQ(left.size(), 1u);
    EXPECT_EQ(left[0].filename, "notes.mp3");
    EXPECT_FALSE(lib.track_by_filename("broken.flac")->probe_error);
    EXPECT_TRUE(lib.track_by_filename("broken.flac")->processed_at);
    EXPECT_EQ(lib.vectors("musicnn-mtat", Source::embedding).track_ids.size(), 3u);
    EXPECT_EQ(lib.integrity_check(), "ok");
}

// The sequence models in the library: preprocess-all --models crepe-tiny,madmom-beats,
// musicnn-mtat stores one series per track and model beside the tagger's results, reports
// the undecodable file for every model and stores the rest, skips what is current, gives
// the same bytes at --jobs 1 and 2, and export writes exactly what `tagmap embed` writes.
TEST_F(Reindex, SequenceModelsAreStoredPerTrackAtAnyJobs) {
    const auto weights = dir_ / "weights";
    fs::create_directories(weights);
    fs::copy_file(weights_dir_ / "musicnn-mtat.tmw", weights / "musicnn-mtat.tmw");
    const auto fixtures = tagmap::test::fixtures_dir();
    std::vector<std::string> convert_crepe{(fixtures / "weights" / "crepe-tiny.pth").string(),
                                           (weights / "crepe-tiny.tmw").string()};
    std::vector<std::string> convert_madmom{"--model", "madmom-beats"};
    for (int i = 1; i <= 8; ++i)
        convert_madmom.push_back(
            (fixtures / "madmom" / "models" / ("beats_blstm_" + std::to_string(i) + ".pkl"))
                .string());
    convert_madmom.push_back((weights / "madmom-beats.tmw").string());
    for (const auto& args : {convert_crepe, convert_madmom}) {
        const auto out = dir_ / "convert.stdout", err = dir_ / "convert.stderr";
        const auto c =
            wait_for(spawn(tagmap::test::binary("tagmap-convert"), args, out, err), out, err);
        ASSERT_EQ(c.code, 0) << c.text();
    }
    copy_clip(clip("wesnoth-silence-short.ogg"), music_ / "quiet" / "short.ogg");
    copy_clip(clip("warzone-track4.opus"), music_ / "track4.opus");
    write_file(music_ / "broken.mp3", "these are not the sounds you are looking for\n");
    init();
    index();
    const std::string models = "crepe-tiny,madmom-beats,musicnn-mtat";
    RunResult r;
    auto preprocess_into = [&](const fs::path& db, const char* jobs) {
        return run({"preprocess-all", "--db", db.string(), "--weights-dir", weights.string(),
                    "--models", models, "--jobs", jobs, "-q"});
    };
    r = preprocess_into(db_, "2");
    EXPECT_EQ(r.code, 1) << r.text();  // the broken file failed
    for (const char* m : {"crepe-tiny: ", "madmom-beats: ", "musicnn-mtat: "}) {
        EXPECT_TRUE(contains(r.out, std::string(m) + "2 embedded, 1 failed, 0 up to date"))
            << r.out;
        EXPECT_TRUE(contains(r.err, "FAILED broken.mp3: " + std::string(m))) << r.err;
    }
    {
        Library lib(db_, OpenMode::read_only);
        const auto crepe = lib.series_model("crepe-tiny");
        const auto beats = lib.series_model("madmom-beats");
        ASSERT_TRUE(crepe && beats);
        EXPECT_EQ(crepe->frame_rate, 100);
        EXPECT_EQ(crepe->sample_rate, 16000);
        EXPECT_EQ(crepe->columns, 2);
        EXPECT_EQ(beats->sample_rate, 44100);
        EXPECT_EQ(beats->columns, 1);
        EXPECT_EQ(beats->license, "CC BY-NC-SA 4.0");
        EXPECT_EQ(crepe->weights_digest, tagmap::store::sha256_file(weights / "crepe-tiny.tmw"));
        EXPECT_EQ(lib.models().size(), 1u);  // the tagger only
        // 2.5 s: 1 + 40000 / 160 CREPE frames, ceil(110250 / 441) madmom frames.
        const auto s = lib.track_by_filename("quiet/short.ogg");
        ASSERT_TRUE(s);
        const auto pitch = lib.series(s->id, "crepe-tiny");
        const auto act = lib.series(s->id, "madmom-beats");
        ASSERT_TRUE(pitch && act);
        EXPECT_EQ(pitch->frames, 251);
        EXPECT_EQ(act->frames, 250);
        EXPECT_NEAR(pitch->audio_seconds, 2.5, 1e-3);
        for (int t = 0; t < pitch->frames; ++t) {
            const float hz = pitch->values[std::size_t(2 * t)];
            const float conf = pitch->values[std::size_t(2 * t + 1)];
            ASSERT_TRUE(hz == 0 || (hz > 31 && hz < 2007)) << t << ": " << hz;
            ASSERT_TRUE(conf >= 0 && conf <= 1) << t << ": " << conf;
        }
        for (float a : act->values) ASSERT_TRUE(a >= 0 && a <= 1) << a;
        const auto t4 = lib.track_by_filename("track4.opus");
        ASSERT_TRUE(t4);
        EXPECT_EQ(lib.track_series_models(t4->id),
                  (std::vector<std::string>{"crepe-tiny", "madmom-beats"}));
        EXPECT_TRUE(t4->processed_at);
        const auto failures = lib.failures();
        ASSERT_EQ(failures.size(), 3u);
        for (const auto& f : failures) EXPECT_EQ(f.filename, "broken.mp3");
        EXPECT_FALSE(lib.track_by_filename("broken.mp3")->processed_at);
        EXPECT_EQ(lib.integrity_check(), "ok");
    }
    // Again: everything is current, the failure is skipped; nothing is recomputed.
    r = preprocess_into(db_, "2");
    EXPECT_EQ(r.code, 0) << r.text();
    EXPECT_TRUE(contains(r.out, "crepe-tiny: 0 embedded, 0 failed, 2 up to date, 1 failed before"))
        << r.out;

    // One worker: the same bytes; and export equals `tagmap embed` on the same folder.
    const auto one = dir_ / "L1.db";
    ASSERT_EQ(run({"init-db", "--db", one.string(), "--audio-dir", music_.string()}).code, 0);
    ASSERT_EQ(run({"index-audio", "--db", one.string(), "-q"}).code, 0);
    r = preprocess_into(one, "1");
    EXPECT_EQ(r.code, 1) << r.text();
    const auto e2 = dir_ / "export-jobs2", e1 = dir_ / "export-jobs1", embedded = dir_ / "embed";
    for (const auto& [db, out] : {std::pair{db_, e2}, std::pair{one, e1}}) {
        r = run({"export", "--db", db.string(), "--out", out.string()});
        ASSERT_EQ(r.code, 0) << r.text();
        EXPECT_TRUE(contains(r.out, "crepe-tiny: exported 2 track(s) (npy series)")) << r.out;
    }
    r = run({"embed", "--models", models, "--weights-dir", weights.string(), "--out",
             embedded.string(), "--jobs", "2", "-q", music_.string()});
    EXPECT_EQ(r.code, 1) << r.text();  // broken.mp3
    EXPECT_TRUE(same_tree(e2, e1));
    EXPECT_TRUE(same_tree(e2, embedded));
    const auto files = tree(e2);
    EXPECT_EQ(files.size(), 8u);
    EXPECT_TRUE(files.count("crepe-tiny/quiet/short.ogg.npy"));
    EXPECT_TRUE(files.count("madmom-beats/track4.opus.npy"));
    EXPECT_TRUE(files.count("musicnn-mtat/track4.opus.embedding.npy"));
}
