// CRC-32 (IEEE 802.3, the zlib/zip polynomial), slicing-by-8. Used both to verify
// zip entries of PyTorch checkpoints and as the .tmw checksum, so one well-known,
// externally checkable function (Python's zlib.crc32) guards every byte we read.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace tagmap::weights {

namespace detail {
using Crc32Tables = std::array<std::array<std::uint32_t, 256>, 8>;

constexpr Crc32Tables make_crc32_tables() {
    Crc32Tables t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        t[0][i] = c;
    }
    for (std::uint32_t i = 0; i < 256; ++i)
        for (std::size_t s = 1; s < 8; ++s)
            t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFFu];
    return t;
}

inline constexpr Crc32Tables crc32_tables = make_crc32_tables();
}  // namespace detail

/// Continues a CRC-32: crc32_update(crc32_update(0, a), b) == crc32 of a followed by b.
inline std::uint32_t crc32_update(std::uint32_t crc, std::span<const std::byte> bytes) {
    const auto& t = detail::crc32_tables;
    std::uint32_t c = ~crc;
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    std::size_t n = bytes.size();
    while (n >= 8) {
        const std::uint32_t lo = c ^ (std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 |
                                      std::uint32_t(p[2]) << 16 | std::uint32_t(p[3]) << 24);
        c = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^
            t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
        p += 8;
        n -= 8;
    }
    while (n--) c = t[0][(c ^ *p++) & 0xFFu] ^ (c >> 8);
    return ~c;
}

inline std::uint32_t crc32(std::span<const std::byte> bytes) {
    return crc32_update(0, bytes);
}

}  // namespace tagmap::weights
