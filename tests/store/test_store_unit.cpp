// Unit tests of the library store (examples/store) at the API level: schema creation and
// migrations, refusing files it must not touch, foreign keys on every connection,
// all-or-nothing track writes, the BLOB layout, read-only libraries, neighbours and the
// projection cache. Fast: they also run under ASan/UBSan.
#include <gtest/gtest.h>

#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <set>
#include <stdexcept>
#include <tuple>

#include "blob.hpp"
#include "library.hpp"
#include "merge.hpp"
#include "projection_cache.hpp"
#include "schema.hpp"
#include "store_test_util.hpp"

using namespace tagmap::store;
using namespace tagmap::store::test;

namespace {

ModelRecord test_model(const std::string& id = "musicnn-mtat") {
    ModelRecord m;
    m.model_id = id;
    // Family and dataset as the CLI derives them (embeddings has UNIQUE (track, model, dataset)).
    m.model = id.substr(0, id.find('-'));
    m.dataset = id.substr(id.find('-') + 1);
    m.n_tags = 3;
    m.embedding_dim = 4;
    m.input_samples = 48000;
    m.weights_digest = "digest-" + id;
    m.weights_file = "/weights/" + id + ".tmw";
    m.tag_names = {"rock", "piano", "quiet"};
    return m;
}

TrackRecord test_track(const std::string& filename, std::int64_t size = 1000) {
    TrackRecord t;
    t.filename = filename;
    t.size_bytes = size;
    t.mtime_ns = 1'700'000'000'000'000'000 + size;
    t.duration = 12.5;
    t.sample_rate = 44100;
    t.channels = 2;
    t.title = "Title of " + filename;
    return t;
}

/// A result with embedding_dim 4, 3 tags and `chunks` chunks; values derived from `base`.
TrackResult test_result(const std::string& model_id, float base, int chunks = 2) {
    TrackResult r;
    r.model_id = model_id;
    r.weights_digest = "digest-" + model_id;
    r.source_size = 1000;
    r.source_mtime_ns = 1234;
    r.audio_seconds = 6.0;
    r.chunks = chunks;
    r.chunk_hop = 48000;
    r.embedding_dim = 4;
    r.n_tags = 3;
    for (int i = 0; i < 4; ++i) r.embedding.push_back(base + float(i));
    for (int i = 0; i < 3; ++i) r.taggram.push_back(base / 10 + 0.01f * float(i));
    for (int c = 0; c < chunks; ++c) {
        for (int i = 0; i < 4; ++i) r.chunk_embeddings.push_back(base + float(10 * c + i));
        for (int i = 0; i < 3; ++i) r.chunk_taggrams.push_back(0.5f + 0.125f * float(c * 3 + i));
    }
    return r;
}

SeriesModelRecord test_series_model(const std::string& id = "crepe-tiny",
                                    const std::string& digest = "digest-crepe") {
    SeriesModelRecord m;
    m.model_id = id;
    m.sample_rate = 16000;
    m.frame_rate = 100;
    m.columns = 2;
    m.column_names = {"hz", "confidence"};
    m.weights_digest = digest;
    m.weights_file = "/weights/" + id + ".tmw";
    m.license = "MIT";
    return m;
}

/// A 2-column series of `frames` rows; awkward float values on purpose (-0, subnormal,
/// NaN with a payload, infinities), which must come back bit for bit.
TrackSeries test_series(float base, int frames = 5, const std::string& digest = "digest-crepe") {
    TrackSeries s;
    s.model_id = "crepe-tiny";
    s.weights_digest = digest;
    s.source_size = 1000;
    s.source_mtime_ns = 1'700'000'000'000'000'000 + 1000;
    s.audio_seconds = 0.05;
    s.frame_rate = 100;
    s.frames = frames;
    s.columns = 2;
    const std::array<std::uint32_t, 5> odd = {0x80000000u, 0x00000001u, 0x7fc12345u, 0x7f800000u,
                                              0xff800000u};
    for (int t = 0; t < frames; ++t) {
        s.values.push_back(base + 10.0f * float(t));
        s.values.push_back(std::bit_cast<float>(odd[std::size_t(t) % odd.size()]));
    }
    return s;
}

std::vector<std::uint32_t> bits(const std::vector<float>& v) {
    std::vector<std::uint32_t> out;
    for (float f : v) out.push_back(std::bit_cast<std::uint32_t>(f));
    return out;
}

std::set<std::string> table_names(Database& db) {
    std::set<std::string> out;
    auto q = db.prepare("SELECT name FROM sqlite_schema WHERE type IN ('table', 'index')");
    while (q.step()) out.insert(q.text(0));
    return out;
}

/// Runs `f`, expecting a DatabaseError of `kind`; returns its message.
template <class F>
std::string database_error(F&& f, DatabaseError::Kind kind) {
    try {
        f();
    } catch (const DatabaseError& e) {
        EXPECT_EQ(int(e.kind()), int(kind)) << e.what();
        return e.what();
    } catch (const std::exception& e) {
        ADD_FAILURE() << "expected a DatabaseError, got: " << e.what();
        return e.what();
    }
    ADD_FAILURE() << "expected a DatabaseError, nothing was thrown";
    return {};
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

class Store : public ::testing::Test {
  protected:
    TempDir dir_;
    fs::path db_ = dir_ / "library.db";
};

}  // namespace

TEST_F(Store, SchemaCreationIsIdempotentAndKeepsRows) {
    std::set<std::string> first;
    {
        auto lib = Library::create(db_);
        EXPECT_EQ(schema_version(lib.db()), kSchemaVersion);
        first = table_names(lib.db());
        for (const char* t :
             {"library_info", "tracks", "models", "embeddings", "chunk_outputs", "failures",
              "labels", "similarity_reports", "similarity_tracks", "projections",
              "projection_points", "embeddings_by_model", "series_models", "track_series"})
            EXPECT_TRUE(first.count(t)) << t;
        lib.upsert_track(test_track("a.wav"));
        lib.set_audio_root("/music");
    }
    for (int again = 0; again < 2; ++again) {
        auto lib = Library::create(db_);
        EXPECT_EQ(schema_version(lib.db()), kSchemaVersion);
        EXPECT_EQ(table_names(lib.db()), first);
        EXPECT_EQ(lib.track_count(), 1);
        ASSERT_TRUE(lib.audio_root());
        EXPECT_EQ(lib.audio_root()->string(), "/music");
        EXPECT_EQ(lib.integrity_check(), "ok");
    }
    // WAL, so that the server's readers never block the writer.
    Database db(db_, OpenMode::read_write);
    EXPECT_EQ(text_scalar(db, "PRAGMA journal_mode"), "wal");
}

TEST_F(Store, MigrationFromVersion1To2KeepsRows) {
    {
        Database db(db_, OpenMode::read_write_create);
        migrate(db, 1);
        EXPECT_EQ(schema_version(db), 1);
        EXPECT_FALSE(table_names(db).count("projections"));
        db.exec(
            "INSERT INTO tracks(filename, size_bytes, mtime_ns, title, artist) VALUES "
            "('old/song.mp3', 123, 456, 'Old Song', 'Someone')");
        db.exec(
            "INSERT INTO models(model_id, model, dataset, n_tags, embedding_dim, input_samples, "
            "weights_digest, weights_file) VALUES ('musicnn-mtat', 'musicnn', 'mtat', 1, 2, "
            "48000, 'd', 'w')");
        const std::array<float, 2> emb{0.25f, -4.0f};
        const std::array<float, 1> tag{0.75f};
        auto ins = db.prepare(
            "INSERT INTO embeddings(track_id, model, dataset, model_id, weights_digest, "
            "source_size, source_mtime_ns, audio_seconds, chunks, chunk_hop, padded, "
            "embedding_dim, n_tags, embedding, taggram) VALUES (1, 'musicnn', 'mtat', "
            "'musicnn-mtat', 'd', 123, 456, 3.0, 1, 48000, 0, 2, 1, ?, ?)");
        ins.bind_blob(1, float_bytes(emb)).bind_blob(2, float_bytes(tag)).run();
        auto chunks = db.prepare("INSERT INTO chunk_outputs VALUES (?, ?, ?)");
        chunks.bind(1, db.last_insert_rowid()).bind_blob(2, float_bytes(emb));
        chunks.bind_blob(3, float_bytes(tag)).run();
    }
    // Readers and writers other than init-db refuse an old schema, saying how to migrate.
    const auto msg = database_error([&] { Library lib(db_, OpenMode::read_write); },
                                    DatabaseError::Kind::schema);
    EXPECT_TRUE(contains(msg, db_.string())) << msg;
    EXPECT_TRUE(contains(msg, "schema version 1")) << msg;
    EXPECT_TRUE(contains(msg, "init-db")) << msg;

    auto lib = Library::create(db_);
    EXPECT_EQ(schema_version(lib.db()), kSchemaVersion);
    const auto t = lib.track_by_filename("old/song.mp3");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->id, 1);
    EXPECT_EQ(t->size_bytes, 123);
    EXPECT_EQ(t->mtime_ns, 456);
    EXPECT_EQ(t->title, "Old Song");
    EXPECT_EQ(t->artist, "Someone");
    const auto v = lib.vectors("musicnn-mtat", Source::embedding);
    ASSERT_EQ(v.track_ids, std::vector<std::int64_t>{1});
    EXPECT_EQ(v.rows(0, 0), 0.25f);
    EXPECT_EQ(v.rows(0, 1), -4.0f);
    const auto c = lib.chunk_outputs(1, "musicnn-mtat");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->taggrams, std::vector<float>{0.75f});
    // Version 2's table is there and usable.
    Projection p;
    p.key = {"musicnn-mtat", Source::embedding, "umap", 2, "{}"};
    p.track_ids = {1};
    p.coords = RowMatrixF(1, 2);
    p.coords << 1.5f, 2.5f;
    lib.store_projection(p);
    ASSERT_TRUE(lib.projection(p.key));
    EXPECT_EQ(lib.integrity_check(), "ok");
}

TEST_F(Store, NewerSchemaIsRefusedNamingTheFile) {
    {
        auto lib = Library::create(db_);
        lib.upsert_track(test_track("keep.wav"));
        lib.db().exec("PRAGMA user_version = " + std::to_string(kSchemaVersion + 1));
    }
    const auto msg = database_error([&] { Library::create(db_); }, DatabaseError::Kind::schema);
    EXPECT_TRUE(contains(msg, db_.string())) << msg;
    EXPECT_TRUE(contains(msg, "schema version " + std::to_string(kSchemaVersion + 1))) << msg;
    EXPECT_TRUE(contains(msg, "newer")) << msg;
    for (auto mode : {OpenMode::read_only, OpenMode::read_write}) {
        const auto m = database_error([&] { Library lib(db_, mode); }, DatabaseError::Kind::schema);
        EXPECT_TRUE(contains(m, db_.string())) << m;
        EXPECT_TRUE(contains(m, "newer")) << m;
    }
    // Nothing was changed by the refusals.
    Database db(db_, OpenMode::read_only);
    EXPECT_EQ(schema_version(db), kSchemaVersion + 1);
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM tracks WHERE filename = 'keep.wav'"), 1);
}

TEST_F(Store, DatabaseOfAnotherProgramIsRefused) {
    {
        sqlite3* raw = nullptr;
        ASSERT_EQ(sqlite3_open(db_.c_str(), &raw), SQLITE_OK);
        ASSERT_EQ(sqlite3_exec(raw,
                               "CREATE TABLE tracks(id INTEGER PRIMARY KEY, path TEXT);"
                               "INSERT INTO tracks(path) VALUES ('/music/seed.mp3');",
                               nullptr, nullptr, nullptr),
                  SQLITE_OK);
        sqlite3_close(raw);
    }
    const auto msg = database_error([&] { Library::create(db_); }, DatabaseError::Kind::schema);
    EXPECT_TRUE(contains(msg, db_.string())) << msg;
    EXPECT_TRUE(contains(msg, "tables that tagmap did not create")) << msg;
    const auto ro =
        database_error([&] { Library lib(db_, OpenMode::read_only); }, DatabaseError::Kind::schema);
    EXPECT_TRUE(contains(ro, "not a tagmap library")) << ro;
    // The other program's rows and tables are as they were: no tagmap table was added.
    // (Not checked: the refused open still switched the file to journal_mode WAL, a
    // lasting change to the other program's file; reported.)
    Database db(db_, OpenMode::read_only);
    EXPECT_EQ(table_names(db), std::set<std::string>{"tracks"});
    EXPECT_EQ(schema_version(db), 0);
    EXPECT_EQ(text_scalar(db, "SELECT path FROM tracks"), "/music/seed.mp3");
}

TEST_F(Store, ForeignKeysAreOnForEveryConnection) {
    {
        auto lib = Library::create(db_);
        EXPECT_EQ(scalar(lib.db(), "PRAGMA foreign_keys"), 1);
        lib.upsert_model(test_model());
        const auto a = lib.upsert_track(test_track("a.wav"));
        const auto b = lib.upsert_track(test_track("b.wav"));
        lib.store_track(a, {test_result("musicnn-mtat", 1)}, {}, true);
        lib.store_track(b, {test_result("musicnn-mtat", 2)},
                        {{"vgg-mtat", "d", "decoder said no", 1000, 1234}}, false);
        lib.replace_labels({{a, "rock"}, {b, "jazz"}}, "csv");
    }
    for (auto mode : {OpenMode::read_write_create, OpenMode::read_write, OpenMode::read_only}) {
        Database db(db_, mode);
        EXPECT_EQ(scalar(db, "PRAGMA foreign_keys"), 1) << int(mode);
    }
    // A second, independent connection: deleting a track removes everything of it.
    Database db(db_, OpenMode::read_write);
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM embeddings"), 2);
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM chunk_outputs"), 2);
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM failures"), 1);
    db.exec("DELETE FROM tracks WHERE filename = 'b.wav'");
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM embeddings"), 1);
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM chunk_outputs"), 1);
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM failures"), 0);
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM labels"), 1);
    EXPECT_EQ(scalar(db,
                     "SELECT count(*) FROM embeddings e JOIN tracks t ON t.id = e.track_id "
                     "WHERE t.filename = 'a.wav'"),
              1);
    // Rows that point at nothing are refused.
    const auto msg = database_error(
        [&] {
            db.exec(
                "INSERT INTO embeddings(track_id, model, dataset, model_id, weights_digest, "
                "source_size, source_mtime_ns, audio_seconds, chunks, chunk_hop, padded, "
                "embedding_dim, n_tags, embedding, taggram) VALUES (999, 'musicnn', 'mtat', "
                "'musicnn-mtat', 'd', 1, 1, 1.0, 1, 1, 0, 1, 1, zeroblob(4), zeroblob(4))");
        },
        DatabaseError::Kind::other);
    EXPECT_TRUE(contains(msg, "FOREIGN KEY")) << msg;
    database_error(
        [&] { db.exec("INSERT INTO chunk_outputs VALUES (12345, zeroblob(4), zeroblob(4))"); },
        DatabaseError::Kind::other);
    database_error([&] { db.exec("INSERT INTO labels VALUES (777, 'rock', 'csv')"); },
                   DatabaseError::Kind::other);
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM embeddings"), 1);
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM chunk_outputs"), 1);
}

TEST_F(Store, StoreTrackWritesAllRowsOrNone) {
    auto lib = Library::create(db_);
    lib.upsert_model(test_model("musicnn-mtat"));
    lib.upsert_model(test_model("vgg-mtat"));
    const auto id = lib.upsert_track(test_track("a.wav"));
    // A previous result of each model, and a failure of a third model.
    lib.store_track(id, {test_result("musicnn-mtat", 1), test_result("vgg-mtat", 2)},
                    {{"musicnn-msd", "d", "old failure", 1000, 1234}}, false);
    auto count = [&](const char* table) {
        return scalar(lib.db(), std::string("SELECT count(*) FROM ") + table);
    };
    ASSERT_EQ(count("embeddings"), 2);
    ASSERT_EQ(count("chunk_outputs"), 2);
    const auto before = lib.vectors("musicnn-mtat", Source::embedding);

    // The second result names a model that is not registered: the first result's
    // replacement, its failure clearing, the new failure and processed_at all roll back.
    EXPECT_THROW(lib.store_track(id,
                                 {test_result("musicnn-mtat", 100), test_result("nope", 200),
                                  test_result("vgg-mtat", 300)},
                                 {{"vgg-msd", "d", "new failure", 1000, 1234}}, true),
                 tagmap::InvalidArgument);
    EXPECT_EQ(count("embeddings"), 2);
    EXPECT_EQ(count("chunk_outputs"), 2);
    EXPECT_EQ(count("failures"), 1);
    EXPECT_EQ(text_scalar(lib.db(), "SELECT error FROM failures"), "old failure");
    EXPECT_EQ(scalar(lib.db(), "SELECT count(*) FROM embeddings WHERE model_id = 'nope'"), 0);
    const auto after = lib.vectors("musicnn-mtat", Source::embedding);
    EXPECT_EQ(after.rows, before.rows);  // still the first value (1, 2, 3, 4), not 100...
    EXPECT_EQ(after.rows(0, 0), 1.0f);
    const auto c = lib.chunk_outputs(id, "musicnn-mtat");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->embeddings, test_result("musicnn-mtat", 1).chunk_embeddings);
    EXPECT_FALSE(lib.track(id)->processed_at);

    // A result whose sizes do not add up is refused the same way (second result again).
    auto bad = test_result("vgg-mtat", 7);
    bad.chunk_taggrams.pop_back();
    EXPECT_THROW(lib.store_track(id, {test_result("musicnn-mtat", 100), bad}, {}, true),
                 tagmap::InvalidArgument);
    EXPECT_EQ(lib.vectors("musicnn-mtat", Source::embedding).rows(0, 0), 1.0f);
    EXPECT_FALSE(lib.track(id)->processed_at);

    // And the connection is usable afterwards (no transaction left open).
    lib.store_track(id, {test_result("musicnn-mtat", 50)}, {}, true);
    EXPECT_EQ(lib.vectors("musicnn-mtat", Source::embedding).rows(0, 0), 50.0f);
    EXPECT_TRUE(lib.track(id)->processed_at);
    EXPECT_EQ(count("embeddings"), 2);
    EXPECT_EQ(count("chunk_outputs"), 2);
    EXPECT_EQ(lib.integrity_check(), "ok");
}

TEST_F(Store, BlobsAreLittleEndianFloat32WithCheckedSizes) {
    auto lib = Library::create(db_);
    lib.upsert_model(test_model());
    const auto id = lib.upsert_track(test_track("a.wav"));
    TrackResult r = test_result("musicnn-mtat", 0, 3);
    r.embedding = {1.0f, -2.0f, 0.5f, 3.14159274f};
    r.taggram = {0.25f, 1e-30f, -0.0f};
    lib.store_track(id, {r}, {}, true);

    auto q = lib.db().prepare(
        "SELECT e.embedding, e.taggram, c.embeddings, c.taggrams FROM embeddings e JOIN "
        "chunk_outputs c ON c.embedding_id = e.id");
    ASSERT_TRUE(q.step());
    auto bytes = [&](int col) {
        const auto b = q.blob(col);
        return std::vector<unsigned char>(
            reinterpret_cast<const unsigned char*>(b.data()),
            reinterpret_cast<const unsigned char*>(b.data()) + b.size());
    };
    const auto emb = bytes(0);
    // IEEE-754 binary32, least significant byte first, no header.
    const std::vector<unsigned char> expected_emb = {0x00, 0x00, 0x80, 0x3f,   // 1
                                                     0x00, 0x00, 0x00, 0xc0,   // -2
                                                     0x00, 0x00, 0x00, 0x3f,   // 0.5
                                                     0xdb, 0x0f, 0x49, 0x40};  // pi
    EXPECT_EQ(emb, expected_emb);
    const auto tag = bytes(1);
    ASSERT_EQ(tag.size(), 12u);
    EXPECT_EQ(std::vector<unsigned char>(tag.begin() + 8, tag.end()),
              (std::vector<unsigned char>{0x00, 0x00, 0x00, 0x80}));  // -0
    // Per-chunk: chunks x dim, row-major.
    const auto ce = bytes(2), ct = bytes(3);
    ASSERT_EQ(ce.size(), 3u * 4u * 4u);
    ASSERT_EQ(ct.size(), 3u * 3u * 4u);
    std::vector<float> decoded(12);
    std::memcpy(decoded.data(), ce.data(), ce.size());
    EXPECT_EQ(decoded, r.chunk_embeddings);
    EXPECT_EQ(decoded[4], 10.0f);  // chunk 1, dimension 0
    q.reset();

    // Reading back gives the same floats, bit for bit.
    const auto c = lib.chunk_outputs(id, "musicnn-mtat");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->chunks, 3);
    EXPECT_EQ(c->embeddings, r.chunk_embeddings);
    EXPECT_EQ(c->taggrams, r.chunk_taggrams);
    const auto t = lib.vectors("musicnn-mtat", Source::taggram);
    EXPECT_EQ(t.rows(0, 1), 1e-30f);
    EXPECT_TRUE(std::signbit(t.rows(0, 2)));

    // A damaged row: a BLOB one float short is a FormatError, never a truncated read.
    lib.db().exec("UPDATE chunk_outputs SET embeddings = substr(embeddings, 1, 44)");
    try {
        lib.chunk_outputs(id, "musicnn-mtat");
        ADD_FAILURE() << "no FormatError";
    } catch (const tagmap::FormatError& e) {
        EXPECT_TRUE(contains(e.what(), "BLOB of 44 bytes, expected 12 float32 values")) << e.what();
    }
    // The track-level BLOBs are checked by the schema itself.
    database_error([&] { lib.db().exec("UPDATE embeddings SET embedding = zeroblob(12)"); },
                   DatabaseError::Kind::other);
    EXPECT_EQ(lib.vectors("musicnn-mtat", Source::embedding).rows(0, 3), 3.14159274f);

    const std::array<std::byte, 8> two{};
    EXPECT_EQ(floats_from_blob(two, 2, "x"), (std::vector<float>{0.0f, 0.0f}));
    EXPECT_THROW(floats_from_blob(two, 3, "x"), tagmap::FormatError);
    EXPECT_THROW(floats_from_blob(std::span<const std::byte>(two).first(7), 2, "x"),
                 tagmap::FormatError);
}

TEST_F(Store, ReadOnlyLibraryRefusesWrites) {
    // Missing file: a reader never creates one.
    const auto missing =
        database_error([&] { Library lib(dir_ / "absent.db", OpenMode::read_only); },
                       DatabaseError::Kind::cannot_open);
    EXPECT_TRUE(contains(missing, (dir_ / "absent.db").string())) << missing;
    EXPECT_FALSE(fs::exists(dir_ / "absent.db"));

    std::int64_t id = 0;
    {
        auto lib = Library::create(db_);
        lib.upsert_model(test_model());
        id = lib.upsert_track(test_track("a.wav"));
        lib.store_track(id, {test_result("musicnn-mtat", 1)}, {}, true);
    }
    Library ro(db_, OpenMode::read_only);
    EXPECT_EQ(ro.track_count(), 1);  // reading works
    const auto ro_kind = DatabaseError::Kind::read_only;
    const auto msg = database_error([&] { ro.upsert_track(test_track("b.wav")); }, ro_kind);
    EXPECT_TRUE(contains(msg, "read-only")) << msg;
    EXPECT_TRUE(contains(msg, db_.string())) << msg;
    database_error([&] { ro.set_info("audio_root", "/elsewhere"); }, ro_kind);
    database_error([&] { ro.upsert_model(test_model("vgg-mtat")); }, ro_kind);
    database_error([&] { ro.store_track(id, {test_result("musicnn-mtat", 9)}, {}, true); },
                   ro_kind);
    database_error([&] { ro.mark_vanished_except({}); }, ro_kind);
    database_error([&] { ro.replace_labels({{id, "rock"}}, "csv"); }, ro_kind);
    database_error([&] { ro.clean(true); }, ro_kind);
    Projection p;
    p.key = {"musicnn-mtat", Source::embedding, "umap", 2, "{}"};
    database_error([&] { ro.store_projection(p); }, ro_kind);
    // Even SQL of its own cannot write through a read-only connection.
    database_error([&] { ro.db().exec("DELETE FROM tracks"); }, ro_kind);
    database_error([&] { ro.db().exec("PRAGMA user_version = 7"); }, ro_kind);

    Database check(db_, OpenMode::read_only);
    EXPECT_EQ(scalar(check, "SELECT count(*) FROM tracks"), 1);
    EXPECT_EQ(scalar(check, "SELECT count(*) FROM models"), 1);
    EXPECT_EQ(scalar(check, "SELECT count(*) FROM embeddings"), 1);
    EXPECT_EQ(scalar(check, "SELECT count(*) FROM library_info"), 0);
    EXPECT_EQ(schema_version(check), kSchemaVersion);
}

TEST_F(Store, NeighborsUseCosineOfCentredVectors) {
    auto lib = Library::create(db_);
    lib.upsert_model(test_model());
    // Four 4-d embeddings whose centred versions are a = (1, 0), c = (-1, 0),
    // e = 3 (0.6, 0.8), f = -3 (0.6, 0.8) in the first two dimensions (their mean is the
    // offset), the last two constant. Raw cosines are all near 1; centred ones are
    // cos(a, e) = 0.6, cos(a, f) = -0.6, cos(a, c) = -1, cos(e, f) = -1.
    const std::array<std::array<float, 2>, 4> centred = {
        {{1, 0}, {-1, 0}, {1.8f, 2.4f}, {-1.8f, -2.4f}}};
    const char* names[] = {"a.wav", "c.wav", "e.wav", "f.wav"};
    std::vector<std::int64_t> ids;
    for (int i = 0; i < 4; ++i) {
        ids.push_back(lib.upsert_track(test_track(names[i], 1000 + i)));
        auto r = test_result("musicnn-mtat", 0);
        r.embedding = {10 + centred[std::size_t(i)][0], -5 + centred[std::size_t(i)][1], 7, 7};
        lib.store_track(ids.back(), {r}, {}, true);
    }
    // A vanished track with an outlying vector must not count (nor shift the mean).
    const auto gone = lib.upsert_track(test_track("gone.wav", 5000));
    auto far = test_result("musicnn-mtat", 0);
    far.embedding = {1000, 1000, -1000, 3};
    lib.store_track(gone, {far}, {}, true);
    lib.mark_vanished_except({"a.wav", "c.wav", "e.wav", "f.wav"});

    const auto n = lib.neighbors(ids[0], "musicnn-mtat", Source::embedding, 10);
    ASSERT_EQ(n.size(), 3u);  // every other present track, not itself, not the vanished
    EXPECT_EQ(n[0].track_id, ids[2]);
    EXPECT_NEAR(n[0].similarity, 0.6, 1e-5);
    EXPECT_EQ(n[1].track_id, ids[3]);
    EXPECT_NEAR(n[1].similarity, -0.6, 1e-5);
    EXPECT_EQ(n[2].track_id, ids[1]);
    EXPECT_NEAR(n[2].similarity, -1.0, 1e-5);
    const auto top1 = lib.neighbors(ids[2], "musicnn-mtat", Source::embedding, 1);
    ASSERT_EQ(top1.size(), 1u);
    EXPECT_EQ(top1[0].track_id, ids[0]);
    EXPECT_NEAR(top1[0].similarity, 0.6, 1e-5);
    EXPECT_TRUE(lib.neighbors(gone, "musicnn-mtat", Source::embedding, 3).empty());
    EXPECT_TRUE(lib.neighbors(ids[0], "vgg-mtat", Source::embedding, 3).empty());

    // Taggrams (3-d, arbitrary values) against a straightforward computation.
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> u(0, 1);
    std::vector<std::array<float, 3>> tg(4);
    for (int i = 0; i < 4; ++i) {
        for (auto& x : tg[std::size_t(i)]) x = u(rng);
        auto r = test_result("musicnn-mtat", 0);
        r.embedding = {10 + centred[std::size_t(i)][0], -5 + centred[std::size_t(i)][1], 7, 7};
        r.taggram = {tg[std::size_t(i)][0], tg[std::size_t(i)][1], tg[std::size_t(i)][2]};
        lib.store_track(ids[std::size_t(i)], {r}, {}, true);
    }
    std::array<double, 3> mean{};
    for (const auto& v : tg)
        for (int d = 0; d < 3; ++d) mean[std::size_t(d)] += double(v[std::size_t(d)]) / 4;
    auto centred_cos = [&](int i, int j) {
        double dot = 0, ni = 0, nj = 0;
        for (std::size_t d = 0; d < 3; ++d) {
            const double x = tg[std::size_t(i)][d] - mean[d], y = tg[std::size_t(j)][d] - mean[d];
            dot += x * y;
            ni += x * x;
            nj += y * y;
        }
        return dot / std::sqrt(ni * nj);
    };
    const auto t = lib.neighbors(ids[1], "musicnn-mtat", Source::taggram, 3);
    ASSERT_EQ(t.size(), 3u);
    for (std::size_t k = 0; k < t.size(); ++k) {
        const int j = int(std::find(ids.begin(), ids.end(), t[k].track_id) - ids.begin());
        ASSERT_LT(j, 4);
        EXPECT_NE(j, 1);
        EXPECT_NEAR(t[k].similarity, centred_cos(1, j), 1e-5) << k;
        if (k > 0) {
            EXPECT_GE(t[k - 1].similarity, t[k].similarity);
        }
    }
}

TEST_F(Store, ProjectionCacheRoundTripIsExact) {
    auto lib = Library::create(db_);
    lib.upsert_model(test_model());
    std::vector<std::int64_t> ids;
    for (int i = 0; i < 5; ++i)
        ids.push_back(lib.upsert_track(test_track("t" + std::to_string(i) + ".wav", 100 + i)));
    const std::array<float, 15> values = {0.1f,     -3.14159f,  1e-7f,   12345.678f, -0.0f,
                                          2.5e-38f, 3.4e38f,    -1e-45f, 0.3333333f, 7.0f,
                                          -8.125f,  0.9999999f, 42.42f,  -1.5e10f,   6e-5f};
    for (int dims : {2, 3}) {
        SCOPED_TRACE(dims);
        Projection p;
        p.key = {"musicnn-mtat", Source::taggram, dims == 2 ? "umap" : "tsne", dims,
                 R"({"seed":42})"};
        p.input_digest = "abc" + std::to_string(dims);
        p.fitted_rows = 4;
        p.track_ids = {ids[3], ids[0], ids[2], ids[1]};  // stored in any order
        p.coords = RowMatrixF(4, dims);
        for (int r = 0; r < 4; ++r)
            for (int c = 0; c < dims; ++c) p.coords(r, c) = values[std::size_t(r * dims + c)];
        const auto pid = lib.store_projection(p);

        auto got = lib.projection(p.key);
        ASSERT_TRUE(got);
        EXPECT_EQ(got->id, pid);
        EXPECT_EQ(got->input_digest, p.input_digest);
        EXPECT_EQ(got->fitted_rows, 4);
        ASSERT_EQ(got->coords.cols(), dims);
        // Read back by track id; every coordinate bit for bit.
        ASSERT_EQ(got->track_ids, (std::vector<std::int64_t>{ids[0], ids[1], ids[2], ids[3]}));
        for (int r = 0; r < 4; ++r) {
            const auto src =
                std::find(p.track_ids.begin(), p.track_ids.end(), got->track_ids[std::size_t(r)]) -
                p.track_ids.begin();
            for (int c = 0; c < dims; ++c) {
                const float want = p.coords(Eigen::Index(src), c), have = got->coords(r, c);
                if (want == 0.0f) {
                    // SQLite stores an integral REAL as an integer, so -0 comes back as +0
                    // (equal as a number, the only bits that differ).
                    EXPECT_EQ(have, 0.0f) << "row " << r << " col " << c;
                    continue;
                }
                EXPECT_EQ(std::memcmp(&want, &have, sizeof want), 0)
                    << "row " << r << " col " << c << ": " << want << " vs " << have;
            }
        }
        EXPECT_EQ(got->transformed, std::vector<bool>(4, false));

        // A point placed later keeps the others and is marked as transformed.
        RowMatrixF extra(1, dims);
        for (int c = 0; c < dims; ++c) extra(0, c) = values[std::size_t(12 + c)];
        lib.add_projection_points(pid, {ids[4]}, extra);
        got = lib.projection(p.key);
        ASSERT_TRUE(got);
        ASSERT_EQ(got->track_ids.size(), 5u);
        EXPECT_EQ(got->track_ids[4], ids[4]);
        EXPECT_EQ(got->transformed, (std::vector<bool>{false, false, false, false, true}));
        for (int c = 0; c < dims; ++c) EXPECT_EQ(got->coords(4, c), extra(0, c));
        EXPECT_EQ(got->coords(0, 0), p.coords(1, 0));  // ids[0] was the second row given
    }
    // The 2D and 3D maps are separate entries; storing again replaces, not appends.
    EXPECT_EQ(lib.projection_keys().size(), 2u);
    Projection again;
    again.key = {"musicnn-mtat", Source::taggram, "umap", 2, R"({"seed":42})"};
    again.track_ids = {ids[4]};
    again.coords = RowMatrixF(1, 2);
    again.coords << -1.0f, 1.0f;
    lib.store_projection(again);
    const auto replaced = lib.projection(again.key);
    ASSERT_TRUE(replaced);
    EXPECT_EQ(replaced->track_ids, std::vector<std::int64_t>{ids[4]});
    EXPECT_EQ(replaced->coords(0, 0), -1.0f);
    EXPECT_FALSE(lib.projection({"musicnn-mtat", Source::embedding, "umap", 2, R"({"seed":42})"}));
    EXPECT_EQ(scalar(lib.db(), "SELECT count(*) FROM projection_points"), 1 + 5);
}

// --place-new on a t-SNE map uses t-SNE's transform(): the old points stay, each new track
// lands among the tracks of its own cluster, and the same library gives the same bits with
// one thread as with two.
TEST_F(Store, TsnePlaceNewLandsAmongNeighboursDeterministically) {
    constexpr int kClusters = 3, kPerCluster = 30, kNew = 2;
    // Track (cluster c, member i) has the vector centre(c) + small noise.
    auto vector_of = [](int c, int i) {
        std::mt19937 rng(std::uint32_t(1000 * c + i));
        std::normal_distribution<float> noise(0.0f, 0.5f);
        TrackResult r = test_result("musicnn-mtat", 0.0f);
        for (int d = 0; d < 4; ++d)
            r.embedding[std::size_t(d)] = float(20 * ((c + d) % kClusters)) + noise(rng);
        return r;
    };
    auto build = [&](const fs::path& db, int threads) {
        auto lib = Library::create(db);
        lib.upsert_model(test_model());
        std::map<std::int64_t, int> cluster;
        auto add = [&](int c, int i) {
            const auto id = lib.upsert_track(
                test_track("c" + std::to_string(c) + "-" + std::to_string(i) + ".wav", 100 + i));
            lib.store_track(id, {vector_of(c, i)}, {}, true);
            cluster[id] = c;
        };
        for (int c = 0; c < kClusters; ++c)
            for (int i = 0; i < kPerCluster; ++i) add(c, i);
        MapSpec spec;
        spec.model_id = "musicnn-mtat";
        spec.method = "tsne";
        EXPECT_EQ(update_map(lib, spec, false, false, threads).update, MapUpdate::fitted);
        const ProjectionKey key{spec.model_id, spec.source, "tsne", 2, map_params(spec)};
        const auto before = lib.projection(key);
        for (int c = 0; c < kClusters; ++c)
            for (int i = kPerCluster; i < kPerCluster + kNew; ++i) add(c, i);
        const MapResult r = update_map(lib, spec, true, false, threads);
        EXPECT_EQ(r.update, MapUpdate::placed_new);
        EXPECT_EQ(r.new_points, kClusters * kNew);
        EXPECT_EQ(r.note, "");
        const auto after = lib.projection(key);
        if (!before || !after) throw std::runtime_error("no cached t-SNE map");
        return std::make_tuple(*before, *after, cluster);
    };
    const auto [before, after, cluster] = build(dir_ / "a.db", 2);
    ASSERT_EQ(after.track_ids.size(), std::size_t(kClusters * (kPerCluster + kNew)));
    std::vector<std::size_t> fitted, placed;
    for (std::size_t r = 0; r < after.track_ids.size(); ++r)
        (after.transformed[r] ? placed : fitted).push_back(r);
    ASSERT_EQ(placed.size(), std::size_t(kClusters * kNew));
    // The fitted points did not move.
    for (std::size_t r = 0; r < before.track_ids.size(); ++r) {
        ASSERT_EQ(after.track_ids[r], before.track_ids[r]);
        EXPECT_TRUE(after.coords.row(Eigen::Index(r)) == before.coords.row(Eigen::Index(r)));
    }
    // Each new track's 5 nearest fitted tracks on the map are of its cluster.
    for (const std::size_t q : placed) {
        std::vector<std::pair<float, int>> d;
        for (const std::size_t f : fitted)
            d.push_back({(after.coords.row(Eigen::Index(f)) - after.coords.row(Eigen::Index(q)))
                             .squaredNorm(),
                         cluster.at(after.track_ids[f])});
        std::partial_sort(d.begin(), d.begin() + 5, d.end());
        for (int j = 0; j < 5; ++j)
            EXPECT_EQ(d[std::size_t(j)].second, cluster.at(after.track_ids[q]))
                << "track " << after.track_ids[q] << ", neighbour " << j;
    }
    // Deterministic: a second library, fitted and placed on one thread, has the same bits.
    const auto [before1, after1, cluster1] = build(dir_ / "b.db", 1);
    ASSERT_EQ(after1.track_ids, after.track_ids);
    EXPECT_TRUE(after1.coords == after.coords);
}

TEST_F(Store, MigrationFromVersion2AddsSeriesAndKeepsRows) {
    {
        Database db(db_, OpenMode::read_write_create);
        migrate(db, 2);
        EXPECT_EQ(schema_version(db), 2);
        EXPECT_FALSE(table_names(db).count("track_series"));
        db.exec(
            "INSERT INTO tracks(filename, size_bytes, mtime_ns) VALUES ('a.wav', 1000, "
            "1700000000000001000)");
        db.exec(
            "INSERT INTO models(model_id, model, dataset, n_tags, embedding_dim, input_samples, "
            "weights_digest, weights_file) VALUES ('musicnn-mtat', 'musicnn', 'mtat', 1, 2, "
            "48000, 'd', 'w')");
        db.exec(
            "INSERT INTO failures(track_id, model_id, weights_digest, source_size, "
            "source_mtime_ns, error) VALUES (1, 'musicnn-mtat', 'd', 1000, 1700000000000001000, "
            "'broken')");
        db.exec(
            "INSERT INTO projections(model_id, source, method, dims, params, input_digest, "
            "fitted_rows) VALUES ('musicnn-mtat', 'embedding', 'umap', 2, '{}', 'x', 1)");
        db.exec("INSERT INTO projection_points VALUES (1, 1, 0.5, 1.5, NULL, 'fit')");
    }
    // Every command but init-db refuses the version 2 library, saying how to migrate it.
    const auto msg =
        database_error([&] { Library lib(db_, OpenMode::read_only); }, DatabaseError::Kind::schema);
    EXPECT_TRUE(contains(msg, "schema version 2")) << msg;
    EXPECT_TRUE(contains(msg, "init-db")) << msg;

    auto lib = Library::create(db_);
    EXPECT_EQ(schema_version(lib.db()), 3);
    EXPECT_TRUE(table_names(lib.db()).count("series_models"));
    EXPECT_TRUE(table_names(lib.db()).count("track_series"));
    ASSERT_TRUE(lib.track_by_filename("a.wav"));
    EXPECT_EQ(lib.failures().size(), 1u);
    const auto p = lib.projection({"musicnn-mtat", Source::embedding, "umap", 2, "{}"});
    ASSERT_TRUE(p);
    EXPECT_EQ(p->coords(0, 1), 1.5f);
    // The old library has no series yet: every present track is pending for CREPE.
    EXPECT_EQ(lib.pending_series("crepe-tiny", "digest-crepe", false),
              std::vector<std::int64_t>{1});
    lib.upsert_series_model(test_series_model());
    lib.store_track(1, {}, {test_series(220)}, {}, false);
    ASSERT_TRUE(lib.series(1, "crepe-tiny"));
    EXPECT_TRUE(lib.pending_series("crepe-tiny", "digest-crepe", false).empty());
    EXPECT_EQ(lib.integrity_check(), "ok");
}

TEST_F(Store, SeriesRoundTripPendingAndFailures) {
    auto lib = Library::create(db_);
    lib.upsert_model(test_model());
    lib.upsert_series_model(test_series_model());
    const auto m = lib.series_model("crepe-tiny");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->frame_rate, 100);
    EXPECT_EQ(m->sample_rate, 16000);
    EXPECT_EQ(m->column_names, (std::vector<std::string>{"hz", "confidence"}));
    EXPECT_EQ(m->license, "MIT");
    // A sequence model is not a tagger: maps, /models and the vectors never see it.
    EXPECT_EQ(lib.models().size(), 1u);
    auto names = test_series_model();
    names.column_names = {"hz"};
    EXPECT_THROW(lib.upsert_series_model(names), tagmap::InvalidArgument);

    const auto a = lib.upsert_track(test_track("a.wav"));
    const auto b = lib.upsert_track(test_track("b.wav"));
    const std::int64_t mtime = test_track("b.wav").mtime_ns;
    EXPECT_EQ(lib.pending_series("crepe-tiny", "digest-crepe", false),
              (std::vector<std::int64_t>{a, b}));
    // One transaction: a tagger's result and the series of the same track.
    const auto s = test_series(220);
    lib.store_track(a, {test_result("musicnn-mtat", 1)}, {s},
                    {{"madmom-beats", "dm", "decoder said no", 1000, mtime}}, false);
    const auto back = lib.series(a, "crepe-tiny");
    ASSERT_TRUE(back);
    EXPECT_EQ(back->frames, 5);
    EXPECT_EQ(back->columns, 2);
    EXPECT_EQ(back->frame_rate, 100);
    EXPECT_EQ(back->weights_digest, "digest-crepe");
    EXPECT_EQ(back->audio_seconds, 0.05);
    EXPECT_EQ(bits(back->values), bits(s.values));
    // The BLOB is the documented layout: float32 little-endian, row-major, no header.
    {
        auto q = lib.db().prepare("SELECT data FROM track_series WHERE track_id = ?");
        q.bind(1, a);
        ASSERT_TRUE(q.step());
        const auto blob = q.blob(0);
        ASSERT_EQ(blob.size(), 40u);
        EXPECT_EQ(std::memcmp(blob.data(), s.values.data(), 40), 0);
    }
    EXPECT_FALSE(lib.series(b, "crepe-tiny"));
    EXPECT_FALSE(lib.series(a, "madmom-beats"));
    EXPECT_EQ(lib.track_series_models(a), std::vector<std::string>{"crepe-tiny"});
    EXPECT_EQ(lib.series_track_ids("crepe-tiny"), std::vector<std::int64_t>{a});
    // Pending: a's series is current; new weights make every track pending again.
    EXPECT_EQ(lib.pending_series("crepe-tiny", "digest-crepe", false),
              std::vector<std::int64_t>{b});
    EXPECT_EQ(lib.pending_series("crepe-tiny", "new-weights", false),
              (std::vector<std::int64_t>{a, b}));
    // A failure of the file's current state is skipped unless retried; a result clears it.
    lib.store_track(b, {}, {}, {{"crepe-tiny", "digest-crepe", "no audio", 1000, mtime}}, false);
    EXPECT_TRUE(lib.pending_series("crepe-tiny", "digest-crepe", false).empty());
    EXPECT_EQ(lib.pending_series("crepe-tiny", "digest-crepe", true), std::vector<std::int64_t>{b});
    lib.store_track(b, {}, {test_series(110, 3)}, {}, true);
    ASSERT_EQ(lib.failures().size(), 1u);  // a's madmom failure only
    EXPECT_EQ(lib.failures()[0].model_id, "madmom-beats");
    EXPECT_EQ(lib.series(b, "crepe-tiny")->frames, 3);
    EXPECT_TRUE(lib.track(b)->processed_at);
    // Replacing a series keeps one row per (track, model).
    lib.store_track(b, {}, {test_series(330, 4)}, {}, true);
    EXPECT_EQ(scalar(lib.db(), "SELECT count(*) FROM track_series"), 2);
    EXPECT_EQ(lib.series(b, "crepe-tiny")->values[0], 330.0f);

    // All or nothing: a series whose sizes do not add up, or of an unregistered model,
    // rolls back the track's other rows too.
    auto bad = test_series(1);
    bad.values.pop_back();
    EXPECT_THROW(lib.store_track(a, {test_result("musicnn-mtat", 100)}, {bad}, {}, true),
                 tagmap::InvalidArgument);
    auto unknown = test_series(1);
    unknown.model_id = "madmom-beats";
    EXPECT_THROW(lib.store_track(a, {test_result("musicnn-mtat", 100)}, {unknown}, {}, true),
                 tagmap::InvalidArgument);
    EXPECT_EQ(lib.vectors("musicnn-mtat", Source::embedding).rows(0, 0), 1.0f);
    EXPECT_EQ(bits(lib.series(a, "crepe-tiny")->values), bits(s.values));
    EXPECT_FALSE(lib.track(a)->processed_at);

    // The table refuses a BLOB that does not match its shape.
    database_error(
        [&] {
            lib.db().exec("UPDATE track_series SET data = zeroblob(12) WHERE track_id = " +
                          std::to_string(b));
        },
        DatabaseError::Kind::other);
    // A vanished track keeps its series but is left out; deleting a track removes it.
    lib.mark_vanished_except({"b.wav"});
    EXPECT_EQ(lib.series_track_ids("crepe-tiny"), std::vector<std::int64_t>{b});
    lib.db().exec("DELETE FROM tracks WHERE filename = 'a.wav'");
    EXPECT_EQ(scalar(lib.db(), "SELECT count(*) FROM track_series"), 1);
    EXPECT_EQ(lib.integrity_check(), "ok");

    // clean-db removes the series with everything else; --drop-tables drops their tables.
    lib.clean(false);
    EXPECT_EQ(scalar(lib.db(), "SELECT count(*) FROM track_series"), 0);
    EXPECT_EQ(scalar(lib.db(), "SELECT count(*) FROM series_models"), 0);
    lib.clean(true);
    EXPECT_FALSE(table_names(lib.db()).count("track_series"));
    EXPECT_FALSE(table_names(lib.db()).count("series_models"));
}

TEST_F(Store, MergeCarriesSeries) {
    // Libraries of the same folder (as shards are), each with series of its tracks.
    auto make = [&](const fs::path& file, const std::vector<std::string>& names, float base,
                    const std::string& digest) {
        auto lib = Library::create(file);
        lib.set_audio_root("/music");
        lib.upsert_series_model(test_series_model("crepe-tiny", digest));
        for (std::size_t i = 0; i < names.size(); ++i) {
            const auto id = lib.upsert_track(test_track(names[i]));
            lib.store_track(id, {}, {test_series(base + float(i), 3 + int(i), digest)}, {}, true);
        }
    };
    const auto s1 = dir_ / "s1.db", s2 = dir_ / "s2.db", out = dir_ / "out.db";
    make(s1, {"a.wav", "b.wav"}, 100, "digest-crepe");
    make(s2, {"c.wav"}, 200, "digest-crepe");
    {  // and a failure of CREPE in the second one
        Library lib(s2, OpenMode::read_write);
        const auto d = lib.upsert_track(test_track("d.wav"));
        lib.store_track(
            d, {}, {},
            {{"crepe-tiny", "digest-crepe", "bad file", 1000, test_track("d.wav").mtime_ns}},
            false);
    }
    const auto tallies = merge_shards(out, {s1, s2});
    ASSERT_EQ(tallies.size(), 2u);
    EXPECT_EQ(tallies[0].results_copied, 2);
    EXPECT_EQ(tallies[1].results_copied, 1);
    EXPECT_EQ(tallies[1].failures_copied, 1);
    {
        Library lib(out, OpenMode::read_only);
        ASSERT_TRUE(lib.series_model("crepe-tiny"));
        EXPECT_EQ(lib.series_model("crepe-tiny")->weights_digest, "digest-crepe");
        const std::vector<std::tuple<std::string, float, int>> want = {
            {"a.wav", 100.0f, 3}, {"b.wav", 101.0f, 4}, {"c.wav", 200.0f, 3}};
        for (const auto& [name, base, frames] : want) {
            const auto t = lib.track_by_filename(name);
            ASSERT_TRUE(t) << name;
            const auto s = lib.series(t->id, "crepe-tiny");
            ASSERT_TRUE(s) << name;
            EXPECT_EQ(bits(s->values), bits(test_series(base, frames).values)) << name;
            EXPECT_TRUE(t->processed_at) << name;
        }
        ASSERT_EQ(lib.failures().size(), 1u);
        EXPECT_EQ(lib.failures()[0].filename, "d.wav");
        EXPECT_EQ(lib.integrity_check(), "ok");
    }
    // Again: nothing changes.
    const auto again = merge_shards(out, {s1, s2});
    EXPECT_EQ(again[0].results_copied + again[1].results_copied, 0);
    EXPECT_EQ(again[0].results_unchanged + again[1].results_unchanged, 3);
    {
        Library lib(out, OpenMode::read_only);
        EXPECT_EQ(scalar(lib.db(), "SELECT count(*) FROM track_series"), 3);
    }
    // A shard processed with other CREPE weights is refused before anything is written.
    const auto s3 = dir_ / "s3.db";
    make(s3, {"e.wav"}, 300, "other-weights");
    try {
        merge_shards(out, {s3});
        ADD_FAILURE() << "merged a shard of other weights";
    } catch (const tagmap::InvalidArgument& e) {
        EXPECT_TRUE(contains(e.what(), "other weights of crepe-tiny")) << e.what();
    }
    Library lib(out, OpenMode::read_only);
    EXPECT_FALSE(lib.track_by_filename("e.wav"));
}
