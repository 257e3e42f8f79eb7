// Reads the tensors of a PyTorch checkpoint (.pth / .pt) without Python and without
// executing anything: both the zip container (torch >= 1.6) and the legacy pickle
// stream (magic number, protocol 1001, sys_info, object, storage keys, raw storages).
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "tagmap/core/error.hpp"
#include "tagmap/weights/byte_cursor.hpp"
#include "tagmap/weights/dtype.hpp"
#include "tagmap/weights/mapped_file.hpp"
#include "tagmap/weights/pickle.hpp"
#include "tagmap/weights/tensor.hpp"
#include "tagmap/weights/tmw_format.hpp"
#include "tagmap/weights/zip_reader.hpp"

namespace tagmap::weights {

struct PthOptions {
    /// Descend into this entry of the top-level dict first (e.g. "state_dict" for a
    /// training checkpoint {"epoch": ..., "state_dict": {...}}). '/' separates levels.
    std::string select_key{};
    /// Remove this prefix from tensor names that start with it (e.g. "module." that
    /// DataParallel adds).
    std::string strip_prefix{};
};

namespace detail {

/// Storage element type of a torch storage class; nullopt for types tagmap cannot hold.
inline std::optional<DType> storage_dtype(std::string_view type_name) {
    if (type_name == "torch.FloatStorage") return DType::float32;
    if (type_name == "torch.DoubleStorage") return DType::float64;
    if (type_name == "torch.HalfStorage") return DType::float16;
    if (type_name == "torch.LongStorage") return DType::int64;
    return std::nullopt;
}

inline std::size_t storage_itemsize(std::string_view type_name) {
    if (auto d = storage_dtype(type_name)) return dtype_size(*d);
    if (type_name == "torch.IntStorage") return 4;
    if (type_name == "torch.ShortStorage" || type_name == "torch.BFloat16Storage") return 2;
    if (type_name == "torch.CharStorage" || type_name == "torch.ByteStorage" ||
        type_name == "torch.BoolStorage")
        return 1;
    if (type_name == "torch.ComplexFloatStorage") return 8;
    if (type_name == "torch.ComplexDoubleStorage") return 16;
    return 0;
}

/// One root storage's raw bytes, as found in the file.
struct StorageBytes {
    std::string type_name;
    std::int64_t numel = 0;
    std::span<const std::byte> bytes;
};

class PthDecoder {
  public:
    PthDecoder(std::span<const std::byte> file, const PthOptions& options, std::string context)
        : file_(file), options_(options), context_(std::move(context)), pickle_(context_) {}

    TensorSet decode() {
        if (ZipArchive::has_signature(file_)) return decode_zip();
        if (file_.size() >= 2 && file_[0] == std::byte{0x80}) return decode_legacy();
        if (file_.size() >= 262 && std::memcmp(file_.data() + 257, "ustar", 5) == 0)
            throw UnsupportedError(context_ +
                                   ": tar-format checkpoint (PyTorch < 0.4) not supported");
        fail("not a PyTorch checkpoint (neither a zip archive nor a pickle stream)");
    }

  private:
    std::span<const std::byte> file_;
    const PthOptions& options_;
    std::string context_;
    pickle::Unpickler pickle_;
    std::map<std::string, StorageBytes> storages_;

    [[noreturn]] void fail(const std::string& why) const {
        throw FormatError(context_ + ": " + why);
    }

    /// Checks that all persistent ids agree on each key's type and size.
    std::map<std::string, StorageBytes> declared_storages() const {
        std::map<std::string, StorageBytes> out;
        for (pickle::ValueId id : pickle_.storages()) {
            const auto& s = pickle_.storage(id);
            auto [it, fresh] = out.try_emplace(s.key, StorageBytes{s.type_name, s.numel, {}});
            if (!fresh && (it->second.type_name != s.type_name || it->second.numel != s.numel))
                fail("storage " + s.key + " is declared twice with different types or sizes");
        }
        return out;
    }

    static std::uint64_t storage_nbytes(const StorageBytes& s, const std::string& key,
                                        const std::string& ctx) {
        const std::size_t item = storage_itemsize(s.type_name);
        std::uint64_t n = 0;
        if (__builtin_mul_overflow(static_cast<std::uint64_t>(s.numel), item, &n))
            throw FormatError(ctx + ": storage " + key + " size overflows");
        return n;
    }

    TensorSet decode_zip() {
        ZipArchive zip(file_, context_);
        const ZipArchive::Entry* pkl = nullptr;
        for (const auto& e : zip.entries()) {
            const auto slash = e.name.find('/');
            if (slash != std::string::npos && e.name.substr(slash) == "/data.pkl") {
                if (pkl) fail("zip holds more than one data.pkl");
                pkl = &e;
            }
        }
        if (!pkl) fail("zip archive has no <dir>/data.pkl: not a PyTorch checkpoint");
        const std::string dir = pkl->name.substr(0, pkl->name.find('/'));
        if (const auto* bo = zip.find(dir + "/byteorder")) {
            auto b = zip.read(*bo);
            if (std::string_view(reinterpret_cast<const char*>(b.data()), b.size()) != "little")
                throw UnsupportedError(context_ + ": big-endian checkpoint not supported");
        }
        auto pickle_bytes = zip.read(*pkl);
        std::size_t end = 0;
        const pickle::ValueId root = pickle_.load(pickle_bytes, 0, &end);
        storages_ = declared_storages();
        for (auto& [key, s] : storages_) {
            const auto* entry = zip.find(dir + "/data/" + key);
            if (!entry) fail("storage " + key + " is missing: no entry " + dir + "/data/" + key);
            s.bytes = zip.read(*entry);
            if (s.bytes.size() != storage_nbytes(s, key, context_))
                fail("storage " + key + " holds " + std::to_string(s.bytes.size()) +
                     " bytes, expected " + std::to_string(storage_nbytes(s, key, context_)) + " (" +
                     std::to_string(s.numel) + " elements of " + s.type_name + ")");
        }
        return extract(root);
    }

    TensorSet decode_legacy() {
        // Magic number, protocol version and sys_info are separate pickles.
        std::size_t pos = 0;
        pickle::Unpickler header(context_);
        const auto& magic = header.value(header.load(file_, pos, &pos));
        static constexpr unsigned char expected_magic[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9,
                                                           0x20, 0x6a, 0xa8, 0x50, 0x19};
        if (magic.kind != pickle::Kind::big_integer || magic.text.size() != sizeof expected_magic ||
            std::memcmp(magic.text.data(), expected_magic, sizeof expected_magic) != 0)
            fail("not a PyTorch checkpoint: the legacy magic number is missing");
        const auto& proto = header.value(header.load(file_, pos, &pos));
        if (proto.kind != pickle::Kind::integer || proto.integer != 1001)
            throw UnsupportedError(
                context_ + ": legacy checkpoint protocol " +
                (proto.kind == pickle::Kind::integer ? std::to_string(proto.integer) : "?") +
                " not supported (expected 1001)");
        check_sys_info(header, header.load(file_, pos, &pos));
        const pickle::ValueId root = pickle_.load(file_, pos, &pos);
        pickle::Unpickler keys_reader(context_);
        const pickle::ValueId keys_id = keys_reader.load(file_, pos, &pos);
        const auto& keys = keys_reader.value(keys_id);
        if (keys.kind != pickle::Kind::list) fail("legacy storage key list is not a list");
        storages_ = declared_storages();
        ByteCursor data(file_, context_, pos);
        std::unordered_set<std::string> seen;
        for (pickle::ValueId k : keys.items) {
            const auto& key_value = keys_reader.value(k);
            if (key_value.kind != pickle::Kind::string) fail("legacy storage key is not a string");
            const std::string& key = key_value.text;
            auto it = storages_.find(key);
            if (it == storages_.end())
                fail("legacy storage " + key + " is not referenced by any tensor");
            if (!seen.insert(key).second) fail("legacy storage " + key + " is listed twice");
            const auto count = data.read<std::int64_t>("storage element count");
            if (count != it->second.numel)
                fail("legacy storage " + key + " has " + std::to_string(count) +
                     " elements, its tensor says " + std::to_string(it->second.numel));
            it->second.bytes =
                data.take(storage_nbytes(it->second, key, context_), "storage " + key);
        }
        for (const auto& [key, s] : storages_)
            if (!seen.count(key)) fail("legacy storage " + key + " has no data");
        return extract(root);
    }

    void check_sys_info(const pickle::Unpickler& u, pickle::ValueId id) const {
        const auto& info = u.value(id);
        if (info.kind != pickle::Kind::dict) fail("legacy sys_info is not a dict");
        for (std::size_t i = 0; i + 1 < info.items.size(); i += 2) {
            const auto& k = u.value(info.items[i]);
            const auto& v = u.value(info.items[i + 1]);
            if (k.kind == pickle::Kind::string && k.text == "little_endian" &&
                !(v.kind == pickle::Kind::boolean && v.integer == 1))
                throw UnsupportedError(context_ + ": big-endian legacy checkpoint not supported");
            // type_sizes may say long == 4 (written on Windows); storages are sized by
            // their element count and torch's own type, so it does not matter here.
        }
    }

    /// The dict whose tensors are wanted: the root, or the entry named by select_key.
    pickle::ValueId select(pickle::ValueId root) const {
        pickle::ValueId cur = root;
        std::string path;
        std::string_view rest = options_.select_key;
        while (!rest.empty()) {
            const auto slash = rest.find('/');
            const std::string part(rest.substr(0, slash));
            rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
            const auto& d = pickle_.value(cur);
            if (d.kind != pickle::Kind::dict)
                throw InvalidArgument(context_ + ": cannot select '" + part +
                                      "': " + (path.empty() ? "the checkpoint" : path) + " is a " +
                                      std::string(pickle::kind_name(d.kind)) + ", not a dict");
            bool found = false;
            for (std::size_t i = 0; i + 1 < d.items.size(); i += 2) {
                const auto& k = pickle_.value(d.items[i]);
                if (k.kind == pickle::Kind::string && k.text == part) {
                    cur = d.items[i + 1];
                    found = true;
                }
            }
            if (!found)
                throw InvalidArgument(context_ + ": no entry '" + part + "' to select; " +
                                      describe_keys(cur));
            path += (path.empty() ? "" : "/") + part;
        }
        return cur;
    }

    std::string describe_keys(pickle::ValueId dict_id) const {
        const auto& d = pickle_.value(dict_id);
        std::string s = "entries: ";
        std::size_t shown = 0;
        for (std::size_t i = 0; i + 1 < d.items.size() && shown < 12; i += 2, ++shown) {
            const auto& k = pickle_.value(d.items[i]);
            s += (shown ? ", " : "") +
                 (k.kind == pickle::Kind::string ? k.text : std::string("<non-string>")) + " (" +
                 std::string(pickle::kind_name(pickle_.value(d.items[i + 1]).kind)) + ")";
        }
        if (d.items.size() / 2 > shown) s += ", ...";
        return shown ? s : "the dict is empty";
    }

    TensorSet extract(pickle::ValueId root) {
        const pickle::ValueId dict_id = select(root);
        const auto& d = pickle_.value(dict_id);
        if (d.kind != pickle::Kind::dict)
            fail("the checkpoint holds a " + std::string(pickle::kind_name(d.kind)) +
                 ", not a dict of tensors");
        TensorSet out;
        std::unordered_set<std::string> names;
        // Stride-0 views can expand a tiny storage enormously: bound what we materialise.
        std::uint64_t budget =
            8 * static_cast<std::uint64_t>(file_.size()) + (std::uint64_t(16) << 20);
        for (std::size_t i = 0; i + 1 < d.items.size(); i += 2) {
            const auto& k = pickle_.value(d.items[i]);
            const auto& v = pickle_.value(d.items[i + 1]);
            if (v.kind != pickle::Kind::tensor) continue;  // e.g. ints kept beside the tensors
            if (k.kind != pickle::Kind::string) fail("a tensor has a non-string name");
            std::string name = k.text;
            if (!options_.strip_prefix.empty() && name.starts_with(options_.strip_prefix))
                name.erase(0, options_.strip_prefix.size());
            if (name.empty())
                fail("tensor '" + k.text + "' has an empty name (after prefix stripping)");
            if (name.size() > tmw::max_name_length)  // .tmw (and every sane model) limit
                fail("a tensor name is longer than " + std::to_string(tmw::max_name_length) +
                     " bytes");
            if (!names.insert(name).second) fail("duplicate tensor name '" + name + "'");
            out.push_back(materialize(name, pickle_.tensor(d.items[i + 1]), budget));
        }
        if (out.empty())
            fail("no tensors found" +
                 std::string(options_.select_key.empty() ? ""
                                                         : " under '" + options_.select_key + "'") +
                 "; " + describe_keys(dict_id) + " (select a nested dict with --select KEY)");
        return out;
    }

    Tensor materialize(const std::string& name, const pickle::TensorRef& ref,
                       std::uint64_t& budget) const {
        const auto& sref = pickle_.storage(ref.storage);
        const auto dtype = storage_dtype(sref.type_name);
        if (!dtype)
            throw UnsupportedError(context_ + ": tensor '" + name + "' has storage type " +
                                   sref.type_name +
                                   "; supported: float32, float64, float16, int64");
        const StorageBytes& root = storages_.at(sref.key);
        const std::size_t item = dtype_size(*dtype);
        const std::int64_t base = sref.view_offset;
        const std::int64_t avail = sref.view_numel >= 0 ? sref.view_numel : root.numel;
        auto bad = [&](const std::string& why) -> FormatError {
            return FormatError(context_ + ": tensor '" + name + "' " + why);
        };
        if (ref.size.size() != ref.stride.size())
            throw bad("has " + std::to_string(ref.size.size()) + " sizes but " +
                      std::to_string(ref.stride.size()) + " strides");
        if (ref.offset < 0) throw bad("has a negative storage offset");
        std::int64_t numel = 1, last = 0;  // last = largest element index reached
        for (std::size_t i = 0; i < ref.size.size(); ++i) {
            if (ref.size[i] < 0) throw bad("has a negative size " + shape_string(ref.size));
            if (ref.stride[i] < 0) throw bad("has a negative stride");
            if (__builtin_mul_overflow(numel, ref.size[i], &numel)) throw bad("size overflows");
        }
        Tensor t;
        t.name = name;
        t.dtype = *dtype;
        t.shape = ref.size;
        std::uint64_t nbytes = 0;
        if (__builtin_mul_overflow(static_cast<std::uint64_t>(numel), item, &nbytes))
            throw bad("byte size overflows");
        if (numel == 0) return t;
        for (std::size_t i = 0; i < ref.size.size(); ++i) {
            std::int64_t span = 0;
            if (__builtin_mul_overflow(ref.size[i] - 1, ref.stride[i], &span) ||
                __builtin_add_overflow(last, span, &last))
                throw bad("strided extent overflows");
        }
        std::int64_t end = 0;
        if (__builtin_add_overflow(ref.offset, last, &end) || end >= avail)
            throw bad(
                "(shape " + shape_string(ref.size) + ", offset " + std::to_string(ref.offset) +
                ") reaches element " + std::to_string(ref.offset) + " + " + std::to_string(last) +
                " but its storage " + sref.key + " has " + std::to_string(avail) + " elements");
        if (nbytes > budget)
            throw bad("expands to more bytes than the checkpoint can justify; refusing");
        budget -= nbytes;
        t.data.resize(static_cast<std::size_t>(nbytes));
        const std::byte* src =
            root.bytes.data() + static_cast<std::size_t>(base + ref.offset) * item;
        // Row-major strides: one copy. Otherwise walk the index space odometer-style.
        bool contiguous = true;
        for (std::int64_t i = static_cast<std::int64_t>(ref.size.size()) - 1, expect = 1; i >= 0;
             --i) {
            if (ref.size[i] != 1 && ref.stride[i] != expect) contiguous = false;
            expect *= ref.size[i];
        }
        if (contiguous) {
            std::memcpy(t.data.data(), src, t.data.size());
            return t;
        }
        const std::size_t rank = ref.size.size();
        std::vector<std::int64_t> idx(rank, 0);
        std::int64_t off = 0;
        for (std::int64_t n = 0; n < numel; ++n) {
            std::memcpy(t.data.data() + static_cast<std::size_t>(n) * item,
                        src + static_cast<std::size_t>(off) * item, item);
            for (std::size_t d = rank; d-- > 0;) {
                if (++idx[d] < ref.size[d]) {
                    off += ref.stride[d];
                    break;
                }
                off -= (idx[d] - 1) * ref.stride[d];
                idx[d] = 0;
            }
        }
        return t;
    }
};

}  // namespace detail

/// Tensors of a checkpoint held in memory. Throws FormatError (corrupt, truncated or
/// hostile bytes), UnsupportedError (well-formed but unsupported: compressed zip entry,
/// dtype, opcode) or InvalidArgument (select_key not found). Never executes anything.
inline TensorSet read_pth_bytes(std::span<const std::byte> file, const PthOptions& options = {}) {
    return detail::PthDecoder(file, options, "<pth bytes>").decode();
}

/// Tensors of a checkpoint file (memory-mapped while it is read); error messages start
/// with the file name.
inline TensorSet read_pth(const std::filesystem::path& file, const PthOptions& options = {}) {
    const MappedFile mapped = MappedFile::open(file);
    return detail::PthDecoder(mapped.bytes(), options, file.string()).decode();
}

}  // namespace tagmap::weights
