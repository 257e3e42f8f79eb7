// The library database's schema, versioned with PRAGMA user_version and built as an
// ordered list of migrations (docs/database.md): a fresh file runs them all, an older
// library runs the missing ones in one transaction, a newer one is refused.
#pragma once

#include "sqlite.hpp"

namespace tagmap::store {

/// The schema version this build writes and reads.
inline constexpr int kSchemaVersion = 3;

/// PRAGMA user_version of an open database (0 for a new, empty file).
int schema_version(Database& db);

/// Brings `db` to kSchemaVersion (or to `target`, for tests of the migrations) in one
/// transaction. DatabaseError(schema) for a newer version or a file whose tables are not
/// tagmap's.
void migrate(Database& db, int target = kSchemaVersion);

/// Checks that a database opened for reading is at kSchemaVersion, with a message that
/// says which command upgrades it.
void require_current_schema(Database& db);

}  // namespace tagmap::store
