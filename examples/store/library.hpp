// The music library: one SQLite file (schema in schema.cpp, docs/database.md) holding the
// indexed tracks, every model's per-track and per-chunk outputs, labels, genre-similarity
// results and cached maps. Commands and the server use this interface and issue no SQL of
// their own. A Library opened read-only never writes (the server's connections).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "sqlite.hpp"

namespace tagmap::store {

using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

enum class Source { embedding, taggram };
const char* source_name(Source s);
Source parse_source(const std::string& name);  ///< InvalidArgument for anything else

/// What the indexer learns of a file (header and tags); ids are the library's.
struct TrackRecord {
    std::int64_t id = 0;
    std::string filename;  ///< relative to the audio root, '/'-separated: the unique key
    std::optional<double> duration;
    std::int64_t size_bytes = 0;
    std::int64_t mtime_ns = 0;
    std::optional<int> sample_rate, channels;
    std::optional<std::string> codec, title, artist, album, genre;
    std::optional<int> year, track_number;
    std::optional<std::string> probe_error;   ///< why the header could not be read
    std::optional<std::string> vanished_at;   ///< the file is gone (kept, marked)
    std::optional<std::string> processed_at;  ///< last preprocess that completed it
    std::optional<std::string> label;         ///< genre label (labels table), if any
};

struct ModelRecord {
    std::string model_id, model, dataset;
    int n_tags = 0, embedding_dim = 0, input_samples = 0;
    std::string weights_digest, weights_file;
    std::vector<std::string> tag_names;  ///< empty if the tag list was not found
};

/// One model's outputs for one track, as preprocess produces them.
struct TrackResult {
    std::string model_id;
    std::string weights_digest;
    std::int64_t source_size = 0, source_mtime_ns = 0;
    double audio_seconds = 0;
    int chunks = 0, chunk_hop = 0;
    bool padded = false;
    int embedding_dim = 0, n_tags = 0;
    std::vector<float> embedding, taggram;                ///< track-level mean
    std::vector<float> chunk_embeddings, chunk_taggrams;  ///< chunks x dim, row-major
};

/// A sequence model (crepe-tiny, madmom-beats, ...) whose time series the library holds.
struct SeriesModelRecord {
    std::string model_id;
    double sample_rate = 0, frame_rate = 0;  ///< input Hz, output rows per second
    int columns = 0;
    std::vector<std::string> column_names;  ///< one per column ("hz", "confidence")
    std::string weights_digest, weights_file;
    std::string license;  ///< of the weights and their outputs when restrictive, else empty
};

/// One sequence model's time series for one track: frames x columns float32, row-major.
struct TrackSeries {
    std::string model_id;
    std::string weights_digest;
    std::int64_t source_size = 0, source_mtime_ns = 0;
    double audio_seconds = 0;
    double frame_rate = 0;
    int frames = 0, columns = 0;
    std::vector<float> values;
};

/// A failure of one model (or of decoding, recorded per model) on one track.
struct TrackFailure {
    std::string model_id, weights_digest, error;
    std::int64_t source_size = 0, source_mtime_ns = 0;
};

struct FailureRecord {
    std::int64_t track_id = 0;
    std::string filename, model_id, error, failed_at;
};

/// Track-level vectors of one model and source: row i belongs to track_ids[i].
struct TrackVectors {
    std::vector<std::int64_t> track_ids;
    RowMatrixF rows;
};

struct ChunkOutputs {
    int chunks = 0, chunk_hop = 0, embedding_dim = 0, n_tags = 0;
    std::vector<float> embeddings, taggrams;  ///< chunks x dim, row-major
};

struct TagScore {
    std::string tag;
    float score = 0;
};

/// The n best tags of every present track with a result of one model: row i belongs to
/// track_ids[i], its tags (indices into the model's tag list) and scores are
/// tags[i*n .. i*n+n), best first.
struct TopTagTable {
    int n = 0;
    std::vector<std::int64_t> track_ids;
    std::vector<int> tags;
    std::vector<float> scores;
};

/// What search() needs in memory to answer without scanning the tracks table or every
/// track's taggram: the searchable fields of every present track, lowered, and the top
/// tags, both in search()'s (filename) order. A snapshot: a server builds it once and
/// reuses it while the library does not change (about 100 bytes per track).
struct SearchIndex {
    std::string model_id;
    TopTagTable table;                       ///< by track id
    std::vector<std::uint32_t> by_filename;  ///< rows of `table` in filename order
    std::vector<std::string> tag_names;      ///< name of tag k ("tag<k>" when unknown)
    std::vector<std::int64_t> text_ids;      ///< present tracks in filename order
    std::string text;  ///< their fields, lowered, '\x1f' between, '\x1e' after each
    std::vector<std::size_t> text_end;  ///< end of track i's text
};

struct Neighbor {
    std::int64_t track_id = 0;
    double similarity = 0;  ///< cosine of centred vectors
};

/// Identifies one cached map.
struct ProjectionKey {
    std::string model_id;
    Source source = Source::embedding;
    std::string method;  ///< umap | tsne
    int dims = 2;
    std::string params;  ///< canonical JSON of the options
};

struct Projection {
    std::int64_t id = 0;
    ProjectionKey key;
    std::string input_digest;
    std::int64_t fitted_rows = 0;
    std::string created_at, updated_at;
    std::vector<std::int64_t> track_ids;
    RowMatrixF coords;              ///< rows x dims
    std::vector<bool> transformed;  ///< placed by transform() after the fit
};

struct SimilarityTrackRow {
    std::int64_t track_id = 0;
    std::string genre;
    std::optional<std::string> nearest_genre;
    std::optional<double> similarity_to_own;
    std::string similarities_json;
};

class Library {
  public:
    Library(const std::filesystem::path& file, OpenMode mode,
            int busy_timeout_ms = Database::kDefaultBusyTimeoutMs);

    /// Creates or migrates the schema (init-db). Idempotent.
    static Library create(const std::filesystem::path& file,
                          int busy_timeout_ms = Database::kDefaultBusyTimeoutMs);

    Database& db() { return db_; }
    const std::filesystem::path& file() const { return db_.file(); }

    // --- library settings
    std::optional<std::filesystem::path> audio_root();
    void set_audio_root(const std::filesystem::path& absolute_root);
    std::optional<std::string> info(const std::string& key);
    void set_info(const std::string& key, const std::string& value);

    // --- tracks
    std::vector<TrackRecord> tracks(bool include_vanished = false);
    std::optional<TrackRecord> track(std::int64_t id);
    std::optional<TrackRecord> track_by_filename(const std::string& filename);
    std::int64_t track_count(bool include_vanished = false);
    /// Tracks whose filename, title, artist, album, genre, label or top-3 tag (of model_id)
    /// contains `query` (ASCII case-insensitive), at most `limit`: first the field matches
    /// by filename, then the tag-only matches by filename. With `tags` (search_index() of
    /// model_id) both come from that snapshot, checked against each found track's current
    /// record (tracks vanished or changed since are left out, tracks added since are
    /// missed) instead of a scan of the tracks table and of every taggram.
    std::vector<TrackRecord> search(const std::string& query, const std::string& model_id,
                                    int limit, const SearchIndex* tags = nullptr);
    /// Calls `visit` for every present track (vanished ones too if asked), by id; the
    /// record is reused between calls. For a pass over a million tracks without holding
    /// them all (tracks() returns them all, by filename).
    void for_each_track(const std::function<void(const TrackRecord&)>& visit,
                        bool include_vanished = false);

    /// Inserts or updates by filename (clears vanished_at); returns the track id.
    std::int64_t upsert_track(const TrackRecord& t);
    /// Marks present tracks not in `seen` as vanished; returns how many.
    std::int64_t mark_vanished_except(const std::vector<std::string>& seen);

    // --- models and results
    void upsert_model(const ModelRecord& m);
    std::vector<ModelRecord> models();
    std::optional<ModelRecord> model(const std::string& model_id);

    /// Present tracks that need model_id: no result with this digest and the file's
    /// current size/mtime, and (unless retry_failed) no failure recorded for that state.
    std::vector<std::int64_t> pending_tracks(const std::string& model_id,
                                             const std::string& weights_digest, bool retry_failed);
    /// One transaction: every result and failure of one track, and processed_at when
    /// `completed`. A result replaces the model's previous one and clears its failure.
    void store_track(std::int64_t track_id, const std::vector<TrackResult>& results,
                     const std::vector<TrackFailure>& failures, bool completed);
    /// The same, with the track's time series (each replacing its model's previous one).
    void store_track(std::int64_t track_id, const std::vector<TrackResult>& results,
                     const std::vector<TrackSeries>& series,
                     const std::vector<TrackFailure>& failures, bool completed);
    std::vector<FailureRecord> failures();

    /// Track-level vectors of present tracks with a result of model_id, by track id.
    TrackVectors vectors(const std::string& model_id, Source source);
    std::optional<ChunkOutputs> chunk_outputs(std::int64_t track_id, const std::string& model_id);
    /// Highest-scoring tags of the track's mean taggram (names from the model's tag list,
    /// "tag<i>" when the list is unknown).
    std::vector<TagScore> top_tags(std::int64_t track_id, const std::string& model_id, int n);
    /// top_tags() of every track at once (one query, one taggram in memory at a time),
    /// ties to the lower tag index.
    TopTagTable top_tag_table(const std::string& model_id, int n);
    /// The SearchIndex of model_id (its top n tags, n = 3 for search()).
    SearchIndex search_index(const std::string& model_id, int n = 3);
    /// The k nearest tracks by cosine on vectors centred by the mean of all tracks.
    std::vector<Neighbor> neighbors(std::int64_t track_id, const std::string& model_id,
                                    Source source, int k);

    // --- time series of the sequence models
    void upsert_series_model(const SeriesModelRecord& m);
    std::vector<SeriesModelRecord> series_models();
    std::optional<SeriesModelRecord> series_model(const std::string& model_id);
    /// Present tracks that need a series of model_id (as pending_tracks() for results).
    std::vector<std::int64_t> pending_series(const std::string& model_id,
                                             const std::string& weights_digest, bool retry_failed);
    /// The stored series of a track and model, if any (FormatError for a damaged BLOB).
    std::optional<TrackSeries> series(std::int64_t track_id, const std::string& model_id);
    /// The model ids with a stored series of the track, by id.
    std::vector<std::string> track_series_models(std::int64_t track_id);
    /// Present tracks with a series of model_id, by id.
    std::vector<std::int64_t> series_track_ids(const std::string& model_id);

    // --- labels and genre similarity
    void replace_labels(const std::map<std::int64_t, std::string>& genre_by_track,
                        const std::string& source);
    std::map<std::int64_t, std::string> labels();
    void store_similarity(const std::string& model_id, Source source,
                          const std::string& label_source, const std::string& report_json,
                          const std::vector<SimilarityTrackRow>& rows);
    /// The stored report JSON, if computed.
    std::optional<std::string> similarity_report(const std::string& model_id, Source source);
    std::vector<std::pair<std::string, Source>> similarity_reports();

    // --- projection cache
    std::optional<Projection> projection(const ProjectionKey& key);
    std::vector<ProjectionKey> projection_keys();
    /// Replaces the cached map of `p.key` (all points placed by the fit).
    std::int64_t store_projection(const Projection& p);
    /// Adds points placed by transform() to an existing map, leaving the others.
    void add_projection_points(std::int64_t projection_id, const std::vector<std::int64_t>& ids,
                               const RowMatrixF& coords);

    /// PRAGMA data_version: a number that changes when another connection commits to the
    /// library (what a long-lived reader checks before trusting what it derived from it).
    std::int64_t data_version();

    // --- maintenance
    /// Deletes every row, keeping the schema (or drops all tables when drop_tables).
    void clean(bool drop_tables);
    /// PRAGMA integrity_check and foreign_key_check: "ok" or the problems found.
    std::string integrity_check();

  private:
    explicit Library(Database db);
    /// search()'s tag-only matches from an index, after the field matches in `out`.
    std::vector<TrackRecord> search_tags(const std::string& needle, const std::string& model_id,
                                         int limit, const SearchIndex& tags,
                                         const std::set<std::int64_t>& found,
                                         std::vector<TrackRecord>& out);
    /// Present tracks without a current row of model_id in `table` (embeddings or
    /// track_series): pending_tracks() and pending_series().
    std::vector<std::int64_t> pending_in(const char* table, const std::string& model_id,
                                         const std::string& weights_digest, bool retry_failed);
    void require_writable(const char* what) const;
    Database db_;
};

}  // namespace tagmap::store
