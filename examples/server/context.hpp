// What the route handlers share: the options, the read-only connection pool and the map
// worker. Owned by the Server; handlers hold a reference.
#pragma once

#include <filesystem>

#include "library_pool.hpp"
#include "map_jobs.hpp"
#include "response_cache.hpp"
#include "router.hpp"
#include "server.hpp"
#include "track_details.hpp"
#include "upload_jobs.hpp"

namespace tagmap::server {

struct Context {
    Context(const std::filesystem::path& db, const ServerOptions& o)
        : options(o),
          pool(db, o.busy_timeout_ms),
          jobs(db, o.busy_timeout_ms, o.map_threads, o.failed_map_retry_seconds),
          map_cache(o.map_cache_seconds),
          details(db, o.busy_timeout_ms, o.map_cache_seconds),
          uploads(db, o.busy_timeout_ms, [this] {
              map_cache.clear();
              details.invalidate();
          }) {}
    ServerOptions options;
    LibraryPool pool;
    MapJobs jobs;
    ResponseCache map_cache;  ///< encoded /api/v1/maps answers
    TrackDetails details;     ///< names, genres, top tags in memory (large maps, search)
    UploadJobs uploads;       ///< files dropped on the page: index, embed, place
};

// Route groups, one file each.
void add_seed_routes(Router& router, Context& ctx);     // routes_seed.cpp
void add_api_routes(Router& router, Context& ctx);      // routes_api.cpp
void add_map_lod_routes(Router& router, Context& ctx);  // routes_map_lod.cpp
void add_audio_routes(Router& router, Context& ctx);    // routes_audio.cpp
void add_chunk_routes(Router& router, Context& ctx);    // routes_chunks.cpp
void add_series_routes(Router& router, Context& ctx);   // routes_series.cpp
// routes_upload.cpp: POST /api/v1/tracks (through httplib's routing) and /api/v1/jobs/<id>.
void add_upload_routes(httplib::Server& http, Router& router, Context& ctx, UploadJobs& jobs,
                       std::size_t max_bytes);

}  // namespace tagmap::server
