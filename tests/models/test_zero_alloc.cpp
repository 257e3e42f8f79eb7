// forward() and forward_batch() perform no heap allocation: every operator new and
// every malloc-family call made while they run is counted (the malloc family through
// the linker's --wrap, which also sees Eigen's allocations in these headers).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "model_fixtures.hpp"
#include "tagmap/models/registry.hpp"

namespace {
std::atomic<long> allocations{0};
std::atomic<bool> counting{false};
void note() {
    if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1);
}
}  // namespace

extern "C" {
void* __real_malloc(std::size_t);
void* __real_calloc(std::size_t, std::size_t);
void* __real_realloc(void*, std::size_t);
int __real_posix_memalign(void**, std::size_t, std::size_t);
void* __real_aligned_alloc(std::size_t, std::size_t);
void* __wrap_malloc(std::size_t n) {
    note();
    return __real_malloc(n);
}
void* __wrap_calloc(std::size_t n, std::size_t s) {
    note();
    return __real_calloc(n, s);
}
void* __wrap_realloc(void* p, std::size_t n) {
    note();
    return __real_realloc(p, n);
}
int __wrap_posix_memalign(void** p, std::size_t a, std::size_t n) {
    note();
    return __real_posix_memalign(p, a, n);
}
void* __wrap_aligned_alloc(std::size_t a, std::size_t n) {
    note();
    return __real_aligned_alloc(a, n);
}
}

// The replacements below pair operator new with malloc and operator delete with free by
// design; GCC cannot see that pairing across the replaced functions.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

void* operator new(std::size_t n) {
    note();
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
    return operator new(n);
}
void* operator new(std::size_t n, std::align_val_t a) {
    note();
    void* p = nullptr;
    const std::size_t al = std::max<std::size_t>(static_cast<std::size_t>(a), sizeof(void*));
    if (posix_memalign(&p, al, n ? n : 1) != 0) throw std::bad_alloc();
    return p;
}
void* operator new[](std::size_t n, std::align_val_t a) {
    return operator new(n, a);
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete[](void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
    std::free(p);
}

namespace {

using namespace tagmap;

template <class F>
long allocations_during(F&& f) {
    allocations = 0;
    counting = true;
    f();
    counting = false;
    return allocations.load();
}

TEST(ZeroAllocation, CounterSeesAllocations) {
    // The counter itself works: a vector and a malloc are both seen.
    EXPECT_GE(allocations_during([] { std::vector<int> v(100); }), 1);
    EXPECT_GE(allocations_during([] {
                  void* volatile p = std::malloc(64);
                  std::free(p);
              }),
              1);
}

template <class Model>
void expect_musicnn_mtat_no_allocation() {
    auto model = std::make_unique<Model>();
    model->bind(weights::WeightFile::load(test::fixtures_dir() / "weights/musicnn-mtat.pth"));
    std::vector<float> chunks(2 * 48000), tags(2 * 50), emb(2 * 200);
    for (std::size_t i = 0; i < chunks.size(); ++i) chunks[i] = 0.2f * std::sin(0.01f * i);
    EXPECT_EQ(allocations_during([&] {
                  model->forward(std::span(chunks).first(48000), std::span(tags).first(50),
                                 std::span(emb).first(200));
              }),
              0);
    EXPECT_EQ(allocations_during([&] { model->forward_batch(chunks, 2, tags, emb); }), 0);
}

TEST(ZeroAllocation, MusicnnMtatForwardAndBatch) {
    expect_musicnn_mtat_no_allocation<models::MusicnnMtat>();  // spectral vertical convs
    expect_musicnn_mtat_no_allocation<
        models::MusicnnWith<nn::TallConv::gemm, 204, 51, 64, 200>>();  // the GEMM reference
}

template <class Model>
void expect_no_allocation(const char* fixture) {
    const auto w = test::fixture_weights(test::model_fixture(fixture));
    // Through the runtime handle, as apps use it.
    models::detail::ModelHandle<Model> handle("small", "msd");
    handle.model().bind(w);
    models::AnyModel& model = handle;
    std::vector<float> chunks(2 * Model::input_samples, 0.05f);
    std::vector<float> tags(2 * Model::n_tags), emb(2 * Model::embedding_dim);
    EXPECT_EQ(allocations_during([&] { model.forward_batch(chunks, 2, tags, emb); }), 0) << fixture;
}

TEST(ZeroAllocation, VggBothBlockKinds) {
    expect_no_allocation<models::Vgg<models::VggBlock::residual, 8>>("vgg-msd-small");
    expect_no_allocation<models::Vgg<models::VggBlock::simple, 8>>("vgg-mtat-small");
}

}  // namespace
