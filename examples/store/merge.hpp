// merge-db: shard databases written by preprocess-all --out-db (or any other libraries)
// merged into one library, matching tracks by relative path. Every shard is checked before
// any is merged: schema version, completion marker (a shard whose run died is reported, not
// merged), model weights digests (one model, one set of weights), audio folder. Each shard
// is merged in one transaction, and a result already present with the same bytes is left
// as it is, so merging twice changes nothing.
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
};

/// Checks that `shard` can be merged into `out`; DatabaseError(schema) or InvalidArgument
/// with the reason otherwise. Writes nothing.
void check_shard(Library& out, const std::filesystem::path& shard);

/// Merges `shards` into `out` (created with the schema if new). Checks every shard first.
std::vector<MergeTally> merge_shards(const std::filesystem::path& out,
                                     const std::vector<std::filesystem::path>& shards);

}  // namespace tagmap::store
