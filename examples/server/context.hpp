// What the route handlers share: the options, the read-only connection pool and the map
// worker. Owned by the Server; handlers hold a reference.
#pragma once

#include <filesystem>

#include "library_pool.hpp"
#include "map_jobs.hpp"
#include "response_cache.hpp"
#include "router.hpp"
#include "server.hpp"

namespace tagmap::server {

struct Context {
    Context(const std::filesystem::path& db, const ServerOptions& o)
        : options(o),
          pool(db, o.busy_timeout_ms),
          jobs(db, o.busy_timeout_ms, o.map_threads, o.failed_map_retry_seconds),
          map_cache(o.map_cache_seconds) {}
    ServerOptions options;
    LibraryPool pool;
    MapJobs jobs;
    ResponseCache map_cache;  ///< encoded /api/v1/maps answers
};

// Route groups, one file each.
void add_seed_routes(Router& router, Context& ctx);   // routes_seed.cpp
void add_api_routes(Router& router, Context& ctx);    // routes_api.cpp
void add_audio_routes(Router& router, Context& ctx);  // routes_audio.cpp

}  // namespace tagmap::server
