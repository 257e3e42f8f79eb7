// Streaming with the real MusiCNN (musicnn-mtat weights from TAGMAP_FIXTURES):
// real-time factor (audio seconds per CPU second) and push() latency per host block,
// median and worst case, compared with the block period the host allows.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include <tagmap/embed/streaming.hpp>
#include <tagmap/models/registry.hpp>
#include <tagmap/weights/weight_file.hpp>

namespace {

std::filesystem::path fixtures() {
    const char* env = std::getenv("TAGMAP_FIXTURES");
    return env && *env ? env : "../shared";
}

// Args: host rate, block size. 30 s of audio per iteration.
void BM_StreamingMusicnn(benchmark::State& state) {
    static const auto weights =
        tagmap::weights::WeightFile::load(fixtures() / "weights" / "musicnn-mtat.pth");
    static auto model = tagmap::models::make_model("musicnn-mtat", weights);
    const double rate = static_cast<double>(state.range(0));
    const auto block = static_cast<std::size_t>(state.range(1));
    std::vector<float> audio(static_cast<std::size_t>(30 * rate));
    for (std::size_t i = 0; i < audio.size(); ++i)
        audio[i] = 0.3f * std::sin(0.031f * static_cast<float>(i)) *
                   std::sin(0.0002f * static_cast<float>(i));
    std::vector<double> push_us;
    push_us.reserve(audio.size() / block + 1);
    std::size_t chunks = 0;
    for (auto _ : state) {
        tagmap::embed::StreamingEmbedder<tagmap::models::AnyModel> s(
            *model, [&](const tagmap::embed::ChunkResult&) { ++chunks; });
        s.prepare(rate, block);
        for (std::size_t i = 0; i + block <= audio.size(); i += block) {
            const auto t0 = std::chrono::steady_clock::now();
            s.push(audio.data() + i, block);
            push_us.push_back(
                std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0)
                    .count());
        }
    }
    std::sort(push_us.begin(), push_us.end());
    const double period_us = 1e6 * static_cast<double>(block) / rate;
    state.counters["rtf_audio_s_per_s"] =
        benchmark::Counter(30.0 * state.iterations(), benchmark::Counter::kIsRate);
    state.counters["push_median_us"] = push_us[push_us.size() / 2];
    state.counters["push_p99_us"] = push_us[push_us.size() * 99 / 100];
    state.counters["push_max_us"] = push_us.back();
    state.counters["block_period_us"] = period_us;
    state.counters["chunks"] =
        static_cast<double>(chunks) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_StreamingMusicnn)
    ->Args({44100, 512})
    ->Args({48000, 128})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(2);

}  // namespace

BENCHMARK_MAIN();
