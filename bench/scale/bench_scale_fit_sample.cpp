// UMAP for a million tracks: fit on a seeded sample of M points, place the rest with
// transform() in parallel batches (fit_sample_umap, what `tagmap project --fit-sample M`
// runs), against a full fit. Synthetic data that mimics track embeddings: 200-d float32,
// a Zipf-weighted mixture of 64 components on a 16-d latent manifold through a random
// ReLU layer, plus noise. Counters: seconds of the map, peak RSS of the process (run one
// benchmark per process for it to mean that run: run_fit_sample.sh), kNN preservation
// (k = 15, 2,000 sampled points) and neighbour accuracy (10-NN vote of the mixture
// component in the map, 2,000 held-out points) -- the same two in the 200-d input as a
// ceiling.
//
// `bench_scale_fit_sample --write-library FILE N` instead writes a library of N tracks
// with these vectors as their MusiCNN embeddings (place_throughput.sh maps it with
// tagmap project --fit-sample as 1, 2 and 4 placement shards).
#include <benchmark/benchmark.h>

#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>

#include <tagmap/project/metrics.hpp>

#include "library.hpp"
#include "projection_cache.hpp"

using namespace tagmap;
using store::RowMatrixF;

namespace {

struct Data {
    RowMatrixF X;
    std::vector<int> labels;
};

Data synthetic(Eigen::Index n, std::uint64_t seed = 7) {
    constexpr int kDim = 200, kLatent = 16, kComponents = 64;
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0, 1);
    Eigen::MatrixXf W(kDim, kLatent), centres(kComponents, kLatent);
    Eigen::VectorXf bias(kDim);
    for (Eigen::Index i = 0; i < W.size(); ++i)
        W.data()[i] = normal(rng) / std::sqrt(float(kLatent));
    for (Eigen::Index i = 0; i < centres.size(); ++i) centres.data()[i] = 2.5f * normal(rng);
    for (Eigen::Index i = 0; i < kDim; ++i) bias[i] = 0.3f * normal(rng);
    std::vector<double> weights(kComponents), scale(kComponents);
    std::uniform_real_distribution<double> u(0.4, 1.2);
    for (int c = 0; c < kComponents; ++c) {
        weights[std::size_t(c)] = 1.0 / (c + 1);  // Zipf: a few big genres, a long tail
        scale[std::size_t(c)] = u(rng);
    }
    std::discrete_distribution<int> pick(weights.begin(), weights.end());
    Data d{RowMatrixF(n, kDim), std::vector<int>(std::size_t(n))};
    Eigen::VectorXf z(kLatent);
    for (Eigen::Index i = 0; i < n; ++i) {
        const int c = pick(rng);
        d.labels[std::size_t(i)] = c;
        for (int j = 0; j < kLatent; ++j)
            z[j] = centres(c, j) + float(scale[std::size_t(c)]) * normal(rng);
        const Eigen::VectorXf h = (W * z + bias).cwiseMax(0.0f);
        for (int j = 0; j < kDim; ++j) d.X(i, j) = h[j] + 0.05f * normal(rng);
    }
    return d;
}

double peak_rss_mb() {
    rusage r{};
    getrusage(RUSAGE_SELF, &r);
    return double(r.ru_maxrss) / 1024.0;
}

/// kNN preservation and held-out 10-NN accuracy of the component labels in Y.
void quality(benchmark::State& state, const Data& d, const RowMatrixF& Y) {
    const int probes = 2000;
    state.counters["knn_preservation"] = project::knn_preservation(d.X, Y, 15, 0, probes, 11);
    // Held out: every n/probes-th point, voted by the other points' labels.
    std::vector<Eigen::Index> test, train;
    const Eigen::Index step = std::max<Eigen::Index>(1, d.X.rows() / probes);
    for (Eigen::Index i = 0; i < d.X.rows(); ++i) (i % step == 0 ? test : train).push_back(i);
    auto rows = [](const RowMatrixF& M, const std::vector<Eigen::Index>& r) {
        RowMatrixF out(Eigen::Index(r.size()), M.cols());
        for (std::size_t i = 0; i < r.size(); ++i) out.row(Eigen::Index(i)) = M.row(r[i]);
        return out;
    };
    auto labels = [&](const std::vector<Eigen::Index>& r) {
        std::vector<int> out;
        for (auto i : r) out.push_back(d.labels[std::size_t(i)]);
        return out;
    };
    const auto train_labels = labels(train), test_labels = labels(test);
    state.counters["neighbour_accuracy"] =
        project::knn_accuracy(rows(Y, train), train_labels, rows(Y, test), test_labels, 10, 0);
    if (state.range(2))  // the input-space ceiling (brute force in 200-d: slow at 1M)
        state.counters["input_neighbour_accuracy"] = project::knn_accuracy(
            rows(d.X, train), train_labels, rows(d.X, test), test_labels, 10, 0);
}

/// Args: points N, sample M (0 = full fit), input-space ceiling (0/1).
void BM_FitSample(benchmark::State& state) {
    const Eigen::Index n = state.range(0), m = state.range(1);
    const Data d = synthetic(n);
    std::vector<std::int64_t> ids(static_cast<std::size_t>(n));
    for (Eigen::Index i = 0; i < n; ++i) ids[std::size_t(i)] = i + 1;
    project::UmapOptions o;
    o.seed = 42;
    RowMatrixF Y;
    double seconds = 0;
    for (auto _ : state) {
        const auto start = std::chrono::steady_clock::now();
        if (m > 0) {
            Y = store::fit_sample_umap(d.X, store::fit_sample_rows(ids, m, o.seed), o);
        } else {
            Y = project::umap(d.X, o).cast<float>();
        }
        seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        state.SetIterationTime(seconds);
    }
    state.counters["map_seconds"] = seconds;
    state.counters["peak_rss_MB"] = peak_rss_mb();
    state.counters["input_MB"] = double(d.X.size()) * 4 / 1e6;
    quality(state, d, Y);
}

/// A library of n tracks whose MusiCNN embeddings are the synthetic points (one chunk each,
/// 2 tags), for the tagmap CLI.
void write_library(const std::string& file, Eigen::Index n) {
    const Data d = synthetic(n);
    auto lib = store::Library::create(file);
    lib.set_audio_root("/music");
    store::ModelRecord m;
    m.model_id = "musicnn-mtat";
    m.model = "musicnn";
    m.dataset = "mtat";
    m.n_tags = 2;
    m.embedding_dim = int(d.X.cols());
    m.input_samples = 48000;
    m.weights_digest = "synthetic";
    m.weights_file = "synthetic.tmw";
    m.tag_names = {"a", "b"};
    lib.upsert_model(m);
    {
        store::Transaction tx(lib.db());
        for (Eigen::Index i = 0; i < n; ++i) {
            store::TrackRecord t;
            t.filename = "component " + std::to_string(d.labels[std::size_t(i)]) + "/track " +
                         std::to_string(i) + ".mp3";
            t.size_bytes = 1000 + i;
            t.mtime_ns = 1'700'000'000'000'000'000 + i;
            lib.upsert_track(t);
        }
        tx.commit();
    }
    Eigen::Index i = 0;
    for (const auto& t : lib.tracks()) {
        store::TrackResult r;
        r.model_id = m.model_id;
        r.weights_digest = m.weights_digest;
        r.source_size = t.size_bytes;
        r.source_mtime_ns = t.mtime_ns;
        r.audio_seconds = 3;
        r.chunks = 1;
        r.chunk_hop = 48000;
        r.embedding_dim = m.embedding_dim;
        r.n_tags = 2;
        const auto row = d.X.row(i++);
        r.embedding.assign(row.data(), row.data() + row.size());
        r.chunk_embeddings = r.embedding;
        r.taggram = {0.5f, 0.25f};
        r.chunk_taggrams = r.taggram;
        lib.store_track(t.id, {r}, {}, true);
    }
}

}  // namespace

BENCHMARK(BM_FitSample)
    ->ArgNames({"points", "sample", "ceiling"})
    ->Args({100000, 0, 1})  // full fit: the quality reference
    ->Args({100000, 10000, 0})
    ->Args({100000, 25000, 0})
    ->Args({300000, 25000, 0})
    ->Args({1000000, 25000, 0})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kSecond);
int main(int argc, char** argv) {
    if (argc == 4 && std::strcmp(argv[1], "--write-library") == 0) {
        write_library(argv[2], Eigen::Index(std::stoll(argv[3])));
        return 0;
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
