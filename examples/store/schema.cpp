#include "schema.hpp"

#include <array>
#include <string>

namespace tagmap::store {

namespace {

// Migration k brings a library from version k-1 to k. Never edit a released step: add one.
// Tables are STRICT (SQLite checks column types); timestamps are TEXT in SQLite's
// CURRENT_TIMESTAMP form (UTC, "YYYY-MM-DD HH:MM:SS"). The seed system's tables `tracks`
// and `embeddings` keep its columns with their meaning; tagmap's columns follow them.
constexpr std::array<const char*, 3> kMigrations = {
    // 1: the library: tracks, models, per-track results, failures, labels, similarity.
    R"sql(
CREATE TABLE library_info (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

CREATE TABLE tracks (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  filename      TEXT NOT NULL UNIQUE,   -- path relative to the audio root, '/'-separated
  duration      REAL,                   -- seconds
  processed_at  TEXT,                   -- last preprocess that left it with every model current
  created_at    TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
  size_bytes    INTEGER NOT NULL,
  mtime_ns      INTEGER NOT NULL,
  sample_rate   INTEGER,
  channels      INTEGER,
  codec         TEXT,
  title         TEXT,
  artist        TEXT,
  album         TEXT,
  genre         TEXT,
  year          INTEGER,
  track_number  INTEGER,
  probe_error   TEXT,                   -- why the header could not be read when indexed
  indexed_at    TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
  vanished_at   TEXT                    -- set when the file is gone; NULL while present
) STRICT;

CREATE TABLE models (
  model_id       TEXT PRIMARY KEY,      -- musicnn-mtat, ...
  model          TEXT NOT NULL,         -- family, as the seed: musicnn | vgg
  dataset        TEXT NOT NULL,         -- mtat | msd
  n_tags         INTEGER NOT NULL CHECK (n_tags > 0),
  embedding_dim  INTEGER NOT NULL CHECK (embedding_dim > 0),
  input_samples  INTEGER NOT NULL CHECK (input_samples > 0),
  weights_digest TEXT NOT NULL,         -- SHA-256 of the weights file last used
  weights_file   TEXT NOT NULL,
  tag_names      TEXT                   -- JSON array, model output order (NULL if unknown)
) STRICT;

CREATE TABLE embeddings (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  track_id        INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
  model           TEXT NOT NULL,        -- seed: musicnn | vgg
  dataset         TEXT NOT NULL,        -- seed: mtat | msd
  embedding_path  TEXT,                 -- seed: a cache file; NULL, the vectors are BLOBs here
  taggram_path    TEXT,
  created_at      TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
  model_id        TEXT NOT NULL REFERENCES models(model_id),
  weights_digest  TEXT NOT NULL,
  source_size     INTEGER NOT NULL,     -- the file as it was embedded
  source_mtime_ns INTEGER NOT NULL,
  audio_seconds   REAL NOT NULL,
  chunks          INTEGER NOT NULL CHECK (chunks > 0),
  chunk_hop       INTEGER NOT NULL CHECK (chunk_hop > 0),
  padded          INTEGER NOT NULL CHECK (padded IN (0, 1)),
  embedding_dim   INTEGER NOT NULL,
  n_tags          INTEGER NOT NULL,
  embedding       BLOB NOT NULL CHECK (length(embedding) = 4 * embedding_dim),
  taggram         BLOB NOT NULL CHECK (length(taggram) = 4 * n_tags),
  UNIQUE (track_id, model_id),
  UNIQUE (track_id, model, dataset)
) STRICT;

CREATE TABLE chunk_outputs (
  embedding_id  INTEGER PRIMARY KEY REFERENCES embeddings(id) ON DELETE CASCADE,
  embeddings    BLOB NOT NULL,          -- chunks x embedding_dim
  taggrams      BLOB NOT NULL           -- chunks x n_tags
) STRICT;

CREATE TABLE failures (
  track_id        INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
  model_id        TEXT NOT NULL,
  weights_digest  TEXT NOT NULL,
  source_size     INTEGER NOT NULL,
  source_mtime_ns INTEGER NOT NULL,
  error           TEXT NOT NULL,
  failed_at       TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (track_id, model_id)
) STRICT;

CREATE TABLE labels (
  track_id  INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
  genre     TEXT NOT NULL,
  source    TEXT NOT NULL CHECK (source IN ('csv', 'tag'))
) STRICT;

CREATE TABLE similarity_reports (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  model_id      TEXT NOT NULL REFERENCES models(model_id),
  source        TEXT NOT NULL CHECK (source IN ('embedding', 'taggram')),
  label_source  TEXT NOT NULL,
  computed_at   TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
  report        TEXT NOT NULL,          -- JSON: figures, counts, confusion matrix
  UNIQUE (model_id, source)
) STRICT;

CREATE TABLE similarity_tracks (
  report_id           INTEGER NOT NULL REFERENCES similarity_reports(id) ON DELETE CASCADE,
  track_id            INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
  genre               TEXT NOT NULL,
  nearest_genre       TEXT,
  similarity_to_own   REAL,
  similarities        TEXT NOT NULL,    -- JSON object genre -> cosine (null if undefined)
  PRIMARY KEY (report_id, track_id)
) STRICT;

CREATE INDEX embeddings_by_model ON embeddings(model_id, track_id);
)sql",
    // 2: the projection cache (maps of track-level vectors, points placed by fit or transform).
    R"sql(
CREATE TABLE projections (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  model_id      TEXT NOT NULL REFERENCES models(model_id),
  source        TEXT NOT NULL CHECK (source IN ('embedding', 'taggram')),
  method        TEXT NOT NULL CHECK (method IN ('umap', 'tsne')),
  dims          INTEGER NOT NULL CHECK (dims IN (2, 3)),
  params        TEXT NOT NULL,          -- canonical JSON of the options
  input_digest  TEXT NOT NULL,          -- SHA-256 of the (track id, vector) rows fitted on
  fitted_rows   INTEGER NOT NULL,
  created_at    TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at    TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
  UNIQUE (model_id, source, method, dims, params)
) STRICT;

CREATE TABLE projection_points (
  projection_id INTEGER NOT NULL REFERENCES projections(id) ON DELETE CASCADE,
  track_id      INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
  x             REAL NOT NULL,
  y             REAL NOT NULL,
  z             REAL,
  placement     TEXT NOT NULL CHECK (placement IN ('fit', 'transform')),
  PRIMARY KEY (projection_id, track_id)
) STRICT;
)sql",
    // 3: time series per track of the sequence models (CREPE pitch, madmom beat activation).
    R"sql(
CREATE TABLE series_models (
  model_id       TEXT PRIMARY KEY,      -- crepe-tiny, madmom-beats, ...
  sample_rate    REAL NOT NULL CHECK (sample_rate > 0),  -- input rate, Hz
  frame_rate     REAL NOT NULL CHECK (frame_rate > 0),   -- output rows per second
  columns        INTEGER NOT NULL CHECK (columns > 0),
  column_names   TEXT NOT NULL,         -- JSON array, one name per column
  weights_digest TEXT NOT NULL,         -- SHA-256 of the weights file last used
  weights_file   TEXT NOT NULL,
  license        TEXT                   -- of the weights and their outputs, if restrictive
) STRICT;

CREATE TABLE track_series (
  track_id        INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
  model_id        TEXT NOT NULL REFERENCES series_models(model_id),
  weights_digest  TEXT NOT NULL,
  source_size     INTEGER NOT NULL,     -- the file as it was processed
  source_mtime_ns INTEGER NOT NULL,
  created_at      TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
  audio_seconds   REAL NOT NULL,
  frame_rate      REAL NOT NULL CHECK (frame_rate > 0),
  frames          INTEGER NOT NULL CHECK (frames >= 0),
  columns         INTEGER NOT NULL CHECK (columns > 0),
  data            BLOB NOT NULL CHECK (length(data) = 4 * frames * columns),  -- frames x columns
  PRIMARY KEY (track_id, model_id)
) STRICT;
)sql",
};

static_assert(kMigrations.size() == std::size_t(kSchemaVersion));

bool has_table(Database& db, const char* name) {
    auto q = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?");
    q.bind(1, name);
    return q.step();
}

}  // namespace

int schema_version(Database& db) {
    auto q = db.prepare("PRAGMA user_version");
    q.step();
    return int(q.int64(0));
}

void migrate(Database& db, int target) {
    if (target < 0 || target > kSchemaVersion)
        throw InvalidArgument("schema version " + std::to_string(target) + " does not exist");
    Transaction tx(db);
    const int version = schema_version(db);
    if (version > kSchemaVersion)
        throw DatabaseError(DatabaseError::Kind::schema,
                            db.file().string() + " has schema version " + std::to_string(version) +
                                ", newer than this tagmap understands (" +
                                std::to_string(kSchemaVersion) +
                                "): use a newer tagmap, or another --db");
    if (version == 0 && (has_table(db, "tracks") || has_table(db, "embeddings")))
        throw DatabaseError(DatabaseError::Kind::schema,
                            db.file().string() +
                                " holds tables that tagmap did not create (a database of another "
                                "program, such as the system tagmap replaces?); give a new --db "
                                "and re-index the audio folder");
    for (int v = version; v < target; ++v) db.exec(kMigrations[std::size_t(v)]);
    if (target > version) db.exec("PRAGMA user_version = " + std::to_string(target));
    tx.commit();
}

void require_current_schema(Database& db) {
    const int version = schema_version(db);
    if (version == kSchemaVersion) return;
    if (version == 0)
        throw DatabaseError(DatabaseError::Kind::schema,
                            db.file().string() +
                                " is not a tagmap library (no schema): run "
                                "`tagmap init-db --db " +
                                db.file().string() + "` first");
    if (version < kSchemaVersion)
        throw DatabaseError(DatabaseError::Kind::schema,
                            db.file().string() + " has schema version " + std::to_string(version) +
                                " (this tagmap: " + std::to_string(kSchemaVersion) +
                                "): run `tagmap init-db --db " + db.file().string() +
                                "` to migrate it");
    throw DatabaseError(DatabaseError::Kind::schema, db.file().string() + " has schema version " +
                                                         std::to_string(version) +
                                                         ", newer than this tagmap understands (" +
                                                         std::to_string(kSchemaVersion) + ")");
}

}  // namespace tagmap::store
