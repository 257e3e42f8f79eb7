// The .tmw writer and reader: exact round trip, alignment, checksum, and refusal of
// every truncated or altered file.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string_view>

#include "tagmap/weights/crc32.hpp"
#include "tagmap/weights/tmw_writer.hpp"
#include "tagmap/weights/weight_file.hpp"
#include "test_util.hpp"

namespace tw = tagmap::weights;
using tagmap::test::expect_error;

namespace {

template <class T>
tw::Tensor make(std::string name, tw::DType dtype, std::vector<std::int64_t> shape,
                std::vector<T> values) {
    tw::Tensor t{std::move(name), dtype, std::move(shape), {}};
    t.data.resize(values.size() * sizeof(T));
    if (!values.empty()) std::memcpy(t.data.data(), values.data(), t.data.size());
    return t;
}

tw::TensorSet sample() {
    tw::TensorSet s;
    s.push_back(make<float>("conv.weight", tw::DType::float32, {2, 3}, {1, 2, 3, 4, 5, -6.5f}));
    s.push_back(make<double>("conv.bias", tw::DType::float64, {3}, {0.1, 0.2, 0.3}));
    s.push_back(make<std::uint16_t>("half", tw::DType::float16, {2}, {0x3C00, 0xC000}));
    s.push_back(make<std::int64_t>("bn.num_batches_tracked", tw::DType::int64, {}, {42}));
    s.push_back(make<float>("empty", tw::DType::float32, {0, 5}, {}));
    return s;
}

std::filesystem::path temp_dir() {
    auto d =
        std::filesystem::temp_directory_path() / ("tagmap_tmw_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
}

}  // namespace

TEST(Crc32, MatchesTheStandardCheckValue) {
    // CRC-32/ISO-HDLC check value of "123456789" (same as Python's zlib.crc32).
    const std::string_view s = "123456789";
    EXPECT_EQ(tw::crc32(std::as_bytes(std::span(s.data(), s.size()))), 0xCBF43926u);
    const std::string_view long_text = "The quick brown fox jumps over the lazy dog";
    const auto b = std::as_bytes(std::span(long_text.data(), long_text.size()));
    EXPECT_EQ(tw::crc32(b), 0x414FA339u);
    EXPECT_EQ(tw::crc32_update(tw::crc32(b.first(13)), b.subspan(13)), 0x414FA339u);
}

TEST(Tmw, RoundTripsExactlyWithAlignedData) {
    const auto set = sample();
    const auto bytes = tw::encode_tmw(set);
    EXPECT_EQ(bytes.size() % 64, 0u);
    const auto w = tw::WeightFile::from_bytes(bytes);
    ASSERT_EQ(w.tensors().size(), set.size());
    for (std::size_t i = 0; i < set.size(); ++i) {
        const auto& t = w.tensors()[i];
        EXPECT_EQ(t.name, set[i].name);
        EXPECT_EQ(t.dtype, set[i].dtype);
        EXPECT_EQ(t.shape, set[i].shape);
        EXPECT_EQ(t.numel(), set[i].numel());
        ASSERT_EQ(t.bytes.size(), set[i].data.size());
        EXPECT_TRUE(std::equal(t.bytes.begin(), t.bytes.end(), set[i].data.begin()));
        if (!t.bytes.empty()) {
            EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.bytes.data()) % 64, 0u) << t.name;
        }
    }
    const auto f = w.get_f32("conv.weight", {2, 3});
    EXPECT_EQ(std::vector<float>(f.begin(), f.end()), (std::vector<float>{1, 2, 3, 4, 5, -6.5f}));
    EXPECT_EQ(w.find("nope"), nullptr);
    ASSERT_NE(w.find("half"), nullptr);
    // Encoding is deterministic.
    EXPECT_EQ(tw::encode_tmw(set), bytes);
}

TEST(Tmw, HeaderFieldsFollowTheDocumentedLayout) {
    const auto bytes = tw::encode_tmw(sample());
    EXPECT_EQ(std::memcmp(bytes.data(), tw::tmw::magic.data(), 8), 0);
    EXPECT_EQ(tw::load_le<std::uint32_t>(bytes.data() + 8), 1u);
    EXPECT_EQ(tw::load_le<std::uint32_t>(bytes.data() + 12), 5u);
    EXPECT_EQ(tw::load_le<std::uint64_t>(bytes.data() + 16), 64u);
    EXPECT_EQ(tw::load_le<std::uint64_t>(bytes.data() + 48), bytes.size());
    auto zeroed = bytes;
    std::memset(zeroed.data() + 56, 0, 4);
    EXPECT_EQ(tw::load_le<std::uint32_t>(bytes.data() + 56), tw::crc32(zeroed));
}

TEST(Tmw, WritesThroughATemporaryAndMapsTheResult) {
    const auto dir = temp_dir();
    const auto path = dir / "w.tmw";
    tw::write_tmw_file(sample(), path);
    std::size_t files = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++files;
    EXPECT_EQ(files, 1u) << "temporary file left behind";
    auto w = tw::WeightFile::open(path);
    EXPECT_EQ(w.source(), path.string());
    const auto span_before = w.get_f32("conv.weight", {2, 3});
    tw::WeightFile moved = std::move(w);  // views stay valid across moves
    EXPECT_EQ(moved.get_f32("conv.weight", {2, 3}).data(), span_before.data());
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(span_before.data()) % 64, 0u);
    EXPECT_EQ(tw::WeightFile::load(path).tensors().size(), 5u);
    std::filesystem::remove_all(dir);
}

TEST(Tmw, FailedWriteLeavesNothing) {
    const auto dir = temp_dir() / "missing_subdir";
    expect_error<tagmap::IoError>([&] { tw::write_tmw_file(sample(), dir / "w.tmw"); },
                                  "cannot create");
    EXPECT_FALSE(std::filesystem::exists(dir));
    std::filesystem::remove_all(dir.parent_path());
}

TEST(Tmw, RequireNamesTensorAndShapes) {
    const auto w = tw::WeightFile::from_bytes(tw::encode_tmw(sample()));
    const std::vector<std::int64_t> want{204, 1, 67, 7};
    expect_error<tagmap::BindError>(
        [&] { w.require("conv.weight", tw::DType::float32, want); },
        "tensor 'conv.weight' has shape (2, 3), expected (204, 1, 67, 7)");
    expect_error<tagmap::BindError>([&] { w.get_f32("conv.bias", {3}); },
                                    "tensor 'conv.bias' is float64, expected float32");
    expect_error<tagmap::BindError>([&] { w.get_f32("layers.0.conv.weight", want); },
                                    "tensor 'layers.0.conv.weight' is missing");
    const std::vector<std::int64_t> scalar{};
    EXPECT_EQ(w.require("bn.num_batches_tracked", tw::DType::int64, scalar).numel(), 1);
}

TEST(Tmw, EncodeRefusesInconsistentTensors) {
    auto s = sample();
    s.push_back(s.front());
    expect_error<tagmap::InvalidArgument>([&] { tw::encode_tmw(s); },
                                          "duplicate tensor name 'conv.weight'");
    auto t = sample();
    t[0].shape = {2, 4};
    expect_error<tagmap::InvalidArgument>([&] { tw::encode_tmw(t); },
                                          "needs 32 bytes of data but has 24");
    auto u = sample();
    u[1].name.clear();
    expect_error<tagmap::InvalidArgument>([&] { tw::encode_tmw(u); }, "empty");
}

TEST(Tmw, RefusesEveryTruncation) {
    const auto bytes = tw::encode_tmw(sample());
    for (std::size_t n = 0; n < bytes.size(); ++n) {
        std::vector<std::byte> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
        EXPECT_THROW(tw::WeightFile::from_bytes(cut), tagmap::FormatError) << "length " << n;
    }
    expect_error<tagmap::FormatError>(
        [&] {
            tw::WeightFile::from_bytes({bytes.begin(), bytes.end() - 64});
        },
        "truncated: header says");
}

TEST(Tmw, RefusesEverySingleAlteredByte) {
    const auto bytes = tw::encode_tmw(sample());
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        auto bad = bytes;
        bad[i] ^= std::byte{0x10};
        EXPECT_THROW(tw::WeightFile::from_bytes(bad), tagmap::Error) << "byte " << i;
    }
    auto bad = bytes;
    bad[bad.size() - 70] ^= std::byte{1};  // inside tensor data
    expect_error<tagmap::FormatError>([&] { tw::WeightFile::from_bytes(bad); },
                                      "checksum mismatch");
}

TEST(Tmw, RefusesOtherFilesAndVersions) {
    const std::string text =
        "hello, this is not a weight file at all, but long enough for a header....";
    std::vector<std::byte> b(text.size());
    std::memcpy(b.data(), text.data(), text.size());
    expect_error<tagmap::FormatError>([&] { tw::WeightFile::from_bytes(b); },
                                      "not a .tmw file (bad magic)");
    const auto pth = tagmap::test::read_bytes(tagmap::test::weights_data("small_zip.pth"));
    expect_error<tagmap::FormatError>([&] { tw::WeightFile::from_bytes(pth); },
                                      "convert it with tagmap-convert");
    auto v2 = tw::encode_tmw(sample());
    tw::store_le<std::uint32_t>(v2.data() + 8, 2);
    std::memset(v2.data() + 56, 0, 4);
    tw::store_le<std::uint32_t>(v2.data() + 56, tw::crc32(v2));
    expect_error<tagmap::UnsupportedError>([&] { tw::WeightFile::from_bytes(v2); },
                                           ".tmw version 2 not supported");
    expect_error<tagmap::IoError>([] { tw::WeightFile::open("/nonexistent/x.tmw"); },
                                  "/nonexistent/x.tmw");
}
