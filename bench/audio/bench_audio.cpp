// Decode and resample throughput on the shared clips (seconds of audio per second).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <tagmap/audio/read_resampled.hpp>
#include <tagmap/audio/resample.hpp>

namespace {

std::filesystem::path clip(const char* name) {
    const char* env = std::getenv("TAGMAP_FIXTURES");
    return std::filesystem::path(env && *env ? env : "../shared") / "audio" / name;
}

// Decode + down-mix + resample to 16 kHz, streamed, per codec.
void BM_ReadResampled(benchmark::State& state, const char* name) {
    double seconds = 0;
    for (auto _ : state) {
        std::size_t n = 0;
        const auto r = tagmap::audio::read_resampled(
            clip(name), [&](std::span<const float> s) { n += s.size(); });
        benchmark::DoNotOptimize(n);
        seconds += r.seconds();
    }
    state.counters["audio_s_per_s"] = benchmark::Counter(seconds, benchmark::Counter::kIsRate);
}
BENCHMARK_CAPTURE(BM_ReadResampled, wav_pcm16_44k, "wesnoth-knalgan-theme.wav")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ReadResampled, flac24_44k, "wesnoth-elvish-theme.flac")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ReadResampled, vorbis_44k, "wesnoth-battle-epic.ogg")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ReadResampled, opus_48k, "warzone-track4.opus")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ReadResampled, mp3_44k, "hedgewars-rock.mp3")->Unit(benchmark::kMillisecond);

// Resampling alone: 10 s of a tone, streamed in 4096-sample blocks.
void BM_Resample(benchmark::State& state) {
    const double rate = static_cast<double>(state.range(0));
    std::vector<float> in(static_cast<std::size_t>(10 * rate));
    for (std::size_t i = 0; i < in.size(); ++i)
        in[i] = 0.5f * std::sin(0.01f * static_cast<float>(i));
    for (auto _ : state) {
        tagmap::audio::Resampler r(rate);
        std::size_t n = 0;
        auto sink = [&](std::span<const float> s) { n += s.size(); };
        for (std::size_t i = 0; i < in.size(); i += 4096)
            r.process(
                std::span<const float>(in).subspan(i, std::min<std::size_t>(4096, in.size() - i)),
                sink);
        r.flush(sink);
        benchmark::DoNotOptimize(n);
    }
    state.counters["audio_s_per_s"] =
        benchmark::Counter(10.0 * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Resample)->Arg(22050)->Arg(44100)->Arg(48000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
