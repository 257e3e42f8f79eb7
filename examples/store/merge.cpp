#include "merge.hpp"

#include <array>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "projection_cache.hpp"
#include "schema.hpp"
#include "shard.hpp"

namespace tagmap::store {

namespace {

/// The shard attached to the output's connection as schema `shard` (ATTACH cannot run in a
/// transaction, so it spans the checks and the merge's transaction).
class Attached {
  public:
    Attached(Database& db, const std::filesystem::path& file) : db_(db) {
        std::error_code ec;
        if (!std::filesystem::is_regular_file(file, ec))
            throw IoError("shard database not found: " + file.string());
        if (std::filesystem::equivalent(file, db.file(), ec))
            throw InvalidArgument(file.string() + " is the output library itself");
        try {
            db_.prepare("ATTACH DATABASE ? AS shard").bind(1, file.string()).run();
        } catch (const DatabaseError& e) {
            const std::string why = e.what();
            const auto sqlite = why.find("(SQLite");
            throw DatabaseError(DatabaseError::Kind::corrupt,
                                file.string() + " is not a readable tagmap database" +
                                    (sqlite == std::string::npos ? "" : " " + why.substr(sqlite)));
        }
    }
    ~Attached() {
        try {
            db_.exec("DETACH DATABASE shard");
        } catch (...) {
        }
    }
    Attached(const Attached&) = delete;
    Attached& operator=(const Attached&) = delete;

  private:
    Database& db_;
};

std::optional<std::string> shard_info(Database& db, const char* key) {
    auto q = db.prepare("SELECT value FROM shard.library_info WHERE key = ?");
    q.bind(1, key);
    if (!q.step()) return std::nullopt;
    return q.text(0);
}

/// An attached shard must be a tagmap database of this schema version.
void check_attached_version(Database& db, const std::string& name) {
    std::int64_t version = 0;
    try {
        auto q = db.prepare("PRAGMA shard.user_version");
        q.step();
        version = q.int64(0);
        db.prepare("SELECT count(*) FROM shard.sqlite_schema").step();
    } catch (const DatabaseError& e) {
        throw DatabaseError(DatabaseError::Kind::corrupt,
                            name + " is not a readable tagmap database: " + e.what());
    }
    if (version != kSchemaVersion)
        throw DatabaseError(
            DatabaseError::Kind::schema,
            name + " has schema version " + std::to_string(version) + ", this tagmap " +
                std::to_string(kSchemaVersion) +
                (version == 0 ? " (not a tagmap library)"
                              : ": run `tagmap init-db --db " + name +
                                    "` on it, or rerun its shard with this tagmap"));
}

/// The checks of check_shard() on an attached shard; returns its "K/N" label.
std::string check_attached(Library& out, const std::filesystem::path& file) {
    auto& db = out.db();
    const auto name = file.string();
    check_attached_version(db, name);
    const auto label = shard_info(db, kShardKey).value_or("");
    const auto state = shard_info(db, kShardStateKey);
    if (state && *state != "complete")
        throw InvalidArgument(name + " is an incomplete shard (" + label + ", state '" + *state +
                              "'): its preprocess-all --shard " + label +
                              " did not finish; rerun it (it resumes) before merging");
    {
        auto q = db.prepare(
            "SELECT s.model_id, s.weights_digest, m.weights_digest FROM shard.models s "
            "JOIN main.models m ON m.model_id = s.model_id "
            "WHERE m.weights_digest != s.weights_digest");
        if (q.step())
            throw InvalidArgument(name + " was embedded with other weights of " + q.text(0) +
                                  " (weights digest " + q.text(1).substr(0, 12) + "..., " +
                                  out.file().string() + " has " + q.text(2).substr(0, 12) +
                                  "...): merge only shards of one run with the same weights");
    }
    {
        auto q = db.prepare(
            "SELECT s.model_id, s.weights_digest, m.weights_digest FROM shard.series_models s "
            "JOIN main.series_models m ON m.model_id = s.model_id "
            "WHERE m.weights_digest != s.weights_digest");
        if (q.step())
            throw InvalidArgument(name + " was processed with other weights of " + q.text(0) +
                                  " (weights digest " + q.text(1).substr(0, 12) + "..., " +
                                  out.file().string() + " has " + q.text(2).substr(0, 12) +
                                  "...): merge only shards of one run with the same weights");
    }
    {
        auto q = db.prepare(
            "SELECT s.model_id FROM shard.track_series s JOIN shard.series_models m ON "
            "m.model_id = s.model_id WHERE s.weights_digest != m.weights_digest LIMIT 1");
        if (q.step())
            throw InvalidArgument(name + " holds series of " + q.text(0) +
                                  " with more than one set of weights: rerun the shard");
    }
    {
        auto q = db.prepare(
            "SELECT e.model_id, e.weights_digest FROM shard.embeddings e "
            "JOIN shard.models m ON m.model_id = e.model_id "
            "WHERE e.weights_digest != m.weights_digest LIMIT 1");
        if (q.step())
            throw InvalidArgument(name + " holds results of " + q.text(0) +
                                  " with more than one set of weights: rerun the shard");
    }
    const auto root = out.audio_root();
    auto q = db.prepare("SELECT value FROM shard.library_info WHERE key = 'audio_root'");
    if (root && q.step() && std::filesystem::path(q.text(0)) != *root)
        throw InvalidArgument(name + " has audio folder " + q.text(0) + ", " + out.file().string() +
                              " has " + root->string());
    return label;
}

// Copies, as set operations on the attached shard. Track ids are the output's: shard rows
// are matched by filename through the temporary table merge_ids(sid -> mid).
constexpr const char* kTrackCopyColumns =
    "filename, duration, processed_at, created_at, size_bytes, mtime_ns, sample_rate, "
    "channels, codec, title, artist, album, genre, year, track_number, probe_error, "
    "indexed_at, vanished_at";

MergeTally merge_attached(Library& out, const std::filesystem::path& file,
                          const std::string& label) {
    auto& db = out.db();
    MergeTally tally;
    tally.shard = file;
    tally.shard_label = label;
    Transaction tx(db);
    if (!out.audio_root()) {
        auto q = db.prepare("SELECT value FROM shard.library_info WHERE key = 'audio_root'");
        if (q.step()) out.set_audio_root(q.text(0));
    }
    db.exec(
        "INSERT INTO main.models(model_id, model, dataset, n_tags, embedding_dim, input_samples, "
        "weights_digest, weights_file, tag_names) SELECT model_id, model, dataset, n_tags, "
        "embedding_dim, input_samples, weights_digest, weights_file, tag_names "
        "FROM shard.models WHERE true ON CONFLICT(model_id) DO UPDATE SET "
        "tag_names = coalesce(main.models.tag_names, excluded.tag_names)");
    db.exec(std::string("INSERT INTO main.tracks(") + kTrackCopyColumns + ") SELECT " +
            kTrackCopyColumns +
            " FROM shard.tracks s WHERE NOT EXISTS (SELECT 1 FROM main.tracks t WHERE "
            "t.filename = s.filename)");
    tally.tracks_added = db.changes();
    db.exec("DROP TABLE IF EXISTS temp.merge_ids");
    db.exec(
        "CREATE TEMP TABLE merge_ids AS SELECT s.id AS sid, t.id AS mid FROM shard.tracks s "
        "JOIN main.tracks t ON t.filename = s.filename");
    // Results to copy: those the output lacks with these exact bytes and source state.
    db.exec("DROP TABLE IF EXISTS temp.merge_rows");
    db.exec(
        "CREATE TEMP TABLE merge_rows AS SELECT e.id AS seid, i.mid AS mid, e.model_id AS "
        "model_id, e.model AS model, e.dataset AS dataset FROM shard.embeddings e "
        "JOIN merge_ids i ON i.sid = e.track_id WHERE NOT EXISTS (SELECT 1 FROM main.embeddings "
        "m WHERE m.track_id = i.mid AND m.model_id = e.model_id AND m.weights_digest = "
        "e.weights_digest AND m.source_size = e.source_size AND m.source_mtime_ns = "
        "e.source_mtime_ns AND m.embedding = e.embedding AND m.taggram = e.taggram)");
    tally.results_copied = [&] {
        auto q = db.prepare("SELECT count(*) FROM merge_rows");
        q.step();
        return q.int64(0);
    }();
    {
        auto q = db.prepare("SELECT count(*) FROM shard.embeddings");
        q.step();
        tally.results_unchanged = q.int64(0) - tally.results_copied;
    }
    db.exec(
        "DELETE FROM main.embeddings WHERE id IN (SELECT m.id FROM main.embeddings m JOIN "
        "merge_rows r ON r.mid = m.track_id AND (r.model_id = m.model_id OR (r.model = m.model "
        "AND r.dataset = m.dataset)))");
    db.exec(
        "DELETE FROM main.failures WHERE EXISTS (SELECT 1 FROM merge_rows r WHERE r.mid = "
        "failures.track_id AND r.model_id = failures.model_id)");
    db.exec(
        "INSERT INTO main.embeddings(track_id, model, dataset, embedding_path, taggram_path, "
        "created_at, model_id, weights_digest, source_size, source_mtime_ns, audio_seconds, "
        "chunks, chunk_hop, padded, embedding_dim, n_tags, embedding, taggram) SELECT r.mid, "
        "e.model, e.dataset, e.embedding_path, e.taggram_path, e.created_at, e.model_id, "
        "e.weights_digest, e.source_size, e.source_mtime_ns, e.audio_seconds, e.chunks, "
        "e.chunk_hop, e.padded, e.embedding_dim, e.n_tags, e.embedding, e.taggram FROM "
        "merge_rows r JOIN shard.embeddings e ON e.id = r.seid ORDER BY r.mid, e.model_id");
    db.exec(
        "INSERT INTO main.chunk_outputs(embedding_id, embeddings, taggrams) SELECT m.id, "
        "c.embeddings, c.taggrams FROM merge_rows r JOIN shard.chunk_outputs c ON "
        "c.embedding_id = r.seid JOIN main.embeddings m ON m.track_id = r.mid AND m.model_id = "
        "r.model_id");
    // Time series, the same way: copied unless the output has these exact bytes and state.
    db.exec(
        "INSERT INTO main.series_models(model_id, sample_rate, frame_rate, columns, "
        "column_names, weights_digest, weights_file, license) SELECT model_id, sample_rate, "
        "frame_rate, columns, column_names, weights_digest, weights_file, license "
        "FROM shard.series_models WHERE true ON CONFLICT(model_id) DO NOTHING");
    db.exec("DROP TABLE IF EXISTS temp.merge_series");
    db.exec(
        "CREATE TEMP TABLE merge_series AS SELECT s.track_id AS sid, i.mid AS mid, s.model_id "
        "AS model_id FROM shard.track_series s JOIN merge_ids i ON i.sid = s.track_id WHERE NOT "
        "EXISTS (SELECT 1 FROM main.track_series m WHERE m.track_id = i.mid AND m.model_id = "
        "s.model_id AND m.weights_digest = s.weights_digest AND m.source_size = s.source_size "
        "AND m.source_mtime_ns = s.source_mtime_ns AND m.data = s.data)");
    {
        auto q = db.prepare("SELECT count(*) FROM merge_series");
        q.step();
        const auto copied = q.int64(0);
        q.reset();
        auto all = db.prepare("SELECT count(*) FROM shard.track_series");
        all.step();
        tally.results_copied += copied;
        tally.results_unchanged += all.int64(0) - copied;
    }
    db.exec(
        "DELETE FROM main.failures WHERE EXISTS (SELECT 1 FROM merge_series r WHERE r.mid = "
        "failures.track_id AND r.model_id = failures.model_id)");
    db.exec(
        "INSERT OR REPLACE INTO main.track_series(track_id, model_id, weights_digest, "
        "source_size, source_mtime_ns, created_at, audio_seconds, frame_rate, frames, columns, "
        "data) SELECT r.mid, s.model_id, s.weights_digest, s.source_size, s.source_mtime_ns, "
        "s.created_at, s.audio_seconds, s.frame_rate, s.frames, s.columns, s.data FROM "
        "merge_series r JOIN shard.track_series s ON s.track_id = r.sid AND s.model_id = "
        "r.model_id ORDER BY r.mid, s.model_id");
    // Failures, unless the output has a current result for that state of the file.
    db.exec(
        "INSERT OR REPLACE INTO main.failures(track_id, model_id, weights_digest, source_size, "
        "source_mtime_ns, error, failed_at) SELECT i.mid, f.model_id, f.weights_digest, "
        "f.source_size, f.source_mtime_ns, f.error, f.failed_at FROM shard.failures f JOIN "
        "merge_ids i ON i.sid = f.track_id WHERE NOT EXISTS (SELECT 1 FROM main.embeddings m "
        "WHERE m.track_id = i.mid AND m.model_id = f.model_id AND m.weights_digest = "
        "f.weights_digest AND m.source_size = f.source_size AND m.source_mtime_ns = "
        "f.source_mtime_ns) AND NOT EXISTS (SELECT 1 FROM main.track_series m WHERE "
        "m.track_id = i.mid AND m.model_id = f.model_id AND m.weights_digest = "
        "f.weights_digest AND m.source_size = f.source_size AND m.source_mtime_ns = "
        "f.source_mtime_ns) AND NOT EXISTS (SELECT 1 FROM main.failures o WHERE o.track_id = "
        "i.mid AND o.model_id = f.model_id AND o.weights_digest = f.weights_digest AND "
        "o.source_size = f.source_size AND o.source_mtime_ns = f.source_mtime_ns AND o.error = "
        "f.error)");
    tally.failures_copied = db.changes();
    // processed_at: the shard's, when it completed the track in the state the output has.
    db.exec(
        "UPDATE main.tracks SET processed_at = (SELECT s.processed_at FROM shard.tracks s "
        "JOIN merge_ids i ON i.sid = s.id WHERE i.mid = tracks.id) WHERE id IN (SELECT i.mid "
        "FROM merge_ids i JOIN shard.tracks s ON s.id = i.sid WHERE s.processed_at IS NOT NULL "
        "AND s.size_bytes = tracks.size_bytes AND s.mtime_ns = tracks.mtime_ns AND "
        "(tracks.processed_at IS NULL OR tracks.processed_at < s.processed_at))");
    db.exec("DROP TABLE temp.merge_series");
    db.exec("DROP TABLE temp.merge_rows");
    db.exec("DROP TABLE temp.merge_ids");
    tx.commit();
    return tally;
}

}  // namespace

void check_shard(Library& out, const std::filesystem::path& shard) {
    Attached attached(out.db(), shard);
    check_attached(out, shard);
}

std::vector<MergeTally> merge_shards(const std::filesystem::path& out,
                                     const std::vector<std::filesystem::path>& shards) {
    if (shards.empty()) throw InvalidArgument("merge-db: no shard databases given");
    std::size_t placing = 0;
    for (const auto& s : shards) placing += is_place_shard(s) ? 1 : 0;
    if (placing == shards.size()) return merge_place_shards(out, shards);
    if (placing > 0)
        throw InvalidArgument(
            "merge-db: placement shards (project --place-shard) and preprocess-all shards were "
            "given together: merge them in two calls, the preprocess shards first");
    auto lib = Library::create(out);
    // All shards are checked before any is merged, so one bad shard leaves `out` as it was;
    // the digests are also compared between the shards themselves.
    std::map<std::string, std::pair<std::string, std::filesystem::path>> digest_of;
    for (const auto& s : shards) {
        Attached attached(lib.db(), s);
        check_attached(lib, s);
        auto q = lib.db().prepare(
            "SELECT model_id, weights_digest FROM shard.models UNION ALL "
            "SELECT model_id, weights_digest FROM shard.series_models");
        while (q.step()) {
            const auto [it, added] = digest_of.try_emplace(q.text(0), q.text(1), s);
            if (!added && it->second.first != q.text(1))
                throw InvalidArgument(s.string() + " and " + it->second.second.string() +
                                      " were embedded with different weights of " + q.text(0) +
                                      ": merge only shards of one run with the same weights");
        }
    }
    std::vector<MergeTally> tallies;
    for (const auto& s : shards) {
        Attached attached(lib.db(), s);
        const auto label = check_attached(lib, s);
        tallies.push_back(merge_attached(lib, s, label));
    }
    return tallies;
}

bool is_place_shard(const std::filesystem::path& file) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) return false;
    try {
        Database db(file, OpenMode::read_only);
        auto q = db.prepare("SELECT 1 FROM library_info WHERE key = ?");
        q.bind(1, kPlaceShardKey);
        return q.step();
    } catch (const Error&) {
        return false;  // not a tagmap library: merge_shards() says what it is
    }
}

namespace {

struct PlaceShardFile {
    std::filesystem::path file;
    Shard shard;
    nlohmann::json maps;  ///< kPlaceShardMapsKey
};

std::string describe_map(const nlohmann::json& m) {
    return m.value("method", "?") + " " + std::to_string(m.value("dims", 0)) + "D map of " +
           m.value("model_id", "?") + " " + m.value("source", "?");
}

/// A shard's maps record without its own point count: what every shard of one placement
/// shares.
nlohmann::json shared_part(nlohmann::json maps) {
    for (auto& m : maps) m.erase("points");
    return maps;
}

PlaceShardFile read_place_shard(Library& out, const std::filesystem::path& file) {
    Attached attached(out.db(), file);
    auto& db = out.db();
    const auto name = file.string();
    check_attached_version(db, name);
    PlaceShardFile s;
    s.file = file;
    const auto label = shard_info(db, kPlaceShardKey).value_or("?");
    const auto state = shard_info(db, kPlaceShardStateKey).value_or("none");
    if (state != "complete")
        throw InvalidArgument(name + " is an incomplete placement shard (" + label + ", state '" +
                              state + "'): its project --place-shard " + label +
                              " did not finish; rerun it before merging");
    s.shard = parse_shard(label);
    {
        auto q = db.prepare(
            "SELECT s.id, s.filename FROM shard.tracks s LEFT JOIN main.tracks t ON t.id = s.id "
            "WHERE t.filename IS NOT s.filename LIMIT 1");
        if (q.step())
            throw InvalidArgument(name + " was placed from another library: its track " +
                                  std::to_string(q.int64(0)) + " (" + q.text(1) +
                                  ") is not that track of " + out.file().string());
    }
    s.maps = nlohmann::json::parse(shard_info(db, kPlaceShardMapsKey).value_or(""), nullptr,
                                   /*allow_exceptions=*/false);
    if (!s.maps.is_array())
        throw FormatError(name + ": damaged placement record (" + kPlaceShardMapsKey +
                          "): rerun its shard");
    return s;
}

}  // namespace

std::vector<MergeTally> merge_place_shards(const std::filesystem::path& out,
                                           const std::vector<std::filesystem::path>& shards) {
    if (shards.empty()) throw InvalidArgument("merge-db: no shard databases given");
    std::error_code ec;
    if (!std::filesystem::is_regular_file(out, ec))
        throw IoError("library not found: " + out.string() +
                      " (placement shards are merged into the library they were placed from)");
    Library lib(out, OpenMode::read_write);
    // Every check first: one bad shard leaves the library as it was.
    std::vector<PlaceShardFile> given;
    std::map<int, std::filesystem::path> by_index;
    for (const auto& file : shards) {
        given.push_back(read_place_shard(lib, file));
        const auto& s = given.back();
        const auto& first = given.front();
        if (s.shard.count != first.shard.count)
            throw InvalidArgument(file.string() + " is placement shard " + s.shard.text() + ", " +
                                  first.file.string() + " is " + first.shard.text() +
                                  ": merge the shards of one placement");
        if (const auto [it, added] = by_index.emplace(s.shard.index, file); !added)
            throw InvalidArgument(file.string() + " and " + it->second.string() +
                                  " are both placement shard " + s.shard.text());
        if (shared_part(s.maps) != shared_part(first.maps))
            throw InvalidArgument(file.string() + " and " + first.file.string() +
                                  " placed different maps, fits or tracks: merge the shards of "
                                  "one placement");
    }
    const int count = given.front().shard.count;
    std::string missing;
    for (int k = 0; k < count; ++k)
        if (!by_index.count(k)) missing += (missing.empty() ? "" : ", ") + Shard{k, count}.text();
    if (!missing.empty())
        throw InvalidArgument("placement shard(s) " + missing +
                              " not given: a map is placed whole, merge all " +
                              std::to_string(count) + " placement shards together");

    struct Pending {
        std::int64_t projection_id = 0;
        std::vector<std::int64_t> ids;
        std::vector<std::array<double, 3>> coords;
    };
    std::vector<Pending> writes;
    std::vector<MergeTally> tallies(given.size());
    for (std::size_t i = 0; i < given.size(); ++i) {
        tallies[i].shard = given[i].file;
        tallies[i].shard_label = given[i].shard.text();
        tallies[i].placement = true;
    }
    for (const auto& m : given.front().maps) {
        const ProjectionKey key{m.value("model_id", ""), parse_source(m.value("source", "")),
                                m.value("method", ""), m.value("dims", 2), m.value("params", "")};
        const auto map = describe_map(m);
        const auto first = given.front().file.string();
        const auto cached = lib.projection(key);
        if (!cached)
            throw InvalidArgument(out.string() + " has no " + map + " with options " + key.params +
                                  ": " + first +
                                  " was placed on a map with other options (or the map was "
                                  "removed since)");
        if (cached->input_digest != m.value("fit_digest", ""))
            throw InvalidArgument("the " + map + " of " + out.string() + " is another fit than " +
                                  first +
                                  " was placed on (refit since?): rerun the placement shards");
        const auto model = lib.model(key.model_id);
        const auto digest = m.value("weights_digest", "");
        if (!model || model->weights_digest != digest)
            throw InvalidArgument(first + " was placed with other weights of " + key.model_id +
                                  " (weights digest " + digest.substr(0, 12) + "..., " +
                                  out.string() + " has " +
                                  (model ? model->weights_digest.substr(0, 12) : "none") +
                                  "...): rerun the placement shards");
        // What the library's map holds now.
        std::map<std::int64_t, std::size_t> point_of;
        for (std::size_t i = 0; i < cached->track_ids.size(); ++i)
            point_of[cached->track_ids[i]] = i;
        Pending write;
        write.projection_id = cached->id;
        std::set<std::int64_t> placed;
        for (std::size_t g = 0; g < given.size(); ++g) {
            Library shard_db(given[g].file, OpenMode::read_only);
            const auto points = shard_db.projection(key);
            if (!points)
                throw FormatError(given[g].file.string() + " lists the " + map +
                                  " but holds no points of it: rerun its shard");
            for (std::size_t i = 0; i < points->track_ids.size(); ++i) {
                const auto id = points->track_ids[i];
                if (!placed.insert(id).second)
                    throw InvalidArgument(given[g].file.string() + " places track " +
                                          std::to_string(id) +
                                          " again: merge the shards of one placement");
                const auto at = point_of.find(id);
                if (at == point_of.end()) {
                    write.ids.push_back(id);
                    std::array<double, 3> xyz{};
                    for (int d = 0; d < key.dims; ++d)
                        xyz[std::size_t(d)] = double(points->coords(Eigen::Index(i), d));
                    write.coords.push_back(xyz);
                    ++tallies[g].points_added;
                    continue;
                }
                if (!cached->transformed[at->second] ||
                    cached->coords.row(Eigen::Index(at->second)) !=
                        points->coords.row(Eigen::Index(i)))
                    throw InvalidArgument(
                        "the " + map + " of " + out.string() + " has track " + std::to_string(id) +
                        " elsewhere than " + given[g].file.string() +
                        " placed it (placed again since?): rerun the placement shards");
                ++tallies[g].points_unchanged;
            }
        }
        const auto to_place = m.value("to_place", std::int64_t(-1));
        if (std::int64_t(placed.size()) != to_place)
            throw InvalidArgument("the " + std::to_string(count) + " placement shards hold " +
                                  std::to_string(placed.size()) + " points of the " + map +
                                  ", their placement had " + std::to_string(to_place) +
                                  ": rerun them");
        // The tracks the map had to place when the shards ran must be what it has to place
        // now (counting what these shards placed already): else the batches differ.
        const auto v = lib.vectors(key.model_id, key.source);
        std::vector<std::int64_t> ids;
        std::vector<Eigen::Index> rows;
        for (std::size_t i = 0; i < v.track_ids.size(); ++i) {
            const auto at = point_of.find(v.track_ids[i]);
            if (at == point_of.end() ||
                (cached->transformed[at->second] && placed.count(v.track_ids[i]))) {
                ids.push_back(v.track_ids[i]);
                rows.push_back(Eigen::Index(i));
            }
        }
        RowMatrixF X(Eigen::Index(rows.size()), v.rows.cols());
        for (std::size_t i = 0; i < rows.size(); ++i) X.row(Eigen::Index(i)) = v.rows.row(rows[i]);
        if (rows_digest(ids, X) != m.value("to_place_digest", ""))
            throw InvalidArgument("the tracks of the " + map + " to place changed since " + first +
                                  " was placed (now " + std::to_string(ids.size()) + ", then " +
                                  std::to_string(to_place) +
                                  "; tracks added, removed or re-embedded): rerun the placement "
                                  "shards");
        writes.push_back(std::move(write));
    }

    Transaction tx(lib.db());
    auto ins = lib.db().prepare(
        "INSERT INTO projection_points(projection_id, track_id, x, y, z, placement) "
        "VALUES (?, ?, ?, ?, ?, 'transform')");
    auto touch =
        lib.db().prepare("UPDATE projections SET updated_at = CURRENT_TIMESTAMP WHERE id = ?");
    for (std::size_t w = 0; w < writes.size(); ++w) {
        const auto& write = writes[w];
        const int dims = given.front().maps[w].value("dims", 2);
        for (std::size_t i = 0; i < write.ids.size(); ++i) {
            ins.bind(1, write.projection_id).bind(2, write.ids[i]);
            ins.bind(3, write.coords[i][0]).bind(4, write.coords[i][1]);
            if (dims == 3)
                ins.bind(5, write.coords[i][2]);
            else
                ins.bind_null(5);
            ins.run();
        }
        if (!write.ids.empty()) touch.bind(1, write.projection_id).run();
    }
    tx.commit();
    return tallies;
}

}  // namespace tagmap::store
