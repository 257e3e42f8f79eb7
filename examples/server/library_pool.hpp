// Read-only connections to the library, one per concurrent request. A SQLite connection
// (and the Library holding it) is used by one thread at a time: a request leases one for
// its duration and gives it back; idle connections are kept for the next request, so the
// pool holds at most as many connections as requests ever ran at once (the HTTP thread
// pool's size). WAL mode lets these readers run while the map worker writes.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <vector>

#include "library.hpp"

namespace tagmap::server {

class LibraryPool {
  public:
    LibraryPool(std::filesystem::path db, int busy_timeout_ms);

    class Lease {
      public:
        Lease(LibraryPool& pool, std::unique_ptr<store::Library> lib)
            : pool_(&pool), lib_(std::move(lib)) {}
        ~Lease();
        Lease(Lease&& o) noexcept : pool_(o.pool_), lib_(std::move(o.lib_)) {}
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        Lease& operator=(Lease&&) = delete;
        store::Library& operator*() { return *lib_; }
        store::Library* operator->() { return lib_.get(); }

      private:
        LibraryPool* pool_;
        std::unique_ptr<store::Library> lib_;
    };

    /// An idle connection, or a new one (opened read-only: never writes, never creates).
    Lease lease();
    std::int64_t opened() const { return opened_; }

  private:
    void give_back(std::unique_ptr<store::Library> lib);

    std::filesystem::path db_;
    int busy_timeout_ms_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<store::Library>> idle_;
    std::atomic<std::int64_t> opened_{0};
};

}  // namespace tagmap::server
