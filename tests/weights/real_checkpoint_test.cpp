// The two real checkpoints in $TAGMAP_FIXTURES/weights (legacy musicnn-mtat.pth, zip
// crepe-tiny.pth) against digests that tools/make_weight_fixtures.py computed from
// torch.load: names in order, dtype, shape, float64 sum and sum of squares, sampled
// values (exact). The weights themselves are never committed.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "tagmap/weights/pth_reader.hpp"
#include "tagmap/weights/weight_file.hpp"
#include "test_util.hpp"

namespace tw = tagmap::weights;

namespace {

double value_at(const tw::Tensor& t, std::size_t i) {
    if (t.dtype == tw::DType::float32) {
        float f;
        std::memcpy(&f, t.data.data() + 4 * i, 4);
        return f;
    }
    if (t.dtype == tw::DType::float64) {
        double d;
        std::memcpy(&d, t.data.data() + 8 * i, 8);
        return d;
    }
    return static_cast<double>(tw::load_le<std::int64_t>(t.data.data() + 8 * i));
}

void check_against_digest(const char* file) {
    const auto path = tagmap::test::fixtures_dir() / "weights" / file;
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "shared fixture missing: " << path;
    const auto raw = tagmap::test::read_bytes(tagmap::test::weights_data("real_digests.json"));
    const auto digests = nlohmann::json::parse(
        std::string(reinterpret_cast<const char*>(raw.data()), raw.size()))[file];
    const tw::TensorSet got = tw::read_pth(path);
    ASSERT_EQ(got.size(), digests.size());
    for (std::size_t k = 0; k < got.size(); ++k) {
        const auto& d = digests[k];
        const auto& t = got[k];
        SCOPED_TRACE(t.name);
        EXPECT_EQ(t.name, d["name"].get<std::string>());
        EXPECT_EQ(tw::dtype_name(t.dtype), d["dtype"].get<std::string>());
        EXPECT_EQ(t.shape, d["shape"].get<std::vector<std::int64_t>>());
        if (!d.contains("sum")) continue;
        double sum = 0, sum_sq = 0, sum_abs = 0;
        for (std::int64_t i = 0; i < t.numel(); ++i) {
            const double v = value_at(t, static_cast<std::size_t>(i));
            sum += v;
            sum_sq += v * v;
            sum_abs += std::abs(v);
        }
        // torch sums in another order: allow rounding differences only.
        EXPECT_NEAR(sum, d["sum"].get<double>(), 1e-12 * t.numel() * (sum_abs + 1));
        EXPECT_NEAR(sum_sq, d["sum_sq"].get<double>(), 1e-12 * t.numel() * (sum_sq + 1));
        for (const auto& s : d["samples"])
            EXPECT_EQ(value_at(t, s[0].get<std::size_t>()), s[1].get<double>()) << "index " << s[0];
    }
    // Through .tmw the bytes are unchanged.
    const auto w = tw::WeightFile::from_bytes(tw::encode_tmw(got));
    ASSERT_EQ(w.tensors().size(), got.size());
    for (std::size_t k = 0; k < got.size(); ++k)
        EXPECT_TRUE(std::equal(w.tensors()[k].bytes.begin(), w.tensors()[k].bytes.end(),
                               got[k].data.begin(), got[k].data.end()))
            << got[k].name;
}

}  // namespace

TEST(RealCheckpoint, LegacyMusicnnMatchesTorchLoad) {
    check_against_digest("musicnn-mtat.pth");
    const auto path = tagmap::test::fixtures_dir() / "weights" / "musicnn-mtat.pth";
    if (!std::filesystem::exists(path)) return;
    const auto w = tw::WeightFile::load(path);
    EXPECT_EQ(w.tensors().size(), 72u);
    EXPECT_EQ(w.get_f32("layers.0.conv.weight", {204, 1, 67, 7}).size(), 204u * 67 * 7);
    EXPECT_EQ(w.get_f32("dense1.weight", {200, 1506}).size(), 200u * 1506);
    EXPECT_EQ(
        w.require("spec_bn.num_batches_tracked", tw::DType::int64, std::vector<std::int64_t>{})
            .numel(),
        1);
}

TEST(RealCheckpoint, ZipCrepeTinyMatchesTorchLoad) {
    check_against_digest("crepe-tiny.pth");
}
