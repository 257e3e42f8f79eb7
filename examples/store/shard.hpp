// Shards of a library for preprocess-all on many machines (docs/scale.md): shard K of N
// holds the tracks whose relative path hashes to K modulo N, so a track stays in its shard
// whatever its id and however often the folder is re-indexed. A shard database is an
// ordinary library holding only those tracks, plus the markers merge_shards() checks.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "library.hpp"

namespace tagmap::store {

struct Shard {
    int index = 0;  ///< K, 0 <= K < count (Slurm's SLURM_ARRAY_TASK_ID with --array=0-(N-1))
    int count = 1;  ///< N
    /// Is the track with this relative path ('/'-separated) in the shard?
    bool contains(std::string_view filename) const;
    std::string text() const;  ///< "K/N"
};

/// "K/N" with 0 <= K < N; InvalidArgument otherwise.
Shard parse_shard(const std::string& text);

/// FNV-1a (64 bit) of the relative path's bytes: the shard key, stable across machines.
std::uint64_t shard_hash(std::string_view filename);

// library_info keys of a shard database.
inline constexpr const char* kShardKey = "shard";               ///< "K/N"
inline constexpr const char* kShardStateKey = "shard_state";    ///< running | complete
inline constexpr const char* kShardSourceKey = "shard_source";  ///< the library it came from

/// Creates (or reopens, to resume) the shard database `out` of `source` for `shard`: the
/// schema, the audio root, and the shard's present tracks that `pending` (ids of `source`)
/// lists, marked running. InvalidArgument if `out` was written for another shard or library.
Library open_shard_db(Library& source, const std::filesystem::path& out, const Shard& shard,
                      const std::vector<std::int64_t>& pending);

/// Marks a shard database complete (the last write of preprocess-all --out-db).
void mark_shard_complete(Library& shard_db);

// library_info keys of a placement shard database (project --place-shard K/N --out-db).
inline constexpr const char* kPlaceShardKey = "place_shard";               ///< "K/N"
inline constexpr const char* kPlaceShardStateKey = "place_shard_state";    ///< running | complete
inline constexpr const char* kPlaceShardSourceKey = "place_shard_source";  ///< the library
/// JSON array, one object per placed map: its key, the fit's input digest, the model's
/// weights digest and what all shards place together (count, digest, batches).
inline constexpr const char* kPlaceShardMapsKey = "place_shard_maps";

struct MapPlacement;

/// Creates (or reopens, to rerun) the placement shard database `out` of `source`: the
/// schema, marked running, with no map (a rerun starts over; placement is deterministic).
/// InvalidArgument if `out` is the library, a preprocess shard, or a placement shard of
/// another shard or library.
Library open_place_shard_db(Library& source, const std::filesystem::path& out, const Shard& shard);

/// Writes one map's placed points to a placement shard database: the model, the placed
/// tracks (with the source's ids and paths), the map's key with its fit digest, the points
/// (placement `transform`) and the map's record in kPlaceShardMapsKey.
void store_placement(Library& shard_db, Library& source, const MapPlacement& placement);

/// Marks a placement shard complete (the last write of project --place-shard).
void mark_place_shard_complete(Library& shard_db);

}  // namespace tagmap::store
