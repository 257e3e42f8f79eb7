// Reads madmom's neural-network pickles (madmom.ml.nn.NeuralNetwork, protocol 2, written
// by Python 2) into named tensors, without Python and without executing anything.
//
// The file is interpreted by the symbolic unpickler with its madmom allow-list
// (pickle.hpp): numpy arrays are rebuilt from their raw bytes, madmom's layer objects
// become plain records of their attribute dicts, activation functions stay names. Every
// array reachable from the root is then named by its attribute path, e.g.
// "layers.0.fwd_layer.input_gate.weights" or "layers.3.bias"; an ensemble of several
// files gets "nets.<i>." in front (file order, from 0).
#pragma once

#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tagmap/core/error.hpp"
#include "tagmap/weights/pickle.hpp"
#include "tagmap/weights/tensor.hpp"

namespace tagmap::weights {

namespace detail {

class MadmomTensorWalk {
  public:
    MadmomTensorWalk(const pickle::Unpickler& u, std::string context, TensorSet& out)
        : u_(u), context_(std::move(context)), out_(out) {}

    void walk(pickle::ValueId id, const std::string& path, std::size_t depth) {
        // Bounds against hostile sharing (a DAG can name exponentially many paths) and
        // memo cycles; real networks are a few levels deep with ~140 arrays.
        if (depth > 32) fail("objects nested deeper than 32 levels at '" + path + "'");
        if (++visits_ > (1u << 16)) fail("more than 65536 values to walk");
        const pickle::Value& v = u_.value(id);
        using pickle::Kind;
        switch (v.kind) {
            case Kind::ndarray:
                add_array(v, path);
                return;
            case Kind::object: {
                if (v.items.empty()) fail("object " + v.text + " at '" + path + "' has no state");
                const pickle::Value& d = u_.value(v.items[0]);
                for (std::size_t i = 0; i + 1 < d.items.size(); i += 2) {
                    const pickle::Value& key = u_.value(d.items[i]);
                    if (key.kind != Kind::string || !is_identifier(key.text))
                        fail("attribute name of " + v.text + " at '" + path +
                             "' is not an identifier");
                    walk(d.items[i + 1], join(path, key.text), depth + 1);
                }
                return;
            }
            case Kind::list:
            case Kind::tuple:
                for (std::size_t i = 0; i < v.items.size(); ++i)
                    walk(v.items[i], join(path, std::to_string(i)), depth + 1);
                return;
            case Kind::dict:
                fail("a plain dict at '" + path + "' (madmom pickles store objects)");
            default:
                return;  // None, flags, numbers, strings, activation functions: no tensors
        }
    }

  private:
    const pickle::Unpickler& u_;
    std::string context_;
    TensorSet& out_;
    std::size_t visits_ = 0;

    [[noreturn]] void fail(const std::string& why) const {
        throw FormatError(context_ + ": " + why);
    }

    static std::string join(const std::string& a, const std::string& b) {
        return a.empty() ? b : a + "." + b;
    }
    static bool is_identifier(std::string_view s) {
        if (s.empty() || s.size() > 64) return false;
        for (char c : s)
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_'))
                return false;
        return true;
    }

    void add_array(const pickle::Value& v, const std::string& path) {
        if (v.items.size() != 3) fail("array at '" + path + "' was never filled in (no BUILD)");
        if (path.empty()) fail("the root is a bare array, not a network");
        Tensor t;
        t.name = path;
        t.dtype = *pickle::Unpickler::numpy_dtype(u_.value(v.items[1]).text);
        for (pickle::ValueId d : u_.value(v.items[0]).items) t.shape.push_back(u_.value(d).integer);
        const std::string& raw = u_.value(v.items[2]).text;  // size checked at BUILD
        t.data.resize(raw.size());
        std::memcpy(t.data.data(), raw.data(), raw.size());
        for (const Tensor& o : out_)
            if (o.name == t.name) fail("two arrays named '" + t.name + "'");
        out_.push_back(std::move(t));
    }
};

}  // namespace detail

/// The arrays of one madmom network pickle held in memory, named by attribute path with
/// `prefix` in front. FormatError / UnsupportedError (naming `context`) for anything that
/// is not such a pickle: other globals, calls, truncated or inconsistent data.
inline TensorSet read_madmom_pickle_bytes(std::span<const std::byte> bytes,
                                          const std::string& context,
                                          const std::string& prefix = "") {
    // Far below the torch defaults: a real file has ~2000 values.
    pickle::Limits limits;
    limits.max_stack = 1u << 16;
    limits.max_values = 1u << 20;
    limits.max_memo = 1u << 18;
    pickle::Unpickler u(context, limits, pickle::AllowList::madmom);
    std::size_t end = 0;
    const pickle::ValueId root = u.load(bytes, 0, &end);
    if (end != bytes.size())
        throw FormatError(context + ": " + std::to_string(bytes.size() - end) +
                          " bytes after the pickle's STOP opcode");
    const pickle::Value& r = u.value(root);
    if (r.kind != pickle::Kind::object || r.text != "madmom.ml.nn.NeuralNetwork")
        throw FormatError(context + ": the pickle holds a " +
                          std::string(pickle::kind_name(r.kind)) +
                          (r.kind == pickle::Kind::object ? " " + r.text : std::string()) +
                          ", not a madmom.ml.nn.NeuralNetwork");
    TensorSet out;
    std::string base = prefix;
    if (base.ends_with('.')) base.pop_back();
    detail::MadmomTensorWalk(u, context, out).walk(root, base, 0);
    if (out.empty()) throw FormatError(context + ": the network holds no arrays");
    return out;
}

inline std::vector<std::byte> read_file_bytes(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw IoError(file.string() + ": cannot open");
    in.seekg(0, std::ios::end);
    const auto size = static_cast<std::size_t>(in.tellg());
    in.seekg(0);
    std::vector<std::byte> bytes(size);
    in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
    if (!in) throw IoError(file.string() + ": read failed");
    return bytes;
}

/// One madmom network pickle file.
inline TensorSet read_madmom_pickle(const std::filesystem::path& file,
                                    const std::string& prefix = "") {
    return read_madmom_pickle_bytes(read_file_bytes(file), file.string(), prefix);
}

/// An ensemble: network i (file order) under "nets.<i>.".
inline TensorSet read_madmom_ensemble(const std::vector<std::filesystem::path>& files) {
    TensorSet all;
    for (std::size_t i = 0; i < files.size(); ++i) {
        TensorSet one = read_madmom_pickle(files[i], "nets." + std::to_string(i));
        for (Tensor& t : one) all.push_back(std::move(t));
    }
    return all;
}

}  // namespace tagmap::weights
