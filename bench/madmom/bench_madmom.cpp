// madmom-beats throughput: seconds of 44.1 kHz audio per second of wall time, for the
// whole model (front end + 8 BLSTM networks + mean) and for its stages, on the shared
// crepe/test.wav (10 s) with the real networks converted in memory from
// ../shared/madmom/models (the whole model also with a file scratch store). Run:
// bench_madmom [--benchmark_filter=...]; set TAGMAP_FIXTURES if the shared data is not at
// ../shared. Single-threaded.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tagmap/audio/decode.hpp"
#include "tagmap/models/madmom_beats.hpp"
#include "tagmap/weights/madmom_reader.hpp"
#include "tagmap/weights/tmw_writer.hpp"

namespace {

using namespace tagmap;

std::filesystem::path shared_dir() {
    if (const char* env = std::getenv("TAGMAP_FIXTURES"); env && *env) return env;
    return "../shared";
}

std::unique_ptr<models::MadmomBeats> bound_model() {
    std::vector<std::filesystem::path> files;
    for (int i = 1; i <= 8; ++i)
        files.push_back(shared_dir() / "madmom/models" /
                        ("beats_blstm_" + std::to_string(i) + ".pkl"));
    auto m = std::make_unique<models::MadmomBeats>();
    m->bind(
        weights::WeightFile::from_bytes(weights::encode_tmw(weights::read_madmom_ensemble(files))));
    return m;
}

const std::vector<float>& clip() {
    static const std::vector<float> samples =
        audio::decode_mono(shared_dir() / "crepe/test.wav").samples;
    return samples;
}

void report(benchmark::State& state, std::size_t samples) {
    const double seconds = double(samples) / models::MadmomBeats::sample_rate;
    state.counters["audio_s_per_s"] =
        benchmark::Counter(seconds * double(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_MadmomBeats_Run(benchmark::State& state) {
    auto model = bound_model();
    const auto& x = clip();
    for (auto _ : state) benchmark::DoNotOptimize(model->run(x));
    report(state, x.size());
}
BENCHMARK(BM_MadmomBeats_Run)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same with the per-frame data in a temporary file (what `tagmap embed` does).
void BM_MadmomBeats_RunFileScratch(benchmark::State& state) {
    auto model = bound_model();
    model->set_scratch(std::make_unique<FileScratch>(std::tmpfile()));
    const auto& x = clip();
    for (auto _ : state) benchmark::DoNotOptimize(model->run(x));
    report(state, x.size());
}
BENCHMARK(BM_MadmomBeats_RunFileScratch)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_MadmomBeats_Features(benchmark::State& state) {
    audio::MadmomBeatFeatures fe;
    const auto pcm = audio::MadmomBeatFeatures::to_int16(clip());
    for (auto _ : state) benchmark::DoNotOptimize(fe.compute(pcm));
    report(state, pcm.size());
}
BENCHMARK(BM_MadmomBeats_Features)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_MadmomBeats_Networks(benchmark::State& state) {
    auto model = bound_model();
    audio::MadmomBeatFeatures fe;
    const auto pcm = audio::MadmomBeatFeatures::to_int16(clip());
    const auto features = fe.compute(pcm);
    const std::size_t T = audio::MadmomBeatFeatures::frames(pcm.size());
    for (auto _ : state) benchmark::DoNotOptimize(model->run_features(features, T));
    report(state, pcm.size());
    state.counters["GFLOP/s"] = benchmark::Counter(
        8.0 * models::MadmomBeatsNet::flops(T) * double(state.iterations()) * 1e-9,
        benchmark::Counter::kIsRate);
}
BENCHMARK(BM_MadmomBeats_Networks)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
