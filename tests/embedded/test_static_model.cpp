// Binding from compiled weights and the static-memory configuration of MusiCNN-MTAT:
// the Status API reports what is wrong without exceptions, binding and forward touch
// no heap, and the fixed-size FFT front end gives the FFTW model's outputs (to 1e-6).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <tagmap/audio/log_mel.hpp>
#include <tagmap/models/musicnn.hpp>
#include <tagmap/weights/weight_file.hpp>

#include "allocation_counter.hpp"
#include "fixtures.hpp"

namespace {

using namespace tagmap;
using Desktop = models::MusicnnMtat;
using Static = models::StaticMusicnnMtat;

/// A WeightFile's tensors as the table an emitted header holds (built at run time).
struct Table {
    std::vector<weights::CompiledTensor> tensors;
    weights::CompiledWeights compiled() const { return {tensors, "test table"}; }
};
Table table_of(const weights::WeightFile& w) {
    Table t;
    for (const auto& r : w.tensors())
        t.tensors.push_back(
            {r.name, weights::dtype_name(r.dtype), r.shape, r.bytes.data(), r.bytes.size()});
    return t;
}

class StaticModel : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        const auto pth = test::fixtures_dir() / "weights" / "musicnn-mtat.pth";
        if (!std::filesystem::exists(pth)) return;
        file_ = std::make_unique<weights::WeightFile>(weights::WeightFile::load(pth));
    }
    static void TearDownTestSuite() { file_.reset(); }
    void SetUp() override {
        if (!file_) GTEST_SKIP() << "no shared MusiCNN-MTAT weights";
    }
    static std::vector<float> music_like(std::size_t n, unsigned seed) {
        std::mt19937 rng(seed);
        std::normal_distribution<float> noise(0.0f, 0.05f);
        std::vector<float> x(n);
        for (std::size_t i = 0; i < n; ++i)
            x[i] = 0.3f * std::sin(0.07f * i) * std::sin(0.0003f * i) + noise(rng);
        return x;
    }
    static inline std::unique_ptr<weights::WeightFile> file_;
};

// The counter behind the "allocates nothing" checks sees operator new and malloc.
TEST(AllocationCounter, SeesNewAndMalloc) {
    EXPECT_GE(tagmap::test::allocations_during([] { auto p = std::make_unique<int[]>(64); }), 1);
    EXPECT_GE(tagmap::test::allocations_during([] {
                  void* volatile p = std::malloc(64);
                  std::free(p);
              }),
              1);
}

TEST_F(StaticModel, MatchesTheFftwModelAndAllocatesNothing) {
    const Table table = table_of(*file_);
    auto storage = std::make_unique<Static::Storage>();
    Static fixed(*storage);
    Desktop desktop;
    desktop.bind(*file_);

    const std::vector<float> chunk = music_like(Static::input_samples, 1);
    float tags[Static::n_tags], emb[Static::embedding_dim];
    Status bound, ran;
    EXPECT_EQ(tagmap::test::allocations_during([&] {
                  bound = fixed.try_bind(table.compiled());
                  ran = fixed.try_forward(chunk, tags, emb);
              }),
              0)
        << "try_bind + try_forward of the static model";
    ASSERT_TRUE(bound.ok()) << bound.message();
    ASSERT_TRUE(ran.ok()) << ran.message();

    float want_tags[Desktop::n_tags], want_emb[Desktop::embedding_dim];
    desktop.forward(chunk, want_tags, want_emb);
    double worst = 0;
    for (std::size_t i = 0; i < Static::n_tags; ++i)
        worst = std::max(worst, double(std::abs(tags[i] - want_tags[i])));
    for (std::size_t i = 0; i < Static::embedding_dim; ++i)
        worst = std::max(worst, double(std::abs(emb[i] - want_emb[i])) /
                                    std::max(1.0, double(std::abs(want_emb[i]))));
    EXPECT_LE(worst, 1e-6);
    EXPECT_GT(*std::max_element(tags, tags + Static::n_tags), 0.0f);
}

TEST_F(StaticModel, DesktopBindFromCompiledWeightsEqualsWeightFile) {
    const Table table = table_of(*file_);
    Desktop a, b;
    a.bind(*file_);
    b.bind(table.compiled());
    const std::vector<float> chunk = music_like(Desktop::input_samples, 2);
    float ta[50], ea[200], tb[50], eb[200];
    a.forward(chunk, ta, ea);
    b.forward(chunk, tb, eb);
    for (int i = 0; i < 50; ++i) EXPECT_EQ(ta[i], tb[i]);
    for (int i = 0; i < 200; ++i) EXPECT_EQ(ea[i], eb[i]);
}

TEST_F(StaticModel, BindErrorsAreValuesNamingTheTensor) {
    auto storage = std::make_unique<Static::Storage>();
    Static model(*storage);
    Table missing = table_of(*file_);
    std::erase_if(missing.tensors, [](const auto& t) { return t.name == "dense2.bias"; });
    Status st;
    EXPECT_EQ(tagmap::test::allocations_during([&] { st = model.try_bind(missing.compiled()); }), 0)
        << "a failing bind allocates nothing either";
    EXPECT_EQ(st.code(), Errc::bind);
    EXPECT_NE(st.message().find("missing tensor 'dense2.bias'"), std::string_view::npos)
        << st.message();
    EXPECT_NE(st.message().find("test table"), std::string_view::npos) << st.message();
    EXPECT_FALSE(model.bound());
    float tags[50], emb[200];
    std::vector<float> chunk(Static::input_samples, 0.0f);
    EXPECT_EQ(model.try_forward(chunk, tags, emb).code(), Errc::invalid_argument);

    Table reshaped = table_of(*file_);
    static const std::int64_t wrong[] = {50, 199};
    for (auto& t : reshaped.tensors)
        if (t.name == "dense2.weight") t.shape = wrong;
    st = model.try_bind(reshaped.compiled());
    EXPECT_EQ(st.code(), Errc::bind);
    EXPECT_NE(st.message().find("'dense2.weight' has shape [50, 199], the model expects [50, 200]"),
              std::string_view::npos)
        << st.message();

    Table extra = table_of(*file_);
    extra.tensors.push_back(extra.tensors.back());
    extra.tensors.back().name = "stray.bias";
    st = model.try_bind(extra.compiled());
    EXPECT_NE(st.message().find("unexpected tensor 'stray.bias'"), std::string_view::npos)
        << st.message();

    // And the throwing API on top of it.
    EXPECT_THROW(Desktop().bind(missing.compiled()), BindError);
}

TEST_F(StaticModel, ForwardRejectsNonFiniteSamplesAsAValue) {
    const Table table = table_of(*file_);
    auto storage = std::make_unique<Static::Storage>();
    Static model(*storage);
    ASSERT_TRUE(model.try_bind(table.compiled()).ok());
    std::vector<float> chunk(Static::input_samples, 0.0f);
    chunk[1234] = std::nanf("");
    float tags[50], emb[200];
    const Status st = model.try_forward(chunk, tags, emb);
    EXPECT_EQ(st.code(), Errc::audio);
    EXPECT_NE(st.message().find("sample 1234"), std::string_view::npos) << st.message();
}

TEST(FixedRealFft, MatchesFftwToDoubleRounding) {
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(-1, 1);
    std::vector<float> x(4000);
    for (auto& v : x) v = u(rng);
    const auto window = audio::periodic_hann_window(512);
    audio::ReflectPaddedStft fftw(512, 256, window);
    audio::FixedReflectStft<512, 256> fixed(std::span<const float, 512>(window.data(), 512));
    std::vector<double> a(257);
    std::array<double, 257> b{};
    double worst = 0;
    for (int t = 0; t < 4000 / 256 + 1; ++t) {
        fftw.power(x, t, a);
        fixed.power(x, static_cast<std::size_t>(t), b);
        for (int k = 0; k < 257; ++k)
            worst = std::max(worst, std::abs(a[k] - b[k]) / std::max(1.0, a[k]));
    }
    EXPECT_LE(worst, 1e-12);
}

}  // namespace
