// The .tmw reader: maps a weight file, validates all of it once (checksum, table,
// every offset and size), then hands out zero-copy, 64-byte aligned views of tensors
// looked up by name, with checked dtype and shape.
#pragma once

#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tagmap/core/error.hpp"
#include "tagmap/weights/byte_cursor.hpp"
#include "tagmap/weights/crc32.hpp"
#include "tagmap/weights/mapped_file.hpp"
#include "tagmap/weights/pth_reader.hpp"
#include "tagmap/weights/tensor.hpp"
#include "tagmap/weights/tmw_format.hpp"
#include "tagmap/weights/tmw_writer.hpp"

namespace tagmap::weights {

static_assert(std::endian::native == std::endian::little,
              "tagmap weight files hold little-endian data and are read in place");

/// A view of one tensor inside a WeightFile; valid as long as the WeightFile lives.
struct TensorRef {
    std::string name;
    DType dtype = DType::float32;
    std::vector<std::int64_t> shape;
    std::span<const std::byte> bytes;  // 64-byte aligned, contiguous, row-major

    std::int64_t numel() const { return shape_numel(shape); }
};

class WeightFile {
  public:
    /// Maps a .tmw file and validates it completely (FormatError / UnsupportedError /
    /// IoError naming the file).
    static WeightFile open(const std::filesystem::path& tmw) {
        WeightFile w;
        w.source_ = tmw.string();
        w.mapping_ = MappedFile::open(tmw);
        w.index(w.mapping_.bytes());
        return w;
    }

    /// Takes a .tmw image held in memory (copied once into 64-byte aligned storage).
    static WeightFile from_bytes(std::vector<std::byte> tmw_bytes) {
        return from_span(tmw_bytes, "<tmw bytes>");
    }

    /// A .tmw file (mapped), or a PyTorch checkpoint converted in memory.
    static WeightFile load(const std::filesystem::path& file) {
        std::array<unsigned char, 8> head{};
        {
            std::ifstream in(file, std::ios::binary);
            if (!in) throw IoError(file.string() + ": cannot open");
            in.read(reinterpret_cast<char*>(head.data()), head.size());
        }
        if (head == tmw::magic) return open(file);
        return from_span(encode_tmw(read_pth(file)), file.string());
    }

    WeightFile(WeightFile&&) noexcept = default;
    WeightFile& operator=(WeightFile&&) noexcept = default;
    WeightFile(const WeightFile&) = delete;
    WeightFile& operator=(const WeightFile&) = delete;

    /// Tensors in file order.
    const std::vector<TensorRef>& tensors() const { return tensors_; }

    /// Where the bytes came from (file name or "<tmw bytes>"), as used in messages.
    const std::string& source() const { return source_; }

    const TensorRef* find(std::string_view name) const {
        auto it = by_name_.find(std::string(name));
        return it == by_name_.end() ? nullptr : &tensors_[it->second];
    }

    /// The tensor `name`, which must have `dtype` and `shape`; BindError otherwise,
    /// naming the tensor and showing expected and actual dtype or shape.
    const TensorRef& require(std::string_view name, DType dtype,
                             std::span<const std::int64_t> shape) const {
        const TensorRef* t = find(name);
        if (!t)
            throw BindError(source_ + ": tensor '" + std::string(name) + "' is missing (expected " +
                            std::string(dtype_name(dtype)) + " " + shape_string(shape) + ")");
        if (t->dtype != dtype)
            throw BindError(source_ + ": tensor '" + t->name + "' is " +
                            std::string(dtype_name(t->dtype)) + ", expected " +
                            std::string(dtype_name(dtype)));
        if (!std::equal(t->shape.begin(), t->shape.end(), shape.begin(), shape.end()))
            throw BindError(source_ + ": tensor '" + t->name + "' has shape " +
                            shape_string(t->shape) + ", expected " + shape_string(shape));
        return *t;
    }

    /// Zero-copy float32 view of `name` (BindError as for require()).
    std::span<const float> get_f32(std::string_view name,
                                   std::span<const std::int64_t> shape) const {
        const TensorRef& t = require(name, DType::float32, shape);
        return {reinterpret_cast<const float*>(t.bytes.data()),
                static_cast<std::size_t>(t.numel())};
    }
    std::span<const float> get_f32(std::string_view name,
                                   std::initializer_list<std::int64_t> shape) const {
        return get_f32(name, std::span<const std::int64_t>(shape.begin(), shape.size()));
    }

  private:
    struct AlignedFree {
        void operator()(std::byte* p) const {
            ::operator delete[](p, std::align_val_t{tmw::alignment});
        }
    };

    std::string source_;
    MappedFile mapping_;
    std::unique_ptr<std::byte[], AlignedFree> buffer_;
    std::vector<TensorRef> tensors_;
    std::unordered_map<std::string, std::size_t> by_name_;

    WeightFile() = default;

    static WeightFile from_span(std::span<const std::byte> bytes, std::string source) {
        WeightFile w;
        w.source_ = std::move(source);
        const std::size_t n = std::max<std::size_t>(bytes.size(), 1);
        w.buffer_.reset(
            static_cast<std::byte*>(::operator new[](n, std::align_val_t{tmw::alignment})));
        if (!bytes.empty()) std::memcpy(w.buffer_.get(), bytes.data(), bytes.size());
        w.index({w.buffer_.get(), bytes.size()});
        return w;
    }

    [[noreturn]] void fail(const std::string& why) const {
        throw FormatError(source_ + ": " + why);
    }

    void index(std::span<const std::byte> file) {
        if (file.size() < tmw::header_size) {
            if (file.size() >= 4 && (load_le<std::uint32_t>(file.data()) == 0x04034b50u))
                fail(
                    "not a .tmw file (it looks like a PyTorch checkpoint: convert it with "
                    "tagmap-convert)");
            fail("truncated: " + std::to_string(file.size()) + " bytes, a .tmw header needs 64");
        }
        const std::byte* h = file.data();
        if (std::memcmp(h, tmw::magic.data(), tmw::magic.size()) != 0) {
            if (load_le<std::uint32_t>(h) == 0x04034b50u || h[0] == std::byte{0x80})
                fail(
                    "not a .tmw file (it looks like a PyTorch checkpoint: convert it with "
                    "tagmap-convert)");
            fail("not a .tmw file (bad magic)");
        }
        const auto ver = load_le<std::uint32_t>(h + tmw::off_version);
        if (ver != tmw::version)
            throw UnsupportedError(source_ + ": .tmw version " + std::to_string(ver) +
                                   " not supported (this reader knows " +
                                   std::to_string(tmw::version) + ")");
        const auto count = load_le<std::uint32_t>(h + tmw::off_tensor_count);
        const auto table_offset = load_le<std::uint64_t>(h + tmw::off_table_offset);
        const auto table_size = load_le<std::uint64_t>(h + tmw::off_table_size);
        const auto data_offset = load_le<std::uint64_t>(h + tmw::off_data_offset);
        const auto data_size = load_le<std::uint64_t>(h + tmw::off_data_size);
        const auto file_size = load_le<std::uint64_t>(h + tmw::off_file_size);
        if (file_size != file.size())
            fail(file.size() < file_size
                     ? "truncated: header says " + std::to_string(file_size) + " bytes, file has " +
                           std::to_string(file.size())
                     : "header says " + std::to_string(file_size) + " bytes, file has " +
                           std::to_string(file.size()) + " (trailing bytes)");
        // Checksum of the whole file with the checksum field read as zero.
        std::uint32_t crc = crc32_update(0, file.first(tmw::off_checksum));
        constexpr std::array<std::byte, 4> zero{};
        crc = crc32_update(crc, zero);
        crc = crc32_update(crc, file.subspan(tmw::off_checksum + 4));
        if (crc != load_le<std::uint32_t>(h + tmw::off_checksum))
            fail("checksum mismatch: the file is corrupt or was altered");
        if (load_le<std::uint32_t>(h + tmw::off_reserved) != 0)
            fail("reserved header field is not zero");
        if (table_offset != tmw::header_size || table_size > file_size - tmw::header_size ||
            data_offset % tmw::alignment != 0 || data_offset < tmw::header_size + table_size ||
            data_offset > file_size || data_size != file_size - data_offset)
            fail("inconsistent header (table or data region outside the file)");
        ByteCursor table(file.first(static_cast<std::size_t>(tmw::header_size + table_size)),
                         source_, tmw::header_size);
        if (count > table_size / 24)
            fail("tensor count " + std::to_string(count) + " does not fit the table");
        tensors_.reserve(count);
        std::uint64_t prev_end = data_offset;
        for (std::uint32_t i = 0; i < count; ++i) {
            TensorRef t;
            const auto name_len = table.read<std::uint32_t>("tensor name length");
            if (name_len == 0 || name_len > tmw::max_name_length)
                fail("tensor " + std::to_string(i) + " has a bad name length");
            t.name = std::string(table.read_text(name_len, "tensor name"));
            const auto code = table.read<std::uint32_t>("dtype");
            const auto dtype = dtype_from_code(code);
            if (!dtype)
                fail("tensor '" + t.name + "' has unknown dtype code " + std::to_string(code));
            t.dtype = *dtype;
            const auto rank = table.read<std::uint32_t>("rank");
            if (rank > tmw::max_rank)
                fail("tensor '" + t.name + "' has rank " + std::to_string(rank));
            std::uint64_t numel = 1;
            for (std::uint32_t d = 0; d < rank; ++d) {
                const auto dim = table.read<std::int64_t>("dimension");
                if (dim < 0 ||
                    __builtin_mul_overflow(numel, static_cast<std::uint64_t>(dim), &numel))
                    fail("tensor '" + t.name + "' has a bad dimension");
                t.shape.push_back(dim);
            }
            const auto offset = table.read<std::uint64_t>("data offset");
            const auto nbytes = table.read<std::uint64_t>("byte size");
            std::uint64_t expect = 0;
            if (__builtin_mul_overflow(numel, dtype_size(t.dtype), &expect) || expect != nbytes)
                fail("tensor '" + t.name + "' " + std::string(dtype_name(t.dtype)) + " " +
                     shape_string(t.shape) + " has byte size " + std::to_string(nbytes));
            if (offset % tmw::alignment != 0 || offset < prev_end || offset > file_size ||
                nbytes > file_size - offset)
                fail("tensor '" + t.name +
                     "' data lies outside the data region, overlaps another or is unaligned");
            prev_end = offset + nbytes;
            t.bytes =
                file.subspan(static_cast<std::size_t>(offset), static_cast<std::size_t>(nbytes));
            if (!by_name_.emplace(t.name, tensors_.size()).second)
                fail("duplicate tensor name '" + t.name + "'");
            tensors_.push_back(std::move(t));
        }
        if (!table.at_end())
            fail("tensor table has " + std::to_string(table.remaining()) + " unused bytes");
    }
};

}  // namespace tagmap::weights
