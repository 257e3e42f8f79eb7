// Built with -fno-exceptions -fno-rtti (no GoogleTest): the streaming embedder over the
// static-memory MusiCNN-MTAT with compiled weights. Checks that errors come back as
// values and that 7 s of a 44.1 kHz signal give two plausible taggrams; exit status 0
// on success, 1 + a message otherwise.
#include <cmath>
#include <cstdio>

#include "musicnn_mtat_weights.hpp"
#include "tagmap/embed/streaming.hpp"
#include "tagmap/models/musicnn.hpp"

#if defined(__cpp_exceptions) || defined(__GXX_RTTI)
#error "built with -fno-exceptions -fno-rtti"
#endif

namespace {
using Model = tagmap::models::StaticMusicnnMtat;
Model::Storage storage;
Model model(storage);

int fail(const char* why) {
    std::fprintf(stderr, "noexcept_streaming: %s\n", why);
    return 1;
}
}  // namespace

int main() {
    if (!model.try_bind(musicnn_mtat_weights::weights).ok()) return fail("bind failed");
    int chunks = 0;
    bool plausible = true;
    tagmap::embed::StreamingEmbedder<Model> stream(model, [&](const tagmap::embed::ChunkResult& r) {
        for (float v : r.taggram) plausible &= v > 0.0f && v < 1.0f;
        ++chunks;
    });
    const tagmap::Status bad = stream.try_prepare(44100.5, 64);
    if (bad.code() != tagmap::Errc::invalid_argument) return fail("fractional rate accepted");
    if (stream.try_prepare(44100, 0).ok()) return fail("max_block 0 accepted");
    if (!stream.try_prepare(44100, 64).ok()) return fail("try_prepare(44100, 64) failed");
    static float block[64];
    for (int b = 0; b < 44100 * 7 / 64; ++b) {
        for (int k = 0; k < 64; ++k)
            block[k] = 0.2f * std::sin(0.03f * static_cast<float>(b * 64 + k));
        stream.push(block, 64);
    }
    if (chunks != 2) return fail("expected 2 chunks from 7 s");
    if (!plausible) return fail("taggram values outside (0, 1)");
    std::puts("noexcept_streaming: ok");
    return 0;
}
