// The projection cache: maps of a model's track-level vectors (UMAP or t-SNE, 2D or 3D)
// computed once and stored, keyed by (model, source, method, dims, parameters) with the
// digest of the rows they were fitted on. An unchanged library is a no-op; added tracks are
// placed on the existing map with its transform() (old points stay) or the map is refit.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <tagmap/project/umap.hpp>

#include "library.hpp"
#include "shard.hpp"

namespace tagmap::store {

/// Rows placed by transform() in one batch of a sample-fitted map (umap transform() runs
/// n_epochs / 3, or 100 epochs up to 10,000 points and 30 beyond, so a batch's positions
/// depend on which points share it: the batch is part of the map's definition).
inline constexpr Eigen::Index kTransformBatch = 20000;

struct MapSpec {
    std::string model_id;
    Source source = Source::embedding;
    std::string method = "umap";  ///< umap | tsne
    int dims = 2;
    std::uint64_t seed = 42;
    int n_neighbors = 15;    ///< UMAP
    double min_dist = 0.1;   ///< UMAP
    double perplexity = 30;  ///< t-SNE; capped at (N - 1) / 3 for small libraries
    /// UMAP at scale: fit on a seeded sample of this many tracks and place the others with
    /// transform() (fit_sample_umap); 0 = fit on every track. Part of the cache key.
    std::int64_t fit_sample = 0;
    /// With fit_sample: tracks placed per transform() call (in params when not the default).
    std::int64_t transform_batch = kTransformBatch;
};

enum class MapUpdate { unchanged, fitted, placed_new, refitted };
const char* map_update_name(MapUpdate u);

struct MapResult {
    MapUpdate update = MapUpdate::unchanged;
    std::int64_t points = 0, new_points = 0;
    double seconds = 0;
    std::string note;  ///< e.g. why new tracks were not placed with transform()
};

/// Canonical JSON of the options that shape the map (the cache key's `params`).
std::string map_params(const MapSpec& spec);
/// The spec of a cached map's key (the inverse of map_params; defaults for absent fields).
MapSpec map_spec(const ProjectionKey& key);

/// SHA-256 of (track id, vector bytes) rows, in the given order.
std::string rows_digest(const std::vector<std::int64_t>& ids, const RowMatrixF& rows);

/// The rows of a seeded sample of `m` of the tracks `ids`: those whose mixed (seed, id) hash
/// is smallest, so a track's membership depends only on its id and the seed (tracks added
/// later displace few). Sorted; all rows when m >= ids.size().
std::vector<Eigen::Index> fit_sample_rows(const std::vector<std::int64_t>& ids, std::int64_t m,
                                          std::uint64_t seed);

/// UMAP of the rows of X fitted on the rows `sample` only; every other row placed into that
/// map with transform(), in batches of `batch` consecutive rows run on `options.threads`
/// workers (one thread each; the result does not depend on the thread count). Returns
/// X.rows() x dims; the fitted rows' positions are the fit's.
RowMatrixF fit_sample_umap(const RowMatrixF& X, const std::vector<Eigen::Index>& sample,
                           const project::UmapOptions& options,
                           Eigen::Index batch = kTransformBatch);

/// transform() of the rows `rows` of X into the map of the points X_fit at Y_fit, in batches
/// of `batch` consecutive entries of `rows`; only the batches of `shard` are run (batch b
/// belongs to shard b mod N), on `options.threads` workers of one thread each. A batch's
/// positions depend only on its rows, the map and the options, never on the thread count or
/// on which process runs it. Returns the positions of the kept entries of `rows` (in their
/// order); `kept`, if given, receives those entries.
RowMatrixF transform_in_batches(const RowMatrixF& X_fit, const RowMatrixF& Y_fit,
                                const project::UmapOptions& options, const RowMatrixF& X,
                                const std::vector<Eigen::Index>& rows, Eigen::Index batch,
                                const Shard& shard = {}, std::vector<Eigen::Index>* kept = nullptr);

/// Brings the cached map of `spec` up to date. place_new: tracks added since the fit are
/// placed without moving the others, with the map's transform() (UMAP's or t-SNE's, both
/// deterministic for the seed at any thread count); a sample-fitted map always places them,
/// in batches of spec.transform_batch. refit: always refit. fit_only (sample-fitted UMAP):
/// store the sample's fit and leave every other track unplaced, for place_map_shard() on
/// many machines. Throws InvalidArgument when the model has fewer than 3 embedded tracks.
MapResult update_map(Library& library, const MapSpec& spec, bool place_new, bool refit,
                     int threads = 0, bool fit_only = false);

/// One shard's share of placing a sample-fitted map's missing tracks (docs/scale.md): the
/// tracks with a vector that the cached map lacks, by id, cut into batches of
/// spec.transform_batch; shard K of N places batches K, K + N, ... exactly as update_map()
/// would in one process, so the merged shards give the same map bit for bit.
struct MapPlacement {
    ProjectionKey key;
    std::string fit_digest;               ///< the cached map's input_digest
    std::string weights_digest;           ///< of the model, when placed
    std::int64_t to_place = 0;            ///< tracks the map lacked, in all shards
    std::string to_place_digest;          ///< rows_digest() of those tracks and their vectors
    std::int64_t batches = 0;             ///< in all shards
    std::vector<std::int64_t> track_ids;  ///< this shard's tracks
    RowMatrixF coords;                    ///< their positions, track_ids.size() x dims
};

/// Places `shard`'s batches of the cached map of `spec` (a UMAP map with fit_sample, fitted
/// with update_map(..., fit_only) or placed in part); reads the library only. Throws
/// InvalidArgument when there is no such map or its fitted tracks changed since the fit.
MapPlacement place_map_shard(Library& library, const MapSpec& spec, const Shard& shard,
                             int threads = 0);

/// One chunk of a track placed on a cached map.
struct ChunkPoint {
    int index = 0;
    double start_seconds = 0;
    std::vector<float> coords;  ///< dims values
    std::vector<TagScore> top_tags;
};

struct ChunkPath {
    std::int64_t track_id = 0;
    double hop_seconds = 0;
    std::vector<ChunkPoint> chunks;
};

/// The per-chunk path of a track through the cached map `spec` (which must exist): each
/// chunk vector at the inverse-distance-weighted mean of the map positions of its 5 nearest
/// tracks (the map does not change; UMAP's transform() would throw a track's chunks far off
/// a small map); plus each chunk's top `n_tags` tags. Empty if the track has no
/// chunk outputs for the model.
ChunkPath chunk_path(Library& library, const MapSpec& spec, std::int64_t track_id, int n_tags = 5);

}  // namespace tagmap::store
