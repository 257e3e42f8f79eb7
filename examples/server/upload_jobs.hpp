// Files dropped on the map page (POST /api/v1/tracks): each upload is saved below the
// library's folder (uploads/), then one server-owned worker thread with its own read-write
// connection indexes it, embeds it with every model of the library (the weights files the
// library recorded) and places it on every cached map without moving the other points
// (store::update_map with place_new). The page polls GET /api/v1/jobs/<id>.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace tagmap::server {

struct UploadStatus {
    std::string id;
    std::string filename;  ///< relative to the library's folder
    std::string state = "queued";  ///< queued | running | done | failed
    std::string stage;             ///< indexing | embedding | placing
    double progress = 0;           ///< 0..1
    std::optional<std::int64_t> track_id;
    std::string error;  ///< failed: why, in words safe to show a client
};

class UploadJobs {
  public:
    /// on_done runs on the worker after a job that changed the library (to drop caches).
    UploadJobs(std::filesystem::path db, int busy_timeout_ms, std::function<void()> on_done);
    ~UploadJobs();  ///< stop()
    UploadJobs(const UploadJobs&) = delete;
    UploadJobs& operator=(const UploadJobs&) = delete;

    /// Queues a saved file (`relative` to the library's folder); returns the job id.
    std::string submit(const std::string& relative);
    std::optional<UploadStatus> status(const std::string& id) const;
    /// Finishes the running job, drops queued ones, joins the worker. Idempotent.
    void stop();

  private:
    void run();
    void process(UploadStatus& job);
    void update(const std::string& id, const std::function<void(UploadStatus&)>& change);

    std::filesystem::path db_;
    int busy_timeout_ms_;
    std::function<void()> on_done_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::map<std::string, UploadStatus> jobs_;
    std::deque<std::string> queue_;
    std::int64_t next_id_ = 1;
    bool stopping_ = false;
    std::thread worker_;
};

}  // namespace tagmap::server
