#include "map_jobs.hpp"

#include <algorithm>
#include <cstdio>
#include <optional>

#include <tagmap/core/error.hpp>

namespace tagmap::server {

const char* map_job_state_name(MapJobStatus::State s) {
    switch (s) {
        case MapJobStatus::State::none:
            return "none";
        case MapJobStatus::State::queued:
            return "queued";
        case MapJobStatus::State::running:
            return "running";
        case MapJobStatus::State::done:
            return "done";
        case MapJobStatus::State::failed:
            return "failed";
    }
    return "?";
}

std::string map_key(const store::MapSpec& spec) {
    return spec.model_id + "|" + store::source_name(spec.source) + "|" + spec.method + "|" +
           std::to_string(spec.dims) + "|" + store::map_params(spec);
}

MapJobs::MapJobs(std::filesystem::path db, int busy_timeout_ms, int map_threads,
                 double failed_retry_seconds)
    : db_(std::move(db)),
      busy_timeout_ms_(busy_timeout_ms),
      map_threads_(map_threads),
      failed_retry_seconds_(failed_retry_seconds),
      worker_([this] { run(); }) {}

MapJobs::~MapJobs() {
    stop();
}

void MapJobs::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    changed_.notify_all();
    if (worker_.joinable()) worker_.join();
}

std::int64_t MapJobs::started() const {
    std::lock_guard lock(mutex_);
    return started_;
}

int MapJobs::active() const {
    std::lock_guard lock(mutex_);
    int n = 0;
    for (const auto& [key, job] : jobs_)
        if (job.state == MapJobStatus::State::queued || job.state == MapJobStatus::State::running)
            ++n;
    return n;
}

MapJobStatus MapJobs::status_locked(const std::string& key) const {
    MapJobStatus s;
    const auto it = jobs_.find(key);
    if (it == jobs_.end()) return s;
    const Job& job = it->second;
    s.state = job.state;
    const auto now = std::chrono::steady_clock::now();
    const auto end =
        job.state == MapJobStatus::State::done || job.state == MapJobStatus::State::failed
            ? job.finished
            : now;
    s.elapsed_seconds = std::chrono::duration<double>(end - job.requested).count();
    if (job.state == MapJobStatus::State::queued) {
        const auto pos = std::find(queue_.begin(), queue_.end(), key);
        s.queue_position = int(pos - queue_.begin());
    }
    s.failure_status = job.failure_status;
    s.error = job.error;
    return s;
}

MapJobStatus MapJobs::request(const store::MapSpec& spec) {
    const auto key = map_key(spec);
    std::unique_lock lock(mutex_);
    if (stopping_) {
        MapJobStatus s;
        s.state = MapJobStatus::State::failed;
        s.failure_status = 503;
        s.error = "the server is stopping";
        return s;
    }
    const auto now = std::chrono::steady_clock::now();
    auto it = jobs_.find(key);
    const bool keep =
        it != jobs_.end() && (it->second.state == MapJobStatus::State::queued ||
                              it->second.state == MapJobStatus::State::running ||
                              (it->second.state == MapJobStatus::State::failed &&
                               std::chrono::duration<double>(now - it->second.finished).count() <
                                   failed_retry_seconds_));
    if (!keep) {
        Job job;
        job.spec = spec;
        job.requested = now;
        jobs_[key] = job;
        queue_.push_back(key);
        lock.unlock();
        changed_.notify_all();
        lock.lock();
    }
    return status_locked(key);
}

MapJobStatus MapJobs::wait(const store::MapSpec& spec, std::chrono::duration<double> timeout) {
    const auto key = map_key(spec);
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout, [&] {
        if (stopping_) return true;
        const auto it = jobs_.find(key);
        return it == jobs_.end() || (it->second.state != MapJobStatus::State::queued &&
                                     it->second.state != MapJobStatus::State::running);
    });
    return status_locked(key);
}

void MapJobs::forget_done(const store::MapSpec& spec) {
    std::lock_guard lock(mutex_);
    const auto it = jobs_.find(map_key(spec));
    if (it != jobs_.end() && it->second.state == MapJobStatus::State::done) jobs_.erase(it);
}

void MapJobs::run() {
    // The worker's own connection, opened on its first job (a server that never computes
    // a map never opens the database for writing).
    std::optional<store::Library> library;
    std::unique_lock lock(mutex_);
    for (;;) {
        changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (stopping_) break;
        const std::string key = queue_.front();
        queue_.pop_front();
        Job& job = jobs_.at(key);  // std::map: references stay valid while others change
        job.state = MapJobStatus::State::running;
        ++started_;
        const store::MapSpec spec = job.spec;
        lock.unlock();
        changed_.notify_all();

        int failure_status = 0;
        std::string error;
        try {
            if (!library) library.emplace(db_, store::OpenMode::read_write, busy_timeout_ms_);
            const auto r = store::update_map(*library, spec, false, false, map_threads_);
            std::fprintf(stderr, "tagmap serve: map %s %s %s %dD: %s (%lld points) %.2f s\n",
                         spec.model_id.c_str(), store::source_name(spec.source),
                         spec.method.c_str(), spec.dims, store::map_update_name(r.update),
                         (long long)r.points, r.seconds);
        } catch (const InvalidArgument& e) {
            failure_status = 404;  // e.g. fewer than 3 embedded tracks: no such map can exist
            error = e.what();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "tagmap serve: map %s %s %s %dD failed: %s\n",
                         spec.model_id.c_str(), store::source_name(spec.source),
                         spec.method.c_str(), spec.dims, e.what());
            failure_status = 500;
            error = "the map could not be computed (see the server log)";
        }

        lock.lock();
        Job& done = jobs_.at(key);
        done.finished = std::chrono::steady_clock::now();
        if (failure_status) {
            done.state = MapJobStatus::State::failed;
            done.failure_status = failure_status;
            done.error = error;
        } else {
            done.state = MapJobStatus::State::done;
        }
        lock.unlock();
        changed_.notify_all();
        lock.lock();
    }
}

}  // namespace tagmap::server
