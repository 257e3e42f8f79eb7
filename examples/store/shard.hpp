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

}  // namespace tagmap::store
