// Streaming: same chunks as the file pipeline, and zero allocations in push() after
// prepare(), counted by wrapping malloc/calloc/realloc.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <random>
#include <vector>

#include <tagmap/audio/resample.hpp>
#include <tagmap/embed/pipeline.hpp>
#include <tagmap/embed/streaming.hpp>
#include "fake_model.hpp"
#include "fixtures.hpp"

// Every heap allocation, from C++ (libstdc++'s operator new calls malloc) or from C
// libraries such as libsoxr, goes through malloc/calloc/realloc: wrap those.
// Sanitizer runtimes own malloc themselves: there the counting is compiled out and the
// zero-allocation test is skipped (it runs in the normal build).
#if defined(__SANITIZE_ADDRESS__)
#define TAGMAP_COUNT_MALLOC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TAGMAP_COUNT_MALLOC 0
#endif
#endif
#ifndef TAGMAP_COUNT_MALLOC
#define TAGMAP_COUNT_MALLOC 1
#endif

namespace {
std::atomic<bool> g_count_malloc{false};
std::atomic<long> g_mallocs{0};
}  // namespace

#if TAGMAP_COUNT_MALLOC
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
}
extern "C" void* malloc(std::size_t n) {
    if (g_count_malloc.load(std::memory_order_relaxed)) g_mallocs.fetch_add(1);
    return __libc_malloc(n);
}
extern "C" void* calloc(std::size_t a, std::size_t b) {
    if (g_count_malloc.load(std::memory_order_relaxed)) g_mallocs.fetch_add(1);
    return __libc_calloc(a, b);
}
extern "C" void* realloc(void* p, std::size_t n) {
    if (g_count_malloc.load(std::memory_order_relaxed)) g_mallocs.fetch_add(1);
    return __libc_realloc(p, n);
}

#endif

namespace te = tagmap::embed;
namespace ta = tagmap::audio;

TEST(Streaming, ChunksEqualTheFilePipelineOnResampledAudio) {
    const auto mono =
        ta::decode_mono(tagmap::test::fixtures_dir() / "audio" / "hedgewars-pirate.wav");
    ASSERT_EQ(mono.sample_rate, 48000);
    const std::size_t window = 16000;
    tagmap::test::EchoModel model(window);
    std::vector<float> received;
    std::vector<std::size_t> indices;
    te::StreamingEmbedder<tagmap::test::EchoModel> s(model, [&](const te::ChunkResult& r) {
        indices.push_back(r.index);
        received.insert(received.end(), r.embedding.begin(), r.embedding.end());
    });
    s.prepare(48000, 512);
    // Host blocks of varying size, some above max_block.
    std::size_t pos = 0, step = 0;
    const std::size_t sizes[] = {512, 100, 1, 480, 2000, 333};
    while (pos < mono.samples.size()) {
        const std::size_t n = std::min(sizes[step++ % 6], mono.samples.size() - pos);
        s.push(mono.samples.data() + pos, n);
        pos += n;
    }
    EXPECT_EQ(s.chunks_emitted(), indices.size());
    // Streaming emits windows as soon as they are complete (no end-of-stream flush):
    // compare with the first windows of the whole-signal one-shot resampling.
    const auto at16k = ta::resample_oneshot(mono.samples, mono.sample_rate);
    ASSERT_GE(indices.size(), at16k.size() / window - 1);
    ASSERT_GT(indices.size(), 5u);
    float max_diff = 0;
    for (std::size_t k = 0; k < indices.size(); ++k) {
        EXPECT_EQ(indices[k], k);
        for (std::size_t i = 0; i < window; ++i)
            max_diff =
                std::max(max_diff, std::fabs(received[k * window + i] - at16k[k * window + i]));
    }
    // Priming the resampler (Resampler::prime) leaves only float-rounding differences.
    EXPECT_LT(max_diff, 1e-5f);
    RecordProperty("max_abs_diff", std::to_string(max_diff));
}

TEST(Streaming, PushAllocatesNothingAfterPrepare) {
    if (!TAGMAP_COUNT_MALLOC) GTEST_SKIP() << "malloc is owned by the sanitizer runtime";
    std::mt19937 rng(7);
    for (double rate : {16000.0, 22050.0, 44100.0, 48000.0, 96000.0}) {
        SCOPED_TRACE(rate);
        tagmap::test::FakeModel model(4000);
        std::size_t chunks = 0;
        te::StreamingEmbedder<tagmap::test::FakeModel> s(model,
                                                         [&](const te::ChunkResult&) { ++chunks; });
        s.prepare(rate, 512);
        std::vector<float> block(512);
        // 30 s of a tone in host blocks of random size 1..512.
        const auto total = static_cast<std::size_t>(30 * rate);
        std::size_t pos = 0;
        g_mallocs = 0;
        g_count_malloc = true;
        while (pos < total) {
            const std::size_t n = std::min<std::size_t>(1 + rng() % 512, total - pos);
            for (std::size_t i = 0; i < n; ++i) block[i] = 0.3f * std::sin(0.05f * (pos + i));
            s.push(block.data(), n);
            pos += n;
        }
        g_count_malloc = false;
        EXPECT_EQ(g_mallocs.load(), 0);
        EXPECT_GE(chunks, static_cast<std::size_t>(30 * 16000 / 4000) - 2);
    }
}

TEST(Streaming, MisuseIsReported) {
    tagmap::test::FakeModel model(100);
    te::StreamingEmbedder<tagmap::test::FakeModel> s(model, [](const te::ChunkResult&) {});
    float x[4] = {};
    EXPECT_THROW(s.push(x, 4), tagmap::InvalidArgument);
    EXPECT_THROW(s.prepare(44100, 0), tagmap::InvalidArgument);
    EXPECT_THROW(s.prepare(5, 64), tagmap::AudioError);
    EXPECT_THROW(te::StreamingEmbedder<tagmap::test::FakeModel>(model, {}),
                 tagmap::InvalidArgument);
}
