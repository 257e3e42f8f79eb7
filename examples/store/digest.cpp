#include "digest.hpp"

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <fstream>

#include <tagmap/core/error.hpp>

namespace tagmap::store {

struct Sha256::State {
    EVP_MD_CTX* ctx = nullptr;
    bool done = false;
};

Sha256::Sha256() : state_(std::make_unique<State>()) {
    state_->ctx = EVP_MD_CTX_new();
    if (!state_->ctx || EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr) != 1)
        throw Error("SHA-256: OpenSSL could not initialise a digest");
}

Sha256::~Sha256() { EVP_MD_CTX_free(state_->ctx); }

Sha256& Sha256::update(std::span<const std::byte> bytes) {
    if (state_->done) throw Error("SHA-256: update after hex()");
    if (!bytes.empty() && EVP_DigestUpdate(state_->ctx, bytes.data(), bytes.size()) != 1)
        throw Error("SHA-256: update failed");
    return *this;
}

Sha256& Sha256::update(std::string_view text) {
    // Length first, so ("ab","c") and ("a","bc") differ.
    update_int(std::int64_t(text.size()));
    return update(std::as_bytes(std::span(text.data(), text.size())));
}

Sha256& Sha256::update_int(std::int64_t value) {
    std::array<std::byte, 8> le{};
    for (int i = 0; i < 8; ++i) le[std::size_t(i)] = std::byte((std::uint64_t(value) >> (8 * i)) & 0xff);
    return update(le);
}

std::string Sha256::hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(state_->ctx, md, &len) != 1) throw Error("SHA-256: final failed");
    state_->done = true;
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
        out += digits[md[i] >> 4];
        out += digits[md[i] & 15];
    }
    return out;
}

std::string sha256_file(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw IoError("cannot read " + file.string() + " to compute its digest");
    Sha256 sha;
    std::array<char, 1 << 16> buffer{};
    while (in) {
        in.read(buffer.data(), buffer.size());
        const auto got = in.gcount();
        if (got > 0) sha.update(std::as_bytes(std::span(buffer.data(), std::size_t(got))));
    }
    if (in.bad()) throw IoError("read error in " + file.string());
    return sha.hex();
}

}  // namespace tagmap::store
