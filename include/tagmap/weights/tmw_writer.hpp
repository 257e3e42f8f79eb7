// Writes tensors as a .tmw file (layout in tmw_format.hpp / docs/weights-format.md).
#pragma once

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <system_error>
#include <unordered_set>
#include <vector>

#include <unistd.h>

#include "tagmap/core/error.hpp"
#include "tagmap/weights/byte_cursor.hpp"
#include "tagmap/weights/crc32.hpp"
#include "tagmap/weights/tensor.hpp"
#include "tagmap/weights/tmw_format.hpp"

namespace tagmap::weights {

/// The complete .tmw file for `tensors`, in their order. Throws InvalidArgument for a
/// tensor that cannot be stored (empty or duplicate name, bad shape, data size that
/// does not match dtype x shape).
inline std::vector<std::byte> encode_tmw(const TensorSet& tensors) {
    if (tensors.size() > 0xFFFFFFFFu) throw InvalidArgument("encode_tmw: too many tensors");
    std::unordered_set<std::string_view> names;
    std::uint64_t table_size = 0;
    for (const Tensor& t : tensors) {
        const auto item = dtype_size(t.dtype);
        if (t.name.empty() || t.name.size() > tmw::max_name_length)
            throw InvalidArgument("encode_tmw: tensor name '" + t.name +
                                  "' is empty or longer than " +
                                  std::to_string(tmw::max_name_length) + " bytes");
        if (!names.insert(t.name).second)
            throw InvalidArgument("encode_tmw: duplicate tensor name '" + t.name + "'");
        if (item == 0)
            throw InvalidArgument("encode_tmw: tensor '" + t.name + "' has an invalid dtype");
        if (t.shape.size() > tmw::max_rank)
            throw InvalidArgument("encode_tmw: tensor '" + t.name + "' has rank " +
                                  std::to_string(t.shape.size()));
        std::uint64_t numel = 1;
        for (auto d : t.shape) {
            if (d < 0 || __builtin_mul_overflow(numel, static_cast<std::uint64_t>(d), &numel))
                throw InvalidArgument("encode_tmw: tensor '" + t.name + "' has shape " +
                                      shape_string(t.shape));
        }
        if (numel > t.data.size() / item || numel * item != t.data.size())
            throw InvalidArgument("encode_tmw: tensor '" + t.name + "' " +
                                  std::string(dtype_name(t.dtype)) + " " + shape_string(t.shape) +
                                  " needs " + std::to_string(numel * item) +
                                  " bytes of data but has " + std::to_string(t.data.size()));
        table_size += 4 + t.name.size() + 4 + 4 + 8 * t.shape.size() + 8 + 8;
    }
    const std::uint64_t data_offset = tmw::align_up(tmw::header_size + table_size);
    std::uint64_t size = data_offset;
    std::vector<std::uint64_t> offsets;
    for (const Tensor& t : tensors) {
        offsets.push_back(size);
        size = tmw::align_up(size + t.data.size());
    }
    std::vector<std::byte> out(static_cast<std::size_t>(size));
    std::byte* h = out.data();
    std::memcpy(h + tmw::off_magic, tmw::magic.data(), tmw::magic.size());
    store_le<std::uint32_t>(h + tmw::off_version, tmw::version);
    store_le<std::uint32_t>(h + tmw::off_tensor_count, static_cast<std::uint32_t>(tensors.size()));
    store_le<std::uint64_t>(h + tmw::off_table_offset, tmw::header_size);
    store_le<std::uint64_t>(h + tmw::off_table_size, table_size);
    store_le<std::uint64_t>(h + tmw::off_data_offset, data_offset);
    store_le<std::uint64_t>(h + tmw::off_data_size, size - data_offset);
    store_le<std::uint64_t>(h + tmw::off_file_size, size);
    std::byte* p = h + tmw::header_size;
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        const Tensor& t = tensors[i];
        store_le<std::uint32_t>(p, static_cast<std::uint32_t>(t.name.size()));
        std::memcpy(p + 4, t.name.data(), t.name.size());
        p += 4 + t.name.size();
        store_le<std::uint32_t>(p, static_cast<std::uint32_t>(t.dtype));
        store_le<std::uint32_t>(p + 4, static_cast<std::uint32_t>(t.shape.size()));
        p += 8;
        for (auto d : t.shape) {
            store_le<std::int64_t>(p, d);
            p += 8;
        }
        store_le<std::uint64_t>(p, offsets[i]);
        store_le<std::uint64_t>(p + 8, t.data.size());
        p += 16;
        if (!t.data.empty()) std::memcpy(h + offsets[i], t.data.data(), t.data.size());
    }
    store_le<std::uint32_t>(h + tmw::off_checksum, crc32(out));  // field is still zero here
    return out;
}

/// Writes `tensors` to `out` through a temporary file in the same directory that is
/// renamed into place only when complete, so a failure never leaves a partial file.
inline void write_tmw_file(const TensorSet& tensors, const std::filesystem::path& out) {
    const std::vector<std::byte> bytes = encode_tmw(tensors);
    std::filesystem::path tmp = out;
    tmp += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}());
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        if (!f) throw IoError(out.string() + ": cannot create " + tmp.string());
        f.write(reinterpret_cast<const char*>(bytes.data()),
                static_cast<std::streamsize>(bytes.size()));
        f.flush();
        if (!f) {
            f.close();
            std::error_code ec;
            std::filesystem::remove(tmp, ec);
            throw IoError(out.string() + ": write failed (disk full?)");
        }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, out, ec);
    if (ec) {
        std::error_code ignored;
        std::filesystem::remove(tmp, ignored);
        throw IoError(out.string() +
                      ": cannot rename the temporary file into place: " + ec.message());
    }
}

}  // namespace tagmap::weights
