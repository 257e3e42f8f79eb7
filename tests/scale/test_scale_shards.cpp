// Shards and merge-db at the API level, on synthetic libraries (no model runs; fast, also
// under the sanitizers): the shard key is the relative path (stable across re-indexing,
// every track in exactly one shard), a shard database holds only its shard's pending
// tracks, merging reproduces the rows a single library would hold, merging twice changes
// nothing, and mismatched weights, a half-written shard and a foreign file are refused
// before anything is written. The same for the map placed as array tasks (placement
// shards): merged, it equals the single-process --fit-sample map bit for bit.
#include <gtest/gtest.h>

#include <bit>
#include <map>
#include <set>

#include "library.hpp"
#include "map_points.hpp"
#include "merge.hpp"
#include "projection_cache.hpp"
#include "schema.hpp"
#include "shard.hpp"
#include "store_test_util.hpp"

using namespace tagmap::store;
using namespace tagmap::store::test;
using namespace tagmap;

namespace {

ModelRecord model(const std::string& digest = "digest-a") {
    ModelRecord m;
    m.model_id = "musicnn-mtat";
    m.model = "musicnn";
    m.dataset = "mtat";
    m.n_tags = 3;
    m.embedding_dim = 4;
    m.input_samples = 48000;
    m.weights_digest = digest;
    m.weights_file = "/weights/musicnn-mtat.tmw";
    m.tag_names = {"rock", "piano", "quiet"};
    return m;
}

TrackRecord track(const std::string& filename, std::int64_t size) {
    TrackRecord t;
    t.filename = filename;
    t.size_bytes = size;
    t.mtime_ns = 1'700'000'000'000'000'000 + size;
    t.duration = 10;
    return t;
}

/// What preprocess would store for a track: values derived from the file's name.
TrackResult result(const TrackRecord& t, const std::string& digest = "digest-a") {
    TrackResult r;
    r.model_id = "musicnn-mtat";
    r.weights_digest = digest;
    r.source_size = t.size_bytes;
    r.source_mtime_ns = t.mtime_ns;
    r.audio_seconds = 6;
    r.chunks = 2;
    r.chunk_hop = 48000;
    r.embedding_dim = 4;
    r.n_tags = 3;
    const float base = float(shard_hash(t.filename) % 1000) / 7.0f;
    for (int i = 0; i < 4; ++i) r.embedding.push_back(base + float(i));
    for (int i = 0; i < 3; ++i) r.taggram.push_back(base / 2 + float(i));
    for (int i = 0; i < 8; ++i) r.chunk_embeddings.push_back(base - float(i));
    for (int i = 0; i < 6; ++i) r.chunk_taggrams.push_back(base * 2 + float(i));
    return r;
}

std::vector<std::string> names(int n) {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i)
        out.push_back((i % 3 ? "sub" + std::to_string(i % 3) + "/" : std::string()) + "song " +
                      std::to_string(i) + ".mp3");
    return out;
}

/// A library of `n` indexed tracks (none embedded).
void make_library(const fs::path& file, int n) {
    auto lib = Library::create(file);
    lib.set_audio_root("/music");
    Transaction tx(lib.db());
    int i = 0;
    for (const auto& name : names(n)) lib.upsert_track(track(name, 1000 + i++));
    tx.commit();
}

/// What preprocess-all --shard K/N --out-db does, with synthetic results.
fs::path run_shard(const fs::path& library, const fs::path& dir, const Shard& shard,
                   bool finish = true, const std::string& digest = "digest-a") {
    Library source(library, OpenMode::read_only);
    const auto out = dir / ("shard-" + std::to_string(shard.index) + ".db");
    auto lib =
        open_shard_db(source, out, shard, source.pending_tracks("musicnn-mtat", digest, false));
    lib.upsert_model(model(digest));
    for (const auto& t : lib.tracks()) lib.store_track(t.id, {result(t, digest)}, {}, true);
    if (finish) mark_shard_complete(lib);
    return out;
}

/// Every stored result of a library by filename: (digest, state, vectors, chunks).
std::map<std::string, std::string> results(const fs::path& file) {
    Database db(file, OpenMode::read_only);
    auto q = db.prepare(
        "SELECT t.filename, e.weights_digest, e.source_size, e.source_mtime_ns, e.chunks, "
        "hex(e.embedding), hex(e.taggram), hex(c.embeddings), hex(c.taggrams), e.created_at "
        "FROM embeddings e JOIN tracks t ON t.id = e.track_id JOIN chunk_outputs c ON "
        "c.embedding_id = e.id");
    std::map<std::string, std::string> out;
    while (q.step()) {
        std::string row;
        for (int c = 1; c < 10; ++c) row += q.text(c) + "|";
        out[q.text(0)] = row;
    }
    return out;
}

/// The whole content of a library's result tables, row ids included.
std::string dump(const fs::path& file) {
    Database db(file, OpenMode::read_only);
    std::string out;
    const std::pair<const char*, int> queries[] = {
        {"SELECT id, filename, processed_at, size_bytes FROM tracks ORDER BY id", 4},
        {"SELECT id, track_id, model_id, weights_digest, hex(embedding) FROM embeddings ORDER "
         "BY id",
         5},
        {"SELECT embedding_id, hex(embeddings), hex(taggrams) FROM chunk_outputs ORDER BY 1", 3},
        {"SELECT track_id, model_id, error FROM failures ORDER BY 1, 2", 3},
        {"SELECT model_id, weights_digest FROM models ORDER BY 1", 2}};
    for (const auto& [sql, columns] : queries) {
        auto q = db.prepare(sql);
        while (q.step()) {
            for (int c = 0; c < columns; ++c)
                out += (q.is_null(c) ? std::string("NULL") : q.text(c)) + ",";
            out += "\n";
        }
    }
    return out;
}

}  // namespace

TEST(Shard, ParsesKOverN) {
    const auto s = parse_shard("3/4");
    EXPECT_EQ(s.index, 3);
    EXPECT_EQ(s.count, 4);
    EXPECT_EQ(s.text(), "3/4");
    for (const char* bad : {"4/4", "-1/4", "1/0", "1", "a/b", "1/4x", "/4", "1/"})
        EXPECT_THROW(parse_shard(bad), tagmap::InvalidArgument) << bad;
}

TEST(Shard, EveryTrackInExactlyOneShardByPathAlone) {
    // FNV-1a 64 of the bytes: fixed values, so shards agree across machines and builds.
    EXPECT_EQ(shard_hash(""), 14695981039346656037ull);
    EXPECT_EQ(shard_hash("a"), 0xaf63dc4c8601ec8cull);
    const auto all = names(1000);
    std::vector<int> sizes(4);
    for (const auto& n : all) {
        int owners = 0;
        for (int k = 0; k < 4; ++k)
            if (Shard{k, 4}.contains(n)) {
                ++owners;
                ++sizes[std::size_t(k)];
            }
        EXPECT_EQ(owners, 1) << n;
    }
    for (const int s : sizes) EXPECT_NEAR(s, 250, 60);  // a fair split
}

TEST(Shard, ShardDbHoldsOnlyItsPendingTracks) {
    TempDir dir;
    make_library(dir / "L.db", 40);
    {  // one track already embedded in the library: not pending, not in any shard
        auto lib = Library(dir / "L.db", OpenMode::read_write);
        lib.upsert_model(model());
        const auto t = *lib.track_by_filename(names(40)[5]);
        lib.store_track(t.id, {result(t)}, {}, true);
    }
    std::set<std::string> seen;
    for (int k = 0; k < 3; ++k) {
        const auto file = run_shard(dir / "L.db", dir.path(), {k, 3}, false);
        Library shard(file, OpenMode::read_only);
        EXPECT_EQ(shard.info(kShardKey), std::to_string(k) + "/3");
        EXPECT_EQ(shard.info(kShardStateKey), "running");
        EXPECT_EQ(shard.audio_root(), fs::path("/music"));
        for (const auto& t : shard.tracks()) {
            EXPECT_TRUE((Shard{k, 3}.contains(t.filename)));
            EXPECT_TRUE(seen.insert(t.filename).second) << t.filename << " in two shards";
        }
    }
    EXPECT_EQ(seen.size(), 39u);
    EXPECT_FALSE(seen.count(names(40)[5]));
    // A shard file belongs to one shard of one library.
    Library source(dir / "L.db", OpenMode::read_only);
    EXPECT_THROW(open_shard_db(source, dir / "shard-0.db", {1, 3}, {}), tagmap::InvalidArgument);
    EXPECT_THROW(open_shard_db(source, dir / "L.db", {0, 3}, {}), tagmap::InvalidArgument);
}

TEST(Merge, ShardsMergeToTheSingleLibraryAndTwiceChangesNothing) {
    TempDir dir;
    make_library(dir / "L.db", 30);
    fs::copy_file(dir / "L.db", dir / "single.db");
    {  // The single-process library: every track embedded in place.
        Library lib(dir / "single.db", OpenMode::read_write);
        lib.upsert_model(model());
        for (const auto& t : lib.tracks()) lib.store_track(t.id, {result(t)}, {}, true);
    }
    std::vector<fs::path> shards;
    for (int k = 0; k < 4; ++k) shards.push_back(run_shard(dir / "L.db", dir.path(), {k, 4}));
    const auto tallies = merge_shards(dir / "L.db", shards);
    ASSERT_EQ(tallies.size(), 4u);
    std::int64_t copied = 0;
    for (const auto& t : tallies) {
        EXPECT_EQ(t.tracks_added, 0);  // the library was indexed: tracks match by name
        EXPECT_EQ(t.results_unchanged, 0);
        copied += t.results_copied;
    }
    EXPECT_EQ(copied, 30);
    auto merged = results(dir / "L.db"), single = results(dir / "single.db");
    // created_at is when each row was written: equal up to the clock, compare the rest.
    auto strip = [](std::map<std::string, std::string> m) {
        for (auto& [k, v] : m) v = v.substr(0, v.rfind('|', v.size() - 2));
        return m;
    };
    EXPECT_EQ(strip(merged), strip(single));
    {
        Library lib(dir / "L.db", OpenMode::read_only);
        EXPECT_TRUE(lib.pending_tracks("musicnn-mtat", "digest-a", true).empty());
        EXPECT_EQ(lib.integrity_check(), "ok");
        for (const auto& t : lib.tracks()) EXPECT_TRUE(t.processed_at.has_value());
    }
    const auto before = dump(dir / "L.db");
    for (const auto& t : merge_shards(dir / "L.db", shards)) {
        EXPECT_EQ(t.results_copied, 0);
        EXPECT_EQ(t.failures_copied, 0);
        EXPECT_EQ(t.tracks_added, 0);
    }
    EXPECT_EQ(dump(dir / "L.db"), before);

    // Into a new file: the tracks come with the shards.
    const auto fresh = merge_shards(dir / "new.db", shards);
    std::int64_t added = 0;
    for (const auto& t : fresh) added += t.tracks_added;
    EXPECT_EQ(added, 30);
    EXPECT_EQ(results(dir / "new.db"), merged);
    Library lib(dir / "new.db", OpenMode::read_only);
    EXPECT_EQ(lib.audio_root(), fs::path("/music"));
    EXPECT_EQ(lib.model("musicnn-mtat")->tag_names.size(), 3u);
}

TEST(Merge, FailuresTravelAndAResultReplacesThem) {
    TempDir dir;
    make_library(dir / "L.db", 6);
    const auto file = [&] {
        Library source(dir / "L.db", OpenMode::read_only);
        auto lib = open_shard_db(source, dir / "s.db", {0, 1},
                                 source.pending_tracks("musicnn-mtat", "digest-a", false));
        lib.upsert_model(model());
        const auto tracks = lib.tracks();
        lib.store_track(tracks[0].id, {},
                        {{"musicnn-mtat", "digest-a", "cannot decode", tracks[0].size_bytes,
                          tracks[0].mtime_ns}},
                        false);
        for (std::size_t i = 1; i < tracks.size(); ++i)
            lib.store_track(tracks[i].id, {result(tracks[i])}, {}, true);
        mark_shard_complete(lib);
        return lib.file();
    }();
    auto t = merge_shards(dir / "L.db", {file});
    EXPECT_EQ(t[0].failures_copied, 1);
    EXPECT_EQ(t[0].results_copied, 5);
    {
        Library lib(dir / "L.db", OpenMode::read_only);
        ASSERT_EQ(lib.failures().size(), 1u);
        EXPECT_EQ(lib.failures()[0].error, "cannot decode");
        EXPECT_EQ(lib.pending_tracks("musicnn-mtat", "digest-a", false).size(), 0u);
        EXPECT_EQ(lib.pending_tracks("musicnn-mtat", "digest-a", true).size(), 1u);
    }
    // The retry (a new shard run with --retry-failed) succeeds: its result clears the failure.
    {
        Library lib(file, OpenMode::read_write);
        const auto tr = lib.tracks()[0];
        lib.store_track(tr.id, {result(tr)}, {}, true);
    }
    t = merge_shards(dir / "L.db", {file});
    EXPECT_EQ(t[0].results_copied, 1);
    EXPECT_EQ(t[0].results_unchanged, 5);
    Library lib(dir / "L.db", OpenMode::read_only);
    EXPECT_TRUE(lib.failures().empty());
    EXPECT_TRUE(lib.pending_tracks("musicnn-mtat", "digest-a", true).empty());
}

TEST(Merge, RefusesHalfWrittenMismatchedAndForeignShardsBeforeWriting) {
    TempDir dir;
    make_library(dir / "L.db", 20);
    const auto good = run_shard(dir / "L.db", dir.path(), {0, 3});
    const auto half = run_shard(dir / "L.db", dir.path(), {1, 3}, /*finish=*/false);
    const auto before = dump(dir / "L.db");
    auto message = [&](const std::vector<fs::path>& shards) {
        try {
            merge_shards(dir / "L.db", shards);
        } catch (const tagmap::Error& e) {
            return std::string(e.what());
        }
        return std::string("merged");
    };
    auto has = [](const std::string& text, const std::string& part) {
        return text.find(part) != std::string::npos;
    };
    auto m = message({good, half});
    EXPECT_TRUE(has(m, "incomplete shard (1/3")) << m;
    EXPECT_TRUE(has(m, "rerun it")) << m;
    EXPECT_EQ(dump(dir / "L.db"), before);  // the good shard was not merged either

    // Other weights: against another shard, and against the library's own model row.
    fs::create_directories(dir / "other");
    const auto other = run_shard(dir / "L.db", dir / "other", {2, 3}, true, "digest-b");
    m = message({good, other});
    EXPECT_TRUE(has(m, "different weights of musicnn-mtat")) << m;
    EXPECT_EQ(dump(dir / "L.db"), before);
    merge_shards(dir / "L.db", {good});
    m = message({other});
    EXPECT_TRUE(has(m, "other weights of musicnn-mtat")) << m;

    // Not a database, not tagmap's, missing.
    write_file(dir / "junk.db", std::string(4096, 'x'));
    m = message({dir / "junk.db"});
    EXPECT_TRUE(has(m, "not a readable tagmap database")) << m;
    { Database db(dir / "empty.db", OpenMode::read_write_create); }
    m = message({dir / "empty.db"});
    EXPECT_TRUE(has(m, "not a tagmap library")) << m;
    m = message({dir / "missing.db"});
    EXPECT_TRUE(has(m, "not found")) << m;
    EXPECT_FALSE(fs::exists(dir / "missing.db"));
    m = message({dir / "L.db"});
    EXPECT_TRUE(has(m, "output library itself")) << m;
}

TEST(FitSample, SampleIsSeededByIdAndTheRestIsTransformed) {
    std::vector<std::int64_t> ids;
    for (int i = 0; i < 300; ++i) ids.push_back(1000 + 7 * i);
    const auto a = fit_sample_rows(ids, 50, 42);
    EXPECT_EQ(a.size(), 50u);
    EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
    EXPECT_EQ(fit_sample_rows(ids, 50, 42), a);
    EXPECT_NE(fit_sample_rows(ids, 50, 43), a);
    // Membership depends on the id alone: adding tracks only displaces sampled ones.
    auto more = ids;
    for (int i = 0; i < 30; ++i) more.push_back(5000 + i);
    std::set<std::int64_t> before, after;
    for (auto r : a) before.insert(ids[std::size_t(r)]);
    for (auto r : fit_sample_rows(more, 50, 42)) after.insert(more[std::size_t(r)]);
    std::size_t kept = 0;
    for (auto id : after) kept += before.count(id);
    EXPECT_GE(kept, 35u);

    // The map through the cache: 300 tracks, fitted on 50, the rest placed by transform().
    TempDir dir;
    auto lib = Library::create(dir / "L.db");
    lib.upsert_model(model());
    {
        Transaction tx(lib.db());
        for (const auto& n : names(300)) lib.upsert_track(track(n, 1000));
        tx.commit();
    }
    for (const auto& t : lib.tracks()) lib.store_track(t.id, {result(t)}, {}, true);
    MapSpec spec;
    spec.model_id = "musicnn-mtat";
    spec.fit_sample = 50;
    const auto r = update_map(lib, spec, false, false, 2);
    EXPECT_EQ(r.update, MapUpdate::fitted);
    const ProjectionKey key{spec.model_id, spec.source, "umap", 2, map_params(spec)};
    EXPECT_NE(key.params.find("\"fit_sample\":50"), std::string::npos) << key.params;
    const auto p = lib.projection(key);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->fitted_rows, 50);
    ASSERT_EQ(p->track_ids.size(), 300u);
    EXPECT_EQ(std::count(p->transformed.begin(), p->transformed.end(), true), 250);
    EXPECT_TRUE(p->coords.allFinite());
    EXPECT_EQ(update_map(lib, spec, false, false, 2).update, MapUpdate::unchanged);
    // Five batches: the same bits on one worker as on two.
    const auto v = lib.vectors("musicnn-mtat", Source::embedding);
    project::UmapOptions o;
    o.threads = 1;
    const auto rows = fit_sample_rows(v.track_ids, 50, 42);
    const RowMatrixF one = fit_sample_umap(v.rows, rows, o, 60);
    o.threads = 2;
    const RowMatrixF split = fit_sample_umap(v.rows, rows, o, 60);
    EXPECT_TRUE(one == split);
}

// --- The map placed as array tasks: fit once (fit_only), place shards K/N of the transform
// batches into their own databases, merge them into the library's map.

namespace {

/// A library of `n` tracks, every one embedded (synthetic results).
void make_embedded_library(const fs::path& file, int n, const std::string& digest = "digest-a") {
    auto lib = Library::create(file);
    lib.set_audio_root("/music");
    lib.upsert_model(model(digest));
    {
        Transaction tx(lib.db());
        int i = 0;
        for (const auto& name : names(n)) lib.upsert_track(track(name, 1000 + i++));
        tx.commit();
    }
    for (const auto& t : lib.tracks()) lib.store_track(t.id, {result(t, digest)}, {}, true);
}

/// 200 tracks, 40 fitted, 160 placed in 6 batches (5 of 30, one of 10).
MapSpec sample_spec() {
    MapSpec spec;
    spec.model_id = "musicnn-mtat";
    spec.fit_sample = 40;
    spec.transform_batch = 30;
    return spec;
}

ProjectionKey key_of(const MapSpec& spec) {
    return {spec.model_id, spec.source, spec.method, spec.dims, map_params(spec)};
}

/// What project --place-shard K/N --out-db does.
fs::path place_shard(const fs::path& library, const fs::path& dir, const MapSpec& spec,
                     const Shard& shard, bool finish = true, int threads = 1) {
    Library source(library, OpenMode::read_only);
    const auto out = dir / ("place-" + std::to_string(shard.index) + "-of-" +
                            std::to_string(shard.count) + ".db");
    auto db = open_place_shard_db(source, out, shard);
    store_placement(db, source, place_map_shard(source, spec, shard, threads));
    if (finish) mark_place_shard_complete(db);
    return out;
}

/// Every row of the projection cache, timestamps included.
std::string dump_maps(const fs::path& file) {
    Database db(file, OpenMode::read_only);
    std::string out;
    auto q = db.prepare(
        "SELECT j.id, j.params, j.input_digest, j.fitted_rows, j.updated_at, p.track_id, "
        "p.x, p.y, p.z, p.placement FROM projections j LEFT JOIN projection_points p ON "
        "p.projection_id = j.id ORDER BY j.id, p.track_id");
    while (q.step()) {
        for (int c = 0; c < 10; ++c) out += (q.is_null(c) ? std::string("NULL") : q.text(c)) + ",";
        out += "\n";
    }
    return out;
}

}  // namespace

TEST(PlaceShards, MergedShardsEqualTheSingleProcessMapBitForBit) {
    TempDir dir;
    const auto spec = sample_spec();
    make_embedded_library(dir / "L.db", 200);
    fs::copy_file(dir / "L.db", dir / "single.db");
    {  // The reference: project --fit-sample in one process (two workers).
        Library single(dir / "single.db", OpenMode::read_write);
        EXPECT_EQ(update_map(single, spec, false, false, 2).update, MapUpdate::fitted);
    }
    const auto reference = map_points(dir / "single.db", spec);
    ASSERT_EQ(reference.size(), 200u);
    {  // Why shards are whole batches: the same tracks batched otherwise land elsewhere.
        Library single(dir / "single.db", OpenMode::read_only);
        const auto v = single.vectors("musicnn-mtat", Source::embedding);
        const auto rows = fit_sample_rows(v.track_ids, 40, 42);
        const RowMatrixF batched = fit_sample_umap(v.rows, rows, {}, 30);
        EXPECT_FALSE(batched == fit_sample_umap(v.rows, rows, {}, 160));
        EXPECT_FALSE(batched == fit_sample_umap(v.rows, rows, {}, 20));
    }
    {  // Step 1: the sample's fit only.
        Library lib(dir / "L.db", OpenMode::read_write);
        const auto r = update_map(lib, spec, false, false, 2, /*fit_only=*/true);
        EXPECT_EQ(r.update, MapUpdate::fitted);
        EXPECT_EQ(r.new_points, 160);
        const auto p = lib.projection(key_of(spec));
        ASSERT_TRUE(p);
        EXPECT_EQ(p->track_ids.size(), 40u);
        EXPECT_EQ(p->fitted_rows, 40);
        // Asked again, it stays a fit: the other tracks are left to the placement.
        EXPECT_EQ(update_map(lib, spec, false, false, 2, true).update, MapUpdate::unchanged);
        EXPECT_EQ(lib.projection(key_of(spec))->track_ids.size(), 40u);
    }
    for (int n = 1; n <= 3; ++n) {
        SCOPED_TRACE("N = " + std::to_string(n));
        const auto lib = dir / ("L" + std::to_string(n) + ".db");
        fs::copy_file(dir / "L.db", lib);
        std::vector<fs::path> shards;
        for (int k = n - 1; k >= 0; --k)  // any order; one thread or two per task
            shards.push_back(place_shard(lib, dir.path(), spec, {k, n}, true, 1 + k % 2));
        {
            Library s(shards.back(), OpenMode::read_only);
            EXPECT_EQ(s.info(kPlaceShardKey), "0/" + std::to_string(n));
            EXPECT_EQ(s.info(kPlaceShardStateKey), "complete");
        }
        const auto tallies = merge_shards(lib, shards);
        std::int64_t added = 0;
        for (const auto& t : tallies) {
            EXPECT_TRUE(t.placement);
            EXPECT_EQ(t.points_unchanged, 0);
            added += t.points_added;
        }
        EXPECT_EQ(added, 160);
        EXPECT_EQ(map_points(lib, spec), reference);
        // Merging twice changes nothing; the map is current.
        const auto before = dump_maps(lib);
        std::int64_t unchanged = 0;
        for (const auto& t : merge_shards(lib, shards)) {
            EXPECT_EQ(t.points_added, 0);
            unchanged += t.points_unchanged;
        }
        EXPECT_EQ(unchanged, 160);
        EXPECT_EQ(dump_maps(lib), before);
        Library l(lib, OpenMode::read_write);
        EXPECT_EQ(update_map(l, spec, false, false, 2).update, MapUpdate::unchanged);
        EXPECT_EQ(l.integrity_check(), "ok");
        for (const auto& s : shards) fs::remove(s);
    }
    {  // Without shards, the fit's next update places the rest in the same batches.
        Library lib(dir / "L.db", OpenMode::read_write);
        EXPECT_EQ(update_map(lib, spec, false, false, 1).update, MapUpdate::placed_new);
    }
    EXPECT_EQ(map_points(dir / "L.db", spec), reference);
}

TEST(PlaceShards, MismatchedIncompleteAndPartialShardsAreRefusedBeforeWriting) {
    TempDir dir;
    const auto spec = sample_spec();
    make_embedded_library(dir / "L.db", 200);
    {
        Library lib(dir / "L.db", OpenMode::read_write);
        update_map(lib, spec, false, false, 2, true);
    }
    fs::create_directories(dir / "ok");
    fs::create_directories(dir / "killed");
    const auto s0 = place_shard(dir / "L.db", dir / "ok", spec, {0, 2});
    const auto s1 = place_shard(dir / "L.db", dir / "ok", spec, {1, 2});
    // A task killed before its last write leaves its shard running.
    const auto killed = place_shard(dir / "L.db", dir / "killed", spec, {1, 2}, false);
    const auto before = dump_maps(dir / "L.db");
    auto message = [&](const fs::path& library, const std::vector<fs::path>& shards) {
        try {
            merge_shards(library, shards);
        } catch (const tagmap::Error& e) {
            return std::string(e.what());
        }
        return std::string("merged");
    };
    auto has = [](const std::string& text, const std::string& part) {
        return text.find(part) != std::string::npos;
    };
    auto m = message(dir / "L.db", {s0, killed});
    EXPECT_TRUE(has(m, "incomplete placement shard (1/2, state 'running')")) << m;
    m = message(dir / "L.db", {s0});
    EXPECT_TRUE(has(m, "1/2 not given")) << m;
    m = message(dir / "L.db", {s0, s0});
    EXPECT_TRUE(has(m, "both placement shard 0/2")) << m;
    {  // Other map options: a map of another seed, placed from a copy.
        fs::copy_file(dir / "L.db", dir / "seed.db");
        auto other = spec;
        other.seed = 43;
        {
            Library lib(dir / "seed.db", OpenMode::read_write);
            update_map(lib, other, false, false, 2, true);
        }
        fs::create_directories(dir / "seed");
        const auto a = place_shard(dir / "seed.db", dir / "seed", other, {0, 2});
        const auto b = place_shard(dir / "seed.db", dir / "seed", other, {1, 2});
        m = message(dir / "L.db", {a, b});
        EXPECT_TRUE(has(m, "has no umap 2D map of musicnn-mtat embedding with options")) << m;
        m = message(dir / "L.db", {a, s1});
        EXPECT_TRUE(has(m, "placed different maps")) << m;
    }
    {  // Another fit of the same map: a fitted track was re-embedded and the map refit.
        fs::copy_file(dir / "L.db", dir / "refit.db");
        {
            Library lib(dir / "refit.db", OpenMode::read_write);
            const auto p = lib.projection(key_of(spec));
            auto t = *lib.track(p->track_ids[0]);
            auto r = result(t);
            r.embedding[0] += 0.5f;
            lib.store_track(t.id, {r}, {}, true);
            update_map(lib, spec, false, true, 2, true);
        }
        fs::create_directories(dir / "refit");
        const auto a = place_shard(dir / "refit.db", dir / "refit", spec, {0, 2});
        const auto b = place_shard(dir / "refit.db", dir / "refit", spec, {1, 2});
        m = message(dir / "L.db", {a, b});
        EXPECT_TRUE(has(m, "is another fit than")) << m;
        // The stale map is not placed on either: refit first.
        fs::copy_file(dir / "refit.db", dir / "stale.db");
        {
            Library stale(dir / "stale.db", OpenMode::read_write);
            const auto p = stale.projection(key_of(spec));
            auto t = *stale.track(p->track_ids[1]);
            auto r = result(t);
            r.embedding[1] += 0.25f;
            stale.store_track(t.id, {r}, {}, true);
        }
        Library stale(dir / "stale.db", OpenMode::read_only);
        try {
            place_map_shard(stale, spec, {0, 2});
            ADD_FAILURE() << "placed on a stale fit";
        } catch (const tagmap::InvalidArgument& e) {
            EXPECT_TRUE(has(e.what(), "--fit-only --refit")) << e.what();
        }
    }
    {  // Other weights of the model (same vectors, so the same fit digest).
        make_embedded_library(dir / "weights.db", 200, "digest-b");
        {
            Library lib(dir / "weights.db", OpenMode::read_write);
            update_map(lib, spec, false, false, 2, true);
        }
        fs::create_directories(dir / "weights");
        const auto a = place_shard(dir / "weights.db", dir / "weights", spec, {0, 2});
        const auto b = place_shard(dir / "weights.db", dir / "weights", spec, {1, 2});
        m = message(dir / "L.db", {a, b});
        EXPECT_TRUE(has(m, "placed with other weights of musicnn-mtat")) << m;
    }
    // With preprocess shards in the same call.
    m = message(dir / "L.db", {s0, s1, run_shard(dir / "L.db", dir / "ok", {0, 2})});
    EXPECT_TRUE(has(m, "merge them in two calls")) << m;
    EXPECT_EQ(dump_maps(dir / "L.db"), before);  // nothing was written

    {  // A track added (and embedded) since the placement: other batches, refused.
        fs::copy_file(dir / "L.db", dir / "grown.db");
        Library lib(dir / "grown.db", OpenMode::read_write);
        const auto id = lib.upsert_track(track("new/song.mp3", 77));
        lib.store_track(id, {result(*lib.track(id))}, {}, true);
    }
    m = message(dir / "grown.db", {s0, s1});
    EXPECT_TRUE(has(m, "to place changed since")) << m;

    // A shard file is for one shard; the killed task's rerun completes its shard.
    {
        Library source(dir / "L.db", OpenMode::read_only);
        EXPECT_THROW(open_place_shard_db(source, s0, {1, 2}), tagmap::InvalidArgument);
        EXPECT_THROW(open_place_shard_db(source, dir / "L.db", {0, 2}), tagmap::InvalidArgument);
        EXPECT_THROW(open_place_shard_db(source, dir / "ok" / "shard-0.db", {0, 2}),
                     tagmap::InvalidArgument);
    }
    place_shard(dir / "L.db", dir / "killed", spec, {1, 2});
    const auto t = merge_shards(dir / "L.db", {killed, s0});
    EXPECT_EQ(t[0].points_added + t[1].points_added, 160);
    EXPECT_EQ(map_points(dir / "L.db", spec).size(), 200u);
}
