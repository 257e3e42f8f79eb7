// The PyTorch checkpoint reader on small fixtures written by
// tools/make_weight_fixtures.py: exact values against torch.load in both formats, and
// every refusal (hostile globals, overruns, truncation, compression, dtypes).
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "tagmap/weights/pth_reader.hpp"
#include "tagmap/weights/weight_file.hpp"
#include "test_util.hpp"

namespace tw = tagmap::weights;
using tagmap::test::expect_error;
using tagmap::test::weights_data;

namespace {

double half_to_double(std::uint16_t h) {
    const int exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
    const double sign = (h & 0x8000) ? -1.0 : 1.0;
    if (exp == 0) return sign * std::ldexp(mant, -24);
    if (exp == 31) return mant ? NAN : sign * INFINITY;
    return sign * std::ldexp(mant + 1024, exp - 25);
}

double element(const tw::Tensor& t, std::size_t i) {
    switch (t.dtype) {
        case tw::DType::float32: {
            float f;
            std::memcpy(&f, t.data.data() + 4 * i, 4);
            return f;
        }
        case tw::DType::float64: {
            double d;
            std::memcpy(&d, t.data.data() + 8 * i, 8);
            return d;
        }
        case tw::DType::float16:
            return half_to_double(tw::load_le<std::uint16_t>(t.data.data() + 2 * i));
        case tw::DType::int64:
            break;
    }
    return NAN;
}

void expect_matches_torch(const tw::TensorSet& got) {
    const auto expected = nlohmann::json::parse(
        std::string(reinterpret_cast<const char*>(
                        tagmap::test::read_bytes(weights_data("small_expected.json")).data()),
                    tagmap::test::read_bytes(weights_data("small_expected.json")).size()));
    ASSERT_EQ(got.size(), expected.size());
    for (std::size_t k = 0; k < got.size(); ++k) {
        const auto& e = expected[k];
        const auto& t = got[k];
        SCOPED_TRACE(t.name);
        EXPECT_EQ(t.name, e["name"].get<std::string>());
        EXPECT_EQ(tw::dtype_name(t.dtype), e["dtype"].get<std::string>());
        EXPECT_EQ(t.shape, e["shape"].get<std::vector<std::int64_t>>());
        const auto& values = e["values"];
        ASSERT_EQ(static_cast<std::size_t>(t.numel()), values.size());
        ASSERT_EQ(t.data.size(), values.size() * tw::dtype_size(t.dtype));
        for (std::size_t i = 0; i < values.size(); ++i) {
            if (t.dtype == tw::DType::int64)
                EXPECT_EQ(tw::load_le<std::int64_t>(t.data.data() + 8 * i),
                          values[i].get<std::int64_t>())
                    << i;
            else
                EXPECT_EQ(element(t, i), values[i].get<double>())
                    << i;  // exact: same bits as torch
        }
    }
}

std::vector<std::byte> bytes_of(const char* name) {
    return tagmap::test::read_bytes(weights_data(name));
}

}  // namespace

TEST(Pth, ZipFormatMatchesTorchLoadExactly) {
    expect_matches_torch(tw::read_pth(weights_data("small_zip.pth")));
}

TEST(Pth, LegacyFormatMatchesTorchLoadExactly) {
    expect_matches_torch(tw::read_pth(weights_data("small_legacy.pth")));
}

TEST(Pth, BytesAndFileReadersAgreeAndSurviveTmw) {
    const auto from_file = tw::read_pth(weights_data("small_zip.pth"));
    const auto from_bytes = tw::read_pth_bytes(bytes_of("small_zip.pth"));
    ASSERT_EQ(from_file.size(), from_bytes.size());
    for (std::size_t i = 0; i < from_file.size(); ++i)
        EXPECT_EQ(from_file[i].data, from_bytes[i].data);
    const auto w = tw::WeightFile::load(weights_data("small_legacy.pth"));
    ASSERT_EQ(w.tensors().size(), from_file.size());
    const auto col = w.get_f32("column", {3});
    EXPECT_EQ(std::memcmp(col.data(), from_file[6].data.data(), 12), 0);
}

TEST(Pth, NestedCheckpointNeedsSelectAndStripsPrefix) {
    expect_error<tagmap::FormatError>([] { tw::read_pth(weights_data("nested.pth")); },
                                      "no tensors found; entries: epoch (int), state_dict (dict)");
    const auto t = tw::read_pth(weights_data("nested.pth"),
                                {.select_key = "state_dict", .strip_prefix = "module."});
    ASSERT_EQ(t.size(), 3u);
    EXPECT_EQ(t[0].name, "a");
    EXPECT_EQ(t[1].name, "b.weight");
    EXPECT_EQ(t[1].shape, (std::vector<std::int64_t>{1, 1}));
    EXPECT_EQ(element(t[1], 0), 3.0);
    EXPECT_EQ(t[2].name, "head");  // names without the prefix are kept as they are
    expect_error<tagmap::InvalidArgument>(
        [] { tw::read_pth(weights_data("nested.pth"), {.select_key = "model"}); },
        "no entry 'model' to select; entries: epoch (int), state_dict (dict)");
    expect_error<tagmap::InvalidArgument>(
        [] { tw::read_pth(weights_data("nested.pth"), {.select_key = "epoch/x"}); },
        "is a int, not a dict");
}

TEST(Pth, RefusesGlobalsOutsideTheAllowList) {
    for (const char* f : {"hostile_os_system_zip.pth", "hostile_os_system_legacy.pth"})
        expect_error<tagmap::FormatError>([&] { tw::read_pth(weights_data(f)); },
                                          "global 'posix.system', which is not on the allow-list");
    expect_error<tagmap::FormatError>(
        [] { tw::read_pth(weights_data("hostile_eval_stack_global.pth")); },
        "global 'builtins.eval', which is not on the allow-list");
}

TEST(Pth, ExplainsAWholePickledModule) {
    expect_error<tagmap::FormatError>(
        [] { tw::read_pth(weights_data("whole_module.pth")); },
        "global 'torch.nn.modules.linear.Linear', which is not on the allow-list; refusing to load "
        "(nothing was executed); this looks like a whole pickled model: save model.state_dict() "
        "instead");
}

TEST(Pth, RefusesStorageExtentOverrun) {
    for (const char* f : {"extent_overrun_zip.pth", "extent_overrun_legacy.pth"})
        expect_error<tagmap::FormatError>(
            [&] { tw::read_pth(weights_data(f)); },
            "tensor 'w' (shape (2, 2), offset 1) reaches element 1 + 3 but its "
            "storage 0 has 4 elements");
}

TEST(Pth, RefusesCompressedEntriesAndUnsupportedDtypes) {
    expect_error<tagmap::UnsupportedError>([] { tw::read_pth(weights_data("compressed.pth")); },
                                           "compressed entry archive/data.pkl not supported");
    expect_error<tagmap::UnsupportedError>([] { tw::read_pth(weights_data("int32.pth")); },
                                           "tensor 'counts' has storage type torch.IntStorage");
}

TEST(Pth, RefusesTruncatedCopies) {
    expect_error<tagmap::FormatError>([] { tw::read_pth(weights_data("truncated_zip.pth")); },
                                      "truncated or corrupt zip");
    expect_error<tagmap::FormatError>([] { tw::read_pth(weights_data("truncated_legacy.pth")); },
                                      "truncated");
    expect_error<tagmap::IoError>([] { tw::read_pth(weights_data("does_not_exist.pth")); },
                                  "cannot open");
    expect_error<tagmap::FormatError>([] { tw::read_pth_bytes({}); }, "not a PyTorch checkpoint");
}

TEST(Pth, EveryPrefixOfBothFormatsIsRefusedCleanly) {
    for (const char* f : {"small_zip.pth", "small_legacy.pth"}) {
        const auto full = bytes_of(f);
        for (std::size_t n = 0; n < full.size(); ++n)
            EXPECT_THROW(tw::read_pth_bytes(std::span(full).first(n)), tagmap::Error)
                << f << " length " << n;
    }
}

TEST(Pth, AlteredBytesNeverCrash) {
    // Zip entries are CRC-checked; the legacy stream has no checksum, so a flipped byte
    // may still parse - but it must either parse or throw a tagmap::Error.
    for (const char* f : {"small_zip.pth", "small_legacy.pth"}) {
        const auto full = bytes_of(f);
        for (std::size_t i = 0; i < full.size(); ++i) {
            for (std::byte flip : {std::byte{0x01}, std::byte{0xFF}}) {
                auto bad = full;
                bad[i] ^= flip;
                try {
                    (void)tw::read_pth_bytes(bad);
                } catch (const tagmap::Error&) {
                }
            }
        }
    }
    auto zip = bytes_of("small_zip.pth");
    // Alter one byte of the first storage's data (the entry after data.pkl): CRC-32 catches it.
    const auto pos = zip.size() / 2;
    zip[pos] ^= std::byte{0x01};
    EXPECT_THROW(tw::read_pth_bytes(zip), tagmap::Error);
}
