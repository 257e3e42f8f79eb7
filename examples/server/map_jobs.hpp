// Maps missing from the projection cache are computed once, in the background: one
// server-owned worker thread with its own read-write connection runs store::update_map for
// each requested map in turn. Requests for a map that is queued or running join that job
// (one job per map key); a failed job is remembered and not retried before a delay.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "projection_cache.hpp"

namespace tagmap::server {

struct MapJobStatus {
    enum class State { none, queued, running, done, failed };
    State state = State::none;
    int queue_position = 0;      ///< jobs ahead of this one (queued)
    double elapsed_seconds = 0;  ///< since it was requested
    int failure_status = 500;    ///< failed: 404 (cannot be computed for this library) or 500
    std::string error;           ///< failed: why, in words safe to show a client
};

const char* map_job_state_name(MapJobStatus::State s);

/// The cache key of a map spec, as text (model, source, method, dims, params).
std::string map_key(const store::MapSpec& spec);

class MapJobs {
  public:
    MapJobs(std::filesystem::path db, int busy_timeout_ms, int map_threads,
            double failed_retry_seconds);
    ~MapJobs();  ///< stop()
    MapJobs(const MapJobs&) = delete;
    MapJobs& operator=(const MapJobs&) = delete;

    /// Queues the map unless it is queued, running, or failed less than the retry delay
    /// ago; returns its status.
    MapJobStatus request(const store::MapSpec& spec);
    /// Waits until the job of `spec` is neither queued nor running, at most `timeout`.
    MapJobStatus wait(const store::MapSpec& spec, std::chrono::duration<double> timeout);
    /// Forgets a finished job (the map is in the cache now).
    void forget_done(const store::MapSpec& spec);

    /// Finishes the running job (update_map cannot be interrupted), drops queued ones and
    /// joins the worker. Idempotent.
    void stop();

    std::int64_t started() const;
    int active() const;  ///< queued + running

  private:
    struct Job {
        store::MapSpec spec;
        MapJobStatus::State state = MapJobStatus::State::queued;
        std::chrono::steady_clock::time_point requested, finished;
        int failure_status = 500;
        std::string error;
    };
    MapJobStatus status_locked(const std::string& key) const;
    void run();

    std::filesystem::path db_;
    int busy_timeout_ms_, map_threads_;
    double failed_retry_seconds_;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::map<std::string, Job> jobs_;
    std::deque<std::string> queue_;
    bool stopping_ = false;
    std::int64_t started_ = 0;
    std::thread worker_;
};

}  // namespace tagmap::server
