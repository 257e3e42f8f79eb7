// merge-db: shard databases written by preprocess-all --out-db (or any other libraries)
// merged into one library, matching tracks by relative path. Every shard is checked before
// any is merged: schema version, completion marker (a shard whose run died is reported, not
// merged), model weights digests (one model, one set of weights), audio folder. Each shard
// is merged in one transaction, and a result already present with the same bytes is left
// as it is, so merging twice changes nothing.
//
// Placement shards (project --place-shard K/N --out-db) are merged the same way into the
// library's cached maps: all N together, checked against the map they were placed on
// (its fit, the model's weights, the options, the tracks it had to place) before any point
// is written, then every point in one transaction.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "library.hpp"

namespace tagmap::store {

struct MergeTally {
    std::filesystem::path shard;
    std::string shard_label;  ///< "K/N", or empty for a library that is not a shard
    /// Results count both kinds: a model's embeddings row and a sequence model's series.
    std::int64_t tracks_added = 0, results_copied = 0, results_unchanged = 0, failures_copied = 0;
    /// A placement shard: map points added to the library's cached maps, or already there.
    bool placement = false;
    std::int64_t points_added = 0, points_unchanged = 0;
};

/// Checks that `shard` can be merged into `out`; DatabaseError(schema) or InvalidArgument
/// with the reason otherwise. Writes nothing.
void check_shard(Library& out, const std::filesystem::path& shard);

/// Merges `shards` into `out` (created with the schema if new). Checks every shard first.
/// Placement shards go to merge_place_shards(); a mix of both kinds is refused.
std::vector<MergeTally> merge_shards(const std::filesystem::path& out,
                                     const std::vector<std::filesystem::path>& shards);

/// Is `file` a placement shard database (it carries kPlaceShardKey)? False for anything
/// else, unreadable files included.
bool is_place_shard(const std::filesystem::path& file);

/// Adds the points of placement shards 0/N .. N-1/N (all of them, any order) to the cached
/// maps of the library `out` they were placed from. Refused, with nothing written, when a
/// shard is incomplete (running) or missing, or the library's map has other options, another
/// fit, other model weights, other tracks to place than when the shards ran, or other
/// positions for a placed track. Points already in the map with the same positions are left
/// alone, so merging twice changes nothing.
std::vector<MergeTally> merge_place_shards(const std::filesystem::path& out,
                                           const std::vector<std::filesystem::path>& shards);

}  // namespace tagmap::store
