// Log-mel front end throughput: one MusiCNN chunk (3 s, 96 bands) and one VGG chunk
// (59049 samples, 128 bands) at 16 kHz. Compare with bench/frontend/peer_torchaudio.py.
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <vector>

#include "tagmap/audio/log_mel.hpp"
#include "tagmap/audio/mel_filterbank.hpp"

namespace {

using tagmap::audio::LogMelSpectrogram;

void BM_LogMel(benchmark::State& state) {
    const int n_samples = static_cast<int>(state.range(0));
    const int n_mels = static_cast<int>(state.range(1));
    std::mt19937 rng(1);
    std::normal_distribution<float> noise(0.0f, 0.1f);
    std::vector<float> x(static_cast<std::size_t>(n_samples));
    for (auto& v : x) v = noise(rng);
    const auto window = tagmap::audio::periodic_hann_window(512);
    const auto fb = tagmap::audio::htk_mel_filterbank(257, 0.0, 8000.0, n_mels, 16000);
    LogMelSpectrogram spec(512, 256, window, fb, n_mels, n_samples);
    std::vector<float> out(static_cast<std::size_t>(n_mels) *
                           LogMelSpectrogram::frames_for(n_samples, 256));
    for (auto _ : state) {
        spec.compute(x, out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations() * n_samples);  // samples/s
}

BENCHMARK(BM_LogMel)->Args({48000, 96})->Args({59049, 128})->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
