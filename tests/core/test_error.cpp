#include <gtest/gtest.h>

#include <tagmap/core/error.hpp>

namespace {

// Every typed error is catchable as tagmap::Error and keeps its message.
template <class E>
void expect_catchable_as_error() {
    try {
        throw E("tensor layers.0.conv.weight: expected (204, 1, 67, 7), got (204, 1, 66, 7)");
    } catch (const tagmap::Error& e) {
        EXPECT_STREQ(e.what(),
                     "tensor layers.0.conv.weight: expected (204, 1, 67, 7), got (204, 1, 66, 7)");
        return;
    }
    FAIL() << "not caught as tagmap::Error";
}

TEST(Error, AllTypedErrorsDeriveFromError) {
    expect_catchable_as_error<tagmap::IoError>();
    expect_catchable_as_error<tagmap::FormatError>();
    expect_catchable_as_error<tagmap::UnsupportedError>();
    expect_catchable_as_error<tagmap::BindError>();
    expect_catchable_as_error<tagmap::AudioError>();
    expect_catchable_as_error<tagmap::InvalidArgument>();
}

TEST(Error, DistinctTypesAreNotConfused) {
    EXPECT_THROW(throw tagmap::BindError("x"), tagmap::BindError);
    bool caught_as_format = false;
    try {
        throw tagmap::BindError("x");
    } catch (const tagmap::FormatError&) {
        caught_as_format = true;
    } catch (const tagmap::Error&) {
    }
    EXPECT_FALSE(caught_as_format);
}

}  // namespace
