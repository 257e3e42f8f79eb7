#include "sqlite.hpp"

#include <utility>

namespace tagmap::store {

namespace {

DatabaseError::Kind kind_of(int rc) {
    switch (rc & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED: return DatabaseError::Kind::busy;
        case SQLITE_READONLY: return DatabaseError::Kind::read_only;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB: return DatabaseError::Kind::corrupt;
        case SQLITE_FULL: return DatabaseError::Kind::full;
        case SQLITE_CANTOPEN: return DatabaseError::Kind::cannot_open;
        default: return DatabaseError::Kind::other;
    }
}

/// What a user should read for the common failures (SQLite's own words are kept too).
std::string explain(int rc) {
    switch (rc & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            return "the database is locked by another process (another tagmap command or a "
                   "program holding a write transaction); try again when it has finished";
        case SQLITE_READONLY:
            return "the database file (or its folder, needed for the -wal and -shm files) is "
                   "read-only";
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB: return "the file is not a tagmap database or is corrupt";
        case SQLITE_FULL: return "the disk is full";
        case SQLITE_CANTOPEN: return "the database file cannot be opened";
        case SQLITE_IOERR: return "an I/O error occurred (disk full or failing?)";
        default: return {};
    }
}

}  // namespace

Database::Database(const std::filesystem::path& file, OpenMode mode, int busy_timeout_ms)
    : file_(file), mode_(mode) {
    if (mode != OpenMode::read_write_create) {
        std::error_code ec;
        if (!std::filesystem::exists(file, ec))
            throw DatabaseError(DatabaseError::Kind::cannot_open,
                                "no library database at " + file.string() +
                                    " (create it with `tagmap init-db --db " + file.string() +
                                    "`)");
    }
    int flags = SQLITE_OPEN_FULLMUTEX;
    switch (mode) {
        case OpenMode::read_write_create: flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE; break;
        case OpenMode::read_write: flags |= SQLITE_OPEN_READWRITE; break;
        case OpenMode::read_only: flags |= SQLITE_OPEN_READONLY; break;
    }
    const int rc = sqlite3_open_v2(file.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) {
        const std::string why = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
        sqlite3_close(db_);
        db_ = nullptr;
        throw DatabaseError(kind_of(rc), "cannot open database " + file.string() + ": " + why);
    }
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, busy_timeout_ms);
    try {
        // Reading the schema here turns "not a database" into an error at open time.
        exec("PRAGMA foreign_keys = ON");
        if (mode != OpenMode::read_only) {
            // WAL: readers (the server) never block the writer and vice versa. Not on a
            // file of another program (tables but no tagmap schema version): migrate()
            // refuses it, and it must be left exactly as it was.
            bool foreign = false;
            {  // finished before the pragma: an unfinished read is an open transaction
                auto q = prepare(
                    "SELECT (SELECT user_version FROM pragma_user_version) = 0 AND "
                    "(SELECT count(*) FROM sqlite_schema) > 0");
                q.step();
                foreign = q.int64(0) != 0;
            }
            if (!foreign) {
                auto journal = prepare("PRAGMA journal_mode = WAL");
                journal.step();
            }
            exec("PRAGMA synchronous = NORMAL");
        } else {
            exec("PRAGMA query_only = ON");
        }
        auto probe = prepare("SELECT count(*) FROM sqlite_schema");
        probe.step();
    } catch (...) {
        sqlite3_close(db_);
        db_ = nullptr;
        throw;
    }
}

Database::~Database() {
    if (db_) sqlite3_close_v2(db_);
}

Database::Database(Database&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), file_(std::move(other.file_)), mode_(other.mode_) {}

Database& Database::operator=(Database&& other) noexcept {
    if (this != &other) {
        if (db_) sqlite3_close_v2(db_);
        db_ = std::exchange(other.db_, nullptr);
        file_ = std::move(other.file_);
        mode_ = other.mode_;
    }
    return *this;
}

void Database::fail(int rc, std::string_view what) const {
    std::string message = "database " + file_.string() + ": " + std::string(what) + " failed: ";
    const std::string words = explain(rc);
    message += words.empty() ? std::string(db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc))
                             : words + " (SQLite: " +
                                   std::string(db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc)) +
                                   ")";
    throw DatabaseError(kind_of(rc), message);
}

void Database::exec(std::string_view sql) {
    char* error = nullptr;
    const std::string text(sql);
    const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error);
    if (error) sqlite3_free(error);
    if (rc != SQLITE_OK) fail(rc, text.substr(0, 60));
}

Statement Database::prepare(std::string_view sql) { return Statement(*this, sql); }

std::int64_t Database::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
int Database::changes() const { return sqlite3_changes(db_); }

Statement::Statement(Database& db, std::string_view sql) : db_(&db) {
    const int rc = sqlite3_prepare_v2(db.handle(), sql.data(), int(sql.size()), &stmt_, nullptr);
    if (rc != SQLITE_OK) db.fail(rc, "preparing \"" + std::string(sql.substr(0, 60)) + "\"");
}

Statement::~Statement() {
    if (stmt_) sqlite3_finalize(stmt_);
}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)) {}

namespace {
void check_bind(Database& db, int rc) {
    if (rc != SQLITE_OK) db.fail(rc, "binding a value");
}
}  // namespace

Statement& Statement::bind(int index, std::int64_t value) {
    check_bind(*db_, sqlite3_bind_int64(stmt_, index, value));
    return *this;
}
Statement& Statement::bind(int index, double value) {
    check_bind(*db_, sqlite3_bind_double(stmt_, index, value));
    return *this;
}
Statement& Statement::bind(int index, std::string_view text) {
    check_bind(*db_, sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT,
                                         SQLITE_UTF8));
    return *this;
}
Statement& Statement::bind_blob(int index, std::span<const std::byte> bytes) {
    // A zero-length blob must still be a blob, not NULL.
    static const std::byte empty{};
    check_bind(*db_, sqlite3_bind_blob64(stmt_, index, bytes.empty() ? &empty : bytes.data(),
                                         bytes.size(), SQLITE_TRANSIENT));
    return *this;
}
Statement& Statement::bind_null(int index) {
    check_bind(*db_, sqlite3_bind_null(stmt_, index));
    return *this;
}

bool Statement::step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    const char* sql = sqlite3_sql(stmt_);
    std::string what = "running \"";
    what.append(sql ? sql : "", 0, 60);
    what += '"';
    db_->fail(rc, what);
}

void Statement::run() {
    while (step()) {
    }
    reset();
}

void Statement::reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

bool Statement::is_null(int column) const {
    return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}
std::int64_t Statement::int64(int column) const { return sqlite3_column_int64(stmt_, column); }
double Statement::real(int column) const { return sqlite3_column_double(stmt_, column); }
std::string Statement::text(int column) const {
    const auto* p = sqlite3_column_text(stmt_, column);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           std::size_t(sqlite3_column_bytes(stmt_, column)))
             : std::string();
}
std::optional<std::string> Statement::optional_text(int column) const {
    if (is_null(column)) return std::nullopt;
    return text(column);
}
std::optional<std::int64_t> Statement::optional_int64(int column) const {
    if (is_null(column)) return std::nullopt;
    return int64(column);
}
std::optional<double> Statement::optional_real(int column) const {
    if (is_null(column)) return std::nullopt;
    return real(column);
}
std::span<const std::byte> Statement::blob(int column) const {
    const void* p = sqlite3_column_blob(stmt_, column);
    const int n = sqlite3_column_bytes(stmt_, column);
    return {static_cast<const std::byte*>(p), std::size_t(n)};
}

Transaction::Transaction(Database& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
    if (open_) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
    db_.exec("COMMIT");
    open_ = false;
}

}  // namespace tagmap::store
