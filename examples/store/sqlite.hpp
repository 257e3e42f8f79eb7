// A thin RAII layer over SQLite's C API for the music-library store: connections with
// the store's settings (foreign keys, WAL, busy timeout), prepared statements, and
// transactions that roll back unless committed. Every failure becomes a DatabaseError
// that names the database file and says what happened in words a user can act on.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <tagmap/core/error.hpp>

namespace tagmap::store {

/// A database could not be opened, read or written.
class DatabaseError : public Error {
  public:
    enum class Kind { other, busy, read_only, corrupt, full, cannot_open, schema };
    DatabaseError(Kind kind, const std::string& message) : Error(message), kind_(kind) {}
    Kind kind() const { return kind_; }

  private:
    Kind kind_;
};

enum class OpenMode {
    read_write_create,  ///< commands that build the library
    read_write,         ///< commands that need an existing library
    read_only,          ///< readers (serve, export): never write, never create
};

class Statement;

/// One connection. Settings on every connection: foreign_keys=ON, busy_timeout,
/// journal_mode=WAL (writers), synchronous=NORMAL (safe against a killed process; an OS
/// crash may lose the last transactions, never corrupt the file).
class Database {
  public:
    static constexpr int kDefaultBusyTimeoutMs = 5000;

    Database(const std::filesystem::path& file, OpenMode mode,
             int busy_timeout_ms = kDefaultBusyTimeoutMs);
    ~Database();
    Database(Database&& other) noexcept;
    Database& operator=(Database&& other) noexcept;
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    /// Runs one or more statements that return no rows.
    void exec(std::string_view sql);
    Statement prepare(std::string_view sql);

    std::int64_t last_insert_rowid() const;
    int changes() const;
    const std::filesystem::path& file() const { return file_; }
    OpenMode mode() const { return mode_; }
    sqlite3* handle() { return db_; }

    /// Throws a DatabaseError for result code `rc` (what: the operation that failed).
    [[noreturn]] void fail(int rc, std::string_view what) const;

  private:
    sqlite3* db_ = nullptr;
    std::filesystem::path file_;
    OpenMode mode_;
};

/// A prepared statement. bind() indices start at 1, column() indices at 0.
class Statement {
  public:
    Statement(Database& db, std::string_view sql);
    ~Statement();
    Statement(Statement&& other) noexcept;
    Statement& operator=(Statement&&) = delete;
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    Statement& bind(int index, std::int64_t value);
    Statement& bind(int index, int value) { return bind(index, std::int64_t(value)); }
    Statement& bind(int index, double value);
    Statement& bind(int index, std::string_view text);
    Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
    Statement& bind(int index, const std::string& text) {
        return bind(index, std::string_view(text));
    }
    Statement& bind_blob(int index, std::span<const std::byte> bytes);
    Statement& bind_null(int index);
    template <class T>
    Statement& bind(int index, const std::optional<T>& value) {
        return value ? bind(index, *value) : bind_null(index);
    }

    /// Advances: true while a row is available, false when done.
    bool step();
    /// Runs a statement that returns no rows (or ignores them), then resets it.
    void run();
    void reset();

    bool is_null(int column) const;
    std::int64_t int64(int column) const;
    double real(int column) const;
    std::string text(int column) const;
    std::optional<std::string> optional_text(int column) const;
    std::optional<std::int64_t> optional_int64(int column) const;
    std::optional<double> optional_real(int column) const;
    /// Valid until the next step(), reset() or destruction.
    std::span<const std::byte> blob(int column) const;

  private:
    Database* db_;
    sqlite3_stmt* stmt_ = nullptr;
};

/// BEGIN IMMEDIATE ... COMMIT; rolls back in the destructor unless commit() ran, so an
/// exception (or a killed process, by SQLite's journal) leaves no partial rows.
class Transaction {
  public:
    explicit Transaction(Database& db);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit();

  private:
    Database& db_;
    bool open_ = true;
};

}  // namespace tagmap::store
