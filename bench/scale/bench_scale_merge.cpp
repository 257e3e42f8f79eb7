// merge-db time per 10,000 tracks: shard databases of synthetic MusiCNN-sized results
// (200-d embedding, 50 tags, 10 chunks per track, as a 30 s clip gives) merged into an
// indexed library (the Slurm workflow) or into a new file. Each iteration merges into a
// fresh copy of the library, so every result is copied.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <random>

#include "library.hpp"
#include "merge.hpp"
#include "shard.hpp"

using namespace tagmap::store;
namespace fs = std::filesystem;

namespace {

constexpr int kDim = 200, kTags = 50, kChunks = 10;

ModelRecord model() {
    ModelRecord m;
    m.model_id = "musicnn-mtat";
    m.model = "musicnn";
    m.dataset = "mtat";
    m.n_tags = kTags;
    m.embedding_dim = kDim;
    m.input_samples = 48000;
    m.weights_digest = "digest";
    m.weights_file = "musicnn-mtat.tmw";
    return m;
}

struct Fixture {
    fs::path dir, library;
    std::vector<fs::path> shards;
};

/// A library of `tracks` indexed tracks and `n` complete shards holding all their results.
Fixture make(int tracks, int n) {
    Fixture f;
    f.dir = fs::temp_directory_path() /
            ("tagmap-bench-merge-" + std::to_string(tracks) + "-" + std::to_string(n));
    fs::remove_all(f.dir);
    fs::create_directories(f.dir);
    f.library = f.dir / "library.db";
    {
        auto lib = Library::create(f.library);
        lib.set_audio_root("/music");
        Transaction tx(lib.db());
        for (int i = 0; i < tracks; ++i) {
            TrackRecord t;
            t.filename =
                "artist " + std::to_string(i % 997) + "/track " + std::to_string(i) + ".mp3";
            t.size_bytes = 5'000'000 + i;
            t.mtime_ns = 1'700'000'000'000'000'000 + i;
            lib.upsert_track(t);
        }
        tx.commit();
    }
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(0, 1);
    Library source(f.library, OpenMode::read_only);
    for (int k = 0; k < n; ++k) {
        const auto file = f.dir / ("shard-" + std::to_string(k) + ".db");
        auto lib = open_shard_db(source, file, {k, n},
                                 source.pending_tracks("musicnn-mtat", "digest", false));
        lib.upsert_model(model());
        for (const auto& t : lib.tracks()) {
            TrackResult r;
            r.model_id = "musicnn-mtat";
            r.weights_digest = "digest";
            r.source_size = t.size_bytes;
            r.source_mtime_ns = t.mtime_ns;
            r.audio_seconds = 30;
            r.chunks = kChunks;
            r.chunk_hop = 48000;
            r.embedding_dim = kDim;
            r.n_tags = kTags;
            for (int i = 0; i < kDim; ++i) r.embedding.push_back(u(rng));
            for (int i = 0; i < kTags; ++i) r.taggram.push_back(u(rng));
            for (int i = 0; i < kDim * kChunks; ++i) r.chunk_embeddings.push_back(u(rng));
            for (int i = 0; i < kTags * kChunks; ++i) r.chunk_taggrams.push_back(u(rng));
            lib.store_track(t.id, {r}, {}, true);
        }
        mark_shard_complete(lib);
        f.shards.push_back(file);
    }
    return f;
}

void BM_MergeIntoIndexedLibrary(benchmark::State& state) {
    const int tracks = int(state.range(0)), n = int(state.range(1));
    const auto f = make(tracks, n);
    const auto target = f.dir / "target.db";
    for (auto _ : state) {
        state.PauseTiming();
        fs::remove(target);
        fs::remove(fs::path(target.string() + "-wal"));
        fs::remove(fs::path(target.string() + "-shm"));
        {  // a checkpointed copy of the indexed library
            Library lib(f.library, OpenMode::read_write);
            lib.db().exec("PRAGMA wal_checkpoint(TRUNCATE)");
        }
        fs::copy_file(f.library, target);
        state.ResumeTiming();
        benchmark::DoNotOptimize(merge_shards(target, f.shards));
    }
    state.counters["tracks"] = tracks;
    state.counters["s_per_10k_tracks"] =
        benchmark::Counter(double(tracks) / 10000.0, benchmark::Counter::kIsIterationInvariantRate |
                                                         benchmark::Counter::kInvert);
    fs::remove_all(f.dir);
}

void BM_MergeAgainNoChange(benchmark::State& state) {
    const int tracks = int(state.range(0)), n = int(state.range(1));
    const auto f = make(tracks, n);
    merge_shards(f.library, f.shards);
    for (auto _ : state) benchmark::DoNotOptimize(merge_shards(f.library, f.shards));
    state.counters["s_per_10k_tracks"] =
        benchmark::Counter(double(tracks) / 10000.0, benchmark::Counter::kIsIterationInvariantRate |
                                                         benchmark::Counter::kInvert);
    fs::remove_all(f.dir);
}

}  // namespace

BENCHMARK(BM_MergeIntoIndexedLibrary)
    ->Args({10000, 4})
    ->Unit(benchmark::kSecond)
    ->Iterations(3)
    ->Repetitions(3)
    ->ReportAggregatesOnly(false);
BENCHMARK(BM_MergeAgainNoChange)->Args({10000, 4})->Unit(benchmark::kSecond)->Iterations(3);
BENCHMARK_MAIN();
