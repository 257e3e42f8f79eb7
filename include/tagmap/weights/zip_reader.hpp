// A strict reader of the zip container PyTorch (>= 1.6) writes: STORED entries only,
// every offset and size checked against the file, every entry's CRC-32 verified when
// it is read. Compressed or encrypted entries get an UnsupportedError naming them.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "tagmap/core/error.hpp"
#include "tagmap/weights/byte_cursor.hpp"
#include "tagmap/weights/crc32.hpp"

namespace tagmap::weights {

class ZipArchive {
  public:
    struct Entry {
        std::string name;
        std::uint16_t method = 0;  // 0 = stored
        std::uint16_t flags = 0;
        std::uint32_t crc = 0;
        std::uint64_t size = 0;         // compressed size (== uncompressed when stored)
        std::uint64_t data_offset = 0;  // from the start of the file
    };

    static bool has_signature(std::span<const std::byte> file) {
        return file.size() >= 4 && load_le<std::uint32_t>(file.data()) == 0x04034b50u;
    }

    /// Parses the central directory; `context` prefixes every error message.
    ZipArchive(std::span<const std::byte> file, std::string context)
        : file_(file), context_(std::move(context)) {
        parse();
    }

    const std::vector<Entry>& entries() const { return entries_; }

    const Entry* find(std::string_view name) const {
        for (const auto& e : entries_)
            if (e.name == name) return &e;
        return nullptr;
    }

    /// The entry's bytes, after checking that it is stored and its CRC-32 matches.
    std::span<const std::byte> read(const Entry& e) const {
        if (e.flags & 1u)
            throw UnsupportedError(context_ + ": zip entry " + e.name + " is encrypted");
        if (e.method != 0)
            throw UnsupportedError(context_ + ": compressed entry " + e.name +
                                   " not supported (zip method " + std::to_string(e.method) +
                                   "; PyTorch writes entries stored)");
        auto bytes = file_.subspan(static_cast<std::size_t>(e.data_offset),
                                   static_cast<std::size_t>(e.size));
        if (crc32(bytes) != e.crc)
            throw FormatError(context_ + ": zip entry " + e.name + " is corrupt (CRC-32 mismatch)");
        return bytes;
    }

  private:
    std::span<const std::byte> file_;
    std::string context_;
    std::vector<Entry> entries_;

    [[noreturn]] void fail(const std::string& why) const {
        throw FormatError(context_ + ": " + why);
    }

    void parse() {
        constexpr std::size_t eocd_size = 22;
        if (file_.size() < eocd_size)
            fail("truncated zip: too short for an end of central directory");
        // The end record sits at the end, followed only by a comment of up to 64 KiB.
        std::size_t eocd = std::string::npos;
        const std::size_t lowest =
            file_.size() > eocd_size + 0xFFFF ? file_.size() - eocd_size - 0xFFFF : 0;
        for (std::size_t p = file_.size() - eocd_size + 1; p-- > lowest;) {
            if (load_le<std::uint32_t>(file_.data() + p) == 0x06054b50u &&
                p + eocd_size + load_le<std::uint16_t>(file_.data() + p + 20) == file_.size()) {
                eocd = p;
                break;
            }
        }
        if (eocd == std::string::npos)
            fail("truncated or corrupt zip: end of central directory not found");
        ByteCursor r(file_, context_, eocd + 4);
        const auto disk = r.read<std::uint16_t>("zip disk number");
        const auto cd_disk = r.read<std::uint16_t>("zip disk number");
        r.read<std::uint16_t>("zip entry count");
        std::uint64_t count = r.read<std::uint16_t>("zip entry count");
        std::uint64_t cd_size = r.read<std::uint32_t>("zip directory size");
        std::uint64_t cd_offset = r.read<std::uint32_t>("zip directory offset");
        if (disk != 0 || cd_disk != 0)
            throw UnsupportedError(context_ + ": multi-disk zip archives are not supported");
        if (count == 0xFFFF || cd_size == 0xFFFFFFFFu || cd_offset == 0xFFFFFFFFu) {
            // Zip64: the locator just before the end record points at the zip64 end record.
            if (eocd < 20) fail("corrupt zip64: no end of central directory locator");
            ByteCursor loc(file_, context_, eocd - 20);
            if (loc.read<std::uint32_t>("zip64 locator") != 0x07064b50u)
                fail("corrupt zip64: bad locator signature");
            loc.read<std::uint32_t>("zip64 locator");
            const auto rec = loc.read<std::uint64_t>("zip64 record offset");
            if (rec > eocd) fail("corrupt zip64: end record offset outside the file");
            ByteCursor z(file_, context_, static_cast<std::size_t>(rec));
            if (z.read<std::uint32_t>("zip64 end record") != 0x06064b50u)
                fail("corrupt zip64: bad end record signature");
            z.take(20, "zip64 end record");
            z.read<std::uint64_t>("zip64 entry count");
            count = z.read<std::uint64_t>("zip64 entry count");
            cd_size = z.read<std::uint64_t>("zip64 directory size");
            cd_offset = z.read<std::uint64_t>("zip64 directory offset");
        }
        if (cd_offset > file_.size() || cd_size > file_.size() - cd_offset)
            fail("corrupt zip: central directory lies outside the file");
        if (count > cd_size / 46)
            fail("corrupt zip: entry count does not fit the central directory");
        ByteCursor cd(file_.first(static_cast<std::size_t>(cd_offset + cd_size)), context_,
                      static_cast<std::size_t>(cd_offset));
        std::unordered_set<std::string> seen;
        entries_.reserve(static_cast<std::size_t>(count));
        for (std::uint64_t i = 0; i < count; ++i) entries_.push_back(parse_entry(cd, seen));
    }

    Entry parse_entry(ByteCursor& cd, std::unordered_set<std::string>& seen) const {
        if (cd.read<std::uint32_t>("zip directory entry") != 0x02014b50u)
            fail("corrupt zip: bad central directory signature at offset " +
                 std::to_string(cd.pos() - 4));
        Entry e;
        cd.take(4, "zip directory entry");  // versions
        e.flags = cd.read<std::uint16_t>("zip flags");
        e.method = cd.read<std::uint16_t>("zip method");
        cd.take(4, "zip directory entry");  // time, date
        e.crc = cd.read<std::uint32_t>("zip crc");
        std::uint64_t csize = cd.read<std::uint32_t>("zip size");
        std::uint64_t usize = cd.read<std::uint32_t>("zip size");
        const auto name_len = cd.read<std::uint16_t>("zip name length");
        const auto extra_len = cd.read<std::uint16_t>("zip extra length");
        const auto comment_len = cd.read<std::uint16_t>("zip comment length");
        cd.take(8, "zip directory entry");  // disk, attributes
        std::uint64_t local = cd.read<std::uint32_t>("zip local header offset");
        e.name = std::string(cd.read_text(name_len, "zip entry name"));
        ByteCursor extra(cd.take(extra_len, "zip extra field"), context_);
        while (extra.remaining() >= 4) {
            const auto id = extra.read<std::uint16_t>("zip extra field");
            const auto len = extra.read<std::uint16_t>("zip extra field");
            auto body = extra.take(len, "zip extra field");
            if (id != 0x0001) continue;
            ByteCursor z64(body, context_);  // only the fields whose 32-bit value is saturated
            if (usize == 0xFFFFFFFFu) usize = z64.read<std::uint64_t>("zip64 size");
            if (csize == 0xFFFFFFFFu) csize = z64.read<std::uint64_t>("zip64 size");
            if (local == 0xFFFFFFFFu) local = z64.read<std::uint64_t>("zip64 offset");
        }
        cd.take(comment_len, "zip entry comment");
        if (!seen.insert(e.name).second) fail("corrupt zip: duplicate entry " + e.name);
        if (e.method == 0 && csize != usize)
            fail("corrupt zip: stored entry " + e.name + " has two sizes");
        e.size = csize;
        // The local header repeats the name; its extra field (PyTorch pads data to 64 bytes
        // with it) may differ from the central one, so the data offset comes from it.
        if (local > file_.size()) fail("corrupt zip: entry " + e.name + " starts outside the file");
        ByteCursor lh(file_, context_, static_cast<std::size_t>(local));
        if (lh.read<std::uint32_t>("zip local header") != 0x04034b50u)
            fail("corrupt zip: bad local header signature for " + e.name);
        lh.take(22, "zip local header");
        const auto lname = lh.read<std::uint16_t>("zip local header");
        const auto lextra = lh.read<std::uint16_t>("zip local header");
        if (lh.read_text(lname, "zip local name") != e.name)
            fail("corrupt zip: local and central names differ for " + e.name);
        lh.take(lextra, "zip local extra field");
        e.data_offset = lh.pos();
        if (e.size > file_.size() - e.data_offset)
            fail("truncated zip: entry " + e.name + " needs " + std::to_string(e.size) +
                 " bytes at offset " + std::to_string(e.data_offset) + " but the file has " +
                 std::to_string(file_.size()) + " bytes");
        return e;
    }
};

}  // namespace tagmap::weights
