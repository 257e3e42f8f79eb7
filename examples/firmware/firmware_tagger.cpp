// firmware_tagger: MusiCNN-MTAT as a firmware-like program. One translation unit built
// with -fno-exceptions -fno-rtti; the weights are compiled in (a header generated at
// build time by tagmap-convert --emit-header); every byte of memory is static; no file
// is opened. Reads raw little-endian float32 16 kHz mono samples from stdin and prints
// one line per 3 s chunk: the 50 taggram values, separated by spaces. The chunking is
// tagmap's (embed/chunker.hpp): consecutive chunks, a trailing partial one dropped, a
// stream shorter than one chunk zero-padded to one. Output equals
// `tagmap embed --per-chunk` on the same samples (to 1e-6).
//
//   firmware_tagger [--stats] < samples.f32 > taggrams.txt
//
// --stats prints to stderr the static memory, the start-up time and the number of heap
// allocations made by this program's code (operator new and malloc are wrapped), which
// tests/embedded checks is zero. Exit status: 0, 1 weights do not bind (message on
// stderr), 2 bad arguments or I/O error.
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "musicnn_mtat_weights.hpp"  // generated into the build tree, never committed
#include "tagmap/models/musicnn.hpp"

static_assert(std::endian::native == std::endian::little, "input is little-endian float32");
#if defined(__cpp_exceptions) || defined(__GXX_RTTI)
#error "firmware_tagger is built with -fno-exceptions -fno-rtti"
#endif

namespace {

using Model = tagmap::models::StaticMusicnnMtat;
constexpr std::size_t chunk_samples = Model::input_samples;
constexpr auto& compiled = musicnn_mtat_weights::weights;

// What can be checked at compile time is: the table is constexpr. (GCC 12's UBSan
// instrumentation makes the table lookup non-constant, so sanitizer builds skip it; the
// start-up binding check still runs there.)
#ifndef __SANITIZE_ADDRESS__
static_assert(compiled.has("dense2.weight", {Model::n_tags, Model::embedding_dim}),
              "the compiled weights are not MusiCNN-MTAT's");
static_assert(compiled.has("spec.mel_scale.fb", {Model::n_fft / 2 + 1, Model::n_mels}));
#endif

Model::Storage storage;  // arena + bound parameters, static
Model model(storage);
float chunk[chunk_samples];
float taggram[Model::n_tags];
float embedding[Model::embedding_dim];
char line[Model::n_tags * 18 + 2];

std::atomic<long> heap_calls{0};

double now_ms() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void put(int fd, const char* text, std::size_t n) {
    while (n > 0) {
        const ssize_t w = ::write(fd, text, n);
        if (w <= 0) std::_Exit(2);
        text += w;
        n -= static_cast<std::size_t>(w);
    }
}

void put(int fd, const char* text) {
    put(fd, text, std::strlen(text));
}

/// Fills `out` from stdin; returns the samples read (fewer only at end of input).
std::size_t read_samples(float* out, std::size_t count) {
    auto* bytes = reinterpret_cast<char*>(out);
    std::size_t want = count * sizeof(float), got = 0;
    while (got < want) {
        const ssize_t r = ::read(0, bytes + got, want - got);
        if (r == 0) break;
        if (r < 0) {
            put(2, "firmware_tagger: read error\n");
            std::_Exit(2);
        }
        got += static_cast<std::size_t>(r);
    }
    return got / sizeof(float);
}

bool emit_chunk() {
    const tagmap::Status st = model.try_forward(chunk, taggram, embedding);
    if (!st.ok()) {
        put(2, "firmware_tagger: ");
        put(2, st.message().data(), st.message().size());
        put(2, "\n");
        return false;
    }
    std::size_t n = 0;
    for (std::size_t i = 0; i < Model::n_tags; ++i)
        n += static_cast<std::size_t>(std::snprintf(line + n, sizeof line - n, i ? " %.9g" : "%.9g",
                                                    static_cast<double>(taggram[i])));
    line[n++] = '\n';
    put(1, line, n);
    return true;
}

void print_stats(double startup_ms, std::size_t chunks) {
    char text[512];
    const int n = std::snprintf(
        text, sizeof text,
        "firmware_tagger: chunks %zu | static: arena %zu B, params %zu B, model object %zu B, "
        "weights (rodata) %zu B | start-up %.2f ms | heap allocations %ld\n",
        chunks, Model::arena_bytes, Model::param_floats * sizeof(float), sizeof(Model),
        compiled.total_bytes(), startup_ms, heap_calls.load());
    put(2, text, static_cast<std::size_t>(n));
}

}  // namespace

// Heap counters: any allocation by this program's code (the library is headers, so
// that is the library too) is counted. malloc & co. are wrapped at link time
// (-Wl,--wrap=malloc,...), operator new is replaced.
extern "C" {
void* __real_malloc(std::size_t);
void* __real_calloc(std::size_t, std::size_t);
void* __real_realloc(void*, std::size_t);
int __real_posix_memalign(void**, std::size_t, std::size_t);
void* __real_aligned_alloc(std::size_t, std::size_t);
void* __wrap_malloc(std::size_t n) {
    heap_calls.fetch_add(1, std::memory_order_relaxed);
    return __real_malloc(n);
}
void* __wrap_calloc(std::size_t a, std::size_t b) {
    heap_calls.fetch_add(1, std::memory_order_relaxed);
    return __real_calloc(a, b);
}
void* __wrap_realloc(void* p, std::size_t n) {
    heap_calls.fetch_add(1, std::memory_order_relaxed);
    return __real_realloc(p, n);
}
int __wrap_posix_memalign(void** p, std::size_t a, std::size_t n) {
    heap_calls.fetch_add(1, std::memory_order_relaxed);
    return __real_posix_memalign(p, a, n);
}
void* __wrap_aligned_alloc(std::size_t a, std::size_t n) {
    heap_calls.fetch_add(1, std::memory_order_relaxed);
    return __real_aligned_alloc(a, n);
}
}
void* operator new(std::size_t n) {
    heap_calls.fetch_add(1, std::memory_order_relaxed);
    if (void* p = __real_malloc(n ? n : 1)) return p;
    std::abort();
}
void* operator new(std::size_t n, std::align_val_t a) {
    heap_calls.fetch_add(1, std::memory_order_relaxed);
    void* p = nullptr;
    if (__real_posix_memalign(&p, static_cast<std::size_t>(a), n ? n : 1) == 0) return p;
    std::abort();
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
    std::free(p);
}

int main(int argc, char** argv) {
    bool stats = false;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--stats") == 0) {
            stats = true;
        } else {
            put(2, "usage: firmware_tagger [--stats] < samples.f32\n");
            return 2;
        }
    }
    const double t0 = now_ms();
    const tagmap::Status bound = model.try_bind(compiled);
    if (!bound.ok()) {
        put(2, "firmware_tagger: ");
        put(2, bound.message().data(), bound.message().size());
        put(2, "\n");
        return 1;
    }
    const double startup_ms = now_ms() - t0;

    std::size_t chunks = 0;
    for (;;) {
        const std::size_t n = read_samples(chunk, chunk_samples);
        if (n == chunk_samples) {
            if (!emit_chunk()) return 1;
            ++chunks;
            continue;
        }
        if (n > 0 && chunks == 0) {  // shorter than one chunk: zero-padded to one
            std::fill(chunk + n, chunk + chunk_samples, 0.0f);
            if (!emit_chunk()) return 1;
            ++chunks;
        }
        break;
    }
    if (stats) print_stats(startup_ms, chunks);
    return 0;
}
