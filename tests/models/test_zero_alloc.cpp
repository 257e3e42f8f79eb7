// forward() and forward_batch() perform no heap allocation: every operator new and
// every malloc-family call made while they run is counted (the malloc family through
// the linker's --wrap, which also sees Eigen's allocations in these headers).
#include <gtest/gtest.h>

#include <cstdlib>

#include "allocation_counter.hpp"
#include "model_fixtures.hpp"
#include "tagmap/models/registry.hpp"

namespace {

using namespace tagmap;

using tagmap::test::allocations_during;

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
