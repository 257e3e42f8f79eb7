// Encoded map answers kept for a short time (ServerOptions::map_cache_seconds): a map of
// 10,000 tracks is ~0.7 MB of JSON, and reading its points and encoding them is most of
// the cost of the maps route. A map changed by `tagmap project` is seen after at most that
// many seconds; a map the server computed was not cached before (it was missing).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tagmap::server {

class ResponseCache {
  public:
    struct Entry {
        std::shared_ptr<const std::string> body;
        std::string content_type;
        std::vector<std::pair<std::string, std::string>> headers;
    };

    ResponseCache(double max_age_seconds, std::size_t max_entries = 64)
        : max_age_(max_age_seconds), max_entries_(max_entries) {}

    std::optional<Entry> get(const std::string& key) {
        if (max_age_.count() <= 0) return std::nullopt;
        std::lock_guard lock(mutex_);
        const auto it = entries_.find(key);
        if (it == entries_.end()) return std::nullopt;
        if (std::chrono::steady_clock::now() - it->second.first > max_age_) {
            entries_.erase(it);
            return std::nullopt;
        }
        return it->second.second;
    }

    void put(const std::string& key, Entry e) {
        if (max_age_.count() <= 0) return;
        std::lock_guard lock(mutex_);
        if (entries_.size() >= max_entries_ && !entries_.count(key)) {
            auto oldest = entries_.begin();
            for (auto it = entries_.begin(); it != entries_.end(); ++it)
                if (it->second.first < oldest->second.first) oldest = it;
            entries_.erase(oldest);
        }
        entries_[key] = {std::chrono::steady_clock::now(), std::move(e)};
    }

    /// Drops every entry (the library changed: an upload was placed on the maps).
    void clear() {
        std::lock_guard lock(mutex_);
        entries_.clear();
    }

  private:
    std::chrono::duration<double> max_age_;
    std::size_t max_entries_;
    std::mutex mutex_;
    std::map<std::string, std::pair<std::chrono::steady_clock::time_point, Entry>> entries_;
};

}  // namespace tagmap::server
