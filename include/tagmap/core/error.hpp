// Typed errors thrown by every tagmap header. Library code never prints or exits:
// it throws one of these, and the message always names what was wrong (file, tensor,
// layer, shape) so a caller can show it to a user as is.
//
// Builds without exceptions (-fno-exceptions, firmware, some plugin hosts). The MusiCNN
// path (core/, nn/, models/ binding from compiled weights and forward) and the streaming
// embedder also report errors as values: Status, below, with an Errc and a short message
// in a fixed buffer (no heap). Their throwing API stays, layered on top. A throwing site
// is written TAGMAP_THROW(SomeError(msg)): with exceptions it throws; without them the
// argument is NOT evaluated (no message is built, nothing allocates) and the program
// stops through tagmap::detail::fatal_error() (the exception classes stay declared so
// that such sites compile). Such a site is then a broken
// precondition, never an expected failure: the value API checks the same conditions
// first. Other headers adopt the policy by including this file and using the macro.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdlib>
#include <string_view>

#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
#define TAGMAP_EXCEPTIONS 1
#else
#define TAGMAP_EXCEPTIONS 0
#endif

#include <stdexcept>
#include <string>

#if TAGMAP_EXCEPTIONS
#define TAGMAP_THROW(...) throw __VA_ARGS__
#else
// sizeof: the argument is type-checked, not evaluated (its variables count as used).
#define TAGMAP_THROW(...) ((void)sizeof((__VA_ARGS__)), ::tagmap::detail::fatal_error())
#endif

namespace tagmap {

/// What went wrong, as a value; mirrors the exception classes below.
enum class Errc {
    ok = 0,
    io,                ///< IoError
    format,            ///< FormatError
    unsupported,       ///< UnsupportedError
    bind,              ///< BindError
    audio,             ///< AudioError
    invalid_argument,  ///< InvalidArgument
};

/// Result of an operation of the no-exceptions API: ok, or an Errc with a message of at
/// most max_message characters (longer ones are cut). Never allocates.
class [[nodiscard]] Status {
  public:
    static constexpr std::size_t max_message = 255;

    constexpr Status() = default;
    constexpr Status(Errc code, std::string_view message) : code_(code) { append(message); }
    static constexpr Status success() { return {}; }

    constexpr bool ok() const { return code_ == Errc::ok; }
    constexpr explicit operator bool() const { return ok(); }
    constexpr Errc code() const { return code_; }
    constexpr std::string_view message() const { return {text_.data(), size_}; }

    /// Appends to the message (cut at max_message); for building it without the heap.
    constexpr Status& append(std::string_view more) {
        const std::size_t n = std::min(more.size(), max_message - size_);
        std::copy_n(more.data(), n, text_.data() + size_);
        size_ += n;
        return *this;
    }
    constexpr Status& append(long long value) {
        char digits[24];
        std::size_t n = 0;
        const bool negative = value < 0;
        unsigned long long v = negative ? 0ull - static_cast<unsigned long long>(value)
                                        : static_cast<unsigned long long>(value);
        do digits[n++] = static_cast<char>('0' + v % 10);
        while ((v /= 10) != 0);
        if (negative) append("-");
        while (n > 0) append(std::string_view(&digits[--n], 1));
        return *this;
    }

  private:
    Errc code_ = Errc::ok;
    std::size_t size_ = 0;
    std::array<char, max_message> text_{};
};

namespace detail {
/// Where a TAGMAP_THROW ends without exceptions: a violated precondition.
[[noreturn]] inline void fatal_error() noexcept {
    std::abort();
}
}  // namespace detail

/// Base of all tagmap errors; catch this to handle any failure of the library.
class Error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// A file could not be opened, read, mapped or written.
class IoError : public Error {
  public:
    using Error::Error;
};

/// A file's bytes do not follow its format (truncated, corrupt, hostile, bad checksum).
class FormatError : public Error {
  public:
    using Error::Error;
};

/// A well-formed input uses a feature tagmap does not handle (codec, dtype, opcode).
class UnsupportedError : public Error {
  public:
    using Error::Error;
};

/// Weights do not fit a model: missing, unexpected, or mis-shaped tensors.
class BindError : public Error {
  public:
    using Error::Error;
};

/// Audio is present but unusable (empty, NaN/Inf samples, absurd sample rate).
class AudioError : public Error {
  public:
    using Error::Error;
};

/// A caller passed arguments that violate a documented precondition.
class InvalidArgument : public Error {
  public:
    using Error::Error;
};

#if TAGMAP_EXCEPTIONS
/// Throws the exception class matching status.code() with its message (ok: nothing).
inline void throw_if_error(const Status& status) {
    const std::string msg(status.message());
    switch (status.code()) {
        case Errc::ok:
            return;
        case Errc::io:
            throw IoError(msg);
        case Errc::format:
            throw FormatError(msg);
        case Errc::unsupported:
            throw UnsupportedError(msg);
        case Errc::bind:
            throw BindError(msg);
        case Errc::audio:
            throw AudioError(msg);
        case Errc::invalid_argument:
            throw InvalidArgument(msg);
    }
    throw Error(msg);
}
#endif  // TAGMAP_EXCEPTIONS

}  // namespace tagmap
