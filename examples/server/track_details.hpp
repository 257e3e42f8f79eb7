// What large maps and search need of every track, in memory (docs/api.md, "Large maps"):
// per model, every present track's display name, genre and top-3 tags, and the tag index
// of search(). Reading them from SQLite costs two lookups per point (~2 s for the 50,000
// points of a page's overview at a million tracks); from memory, milliseconds.
//
// Built by one background thread from a pass over the tracks and one over the model's
// taggrams (a request never waits for it: until a table is ready, the routes read SQLite
// as before). A table is a snapshot: the library is checked for commits by other
// connections (PRAGMA data_version of a watching connection) at most every
// `check_seconds`, and a changed library is rebuilt at most every `rebuild_seconds` (at
// once after invalidate(), which an upload calls); meanwhile the previous snapshot serves.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "library.hpp"

namespace tagmap::server {

/// One model's snapshot: rows are the present tracks, by id.
struct DetailsTable {
    std::string model_id;
    std::int64_t version = 0;             ///< data_version it was built at
    std::vector<std::int64_t> ids;        ///< sorted
    std::vector<std::uint32_t> name_end;  ///< name of row i: chars[name_end[i-1], name_end[i])
    std::string chars;
    std::vector<std::int32_t> genre;     ///< index into genres; -1: none
    std::vector<std::string> genres;     ///< in order of first use (by id)
    std::vector<std::uint32_t> tag_row;  ///< row i's row in tags.table, or kNoTags
    store::SearchIndex tags;             ///< top 3 of the model, by id and by filename
    static constexpr std::uint32_t kNoTags = 0xFFFFFFFFu;

    /// The row of a track id, if it is in the snapshot.
    std::optional<std::size_t> row(std::int64_t id) const;
    std::string_view name(std::size_t row) const;
    std::size_t bytes() const;  ///< memory held (approximate)
};

class TrackDetails {
  public:
    TrackDetails(std::filesystem::path db, int busy_timeout_ms, double check_seconds,
                 double rebuild_seconds = 30);
    ~TrackDetails();  ///< stop()
    TrackDetails(const TrackDetails&) = delete;
    TrackDetails& operator=(const TrackDetails&) = delete;

    /// The newest snapshot of `model_id` (null while the first is being built); starts a
    /// build when there is none or the library changed. Never waits for a build.
    std::shared_ptr<const DetailsTable> get(const std::string& model_id);
    /// get(), waiting up to `seconds` for a first snapshot (tests, benchmarks).
    std::shared_ptr<const DetailsTable> wait(const std::string& model_id, double seconds);
    /// The library changed (an upload): the next get() rebuilds without delay.
    void invalidate();
    /// Finishes the running build and joins the worker. Idempotent.
    void stop();
    std::int64_t builds() const;  ///< snapshots built (tests)

  private:
    struct Entry {
        std::shared_ptr<const DetailsTable> table;
        bool queued = false;
        std::chrono::steady_clock::time_point built{};
    };
    std::int64_t library_version();  ///< under check_mutex_
    void run();

    std::filesystem::path db_;
    int busy_timeout_ms_;
    std::chrono::duration<double> check_every_, rebuild_every_;
    std::mutex check_mutex_;  ///< the watching connection
    std::unique_ptr<store::Library> watch_;
    std::int64_t version_ = -1;
    std::chrono::steady_clock::time_point checked_{};
    bool forced_ = false;

    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::map<std::string, Entry> entries_;
    std::deque<std::string> queue_;
    bool stopping_ = false;
    std::int64_t builds_ = 0;
    std::thread worker_;
};

}  // namespace tagmap::server
