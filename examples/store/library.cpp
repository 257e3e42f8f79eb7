#include "library.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <numeric>
#include <set>
#include <span>

#include <nlohmann/json.hpp>

#include "blob.hpp"
#include "schema.hpp"

namespace tagmap::store {

const char* source_name(Source s) {
    return s == Source::embedding ? "embedding" : "taggram";
}

Source parse_source(const std::string& name) {
    if (name == "embedding") return Source::embedding;
    if (name == "taggram") return Source::taggram;
    throw InvalidArgument("unknown source '" + name + "' (embedding or taggram)");
}

namespace {

constexpr const char* kTrackSelectColumns =
    "t.id, t.filename, t.duration, t.size_bytes, t.mtime_ns, t.sample_rate, t.channels, "
    "t.codec, t.title, t.artist, t.album, t.genre, t.year, t.track_number, t.probe_error, "
    "t.vanished_at, t.processed_at, l.genre";

std::optional<int> opt_int(const Statement& q, int c) {
    auto v = q.optional_int64(c);
    return v ? std::optional<int>(int(*v)) : std::nullopt;
}

TrackRecord read_track(const Statement& q) {
    TrackRecord t;
    t.id = q.int64(0);
    t.filename = q.text(1);
    t.duration = q.optional_real(2);
    t.size_bytes = q.int64(3);
    t.mtime_ns = q.int64(4);
    t.sample_rate = opt_int(q, 5);
    t.channels = opt_int(q, 6);
    t.codec = q.optional_text(7);
    t.title = q.optional_text(8);
    t.artist = q.optional_text(9);
    t.album = q.optional_text(10);
    t.genre = q.optional_text(11);
    t.year = opt_int(q, 12);
    t.track_number = opt_int(q, 13);
    t.probe_error = q.optional_text(14);
    t.vanished_at = q.optional_text(15);
    t.processed_at = q.optional_text(16);
    t.label = q.optional_text(17);
    return t;
}

std::string track_select(const std::string& where) {
    return std::string("SELECT ") + kTrackSelectColumns +
           " FROM tracks t LEFT JOIN labels l ON l.track_id = t.id " + where;
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    return s;
}

}  // namespace

Library::Library(const std::filesystem::path& file, OpenMode mode, int busy_timeout_ms)
    : db_(file, mode, busy_timeout_ms) {
    require_current_schema(db_);
}

Library::Library(Database db) : db_(std::move(db)) {}

Library Library::create(const std::filesystem::path& file, int busy_timeout_ms) {
    Database db(file, OpenMode::read_write_create, busy_timeout_ms);
    migrate(db);
    return Library(std::move(db));
}

void Library::require_writable(const char* what) const {
    if (db_.mode() == OpenMode::read_only)
        throw DatabaseError(
            DatabaseError::Kind::read_only,
            std::string(what) + ": library " + db_.file().string() + " was opened read-only");
}

std::optional<std::string> Library::info(const std::string& key) {
    auto q = db_.prepare("SELECT value FROM library_info WHERE key = ?");
    q.bind(1, key);
    if (!q.step()) return std::nullopt;
    return q.text(0);
}

void Library::set_info(const std::string& key, const std::string& value) {
    require_writable("set_info");
    auto q = db_.prepare(
        "INSERT INTO library_info(key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    q.bind(1, key).bind(2, value).run();
}

std::optional<std::filesystem::path> Library::audio_root() {
    auto v = info("audio_root");
    if (!v) return std::nullopt;
    return std::filesystem::path(*v);
}

void Library::set_audio_root(const std::filesystem::path& absolute_root) {
    set_info("audio_root", absolute_root.string());
}

std::vector<TrackRecord> Library::tracks(bool include_vanished) {
    auto q = db_.prepare(track_select(include_vanished ? "ORDER BY t.filename"
                                                       : "WHERE t.vanished_at IS NULL "
                                                         "ORDER BY t.filename"));
    std::vector<TrackRecord> out;
    while (q.step()) out.push_back(read_track(q));
    return out;
}

std::optional<TrackRecord> Library::track(std::int64_t id) {
    auto q = db_.prepare(track_select("WHERE t.id = ?"));
    q.bind(1, id);
    if (!q.step()) return std::nullopt;
    return read_track(q);
}

std::optional<TrackRecord> Library::track_by_filename(const std::string& filename) {
    auto q = db_.prepare(track_select("WHERE t.filename = ?"));
    q.bind(1, filename);
    if (!q.step()) return std::nullopt;
    return read_track(q);
}

std::int64_t Library::track_count(bool include_vanished) {
    auto q =
        db_.prepare(include_vanished ? "SELECT count(*) FROM tracks"
                                     : "SELECT count(*) FROM tracks WHERE vanished_at IS NULL");
    q.step();
    return q.int64(0);
}

namespace {

/// A LIKE pattern matching `text` anywhere, its wildcards escaped with '\'. LIKE folds
/// ASCII case only, as lower() and the needle's lower() do, so `field LIKE pattern` is
/// instr(lower(field), lower(text)) without a lowered copy of every field.
std::string like_anywhere(const std::string& text) {
    std::string p = "%";
    for (const char c : text) {
        if (c == '%' || c == '_' || c == '\\') p += '\\';
        p += c;
    }
    return p + "%";
}

/// Indices of the `n` highest of `scores` into `out`, best first, ties to the lower index
/// (best_indices() without an allocation per call: top_tag_table() runs it per track).
void best_into(std::span<const float> scores, int n, std::vector<std::size_t>& out) {
    out.clear();
    const std::size_t take = std::min<std::size_t>(std::size_t(std::max(n, 0)), scores.size());
    for (std::size_t k = 0; k < scores.size(); ++k) {
        if (out.size() == take && (take == 0 || !(scores[k] > scores[out.back()]))) continue;
        if (out.size() == take) out.pop_back();
        auto at = out.end();  // after every better or equal one (equal: lower index first)
        while (at != out.begin() && scores[*(at - 1)] < scores[k]) --at;
        out.insert(at, k);
    }
}

/// Which tags' names contain the (lowered) needle: names[k] or "tag<k>" past the list.
class TagMatcher {
  public:
    TagMatcher(const std::vector<std::string>& names, std::string needle)
        : names_(names), needle_(std::move(needle)) {}
    bool operator()(std::size_t k) {
        while (known_.size() <= k) {
            const auto i = known_.size();
            const auto name = i < names_.size() ? names_[i] : "tag" + std::to_string(i);
            known_.push_back(lower(name).find(needle_) != std::string::npos);
        }
        return known_[k];
    }
    /// Whether any of the first `count` tags matches.
    bool any(std::size_t count) {
        if (count) (*this)(count - 1);
        for (std::size_t k = 0; k < count; ++k)
            if (known_[k]) return true;
        return false;
    }

  private:
    const std::vector<std::string>& names_;
    std::string needle_;
    std::vector<char> known_;
};

}  // namespace

std::vector<TrackRecord> Library::search(const std::string& query, const std::string& model_id,
                                         int limit, const SearchIndex* tags) {
    const std::string needle = lower(query);
    std::vector<TrackRecord> out;
    if (needle.empty() || limit <= 0) return out;
    std::set<std::int64_t> found;
    if (tags && needle.find_first_of("\x1e\x1f") == std::string::npos) {
        // Field matches from the snapshot's text, in filename order; each confirmed on the
        // track's current record.
        const auto fields_match = [&](const TrackRecord& t) {
            for (const auto* f : {&t.title, &t.artist, &t.album, &t.genre, &t.label})
                if (*f && lower(**f).find(needle) != std::string::npos) return true;
            return lower(t.filename).find(needle) != std::string::npos;
        };
        for (std::size_t pos = 0; int(out.size()) < limit;) {
            pos = tags->text.find(needle, pos);
            if (pos == std::string::npos) break;
            const auto r =
                std::size_t(std::upper_bound(tags->text_end.begin(), tags->text_end.end(), pos) -
                            tags->text_end.begin());
            pos = tags->text_end[r];
            auto t = track(tags->text_ids[r]);
            if (!t || t->vanished_at || !fields_match(*t)) continue;
            found.insert(t->id);
            out.push_back(std::move(*t));
        }
        return search_tags(needle, model_id, limit, *tags, found, out);
    }
    // Field matches in filename order; the unique index on filename gives that order, so
    // SQLite stops after `limit` rows when matches are common.
    auto q = db_.prepare(
        track_select("WHERE t.vanished_at IS NULL AND (t.filename LIKE ?1 ESCAPE '\\' OR "
                     "t.title LIKE ?1 ESCAPE '\\' OR t.artist LIKE ?1 ESCAPE '\\' OR "
                     "t.album LIKE ?1 ESCAPE '\\' OR t.genre LIKE ?1 ESCAPE '\\' OR "
                     "l.genre LIKE ?1 ESCAPE '\\') ORDER BY t.filename LIMIT ?2"));
    q.bind(1, like_anywhere(needle)).bind(2, limit);
    while (q.step()) {
        out.push_back(read_track(q));
        found.insert(out.back().id);
    }
    q.reset();
    if (int(out.size()) >= limit || model_id.empty()) return out;

    // Then tracks whose top-3 tags match, in filename order (tag names are in the model's
    // list, not in SQL). Most queries name no tag: then there is nothing to scan.
    const auto m = model(model_id);
    const std::vector<std::string> no_names;
    TagMatcher matches(tags ? tags->tag_names : m ? m->tag_names : no_names, needle);
    if (tags) return search_tags(needle, model_id, limit, *tags, found, out);
    // (A taggram longer than its model's n_tags, which tagmap never writes, could hold a
    // matching tag<k> past them: not looked for.)
    if (!m || !matches.any(std::max(std::size_t(std::max(m->n_tags, 0)), m->tag_names.size())))
        return out;
    auto scan =
        db_.prepare(std::string("SELECT ") + kTrackSelectColumns +
                    ", e.n_tags, e.taggram FROM tracks t LEFT JOIN labels l ON l.track_id = t.id "
                    "JOIN embeddings e ON e.track_id = t.id AND e.model_id = ?1 "
                    "WHERE t.vanished_at IS NULL ORDER BY t.filename");
    scan.bind(1, model_id);
    std::vector<float> scores;
    std::vector<std::size_t> best;
    while (int(out.size()) < limit && scan.step()) {
        if (found.count(scan.int64(0))) continue;
        const auto n_tags = std::size_t(scan.int64(18));
        const auto blob = scan.blob(19);
        if (blob.size() != n_tags * sizeof(float))
            scores = floats_from_blob(blob, n_tags, "taggram");  // throws the FormatError
        scores.resize(n_tags);
        if (n_tags) std::memcpy(scores.data(), blob.data(), blob.size());
        best_into(scores, 3, best);
        if (std::any_of(best.begin(), best.end(), [&](std::size_t k) { return matches(k); }))
            out.push_back(read_track(scan));
    }
    return out;
}

std::vector<TrackRecord> Library::search_tags(const std::string& needle,
                                              const std::string& model_id, int limit,
                                              const SearchIndex& tags,
                                              const std::set<std::int64_t>& found,
                                              std::vector<TrackRecord>& out) {
    if (int(out.size()) >= limit || model_id.empty()) return std::move(out);
    TagMatcher matches(tags.tag_names, needle);
    if (!matches.any(tags.tag_names.size())) return std::move(out);  // it names every tag
    const auto& t = tags.table;
    for (const auto row : tags.by_filename) {
        if (int(out.size()) >= limit) break;
        const auto id = t.track_ids[row];
        if (found.count(id)) continue;
        bool hit = false;
        for (int r = 0; r < t.n && !hit; ++r)
            hit =
                matches(std::size_t(t.tags[std::size_t(row) * std::size_t(t.n) + std::size_t(r)]));
        if (!hit) continue;
        auto track = this->track(id);
        if (track && !track->vanished_at) out.push_back(std::move(*track));
    }
    return std::move(out);
}

void Library::for_each_track(const std::function<void(const TrackRecord&)>& visit,
                             bool include_vanished) {
    auto q = db_.prepare(track_select(
        include_vanished ? "ORDER BY t.id" : "WHERE t.vanished_at IS NULL ORDER BY t.id"));
    while (q.step()) visit(read_track(q));
}

std::int64_t Library::upsert_track(const TrackRecord& t) {
    require_writable("upsert_track");
    auto q = db_.prepare(
        "INSERT INTO tracks(filename, duration, size_bytes, mtime_ns, sample_rate, channels, "
        "codec, title, artist, album, genre, year, track_number, probe_error, indexed_at, "
        "vanished_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
        "CURRENT_TIMESTAMP, NULL) "
        "ON CONFLICT(filename) DO UPDATE SET duration = excluded.duration, "
        "size_bytes = excluded.size_bytes, mtime_ns = excluded.mtime_ns, "
        "sample_rate = excluded.sample_rate, channels = excluded.channels, "
        "codec = excluded.codec, title = excluded.title, artist = excluded.artist, "
        "album = excluded.album, genre = excluded.genre, year = excluded.year, "
        "track_number = excluded.track_number, probe_error = excluded.probe_error, "
        "indexed_at = CURRENT_TIMESTAMP, vanished_at = NULL "
        "RETURNING id");
    q.bind(1, t.filename).bind(2, t.duration).bind(3, t.size_bytes).bind(4, t.mtime_ns);
    q.bind(5, t.sample_rate).bind(6, t.channels).bind(7, t.codec).bind(8, t.title);
    q.bind(9, t.artist).bind(10, t.album).bind(11, t.genre).bind(12, t.year);
    q.bind(13, t.track_number).bind(14, t.probe_error);
    if (!q.step())
        throw DatabaseError(DatabaseError::Kind::other, "upsert of a track returned no id");
    const auto id = q.int64(0);
    q.reset();
    return id;
}

std::int64_t Library::mark_vanished_except(const std::vector<std::string>& seen) {
    require_writable("mark_vanished_except");
    std::set<std::string> present(seen.begin(), seen.end());
    std::vector<std::int64_t> gone;
    {
        auto q = db_.prepare("SELECT id, filename FROM tracks WHERE vanished_at IS NULL");
        while (q.step())
            if (!present.count(q.text(1))) gone.push_back(q.int64(0));
    }
    auto mark = db_.prepare("UPDATE tracks SET vanished_at = CURRENT_TIMESTAMP WHERE id = ?");
    for (auto id : gone) mark.bind(1, id).run();
    return std::int64_t(gone.size());
}

void Library::upsert_model(const ModelRecord& m) {
    require_writable("upsert_model");
    auto q = db_.prepare(
        "INSERT INTO models(model_id, model, dataset, n_tags, embedding_dim, input_samples, "
        "weights_digest, weights_file, tag_names) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(model_id) DO UPDATE SET model = excluded.model, dataset = excluded.dataset, "
        "n_tags = excluded.n_tags, embedding_dim = excluded.embedding_dim, "
        "input_samples = excluded.input_samples, weights_digest = excluded.weights_digest, "
        "weights_file = excluded.weights_file, "
        "tag_names = coalesce(excluded.tag_names, models.tag_names)");
    q.bind(1, m.model_id).bind(2, m.model).bind(3, m.dataset).bind(4, m.n_tags);
    q.bind(5, m.embedding_dim).bind(6, m.input_samples).bind(7, m.weights_digest);
    q.bind(8, m.weights_file);
    if (m.tag_names.empty())
        q.bind_null(9);
    else
        q.bind(9, nlohmann::json(m.tag_names).dump());
    q.run();
}

namespace {
ModelRecord read_model(const Statement& q) {
    ModelRecord m;
    m.model_id = q.text(0);
    m.model = q.text(1);
    m.dataset = q.text(2);
    m.n_tags = int(q.int64(3));
    m.embedding_dim = int(q.int64(4));
    m.input_samples = int(q.int64(5));
    m.weights_digest = q.text(6);
    m.weights_file = q.text(7);
    if (auto names = q.optional_text(8)) {
        try {
            m.tag_names = nlohmann::json::parse(*names).get<std::vector<std::string>>();
        } catch (const std::exception&) {
            m.tag_names.clear();  // a damaged list falls back to tag<i> names
        }
        if (int(m.tag_names.size()) != m.n_tags) m.tag_names.clear();
    }
    return m;
}
constexpr const char* kModelColumns =
    "SELECT model_id, model, dataset, n_tags, embedding_dim, input_samples, weights_digest, "
    "weights_file, tag_names FROM models";
}  // namespace

std::vector<ModelRecord> Library::models() {
    auto q = db_.prepare(std::string(kModelColumns) + " ORDER BY model_id");
    std::vector<ModelRecord> out;
    while (q.step()) out.push_back(read_model(q));
    return out;
}

std::optional<ModelRecord> Library::model(const std::string& model_id) {
    auto q = db_.prepare(std::string(kModelColumns) + " WHERE model_id = ?");
    q.bind(1, model_id);
    if (!q.step()) return std::nullopt;
    return read_model(q);
}

std::vector<std::int64_t> Library::pending_tracks(const std::string& model_id,
                                                  const std::string& weights_digest,
                                                  bool retry_failed) {
    return pending_in("embeddings", model_id, weights_digest, retry_failed);
}

std::vector<std::int64_t> Library::pending_in(const char* table, const std::string& model_id,
                                              const std::string& weights_digest,
                                              bool retry_failed) {
    // Pending: no row in `table` for the file as it is now (same size and mtime) and the
    // weights, and (unless retrying) no recorded failure of the same.
    std::string sql =
        "SELECT t.id FROM tracks t WHERE t.vanished_at IS NULL AND NOT EXISTS ("
        " SELECT 1 FROM ";
    sql += table;
    sql +=
        " r WHERE r.track_id = t.id AND r.model_id = ?1 AND"
        " r.weights_digest = ?2 AND r.source_size = t.size_bytes AND"
        " r.source_mtime_ns = t.mtime_ns)";
    if (!retry_failed)
        sql +=
            " AND NOT EXISTS (SELECT 1 FROM failures f WHERE f.track_id = t.id AND"
            " f.model_id = ?1 AND f.weights_digest = ?2 AND f.source_size = t.size_bytes AND"
            " f.source_mtime_ns = t.mtime_ns)";
    sql += " ORDER BY t.filename";
    auto q = db_.prepare(sql);
    q.bind(1, model_id).bind(2, weights_digest);
    std::vector<std::int64_t> out;
    while (q.step()) out.push_back(q.int64(0));
    return out;
}

void Library::store_track(std::int64_t track_id, const std::vector<TrackResult>& results,
                          const std::vector<TrackFailure>& failures, bool completed) {
    store_track(track_id, results, {}, failures, completed);
}

void Library::store_track(std::int64_t track_id, const std::vector<TrackResult>& results,
                          const std::vector<TrackSeries>& series,
                          const std::vector<TrackFailure>& failures, bool completed) {
    require_writable("store_track");
    Transaction tx(db_);
    auto remove = db_.prepare("DELETE FROM embeddings WHERE track_id = ? AND model_id = ?");
    auto clear_failure = db_.prepare("DELETE FROM failures WHERE track_id = ? AND model_id = ?");
    auto insert = db_.prepare(
        "INSERT INTO embeddings(track_id, model, dataset, model_id, weights_digest, source_size, "
        "source_mtime_ns, audio_seconds, chunks, chunk_hop, padded, embedding_dim, n_tags, "
        "embedding, taggram) SELECT ?1, m.model, m.dataset, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
        "?11, ?12, ?13 FROM models m WHERE m.model_id = ?2");
    auto insert_chunks = db_.prepare(
        "INSERT INTO chunk_outputs(embedding_id, embeddings, taggrams) VALUES (?, ?, ?)");
    for (const auto& r : results) {
        if (r.embedding.size() != std::size_t(r.embedding_dim) ||
            r.taggram.size() != std::size_t(r.n_tags) ||
            r.chunk_embeddings.size() != std::size_t(r.chunks) * std::size_t(r.embedding_dim) ||
            r.chunk_taggrams.size() != std::size_t(r.chunks) * std::size_t(r.n_tags))
            throw InvalidArgument("store_track: result of " + r.model_id +
                                  " has inconsistent sizes");
        remove.bind(1, track_id).bind(2, r.model_id).run();
        clear_failure.bind(1, track_id).bind(2, r.model_id).run();
        insert.bind(1, track_id).bind(2, r.model_id).bind(3, r.weights_digest);
        insert.bind(4, r.source_size).bind(5, r.source_mtime_ns).bind(6, r.audio_seconds);
        insert.bind(7, r.chunks).bind(8, r.chunk_hop).bind(9, r.padded ? 1 : 0);
        insert.bind(10, r.embedding_dim).bind(11, r.n_tags);
        insert.bind_blob(12, float_bytes(r.embedding)).bind_blob(13, float_bytes(r.taggram));
        insert.run();
        if (db_.changes() != 1)
            throw InvalidArgument("store_track: model " + r.model_id + " is not registered");
        insert_chunks.bind(1, db_.last_insert_rowid());
        insert_chunks.bind_blob(2, float_bytes(r.chunk_embeddings));
        insert_chunks.bind_blob(3, float_bytes(r.chunk_taggrams));
        insert_chunks.run();
    }
    auto insert_series = db_.prepare(
        "INSERT INTO track_series(track_id, model_id, weights_digest, source_size, "
        "source_mtime_ns, audio_seconds, frame_rate, frames, columns, data) VALUES (?, ?, ?, ?, "
        "?, ?, ?, ?, ?, ?) ON CONFLICT(track_id, model_id) DO UPDATE SET "
        "weights_digest = excluded.weights_digest, source_size = excluded.source_size, "
        "source_mtime_ns = excluded.source_mtime_ns, created_at = CURRENT_TIMESTAMP, "
        "audio_seconds = excluded.audio_seconds, frame_rate = excluded.frame_rate, "
        "frames = excluded.frames, columns = excluded.columns, data = excluded.data");
    for (const auto& r : series) {
        if (r.frames < 0 || r.columns <= 0 || !(r.frame_rate > 0) ||
            r.values.size() != std::size_t(r.frames) * std::size_t(r.columns))
            throw InvalidArgument("store_track: series of " + r.model_id +
                                  " has inconsistent sizes");
        if (!series_model(r.model_id))
            throw InvalidArgument("store_track: sequence model " + r.model_id +
                                  " is not registered");
        clear_failure.bind(1, track_id).bind(2, r.model_id).run();
        insert_series.bind(1, track_id).bind(2, r.model_id).bind(3, r.weights_digest);
        insert_series.bind(4, r.source_size).bind(5, r.source_mtime_ns).bind(6, r.audio_seconds);
        insert_series.bind(7, r.frame_rate).bind(8, r.frames).bind(9, r.columns);
        insert_series.bind_blob(10, float_bytes(r.values)).run();
    }
    auto fail = db_.prepare(
        "INSERT INTO failures(track_id, model_id, weights_digest, source_size, source_mtime_ns, "
        "error) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(track_id, model_id) DO UPDATE SET "
        "weights_digest = excluded.weights_digest, source_size = excluded.source_size, "
        "source_mtime_ns = excluded.source_mtime_ns, error = excluded.error, "
        "failed_at = CURRENT_TIMESTAMP");
    for (const auto& f : failures) {
        fail.bind(1, track_id).bind(2, f.model_id).bind(3, f.weights_digest);
        fail.bind(4, f.source_size).bind(5, f.source_mtime_ns).bind(6, f.error).run();
    }
    if (completed) {
        auto done = db_.prepare("UPDATE tracks SET processed_at = CURRENT_TIMESTAMP WHERE id = ?");
        done.bind(1, track_id).run();
    }
    tx.commit();
}

std::vector<FailureRecord> Library::failures() {
    auto q = db_.prepare(
        "SELECT f.track_id, t.filename, f.model_id, f.error, f.failed_at FROM failures f "
        "JOIN tracks t ON t.id = f.track_id ORDER BY t.filename, f.model_id");
    std::vector<FailureRecord> out;
    while (q.step()) out.push_back({q.int64(0), q.text(1), q.text(2), q.text(3), q.text(4)});
    return out;
}

TrackVectors Library::vectors(const std::string& model_id, Source source) {
    const std::string column = source == Source::embedding ? "e.embedding" : "e.taggram";
    const std::string dim = source == Source::embedding ? "e.embedding_dim" : "e.n_tags";
    auto q = db_.prepare("SELECT e.track_id, " + dim + ", " + column +
                         " FROM embeddings e JOIN tracks t ON t.id = e.track_id "
                         "WHERE e.model_id = ? AND t.vanished_at IS NULL ORDER BY e.track_id");
    q.bind(1, model_id);
    TrackVectors out;
    std::vector<float> data;
    Eigen::Index cols = -1;
    while (q.step()) {
        const auto d = q.int64(1);
        if (cols < 0) cols = Eigen::Index(d);
        if (d != cols)
            throw FormatError("library " + file().string() + ": " + model_id +
                              " vectors of different lengths");
        const auto v = floats_from_blob(q.blob(2), std::size_t(d),
                                        "track " + std::to_string(q.int64(0)) + " " + column);
        data.insert(data.end(), v.begin(), v.end());
        out.track_ids.push_back(q.int64(0));
    }
    const Eigen::Index rows = Eigen::Index(out.track_ids.size());
    out.rows = RowMatrixF(rows, std::max<Eigen::Index>(cols, 0));
    if (rows > 0) std::copy(data.begin(), data.end(), out.rows.data());
    return out;
}

std::optional<ChunkOutputs> Library::chunk_outputs(std::int64_t track_id,
                                                   const std::string& model_id) {
    auto q = db_.prepare(
        "SELECT e.chunks, e.chunk_hop, e.embedding_dim, e.n_tags, c.embeddings, c.taggrams "
        "FROM embeddings e JOIN chunk_outputs c ON c.embedding_id = e.id "
        "WHERE e.track_id = ? AND e.model_id = ?");
    q.bind(1, track_id).bind(2, model_id);
    if (!q.step()) return std::nullopt;
    ChunkOutputs c;
    c.chunks = int(q.int64(0));
    c.chunk_hop = int(q.int64(1));
    c.embedding_dim = int(q.int64(2));
    c.n_tags = int(q.int64(3));
    const std::string what = "chunk outputs of track " + std::to_string(track_id);
    c.embeddings =
        floats_from_blob(q.blob(4), std::size_t(c.chunks) * std::size_t(c.embedding_dim), what);
    c.taggrams = floats_from_blob(q.blob(5), std::size_t(c.chunks) * std::size_t(c.n_tags), what);
    return c;
}

namespace {
/// Indices of the `n` highest scores, best first, ties to the lower index.
std::vector<std::size_t> best_indices(std::span<const float> scores, int n) {
    std::vector<std::size_t> order(scores.size());
    std::iota(order.begin(), order.end(), 0);
    const std::size_t take = std::min<std::size_t>(std::size_t(std::max(n, 0)), order.size());
    std::partial_sort(order.begin(), order.begin() + std::ptrdiff_t(take), order.end(),
                      [&](std::size_t a, std::size_t b) {
                          return scores[a] > scores[b] || (scores[a] == scores[b] && a < b);
                      });
    order.resize(take);
    return order;
}
}  // namespace

std::vector<TagScore> Library::top_tags(std::int64_t track_id, const std::string& model_id, int n) {
    auto q =
        db_.prepare("SELECT n_tags, taggram FROM embeddings WHERE track_id = ? AND model_id = ?");
    q.bind(1, track_id).bind(2, model_id);
    if (!q.step()) return {};
    const auto scores = floats_from_blob(q.blob(1), std::size_t(q.int64(0)), "taggram");
    q.reset();
    const auto m = model(model_id);
    std::vector<TagScore> out;
    for (const auto k : best_indices(scores, n)) {
        const bool named = m && k < m->tag_names.size();
        out.push_back({named ? m->tag_names[k] : "tag" + std::to_string(k), scores[k]});
    }
    return out;
}

TopTagTable Library::top_tag_table(const std::string& model_id, int n) {
    auto q = db_.prepare(
        "SELECT e.track_id, e.n_tags, e.taggram FROM embeddings e JOIN tracks t ON t.id = "
        "e.track_id WHERE e.model_id = ? AND t.vanished_at IS NULL ORDER BY e.track_id");
    q.bind(1, model_id);
    TopTagTable out;
    std::int64_t cols = -1;
    std::vector<float> row;
    std::vector<std::size_t> best;
    while (q.step()) {
        const auto d = q.int64(1);
        if (cols < 0) {
            cols = d;
            out.n = int(std::clamp<std::int64_t>(n, 0, cols));
        }
        if (d != cols)
            throw FormatError("library " + file().string() + ": " + model_id +
                              " vectors of different lengths");
        const auto blob = q.blob(2);
        if (blob.size() != std::size_t(d) * sizeof(float))  // throws the FormatError
            floats_from_blob(blob, std::size_t(d),
                             "track " + std::to_string(q.int64(0)) + " e.taggram");
        row.resize(std::size_t(d));
        if (d) std::memcpy(row.data(), blob.data(), blob.size());
        best_into(row, out.n, best);
        out.track_ids.push_back(q.int64(0));
        for (const auto k : best) {
            out.tags.push_back(int(k));
            out.scores.push_back(row[k]);
        }
    }
    return out;
}

SearchIndex Library::search_index(const std::string& model_id, int n) {
    SearchIndex out;
    out.model_id = model_id;
    out.table = top_tag_table(model_id, n);
    const auto& ids = out.table.track_ids;  // sorted
    auto q = db_.prepare(
        "SELECT t.id, t.filename, t.title, t.artist, t.album, t.genre, l.genre FROM tracks t "
        "LEFT JOIN labels l ON l.track_id = t.id WHERE t.vanished_at IS NULL ORDER BY t.filename");
    out.by_filename.reserve(ids.size());
    while (q.step()) {
        const auto id = q.int64(0);
        const auto it = std::lower_bound(ids.begin(), ids.end(), id);
        if (it != ids.end() && *it == id)
            out.by_filename.push_back(std::uint32_t(it - ids.begin()));
        out.text_ids.push_back(id);
        for (int c = 1; c <= 6; ++c) {
            if (c > 1) out.text += '\x1f';
            if (!q.is_null(c)) out.text += lower(q.text(c));
        }
        out.text += '\x1e';
        out.text_end.push_back(out.text.size());
    }
    const auto m = model(model_id);
    int count = m ? std::max(m->n_tags, int(m->tag_names.size())) : 0;
    for (const int k : out.table.tags) count = std::max(count, k + 1);
    for (int k = 0; k < count; ++k)
        out.tag_names.push_back(m && std::size_t(k) < m->tag_names.size()
                                    ? m->tag_names[std::size_t(k)]
                                    : "tag" + std::to_string(k));
    return out;
}

std::vector<Neighbor> Library::neighbors(std::int64_t track_id, const std::string& model_id,
                                         Source source, int k) {
    const auto v = vectors(model_id, source);
    const auto it = std::find(v.track_ids.begin(), v.track_ids.end(), track_id);
    if (it == v.track_ids.end()) return {};
    const Eigen::Index self = Eigen::Index(it - v.track_ids.begin());
    // Centred by the mean of all tracks: cosine on raw sigmoid outputs or ReLU embeddings
    // puts every pair near 1.
    const Eigen::MatrixXd X = v.rows.cast<double>();
    const Eigen::RowVectorXd mean = X.colwise().mean();
    const Eigen::MatrixXd C = X.rowwise() - mean;
    const Eigen::VectorXd norms = C.rowwise().norm();
    const Eigen::VectorXd dots = C * C.row(self).transpose();
    std::vector<Neighbor> out;
    for (Eigen::Index i = 0; i < X.rows(); ++i) {
        if (i == self) continue;
        const double denom = norms(i) * norms(self);
        out.push_back({v.track_ids[std::size_t(i)], denom > 0 ? dots(i) / denom : 0.0});
    }
    const std::size_t take = std::min<std::size_t>(std::size_t(std::max(k, 0)), out.size());
    std::partial_sort(out.begin(), out.begin() + std::ptrdiff_t(take), out.end(),
                      [](const Neighbor& a, const Neighbor& b) {
                          return a.similarity > b.similarity ||
                                 (a.similarity == b.similarity && a.track_id < b.track_id);
                      });
    out.resize(take);
    return out;
}

void Library::upsert_series_model(const SeriesModelRecord& m) {
    require_writable("upsert_series_model");
    if (m.columns <= 0 || int(m.column_names.size()) != m.columns)
        throw InvalidArgument("sequence model " + m.model_id + ": " +
                              std::to_string(m.column_names.size()) + " column names for " +
                              std::to_string(m.columns) + " columns");
    auto q = db_.prepare(
        "INSERT INTO series_models(model_id, sample_rate, frame_rate, columns, column_names, "
        "weights_digest, weights_file, license) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(model_id) DO UPDATE SET sample_rate = excluded.sample_rate, "
        "frame_rate = excluded.frame_rate, columns = excluded.columns, "
        "column_names = excluded.column_names, weights_digest = excluded.weights_digest, "
        "weights_file = excluded.weights_file, license = excluded.license");
    q.bind(1, m.model_id).bind(2, m.sample_rate).bind(3, m.frame_rate).bind(4, m.columns);
    q.bind(5, nlohmann::json(m.column_names).dump()).bind(6, m.weights_digest);
    q.bind(7, m.weights_file);
    if (m.license.empty())
        q.bind_null(8);
    else
        q.bind(8, m.license);
    q.run();
}

namespace {
constexpr const char* kSeriesModelColumns =
    "SELECT model_id, sample_rate, frame_rate, columns, column_names, weights_digest, "
    "weights_file, license FROM series_models";

SeriesModelRecord read_series_model(const Statement& q) {
    SeriesModelRecord m;
    m.model_id = q.text(0);
    m.sample_rate = q.real(1);
    m.frame_rate = q.real(2);
    m.columns = int(q.int64(3));
    try {
        m.column_names = nlohmann::json::parse(q.text(4)).get<std::vector<std::string>>();
    } catch (const std::exception&) {
        m.column_names.clear();
    }
    // A damaged list falls back to c<i> names, as tags fall back to tag<i>.
    if (int(m.column_names.size()) != m.columns) {
        m.column_names.clear();
        for (int c = 0; c < m.columns; ++c)
            m.column_names.push_back(std::string("c").append(std::to_string(c)));
    }
    m.weights_digest = q.text(5);
    m.weights_file = q.text(6);
    m.license = q.optional_text(7).value_or("");
    return m;
}
}  // namespace

std::vector<SeriesModelRecord> Library::series_models() {
    auto q = db_.prepare(std::string(kSeriesModelColumns) + " ORDER BY model_id");
    std::vector<SeriesModelRecord> out;
    while (q.step()) out.push_back(read_series_model(q));
    return out;
}

std::optional<SeriesModelRecord> Library::series_model(const std::string& model_id) {
    auto q = db_.prepare(std::string(kSeriesModelColumns) + " WHERE model_id = ?");
    q.bind(1, model_id);
    if (!q.step()) return std::nullopt;
    return read_series_model(q);
}

std::vector<std::int64_t> Library::pending_series(const std::string& model_id,
                                                  const std::string& weights_digest,
                                                  bool retry_failed) {
    return pending_in("track_series", model_id, weights_digest, retry_failed);
}

std::optional<TrackSeries> Library::series(std::int64_t track_id, const std::string& model_id) {
    auto q = db_.prepare(
        "SELECT weights_digest, source_size, source_mtime_ns, audio_seconds, frame_rate, frames, "
        "columns, data FROM track_series WHERE track_id = ? AND model_id = ?");
    q.bind(1, track_id).bind(2, model_id);
    if (!q.step()) return std::nullopt;
    TrackSeries s;
    s.model_id = model_id;
    s.weights_digest = q.text(0);
    s.source_size = q.int64(1);
    s.source_mtime_ns = q.int64(2);
    s.audio_seconds = q.real(3);
    s.frame_rate = q.real(4);
    s.frames = int(q.int64(5));
    s.columns = int(q.int64(6));
    s.values = floats_from_blob(q.blob(7), std::size_t(s.frames) * std::size_t(s.columns),
                                model_id + " series of track " + std::to_string(track_id));
    return s;
}

std::vector<std::string> Library::track_series_models(std::int64_t track_id) {
    auto q = db_.prepare("SELECT model_id FROM track_series WHERE track_id = ? ORDER BY model_id");
    q.bind(1, track_id);
    std::vector<std::string> out;
    while (q.step()) out.push_back(q.text(0));
    return out;
}

std::vector<std::int64_t> Library::series_track_ids(const std::string& model_id) {
    auto q = db_.prepare(
        "SELECT s.track_id FROM track_series s JOIN tracks t ON t.id = s.track_id "
        "WHERE s.model_id = ? AND t.vanished_at IS NULL ORDER BY s.track_id");
    q.bind(1, model_id);
    std::vector<std::int64_t> out;
    while (q.step()) out.push_back(q.int64(0));
    return out;
}

void Library::replace_labels(const std::map<std::int64_t, std::string>& genre_by_track,
                             const std::string& source) {
    require_writable("replace_labels");
    Transaction tx(db_);
    db_.exec("DELETE FROM labels");
    auto q = db_.prepare("INSERT INTO labels(track_id, genre, source) VALUES (?, ?, ?)");
    for (const auto& [id, genre] : genre_by_track)
        q.bind(1, id).bind(2, genre).bind(3, source).run();
    tx.commit();
}

std::map<std::int64_t, std::string> Library::labels() {
    auto q = db_.prepare("SELECT track_id, genre FROM labels");
    std::map<std::int64_t, std::string> out;
    while (q.step()) out[q.int64(0)] = q.text(1);
    return out;
}

void Library::store_similarity(const std::string& model_id, Source source,
                               const std::string& label_source, const std::string& report_json,
                               const std::vector<SimilarityTrackRow>& rows) {
    require_writable("store_similarity");
    Transaction tx(db_);
    auto del = db_.prepare("DELETE FROM similarity_reports WHERE model_id = ? AND source = ?");
    del.bind(1, model_id).bind(2, source_name(source)).run();
    auto ins = db_.prepare(
        "INSERT INTO similarity_reports(model_id, source, label_source, report) VALUES (?, ?, ?, "
        "?)");
    ins.bind(1, model_id).bind(2, source_name(source)).bind(3, label_source).bind(4, report_json);
    ins.run();
    const auto report_id = db_.last_insert_rowid();
    auto row = db_.prepare(
        "INSERT INTO similarity_tracks(report_id, track_id, genre, nearest_genre, "
        "similarity_to_own, similarities) VALUES (?, ?, ?, ?, ?, ?)");
    for (const auto& r : rows) {
        row.bind(1, report_id).bind(2, r.track_id).bind(3, r.genre).bind(4, r.nearest_genre);
        row.bind(5, r.similarity_to_own).bind(6, r.similarities_json).run();
    }
    tx.commit();
}

std::optional<std::string> Library::similarity_report(const std::string& model_id, Source source) {
    auto q = db_.prepare("SELECT report FROM similarity_reports WHERE model_id = ? AND source = ?");
    q.bind(1, model_id).bind(2, source_name(source));
    if (!q.step()) return std::nullopt;
    return q.text(0);
}

std::vector<std::pair<std::string, Source>> Library::similarity_reports() {
    auto q =
        db_.prepare("SELECT model_id, source FROM similarity_reports ORDER BY model_id, source");
    std::vector<std::pair<std::string, Source>> out;
    while (q.step()) out.emplace_back(q.text(0), parse_source(q.text(1)));
    return out;
}

std::optional<Projection> Library::projection(const ProjectionKey& key) {
    auto q = db_.prepare(
        "SELECT id, input_digest, fitted_rows, created_at, updated_at FROM projections WHERE "
        "model_id = ? AND source = ? AND method = ? AND dims = ? AND params = ?");
    q.bind(1, key.model_id).bind(2, source_name(key.source)).bind(3, key.method);
    q.bind(4, key.dims).bind(5, key.params);
    if (!q.step()) return std::nullopt;
    Projection p;
    p.id = q.int64(0);
    p.key = key;
    p.input_digest = q.text(1);
    p.fitted_rows = q.int64(2);
    p.created_at = q.text(3);
    p.updated_at = q.text(4);
    q.reset();
    auto pts = db_.prepare(
        "SELECT p.track_id, p.x, p.y, p.z, p.placement FROM projection_points p JOIN tracks t "
        "ON t.id = p.track_id WHERE p.projection_id = ? AND t.vanished_at IS NULL "
        "ORDER BY p.track_id");
    pts.bind(1, p.id);
    std::vector<float> coords;
    while (pts.step()) {
        p.track_ids.push_back(pts.int64(0));
        coords.push_back(float(pts.real(1)));
        coords.push_back(float(pts.real(2)));
        if (key.dims == 3) coords.push_back(pts.is_null(3) ? 0.0f : float(pts.real(3)));
        p.transformed.push_back(pts.text(4) == "transform");
    }
    p.coords = RowMatrixF(Eigen::Index(p.track_ids.size()), key.dims);
    if (!coords.empty()) std::copy(coords.begin(), coords.end(), p.coords.data());
    return p;
}

std::vector<ProjectionKey> Library::projection_keys() {
    auto q = db_.prepare(
        "SELECT model_id, source, method, dims, params FROM projections "
        "ORDER BY model_id, source, method, dims");
    std::vector<ProjectionKey> out;
    while (q.step())
        out.push_back({q.text(0), parse_source(q.text(1)), q.text(2), int(q.int64(3)), q.text(4)});
    return out;
}

namespace {
void insert_points(Database& db, std::int64_t projection_id, const std::vector<std::int64_t>& ids,
                   const RowMatrixF& coords, const char* placement) {
    if (Eigen::Index(ids.size()) != coords.rows() || (coords.cols() != 2 && coords.cols() != 3))
        throw InvalidArgument("projection points: ids and coordinates do not match");
    auto q = db.prepare(
        "INSERT INTO projection_points(projection_id, track_id, x, y, z, placement) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(projection_id, track_id) DO UPDATE SET "
        "x = excluded.x, y = excluded.y, z = excluded.z, placement = excluded.placement");
    for (std::size_t i = 0; i < ids.size(); ++i) {
        const auto r = Eigen::Index(i);
        q.bind(1, projection_id).bind(2, ids[i]).bind(3, double(coords(r, 0)));
        q.bind(4, double(coords(r, 1)));
        if (coords.cols() == 3)
            q.bind(5, double(coords(r, 2)));
        else
            q.bind_null(5);
        q.bind(6, placement).run();
    }
}
}  // namespace

std::int64_t Library::store_projection(const Projection& p) {
    require_writable("store_projection");
    Transaction tx(db_);
    auto del = db_.prepare(
        "DELETE FROM projections WHERE model_id = ? AND source = ? AND method = ? AND dims = ? "
        "AND params = ?");
    del.bind(1, p.key.model_id).bind(2, source_name(p.key.source)).bind(3, p.key.method);
    del.bind(4, p.key.dims).bind(5, p.key.params).run();
    auto ins = db_.prepare(
        "INSERT INTO projections(model_id, source, method, dims, params, input_digest, "
        "fitted_rows) VALUES (?, ?, ?, ?, ?, ?, ?)");
    ins.bind(1, p.key.model_id).bind(2, source_name(p.key.source)).bind(3, p.key.method);
    ins.bind(4, p.key.dims).bind(5, p.key.params).bind(6, p.input_digest);
    ins.bind(7, p.fitted_rows).run();
    const auto id = db_.last_insert_rowid();
    insert_points(db_, id, p.track_ids, p.coords, "fit");
    tx.commit();
    return id;
}

void Library::add_projection_points(std::int64_t projection_id,
                                    const std::vector<std::int64_t>& ids,
                                    const RowMatrixF& coords) {
    require_writable("add_projection_points");
    Transaction tx(db_);
    insert_points(db_, projection_id, ids, coords, "transform");
    auto touch = db_.prepare("UPDATE projections SET updated_at = CURRENT_TIMESTAMP WHERE id = ?");
    touch.bind(1, projection_id).run();
    tx.commit();
}

std::int64_t Library::data_version() {
    auto q = db_.prepare("PRAGMA data_version");
    q.step();
    return q.int64(0);
}

void Library::clean(bool drop_tables) {
    require_writable("clean");
    // Children before parents, so the foreign keys hold at every step.
    // Without drop_tables the settings (library_info: the audio root) stay.
    static const char* tables[] = {"track_series",
                                   "series_models",
                                   "projection_points",
                                   "projections",
                                   "similarity_tracks",
                                   "similarity_reports",
                                   "labels",
                                   "failures",
                                   "chunk_outputs",
                                   "embeddings",
                                   "models",
                                   "tracks",
                                   "library_info"};
    Transaction tx(db_);
    for (const char* t : tables) {
        if (!drop_tables && std::string(t) == "library_info") continue;
        db_.exec(std::string(drop_tables ? "DROP TABLE IF EXISTS " : "DELETE FROM ") + t);
    }
    if (drop_tables) {
        db_.exec("DROP INDEX IF EXISTS embeddings_by_model");
        db_.exec("PRAGMA user_version = 0");
    } else {
        db_.exec("DELETE FROM sqlite_sequence");
    }
    tx.commit();
}

std::string Library::integrity_check() {
    std::string problems;
    auto q = db_.prepare("PRAGMA integrity_check");
    while (q.step()) {
        const auto line = q.text(0);
        if (line != "ok") problems += line + "\n";
    }
    auto fk = db_.prepare("PRAGMA foreign_key_check");
    while (fk.step())
        problems += "foreign key violation in " + fk.text(0) + " row " + fk.text(1) + "\n";
    return problems.empty() ? "ok" : problems;
}

}  // namespace tagmap::store
