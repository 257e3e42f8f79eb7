#include "track_details.hpp"

#include <algorithm>

#include "views.hpp"

namespace tagmap::server {

std::optional<std::size_t> DetailsTable::row(std::int64_t id) const {
    const auto it = std::lower_bound(ids.begin(), ids.end(), id);
    if (it == ids.end() || *it != id) return std::nullopt;
    return std::size_t(it - ids.begin());
}

std::string_view DetailsTable::name(std::size_t row) const {
    const std::size_t begin = row ? name_end[row - 1] : 0;
    return std::string_view(chars).substr(begin, name_end[row] - begin);
}

std::size_t DetailsTable::bytes() const {
    const auto& t = tags.table;
    return ids.size() * 8 + name_end.size() * 4 + chars.size() + genre.size() * 4 +
           tag_row.size() * 4 + t.track_ids.size() * 8 + t.tags.size() * 4 + t.scores.size() * 4 +
           tags.by_filename.size() * 4;
}

TrackDetails::TrackDetails(std::filesystem::path db, int busy_timeout_ms, double check_seconds,
                           double rebuild_seconds)
    : db_(std::move(db)),
      busy_timeout_ms_(busy_timeout_ms),
      check_every_(std::max(0.0, check_seconds)),
      rebuild_every_(std::max(0.0, rebuild_seconds)),
      worker_([this] { run(); }) {}

TrackDetails::~TrackDetails() {
    stop();
}

void TrackDetails::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        queue_.clear();
    }
    changed_.notify_all();
    if (worker_.joinable()) worker_.join();
}

std::int64_t TrackDetails::builds() const {
    std::lock_guard lock(mutex_);
    return builds_;
}

std::int64_t TrackDetails::library_version() {
    const auto now = std::chrono::steady_clock::now();
    if (version_ >= 0 && !forced_ && now - checked_ < check_every_) return version_;
    if (!watch_)
        watch_ =
            std::make_unique<store::Library>(db_, store::OpenMode::read_only, busy_timeout_ms_);
    version_ = watch_->data_version();
    checked_ = now;
    forced_ = false;
    return version_;
}

void TrackDetails::invalidate() {
    {
        std::lock_guard lock(check_mutex_);
        forced_ = true;  // read the version again at the next get()
    }
    std::lock_guard lock(mutex_);
    for (auto& [model, e] : entries_) e.built = {};  // and rebuild without the delay
}

std::shared_ptr<const DetailsTable> TrackDetails::get(const std::string& model_id) {
    std::int64_t version = 0;
    {
        std::lock_guard lock(check_mutex_);
        version = library_version();
    }
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    auto& e = entries_[model_id];
    const bool current = e.table && e.table->version == version;
    if (!current && !e.queued && !stopping_ && (!e.table || now - e.built >= rebuild_every_)) {
        e.queued = true;
        queue_.push_back(model_id);
        changed_.notify_all();
    }
    return e.table;
}

std::shared_ptr<const DetailsTable> TrackDetails::wait(const std::string& model_id,
                                                       double seconds) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    for (;;) {
        if (auto t = get(model_id)) return t;
        std::unique_lock lock(mutex_);
        if (changed_.wait_until(lock, until) == std::cv_status::timeout) return nullptr;
    }
}

namespace {

DetailsTable build_table(store::Library& lib, const std::string& model_id, std::int64_t version) {
    DetailsTable t;
    t.model_id = model_id;
    t.version = version;
    std::map<std::string, int> genre_index;
    lib.for_each_track([&](const store::TrackRecord& r) {
        t.ids.push_back(r.id);
        t.chars += display_name(r);
        t.name_end.push_back(std::uint32_t(t.chars.size()));
        const auto g = genre_of(r);
        if (!g) {
            t.genre.push_back(-1);
            return;
        }
        const auto [it, added] = genre_index.try_emplace(*g, int(t.genres.size()));
        if (added) t.genres.push_back(*g);
        t.genre.push_back(it->second);
    });
    t.tags = lib.search_index(model_id, 3);
    const auto& tagged = t.tags.table.track_ids;  // both sorted by id: one merge
    t.tag_row.assign(t.ids.size(), DetailsTable::kNoTags);
    std::size_t k = 0;
    for (std::size_t i = 0; i < t.ids.size(); ++i) {
        while (k < tagged.size() && tagged[k] < t.ids[i]) ++k;
        if (k < tagged.size() && tagged[k] == t.ids[i]) t.tag_row[i] = std::uint32_t(k);
    }
    return t;
}

}  // namespace

void TrackDetails::run() {
    for (;;) {
        std::string model;
        {
            std::unique_lock lock(mutex_);
            changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (stopping_) return;
            model = queue_.front();
            queue_.pop_front();
        }
        std::shared_ptr<const DetailsTable> table;
        try {
            std::int64_t version = 0;
            {
                std::lock_guard lock(check_mutex_);
                forced_ = true;  // the version before the reads: a commit during them shows
                version = library_version();
            }
            store::Library lib(db_, store::OpenMode::read_only, busy_timeout_ms_);
            table = std::make_shared<const DetailsTable>(build_table(lib, model, version));
        } catch (const std::exception&) {
            table = nullptr;  // the routes keep reading SQLite; retried after rebuild_seconds
        }
        {
            std::lock_guard lock(mutex_);
            auto& e = entries_[model];
            if (table) {
                e.table = std::move(table);
                ++builds_;
            }
            e.queued = false;
            e.built = std::chrono::steady_clock::now();
        }
        changed_.notify_all();
    }
}

}  // namespace tagmap::server
