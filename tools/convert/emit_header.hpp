// tagmap-convert --emit-header: a weight set as C++ source, for programs that must not
// read files (firmware, plugins): each tensor an `alignas(64) constexpr` array of exact
// hexadecimal float literals, then a table of names, dtypes and shapes that
// tagmap::weights::CompiledWeights (weights/compiled_weights.hpp) reads.
#pragma once

#include <filesystem>
#include <ostream>
#include <string>

#include "tagmap/weights/pth_reader.hpp"
#include "tagmap/weights/tensor.hpp"

namespace tagmap::convert {

/// Writes `tensors` as a header in namespace `ns` (a C++ identifier or a::b path);
/// `source` is recorded for messages. UnsupportedError for dtypes other than float32 and
/// int64, InvalidArgument for a bad namespace.
void emit_header(const weights::TensorSet& tensors, const std::string& ns,
                 const std::string& source, std::ostream& out);

/// The tensors of a .tmw file (by its magic) or a PyTorch checkpoint.
weights::TensorSet read_tensors(const std::filesystem::path& in, const weights::PthOptions& pth);

/// emit_header into `path`, written to a temporary file then renamed (no partial output).
void write_header_file(const weights::TensorSet& tensors, const std::string& ns,
                       const std::string& source, const std::filesystem::path& path);

}  // namespace tagmap::convert
