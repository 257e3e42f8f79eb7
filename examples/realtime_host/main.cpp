// realtime_host: an audio host simulated at 48 kHz in 64-sample blocks, tagging with
// MusiCNN-MTAT through RealtimeTagger (callback -> SPSC ring -> worker -> ring ->
// callback). Prints the callback's time (median, p99.9, worst), the latency from a
// chunk's last sample entering the callback to its taggram leaving it, and the top tags.
//
//   realtime_host --weights musicnn-mtat.{pth,tmw} [--seconds 60] [--realtime]
//
// Without --realtime the host runs as fast as the worker allows (it waits for ring
// space between callbacks instead of dropping samples); with it, it keeps real time.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include <tagmap/models/musicnn.hpp>
#include <tagmap/weights/weight_file.hpp>

#include "realtime_tagger.hpp"

int main(int argc, char** argv) {
    std::string weights;
    double seconds = 60;
    bool paced = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--weights" && i + 1 < argc)
            weights = argv[++i];
        else if (a == "--seconds" && i + 1 < argc)
            seconds = std::stod(argv[++i]);
        else if (a == "--realtime")
            paced = true;
        else {
            std::fprintf(stderr,
                         "usage: realtime_host --weights FILE [--seconds S] [--realtime]\n");
            return 2;
        }
    }
    if (weights.empty()) {
        std::fprintf(stderr, "realtime_host: --weights is required\n");
        return 2;
    }
    try {
        using Model = tagmap::models::MusicnnMtat;
        constexpr double rate = 48000;
        constexpr std::size_t block = 64;
        auto file = tagmap::weights::WeightFile::load(weights);
        Model model;
        model.bind(file);
        realtime::RealtimeTagger<Model> tagger(model, rate, block);
        realtime::TestSignal signal(rate);
        const auto blocks = static_cast<std::size_t>(seconds * rate / block);
        std::vector<double> callback_ns(blocks);
        std::vector<double> entered(blocks);  // seconds since start, per block
        std::vector<double> latency_ms;
        latency_ms.reserve(static_cast<std::size_t>(seconds / 3) + 2);
        std::uint64_t seen = 0;
        float buffer[block];
        tagger.start();
        const auto t0 = std::chrono::steady_clock::now();
        auto since = [&](auto t) { return std::chrono::duration<double>(t - t0).count(); };
        for (std::size_t b = 0; b < blocks; ++b) {
            signal.fill(buffer, block);
            if (paced)
                std::this_thread::sleep_until(t0 + std::chrono::duration<double>(b * block / rate));
            else
                while (tagger.input_space() < block) std::this_thread::yield();
            const auto a = std::chrono::steady_clock::now();
            tagger.process(buffer, block);  // the callback
            const auto z = std::chrono::steady_clock::now();
            callback_ns[b] = std::chrono::duration<double, std::nano>(z - a).count();
            entered[b] = since(a);
            if (tagger.received() > seen) {
                seen = tagger.received();
                // The chunk's last sample, at the host rate (resampler delay ignored).
                const auto last = static_cast<std::size_t>(
                    ((tagger.latest().chunk + 1) * Model::input_samples * (rate / 16000) - 1) /
                    block);
                latency_ms.push_back(1e3 * (since(z) - entered[std::min<std::size_t>(last, b)]));
            }
        }
        tagger.stop();
        std::sort(callback_ns.begin(), callback_ns.end());
        auto pct = [](const std::vector<double>& v, double p) {
            return v.empty() ? 0.0
                             : v[std::min(v.size() - 1, static_cast<std::size_t>(p * v.size()))];
        };
        std::sort(latency_ms.begin(), latency_ms.end());
        std::printf("blocks %zu (%.0f s at 48 kHz, %s), overruns %llu, taggrams %llu\n", blocks,
                    seconds, paced ? "real time" : "unpaced",
                    static_cast<unsigned long long>(tagger.overruns()),
                    static_cast<unsigned long long>(tagger.received()));
        std::printf("callback ns: median %.0f  p99.9 %.0f  worst %.0f  (block period %.0f)\n",
                    pct(callback_ns, 0.5), pct(callback_ns, 0.999), callback_ns.back(),
                    1e9 * block / rate);
        std::printf("latency ms (chunk's last sample in -> taggram out): median %.1f  worst %.1f\n",
                    pct(latency_ms, 0.5), latency_ms.empty() ? 0.0 : latency_ms.back());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "realtime_host: %s\n", e.what());
        return 1;
    }
}
