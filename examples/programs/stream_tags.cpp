// The streaming embedder as a plugin uses it: audio arrives in small blocks at the host's
// rate, StreamingEmbedder resamples and windows it and hands back a taggram every 3 s.
// The same file through the offline pipeline gives the same taggrams (to float rounding,
// after the first few samples), which the program checks at the end.
//   stream_tags WEIGHTS(.tmw|.pth) AUDIO [BLOCK=512]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <tagmap/audio/decode.hpp>
#include <tagmap/embed/pipeline.hpp>
#include <tagmap/embed/streaming.hpp>
#include <tagmap/models/musicnn.hpp>

int main(int argc, char** argv) try {
    if (argc < 3) {
        std::fprintf(stderr, "usage: stream_tags WEIGHTS AUDIO [BLOCK]\n");
        return 2;
    }
    const std::size_t block = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 512;
    tagmap::models::MusicnnMtat model;
    model.bind(tagmap::weights::WeightFile::load(argv[1]));

    // The host side: a file reader stands in for the audio callback (mono, its own rate).
    tagmap::audio::AudioFileReader host(argv[2]);
    const int rate = host.info().sample_rate;

    // Off the audio thread: set up for this rate and block size (allocates, primes libsoxr).
    std::vector<float> streamed;  // taggrams, chunk after chunk
    tagmap::embed::StreamingEmbedder<tagmap::models::MusicnnMtat> stream(
        model, [&](const tagmap::embed::ChunkResult& r) {
            // Called inside push(); a plugin would copy into a lock-free ring here.
            streamed.insert(streamed.end(), r.taggram.begin(), r.taggram.end());
            const auto top = std::max_element(r.taggram.begin(), r.taggram.end());
            std::printf("chunk %zu: top tag %td (%.3f)\n", r.index, top - r.taggram.begin(), *top);
        });
    stream.prepare(rate, block);

    // On the audio (or analysis) thread: one push per host block; no allocation from here on.
    std::vector<float> buffer(block);
    while (const std::size_t n = host.read_mono(buffer)) stream.push(buffer.data(), n);

    // The offline pipeline on the whole file. The stream never flushes a partial window at
    // the end, so it may hold one chunk fewer; the chunks both have must agree. The resampler
    // starts primed in the stream and cold offline, which changes the first few 16 kHz
    // samples (up to ~2e-3 at 44.1 kHz, none at 48 kHz), so chunk 0 is held to less.
    const auto offline = tagmap::embed::embed_file_per_chunk(argv[2], model);
    const std::size_t chunks = streamed.size() / model.n_tags;
    float first = 0.0f, later = 0.0f;
    for (std::size_t i = 0; i < std::min(streamed.size(), offline.taggrams.size()); ++i) {
        float& worst = i < model.n_tags ? first : later;
        worst = std::max(worst, std::fabs(streamed[i] - offline.taggrams[i]));
    }
    std::printf(
        "%d Hz in blocks of %zu: %zu chunks streamed, %zu offline, max |diff| chunk 0 "
        "%.1e, later chunks %.1e\n",
        rate, block, chunks, offline.chunks, first, later);
    const bool same = chunks > 0 && chunks + 1 >= offline.chunks && first < 1e-3f && later < 1e-5f;
    return same ? 0 : 1;
} catch (const std::exception& e) {
    std::fprintf(stderr, "stream_tags: %s\n", e.what());
    return 1;
}
