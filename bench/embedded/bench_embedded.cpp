// Embedded use of MusiCNN-MTAT (docs/embedding.md):
//   BM_RealtimeCallback  the real-time host's audio callback (examples/realtime_host) at
//                        48 kHz / 64 samples, paced in real time with the worker running:
//                        median, p99.9 and worst callback time, and the latency from a
//                        chunk's last sample entering the callback to its taggram
//                        leaving it (counters; ns and ms).
//   BM_Forward<Static>   one 3 s chunk, static-memory model (fixed-size FFT) vs the
//                        desktop one (FFTW).
// Needs TAGMAP_FIXTURES (or ../shared) with weights/musicnn-mtat.pth.
//   bench_embedded --benchmark_repetitions=3
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include <tagmap/models/musicnn.hpp>
#include <tagmap/weights/weight_file.hpp>

#include "realtime_tagger.hpp"

namespace {

std::filesystem::path weights_path() {
    const char* env = std::getenv("TAGMAP_FIXTURES");
    const std::filesystem::path root = env && *env ? env : "../shared";
    return root / "weights" / "musicnn-mtat.pth";
}

const tagmap::weights::WeightFile* weights() {
    static std::unique_ptr<tagmap::weights::WeightFile> w = [] {
        std::unique_ptr<tagmap::weights::WeightFile> p;
        if (std::filesystem::exists(weights_path()))
            p = std::make_unique<tagmap::weights::WeightFile>(
                tagmap::weights::WeightFile::load(weights_path()));
        return p;
    }();
    return w.get();
}

double at(std::vector<double>& v, double p) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[std::min(v.size() - 1, static_cast<std::size_t>(p * v.size()))];
}

void BM_RealtimeCallback(benchmark::State& state) {
    if (!weights()) return state.SkipWithError("no musicnn-mtat.pth under TAGMAP_FIXTURES");
    using Model = tagmap::models::MusicnnMtat;
    constexpr double rate = 48000;
    constexpr std::size_t block = 64;
    const double seconds = static_cast<double>(state.range(0));
    Model model;
    model.bind(*weights());
    const auto blocks = static_cast<std::size_t>(seconds * rate / block);
    std::vector<double> callback_ns(blocks), entered(blocks), latency_ms;
    for (auto _ : state) {
        realtime::RealtimeTagger<Model> tagger(model, rate, block);
        realtime::TestSignal signal(rate);
        float buffer[block];
        latency_ms.clear();
        std::uint64_t seen = 0;
        tagger.start();
        const auto t0 = std::chrono::steady_clock::now();
        for (std::size_t b = 0; b < blocks; ++b) {
            signal.fill(buffer, block);
            std::this_thread::sleep_until(t0 + std::chrono::duration<double>(b * block / rate));
            const auto a = std::chrono::steady_clock::now();
            tagger.process(buffer, block);
            const auto z = std::chrono::steady_clock::now();
            callback_ns[b] = std::chrono::duration<double, std::nano>(z - a).count();
            entered[b] = std::chrono::duration<double>(a - t0).count();
            if (tagger.received() > seen) {
                seen = tagger.received();
                const auto last = static_cast<std::size_t>(
                    ((tagger.latest().chunk + 1) * Model::input_samples * 3.0 - 1) / block);
                latency_ms.push_back(1e3 * (std::chrono::duration<double>(z - t0).count() -
                                            entered[std::min(last, b)]));
            }
        }
        tagger.stop();
        state.counters["overruns"] = static_cast<double>(tagger.overruns());
        state.counters["taggrams"] = static_cast<double>(tagger.received());
    }
    state.counters["cb_median_ns"] = at(callback_ns, 0.5);
    state.counters["cb_p999_ns"] = at(callback_ns, 0.999);
    state.counters["cb_worst_ns"] =
        callback_ns.empty() ? 0 : *std::max_element(callback_ns.begin(), callback_ns.end());
    state.counters["latency_median_ms"] = at(latency_ms, 0.5);
    state.counters["latency_worst_ms"] = latency_ms.empty() ? 0 : latency_ms.back();
}
BENCHMARK(BM_RealtimeCallback)->Arg(30)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

template <bool Static>
void BM_Forward(benchmark::State& state) {
    if (!weights()) return state.SkipWithError("no musicnn-mtat.pth under TAGMAP_FIXTURES");
    using Model =
        tagmap::models::TaggingModel<tagmap::models::MusicnnArch<204, 51, 64, 200>, Static>;
    std::unique_ptr<typename Model::Storage> storage;
    std::unique_ptr<Model> model;
    if constexpr (Static) {
        storage = std::make_unique<typename Model::Storage>();
        model = std::make_unique<Model>(*storage);
    } else {
        model = std::make_unique<Model>();
    }
    model->bind(*weights());
    std::vector<float> chunk(Model::input_samples);
    realtime::TestSignal(16000).fill(chunk.data(), chunk.size());
    float tags[Model::n_tags], emb[Model::embedding_dim];
    for (auto _ : state) {
        model->forward(chunk, tags, emb);
        benchmark::DoNotOptimize(tags);
    }
}
BENCHMARK(BM_Forward<true>)->Name("BM_Forward/static_fixed_fft")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Forward<false>)->Name("BM_Forward/desktop_fftw")->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
