// tagmap-convert --emit-header (tools/convert/emit_header.cpp): every float comes back
// bit for bit from its literal, the table lists names, dtypes and shapes, odd names are
// escaped, and what cannot be emitted is refused with a typed error.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "emit_header.hpp"
#include "tagmap/core/error.hpp"

namespace {

using namespace tagmap;

weights::Tensor f32(const std::string& name, std::vector<std::int64_t> shape,
                    const std::vector<float>& v) {
    weights::Tensor t{name, weights::DType::float32, std::move(shape), {}};
    t.data.resize(v.size() * sizeof(float));
    std::memcpy(t.data.data(), v.data(), t.data.size());
    return t;
}

/// The values of array `data_<i>` in the emitted text, parsed back with strtof.
std::vector<float> parse_array(const std::string& text, int i) {
    const std::string head = "data_" + std::to_string(i) + "[";
    const auto start = text.find("{", text.find(head));
    const auto end = text.find("};", start);
    std::vector<float> out;
    std::stringstream body(text.substr(start + 1, end - start - 1));
    for (std::string tok; std::getline(body, tok, ',');) {
        tok.erase(0, tok.find_first_not_of(" \n"));
        if (tok.empty()) continue;
        if (tok == "__builtin_nanf(\"\")")
            out.push_back(std::numeric_limits<float>::quiet_NaN());
        else if (tok == "__builtin_inff()")
            out.push_back(std::numeric_limits<float>::infinity());
        else if (tok == "-__builtin_inff()")
            out.push_back(-std::numeric_limits<float>::infinity());
        else
            out.push_back(std::strtof(tok.c_str(), nullptr));
    }
    return out;
}

TEST(EmitHeader, FloatsRoundTripBitForBit) {
    const std::vector<float> values = {0.0f,
                                       -0.0f,
                                       1.0f / 3.0f,
                                       -2.5e-38f,
                                       std::numeric_limits<float>::denorm_min(),
                                       std::numeric_limits<float>::max(),
                                       std::numeric_limits<float>::infinity(),
                                       -std::numeric_limits<float>::infinity(),
                                       123456.789f};
    std::ostringstream out;
    convert::emit_header({f32("a.weight", {3, 3}, values)}, "ns::inner", "x.pth", out);
    const std::string text = out.str();
    const auto back = parse_array(text, 0);
    ASSERT_EQ(back.size(), values.size());
    for (std::size_t i = 0; i < values.size(); ++i)
        EXPECT_EQ(std::bit_cast<std::uint32_t>(back[i]), std::bit_cast<std::uint32_t>(values[i]))
            << i;
    EXPECT_NE(text.find("alignas(64) inline constexpr float data_0[9]"), std::string::npos);
    EXPECT_NE(text.find("{\"a.weight\", \"float32\", {shape_0, 2}, data_0, 36}"), std::string::npos)
        << text;
    EXPECT_NE(text.find("namespace ns::inner {"), std::string::npos);
    EXPECT_NE(text.find("{tensor_table, 1}, \"x.pth\"}"), std::string::npos);
}

TEST(EmitHeader, Int64ScalarsAndOddNames) {
    weights::Tensor count{"bn.num_batches_tracked", weights::DType::int64, {}, {}};
    const std::int64_t v = -7;
    count.data.resize(8);
    std::memcpy(count.data.data(), &v, 8);
    std::ostringstream out;
    convert::emit_header({count, f32("we\"ird\\name", {1}, {1.0f})}, "w", "y.tmw", out);
    const std::string text = out.str();
    EXPECT_NE(text.find("inline constexpr std::int64_t data_0[1] = {\n    -7LL,"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("{\"bn.num_batches_tracked\", \"int64\", {shape_0, 0}, data_0, 8}"),
              std::string::npos);
    EXPECT_NE(text.find("\"we\\\"ird\\\\name\""), std::string::npos) << text;
}

TEST(EmitHeader, RefusesWhatItCannotEmit) {
    std::ostringstream out;
    EXPECT_THROW(convert::emit_header({f32("a", {1}, {1.0f})}, "1bad", "x", out), InvalidArgument);
    EXPECT_THROW(convert::emit_header({f32("a", {1}, {1.0f})}, "a:b", "x", out), InvalidArgument);
    weights::Tensor d{"d", weights::DType::float64, {1}, std::vector<std::byte>(8)};
    EXPECT_THROW(convert::emit_header({d}, "ok", "x", out), UnsupportedError);
}

}  // namespace
