// The .tmw weight file layout (docs/weights-format.md is the normative description).
//
//   header   64 bytes  magic, version, counts, region offsets/sizes, CRC-32
//   table    per tensor: name, dtype, rank, dims, data offset, byte size
//   data     each tensor's bytes at a 64-byte aligned file offset, zero padding between
//
// All integers little-endian. The CRC-32 covers the whole file with its own 4 bytes
// taken as zero, so any truncation or altered byte is refused on open.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace tagmap::weights::tmw {

/// 0x89 keeps it from looking like text; CR LF / ^Z / LF catch newline-translating copies.
inline constexpr std::array<unsigned char, 8> magic = {0x89, 'T', 'M', 'W', '\r', '\n', 0x1A, '\n'};
inline constexpr std::uint32_t version = 1;
inline constexpr std::size_t header_size = 64;
inline constexpr std::size_t alignment = 64;

// Byte offsets of the header fields.
inline constexpr std::size_t off_magic = 0;
inline constexpr std::size_t off_version = 8;        // u32
inline constexpr std::size_t off_tensor_count = 12;  // u32
inline constexpr std::size_t off_table_offset = 16;  // u64, always 64 in version 1
inline constexpr std::size_t off_table_size = 24;    // u64
inline constexpr std::size_t off_data_offset = 32;   // u64, multiple of 64
inline constexpr std::size_t off_data_size = 40;     // u64
inline constexpr std::size_t off_file_size = 48;     // u64
inline constexpr std::size_t off_checksum = 56;      // u32 CRC-32
inline constexpr std::size_t off_reserved = 60;      // u32, zero

// Bounds a reader enforces (a writer refuses to exceed them).
inline constexpr std::size_t max_name_length = 4096;
inline constexpr std::size_t max_rank = 16;

inline constexpr std::uint64_t align_up(std::uint64_t n) {
    return (n + alignment - 1) / alignment * alignment;
}

}  // namespace tagmap::weights::tmw
