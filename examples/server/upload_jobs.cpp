#include "upload_jobs.hpp"

#include <tagmap/weights/weight_file.hpp>

#include "digest.hpp"
#include "indexer.hpp"
#include "library.hpp"
#include "preprocess.hpp"
#include "projection_cache.hpp"
#include "track_probe.hpp"

namespace tagmap::server {

UploadJobs::UploadJobs(std::filesystem::path db, int busy_timeout_ms, std::function<void()> on_done)
    : db_(std::move(db)), busy_timeout_ms_(busy_timeout_ms), on_done_(std::move(on_done)) {
    worker_ = std::thread([this] { run(); });
}

UploadJobs::~UploadJobs() {
    stop();
}

void UploadJobs::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (worker_.joinable()) worker_.join();
}

std::string UploadJobs::submit(const std::string& relative) {
    std::lock_guard lock(mutex_);
    UploadStatus s;
    s.id = std::to_string(next_id_++);
    s.filename = relative;
    jobs_[s.id] = s;
    queue_.push_back(s.id);
    wake_.notify_one();
    return s.id;
}

std::optional<UploadStatus> UploadJobs::status(const std::string& id) const {
    std::lock_guard lock(mutex_);
    const auto it = jobs_.find(id);
    if (it == jobs_.end()) return std::nullopt;
    return it->second;
}

void UploadJobs::update(const std::string& id, const std::function<void(UploadStatus&)>& change) {
    std::lock_guard lock(mutex_);
    change(jobs_.at(id));
}

void UploadJobs::run() {
    for (;;) {
        std::string id;
        UploadStatus job;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (stopping_) return;
            id = queue_.front();
            queue_.pop_front();
            jobs_.at(id).state = "running";
            job = jobs_.at(id);
        }
        try {
            process(job);
            update(id, [&](UploadStatus& s) {
                s.state = "done";
                s.stage.clear();
                s.progress = 1;
                s.track_id = job.track_id;
            });
        } catch (const std::exception& e) {
            // Messages of the store name files by their library-relative path only.
            const std::string why = e.what();
            update(id, [&](UploadStatus& s) {
                s.state = "failed";
                s.error = why;
            });
        }
        if (on_done_) on_done_();
    }
}

void UploadJobs::process(UploadStatus& job) {
    store::Library lib(db_, store::OpenMode::read_write, busy_timeout_ms_);
    const auto root = lib.audio_root();
    if (!root) throw Error("the library has no audio folder");
    const auto path = *root / job.filename;

    update(job.id, [](UploadStatus& s) {
        s.stage = "indexing";
        s.progress = 0.05;
    });
    auto track = store::probe_track(path, job.filename);
    if (track.probe_error) throw Error(store::scrub_path(*track.probe_error, path, job.filename));
    {
        store::Transaction tx(lib.db());
        job.track_id = lib.upsert_track(track);
        tx.commit();
    }

    update(job.id, [](UploadStatus& s) {
        s.stage = "embedding";
        s.progress = 0.15;
    });
    std::vector<std::unique_ptr<weights::WeightFile>> weights;
    std::vector<store::ModelSpec> specs;
    // Maps a model's recorded weights file (skipped when gone). A changed file is used as
    // it is, like preprocess-all would; returns true when its digest must be recorded.
    auto add_model = [&](const std::string& id, const std::string& file,
                         std::string& recorded_digest) {
        std::error_code ec;
        if (!std::filesystem::is_regular_file(file, ec)) return false;
        weights.push_back(std::make_unique<weights::WeightFile>(weights::WeightFile::load(file)));
        const auto digest = store::sha256_file(file);
        specs.push_back({id, weights.back().get(), digest});
        if (digest == recorded_digest) return false;
        recorded_digest = digest;
        return true;
    };
    // Every model of the library, and its sequence models (CREPE pitch, madmom beats), so
    // the player draws their curves for the new track too.
    for (auto m : lib.models())
        if (add_model(m.model_id, m.weights_file, m.weights_digest)) lib.upsert_model(m);
    for (auto m : lib.series_models())
        if (add_model(m.model_id, m.weights_file, m.weights_digest)) lib.upsert_series_model(m);
    if (specs.empty()) throw Error("no model weights of this library are available to the server");
    store::PreprocessOptions options;
    options.jobs = 1;
    options.retry_failed = true;
    options.only_tracks = {*job.track_id};
    std::string failure;
    options.on_track = [&](const std::string&, std::uintmax_t, double, const std::string& status,
                           const std::vector<std::string>& problems) {
        if (status != "ok" && !problems.empty()) failure = problems.front();
    };
    store::preprocess(lib, *root, specs, options);
    if (!failure.empty()) throw Error(failure);

    // Place it on every cached map; the other points stay where they are.
    const auto keys = lib.projection_keys();
    std::size_t done = 0;
    for (const auto& key : keys) {
        update(job.id, [&](UploadStatus& s) {
            s.stage = "placing";
            s.progress = 0.6 + 0.4 * double(done) / double(keys.size());
        });
        store::update_map(lib, store::map_spec(key), /*place_new=*/true, /*refit=*/false, 1);
        ++done;
    }
}

}  // namespace tagmap::server
