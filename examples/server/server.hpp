// The music library's HTTP server (`tagmap serve`, docs/api.md): the seed system's routes
// (/audios, /tags, /embeddings, /taggrams, /audio/<file>) and the versioned API under
// /api/v1/, over one library database opened read-only.
//
// Threads: cpp-httplib serves each connection on a worker of its thread pool. SQLite
// connections are never shared between threads: a handler leases a read-only connection
// from a pool for the duration of one request (LibraryPool). Missing maps are computed by
// one server-owned worker thread with its own read-write connection (MapJobs), never by
// a request thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace tagmap::server {

struct ServerOptions {
    int threads = 16;                      ///< HTTP worker threads (connections served at once)
    double seed_map_wait_seconds = 30;     ///< seed routes wait this long for a missing map
    double max_map_wait_seconds = 300;     ///< upper bound of the API's `timeout` parameter
    double failed_map_retry_seconds = 30;  ///< a failed map job is not retried sooner
    double map_cache_seconds = 2;          ///< encoded maps are reused this long (0: never)
    std::filesystem::path web_dir;         ///< the map page's files served at / (empty: none)
    std::size_t max_upload_bytes = 512u << 20;  ///< POST /api/v1/tracks accepts files up to this
    int map_threads = 0;                        ///< threads of UMAP / t-SNE (0 = all cores)
    int busy_timeout_ms = 5000;                 ///< SQLite busy timeout of every connection
    bool log_requests = false;                  ///< one line per request on stderr
};

/// Counters for tests and the health route.
struct ServerStats {
    std::int64_t map_jobs_started = 0;    ///< update_map calls by the map worker
    std::int64_t connections_opened = 0;  ///< read-only SQLite connections created
    std::int64_t details_builds = 0;      ///< in-memory track details built (TrackDetails)
};

class Server {
  public:
    /// Opens the library read-only once to check it (throws tagmap::Error if it cannot).
    explicit Server(const std::filesystem::path& db, ServerOptions options = {});
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    /// Binds the listening socket; port 0 picks a free port. Returns the bound port;
    /// throws tagmap::IoError if the address cannot be bound.
    int bind(const std::string& host, int port);
    /// Serves until stop() (blocks the calling thread). Requires bind().
    void listen();
    /// Stops listen() (from any thread) and the map worker; idempotent.
    void stop();
    bool running() const;

    ServerStats stats() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace tagmap::server
