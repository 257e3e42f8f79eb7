// SHA-256 digests (OpenSSL) as lowercase hex: of weights files, so new weights mean
// re-embedding, and of the rows a map was fitted on, so an unchanged library is a no-op.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace tagmap::store {

class Sha256 {
  public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;

    Sha256& update(std::span<const std::byte> bytes);
    Sha256& update(std::string_view text);
    Sha256& update_int(std::int64_t value);  ///< 8 bytes, little-endian
    /// The digest as 64 hex digits; the object cannot be updated afterwards.
    std::string hex();

  private:
    struct State;
    std::unique_ptr<State> state_;
};

/// SHA-256 of a whole file (IoError if it cannot be read).
std::string sha256_file(const std::filesystem::path& file);

}  // namespace tagmap::store
