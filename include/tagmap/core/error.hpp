// Typed errors thrown by every tagmap header. Library code never prints or exits:
// it throws one of these, and the message always names what was wrong (file, tensor,
// layer, shape) so a caller can show it to a user as is.
#pragma once

#include <stdexcept>
#include <string>

namespace tagmap {

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

}  // namespace tagmap
