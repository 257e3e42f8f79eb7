// Fuzzes the .tmw reader. The CRC-32 would reject nearly every mutation before the
// table parser sees it, so the harness rewrites a valid checksum first: the fuzzer then
// explores the header and table validation (the checksum itself is unit-tested).
#include <cstring>
#include <vector>

#include "tagmap/weights/crc32.hpp"
#include "tagmap/weights/weight_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace tw = tagmap::weights;
    std::vector<std::byte> bytes(size);
    if (size) std::memcpy(bytes.data(), data, size);
    if (size >= tw::tmw::header_size) {
        std::memset(bytes.data() + tw::tmw::off_checksum, 0, 4);
        tw::store_le<std::uint32_t>(bytes.data() + tw::tmw::off_checksum, tw::crc32(bytes));
    }
    try {
        const auto w = tw::WeightFile::from_bytes(std::move(bytes));
        for (const auto& t : w.tensors()) {
            // Touch every byte the reader hands out: it must lie inside the buffer.
            volatile std::byte sink{};
            for (std::byte b : t.bytes) sink = sink ^ b;
            if (w.find(t.name) == nullptr) __builtin_trap();
        }
    } catch (const tagmap::Error&) {
    }
    return 0;
}
