// A symbolic interpreter for the pickle subset that PyTorch checkpoints use.
//
// Python's unpickler imports and calls whatever a file names, so loading an untrusted
// .pth with it can run arbitrary code. This interpreter never executes anything: it
// builds a tree of plain values, accepts only an allow-list of globals (refusing any
// other by name as soon as the file mentions it) and interprets the few allowed calls
// (OrderedDict(), torch._utils._rebuild_tensor_v2, ...) itself. A second, narrower
// allow-list (AllowList::madmom) reads madmom's network pickles: numpy arrays rebuilt
// from their raw bytes and madmom's layer classes as plain records of their attribute
// dicts (see madmom_reader.hpp). Values live in an arena
// and refer to each other by index, so hostile nesting or reference cycles cannot
// overflow the C++ stack or leak; stack, memo and nesting sizes are bounded.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tagmap/core/error.hpp"
#include "tagmap/weights/byte_cursor.hpp"
#include "tagmap/weights/dtype.hpp"

namespace tagmap::weights::pickle {

enum class Kind : std::uint8_t {
    none,
    boolean,
    integer,      // fits in int64
    big_integer,  // longer LONG1/LONG4; raw little-endian two's complement in `text`
    floating,
    string,
    bytes,
    tuple,
    list,
    dict,     // items = key0, value0, key1, value1, ... in insertion order
    global,   // an allow-listed global, "module.name" in `text`
    storage,  // a torch storage named by a persistent id
    tensor,   // the result of _rebuild_tensor_v2 / _rebuild_parameter
    object,   // madmom: an allow-listed class instance; text = class, items = {state dict}
    ndarray,  // madmom: numpy array; items = {shape tuple, dtype, raw bytes} once built
    dtype,    // madmom: numpy dtype; text = "f4" etc., integer = byte order once built
};

inline std::string_view kind_name(Kind k) {
    constexpr std::array<std::string_view, 16> names = {
        "None", "bool", "int",    "int",     "float",  "str",    "bytes",   "tuple",
        "list", "dict", "global", "storage", "tensor", "object", "ndarray", "dtype"};
    return names[static_cast<std::size_t>(k)];
}

using ValueId = std::uint32_t;

/// A storage reference: ('storage', torch.XStorage, key, location, numel[, view]).
struct StorageRef {
    std::string type_name;  // "torch.FloatStorage", ...
    std::string key;
    std::int64_t numel = 0;        // elements of the root storage `key`
    std::int64_t view_offset = 0;  // legacy view_metadata: element offset into the root
    std::int64_t view_numel = -1;  // -1: the whole root storage
};

/// The arguments of _rebuild_tensor_v2: a strided view of a storage.
struct TensorRef {
    ValueId storage = 0;
    std::int64_t offset = 0;
    std::vector<std::int64_t> size, stride;
};

struct Value {
    Kind kind = Kind::none;
    std::int64_t integer = 0;  // integer, boolean; index of a storage or tensor reference
    double floating = 0;
    std::string text;            // string, bytes, big_integer, global
    std::vector<ValueId> items;  // tuple, list, dict
};

/// Limits that keep a hostile file from exhausting memory or time.
struct Limits {
    std::size_t max_stack = 1u << 20;
    std::size_t max_marks = 1u << 16;
    std::size_t max_memo = 1u << 22;
    std::size_t max_values = 1u << 23;
    std::size_t max_rank = 16;
    std::size_t max_global_length = 256;
};

/// The globals a PyTorch state_dict needs; anything else is refused by name.
inline bool is_allowed_global(std::string_view qualified) {
    static constexpr std::array<std::string_view, 18> allowed = {
        "collections.OrderedDict",
        "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state",
        "torch.Size",
        "torch.FloatStorage",
        "torch.DoubleStorage",
        "torch.HalfStorage",
        "torch.LongStorage",
        "torch.IntStorage",
        "torch.ShortStorage",
        "torch.CharStorage",
        "torch.ByteStorage",
        "torch.BoolStorage",
        "torch.BFloat16Storage",
        "torch.ComplexFloatStorage",
        "torch.ComplexDoubleStorage",
    };
    return std::find(allowed.begin(), allowed.end(), qualified) != allowed.end();
}

/// Which globals a file may name: a PyTorch state_dict, or a madmom network pickle.
enum class AllowList : std::uint8_t { torch, madmom };

/// madmom classes that may be instantiated (NEWOBJ with no arguments, then BUILD with a
/// dict): nothing of theirs runs, the instance is only a record of its attributes.
inline bool is_madmom_class(std::string_view qualified) {
    static constexpr std::array<std::string_view, 7> classes = {
        "madmom.ml.nn.NeuralNetwork",         "madmom.ml.nn.layers.BidirectionalLayer",
        "madmom.ml.nn.layers.LSTMLayer",      "madmom.ml.nn.layers.Gate",
        "madmom.ml.nn.layers.Cell",           "madmom.ml.nn.layers.FeedForwardLayer",
        "madmom.ml.nn.layers.RecurrentLayer",
    };
    return std::find(classes.begin(), classes.end(), qualified) != classes.end();
}

/// The globals of madmom's network pickles: the classes above, the activation functions
/// (stored as attribute values, never called) and numpy's array reconstruction.
inline bool is_allowed_madmom_global(std::string_view qualified) {
    static constexpr std::array<std::string_view, 8> others = {
        "madmom.ml.nn.activations.sigmoid",
        "madmom.ml.nn.activations.tanh",
        "madmom.ml.nn.activations.linear",
        "madmom.ml.nn.activations.relu",
        "numpy.core.multiarray._reconstruct",
        "numpy._core.multiarray._reconstruct",  // numpy >= 2 writes this name
        "numpy.ndarray",
        "numpy.dtype",
    };
    return is_madmom_class(qualified) ||
           std::find(others.begin(), others.end(), qualified) != others.end();
}

inline bool is_storage_type(std::string_view qualified) {
    return qualified.starts_with("torch.") && qualified.ends_with("Storage") &&
           is_allowed_global(qualified);
}

class Unpickler {
  public:
    /// `context` (usually the file name) prefixes every error message.
    explicit Unpickler(std::string context, Limits limits = {}, AllowList allow = AllowList::torch)
        : context_(std::move(context)), limits_(limits), allow_(allow) {}

    /// Interprets one pickle starting at `start` of `bytes` up to its STOP opcode.
    /// Returns the root value; `end` receives the offset just past STOP.
    ValueId load(std::span<const std::byte> bytes, std::size_t start, std::size_t* end = nullptr) {
        ByteCursor in(bytes, context_, start);
        stack_.clear();
        marks_.clear();
        memo_.clear();
        for (;;) {
            const std::size_t at = in.pos();
            if (in.at_end()) fail_at(at, "truncated pickle: no STOP opcode before the end of data");
            const auto op = static_cast<unsigned char>(in.read<std::uint8_t>("opcode"));
            if (op == '.') {  // STOP
                if (stack_.size() != 1 || !marks_.empty())
                    fail_at(at, "malformed pickle: STOP with " + std::to_string(stack_.size()) +
                                    " values on the stack");
                if (end) *end = in.pos();
                return stack_.back();
            }
            step(op, at, in);
        }
    }

    const Value& value(ValueId id) const { return values_[id]; }
    std::size_t value_count() const { return values_.size(); }

    /// Every storage reference created by a persistent id, in order of appearance.
    const std::vector<ValueId>& storages() const { return storages_; }

    /// The storage / tensor reference behind a value of kind storage / tensor.
    const StorageRef& storage(ValueId id) const {
        return storage_refs_.at(static_cast<std::size_t>(values_.at(id).integer));
    }
    const TensorRef& tensor(ValueId id) const {
        return tensor_refs_.at(static_cast<std::size_t>(values_.at(id).integer));
    }

  private:
    std::string context_;
    Limits limits_;
    AllowList allow_ = AllowList::torch;
    std::vector<Value> values_;
    std::vector<ValueId> stack_;
    std::vector<std::size_t> marks_;
    std::unordered_map<std::uint32_t, ValueId> memo_;
    std::vector<ValueId> storages_;
    // Kept beside the values so that a Value stays small (a hostile file can make many).
    std::vector<StorageRef> storage_refs_;
    std::vector<TensorRef> tensor_refs_;

    [[noreturn]] void fail_at(std::size_t at, const std::string& why) const {
        throw FormatError(context_ + ": " + why + " (pickle byte " + std::to_string(at) + ")");
    }

    ValueId make(Value v) {
        if (values_.size() >= limits_.max_values)
            throw FormatError(context_ + ": pickle creates more than " +
                              std::to_string(limits_.max_values) + " values");
        values_.push_back(std::move(v));
        return static_cast<ValueId>(values_.size() - 1);
    }
    ValueId make_kind(Kind k) {
        Value v;
        v.kind = k;
        return make(std::move(v));
    }
    ValueId make_int(std::int64_t i) {
        Value v;
        v.kind = Kind::integer;
        v.integer = i;
        return make(std::move(v));
    }
    ValueId make_text(Kind k, std::string_view s) {
        Value v;
        v.kind = k;
        v.text = s;
        return make(std::move(v));
    }

    void push(ValueId id, std::size_t at) {
        if (stack_.size() >= limits_.max_stack)
            fail_at(at, "pickle stack deeper than " + std::to_string(limits_.max_stack));
        stack_.push_back(id);
    }
    ValueId pop(std::size_t at) {
        if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back()))
            fail_at(at, "malformed pickle: pop from an empty stack");
        ValueId v = stack_.back();
        stack_.pop_back();
        return v;
    }
    ValueId& top(std::size_t at) {
        if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back()))
            fail_at(at, "malformed pickle: empty stack");
        return stack_.back();
    }
    /// Pops everything above the newest MARK, and the mark.
    std::vector<ValueId> pop_mark(std::size_t at) {
        if (marks_.empty()) fail_at(at, "malformed pickle: no MARK");
        const std::size_t m = marks_.back();
        marks_.pop_back();
        std::vector<ValueId> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
        stack_.resize(m);
        return items;
    }
    Value& container(ValueId id, Kind want, std::size_t at, const char* op) {
        Value& v = values_[id];
        if (v.kind != want)
            fail_at(at, std::string(op) + " on a " + std::string(kind_name(v.kind)) +
                            ", expected a " + std::string(kind_name(want)));
        return v;
    }
    void memo_put(std::uint32_t key, ValueId v, std::size_t at) {
        if (memo_.size() >= limits_.max_memo && !memo_.count(key))
            fail_at(at, "pickle memo larger than " + std::to_string(limits_.max_memo));
        memo_[key] = v;
    }
    ValueId memo_get(std::uint32_t key, std::size_t at) const {
        auto it = memo_.find(key);
        if (it == memo_.end())
            fail_at(at, "pickle refers to memo entry " + std::to_string(key) +
                            " that was never stored");
        return it->second;
    }

    static std::int64_t decode_long(std::span<const std::byte> b) {  // b.size() <= 8
        if (b.empty()) return 0;
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < b.size(); ++i)
            v |= std::uint64_t(std::to_integer<unsigned>(b[i])) << (8 * i);
        if (b.size() < 8 && (std::to_integer<unsigned>(b.back()) & 0x80u))
            v |= ~std::uint64_t(0) << (8 * b.size());
        return static_cast<std::int64_t>(v);
    }

    ValueId make_global(std::string_view module, std::string_view name, std::size_t at) {
        std::string q = std::string(module) + "." + std::string(name);
        if (allow_ == AllowList::madmom) {
            if (!is_allowed_madmom_global(q))
                fail_at(at, "pickle refers to global '" + q +
                                "', which is not on the madmom allow-list; refusing to load "
                                "(nothing was executed)");
            return make_text(Kind::global, q);
        }
        if (!is_allowed_global(q)) {
            // A whole pickled nn.Module (torch.save(model)) names its classes: say what to do.
            const bool module_class = q.starts_with("torch.nn.") || q.starts_with("__main__.");
            fail_at(at, "pickle refers to global '" + q +
                            "', which is not on the allow-list; refusing to load (nothing was "
                            "executed)" +
                            (module_class ? "; this looks like a whole pickled model: save "
                                            "model.state_dict() instead"
                                          : ""));
        }
        return make_text(Kind::global, q);
    }

    void push_long(std::span<const std::byte> raw, std::size_t at) {
        if (raw.size() <= 8) {
            push(make_int(decode_long(raw)), at);
        } else {
            if (raw.size() > 64) fail_at(at, "pickle integer longer than 64 bytes");
            push(make_text(Kind::big_integer,
                           {reinterpret_cast<const char*>(raw.data()), raw.size()}),
                 at);
        }
    }

    const Value& expect(ValueId id, Kind k, std::size_t at, std::string_view what) const {
        const Value& v = values_[id];
        if (v.kind != k)
            fail_at(at, std::string(what) + " is a " + std::string(kind_name(v.kind)) +
                            ", expected " + std::string(kind_name(k)));
        return v;
    }

    std::vector<std::int64_t> int_tuple(ValueId id, std::size_t at, std::string_view what) {
        const Value& v = values_[id];
        if (v.kind != Kind::tuple && v.kind != Kind::list)
            fail_at(at, std::string(what) + " is a " + std::string(kind_name(v.kind)) +
                            ", expected a tuple");
        if (v.items.size() > limits_.max_rank)
            fail_at(at, std::string(what) + " has rank " + std::to_string(v.items.size()) +
                            ", more than " + std::to_string(limits_.max_rank));
        std::vector<std::int64_t> out;
        for (ValueId e : v.items) out.push_back(expect(e, Kind::integer, at, what).integer);
        return out;
    }

    ValueId persistent_load(ValueId pid, std::size_t at) {
        const Value& t = values_[pid];
        if (t.kind != Kind::tuple || t.items.size() < 5 || t.items.size() > 6)
            fail_at(at, "persistent id is not a ('storage', type, key, location, numel) tuple");
        const auto items = t.items;
        const Value& tag = expect(items[0], Kind::string, at, "persistent id tag");
        if (tag.text != "storage")
            fail_at(at, "persistent id tag '" + tag.text + "' is not 'storage'");
        const Value& type = expect(items[1], Kind::global, at, "storage type");
        if (!is_storage_type(type.text))
            fail_at(at, "storage type " + type.text + " is not a torch storage");
        StorageRef s;
        s.type_name = type.text;
        s.key = expect(items[2], Kind::string, at, "storage key").text;
        if (values_[items[3]].kind != Kind::string) fail_at(at, "storage location is not a string");
        s.numel = expect(items[4], Kind::integer, at, "storage size").integer;
        if (s.numel < 0) fail_at(at, "storage " + s.key + " has a negative size");
        if (items.size() == 6 && values_[items[5]].kind != Kind::none) {
            // Legacy view_metadata: (view_key, offset, size) into the root storage.
            const Value& vm = values_[items[5]];
            if (vm.kind != Kind::tuple || vm.items.size() != 3)
                fail_at(at, "malformed storage view metadata");
            s.view_offset = expect(vm.items[1], Kind::integer, at, "storage view offset").integer;
            s.view_numel = expect(vm.items[2], Kind::integer, at, "storage view size").integer;
            if (s.view_offset < 0 || s.view_numel < 0 || s.view_offset > s.numel ||
                s.view_numel > s.numel - s.view_offset)
                fail_at(at, "storage view of " + s.key + " lies outside its root storage");
        }
        Value v;
        v.kind = Kind::storage;
        v.integer = static_cast<std::int64_t>(storage_refs_.size());
        storage_refs_.push_back(std::move(s));
        const ValueId id = make(std::move(v));
        storages_.push_back(id);
        return id;
    }

    ValueId reduce(ValueId callable, ValueId args_id, std::size_t at) {
        const Value& f = values_[callable];
        if (f.kind != Kind::global)
            fail_at(at, "REDUCE calls a " + std::string(kind_name(f.kind)) + ", not a global");
        const std::string name = f.text;
        const Value& args = values_[args_id];
        if (args.kind != Kind::tuple)
            fail_at(at, "REDUCE arguments of " + name + " are not a tuple");
        const auto a = args.items;
        if (allow_ == AllowList::madmom) return reduce_numpy(name, a, at);
        if (name == "collections.OrderedDict") {
            if (!a.empty())
                fail_at(at, "collections.OrderedDict called with arguments (not supported)");
            return make_kind(Kind::dict);
        }
        if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor") {
            if (a.size() < 4)
                fail_at(at, name + " called with " + std::to_string(a.size()) +
                                " arguments, expected at least 4");
            expect(a[0], Kind::storage, at, name + " argument 1");
            TensorRef t;
            t.storage = a[0];
            t.offset = expect(a[1], Kind::integer, at, "tensor storage offset").integer;
            t.size = int_tuple(a[2], at, "tensor size");
            t.stride = int_tuple(a[3], at, "tensor stride");
            Value v;
            v.kind = Kind::tensor;
            v.integer = static_cast<std::int64_t>(tensor_refs_.size());
            tensor_refs_.push_back(std::move(t));
            return make(std::move(v));
        }
        if (name == "torch._utils._rebuild_parameter" ||
            name == "torch._utils._rebuild_parameter_with_state") {
            if (a.empty()) fail_at(at, name + " called without arguments");
            expect(a[0], Kind::tensor, at, name + " argument 1");
            return a[0];  // a Parameter's data is the tensor itself
        }
        if (name == "torch.Size") {
            if (a.size() != 1)
                fail_at(at, "torch.Size called with " + std::to_string(a.size()) + " arguments");
            Value t;
            t.kind = Kind::tuple;
            t.items = values_[a[0]].items;
            if (values_[a[0]].kind != Kind::tuple && values_[a[0]].kind != Kind::list)
                fail_at(at, "torch.Size argument is not a tuple");
            return make(std::move(t));
        }
        fail_at(at, name + " cannot be called");
    }

    // numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), b'b') and
    // numpy.dtype('f4', 0, 1): empty shells that BUILD then fills in.
    ValueId reduce_numpy(const std::string& name, const std::vector<ValueId>& a, std::size_t at) {
        if (name.ends_with("multiarray._reconstruct")) {
            if (a.size() != 3 || values_[a[0]].kind != Kind::global ||
                values_[a[0]].text != "numpy.ndarray")
                fail_at(at, name + " is only allowed as _reconstruct(numpy.ndarray, shape, dtype)");
            return make_kind(Kind::ndarray);
        }
        if (name == "numpy.dtype") {
            if (a.size() != 3) fail_at(at, "numpy.dtype called with other than 3 arguments");
            const std::string& code = expect(a[0], Kind::string, at, "numpy.dtype code").text;
            if (!numpy_dtype(code))
                fail_at(at, "numpy dtype '" + code.substr(0, 16) +
                                "' is not supported (float16/32/64 and int64 are)");
            return make_text(Kind::dtype, code);
        }
        fail_at(at, name + " cannot be called");
    }

  public:
    /// The tagmap dtype of a numpy type code ("f4", ...); nullopt for any other.
    static std::optional<DType> numpy_dtype(std::string_view code) {
        if (code == "f4") return DType::float32;
        if (code == "f8") return DType::float64;
        if (code == "f2") return DType::float16;
        if (code == "i8") return DType::int64;
        return std::nullopt;
    }

  private:
    // NEWOBJ: cls.__new__(cls) of an allow-listed madmom class, an empty record.
    ValueId new_object(ValueId cls, ValueId args, std::size_t at) {
        if (allow_ != AllowList::madmom)
            fail_at(at, "NEWOBJ (creating a class instance) is not allowed in a state_dict");
        const Value& c = values_[cls];
        if (c.kind != Kind::global || !is_madmom_class(c.text))
            fail_at(at, "NEWOBJ of a " + std::string(kind_name(c.kind)) +
                            (c.kind == Kind::global ? " '" + c.text + "'" : std::string()) +
                            ", not a madmom layer class");
        const Value& t = values_[args];
        if (t.kind != Kind::tuple || !t.items.empty())
            fail_at(at, "NEWOBJ of " + c.text + " with arguments (not supported)");
        return make_text(Kind::object, c.text);
    }

    // BUILD in a madmom pickle: the state of a record, an array or a dtype, set once.
    void build(ValueId target, ValueId state, std::size_t at) {
        Value& v = values_[target];
        const Value& st = values_[state];
        if (!v.items.empty() || v.integer != 0) fail_at(at, "BUILD on an object built before");
        if (v.kind == Kind::object) {
            if (st.kind != Kind::dict) fail_at(at, "state of " + v.text + " is not a dict");
            v.items = {state};
            return;
        }
        if (st.kind != Kind::tuple) fail_at(at, "BUILD state is not a tuple");
        const auto s = st.items;  // copy: make() below may move values_
        if (v.kind == Kind::dtype) {
            // (3, byte order, subarray, names, fields, elsize, alignment, flags)
            if (s.size() != 8) fail_at(at, "numpy dtype state is not an 8-tuple");
            const std::string& order = expect(s[1], Kind::string, at, "dtype byte order").text;
            if (order != "<" && order != "=" && order != "|")
                fail_at(at, "numpy dtype byte order '" + order.substr(0, 8) +
                                "' is not supported (little-endian only)");
            for (int i = 2; i < 5; ++i)
                if (values_[s[std::size_t(i)]].kind != Kind::none)
                    fail_at(at, "structured or sub-array numpy dtypes are not supported");
            values_[target].integer = order[0];
            return;
        }
        if (v.kind != Kind::ndarray)
            fail_at(at, "BUILD on a " + std::string(kind_name(v.kind)) +
                            " (only madmom objects, arrays and dtypes have a state)");
        // (version, shape, dtype, is_fortran, raw data)
        if (s.size() != 5) fail_at(at, "numpy array state is not a 5-tuple");
        if (expect(s[0], Kind::integer, at, "array state version").integer != 1)
            fail_at(at, "numpy array state version is not 1");
        const auto shape = int_tuple(s[1], at, "array shape");
        const Value& dt = expect(s[2], Kind::dtype, at, "array dtype");
        if (dt.integer == 0) fail_at(at, "array dtype has no byte order (never built)");
        const Value& fortran = values_[s[3]];
        if (fortran.kind != Kind::boolean && fortran.kind != Kind::integer)
            fail_at(at, "array is_fortran flag is not a bool");
        std::uint64_t numel = 1;
        for (std::int64_t d : shape) {
            if (d < 0 || d > (std::int64_t(1) << 40) ||
                (d && numel > (std::uint64_t(1) << 40) / std::uint64_t(d)))
                fail_at(at, "array shape " + shape_text(shape) + " is negative or too large");
            numel *= std::uint64_t(d);
        }
        std::size_t rank_gt1 = 0;
        for (std::int64_t d : shape) rank_gt1 += d > 1;
        if (fortran.integer != 0 && rank_gt1 > 1)
            fail_at(at, "Fortran-order arrays are not supported");
        const Value& data = values_[s[4]];
        if (data.kind != Kind::string && data.kind != Kind::bytes)
            fail_at(at, "array data is a " + std::string(kind_name(data.kind)) +
                            ", expected raw bytes");
        const std::uint64_t want = numel * dtype_size(*numpy_dtype(dt.text));
        if (data.text.size() != want)
            fail_at(at, "array of shape " + shape_text(shape) + " holds " +
                            std::to_string(data.text.size()) + " bytes, expected " +
                            std::to_string(want));
        values_[target].items = {s[1], s[2], s[4]};
    }

    static std::string shape_text(const std::vector<std::int64_t>& shape) {
        std::string t = "(";
        for (std::size_t i = 0; i < shape.size(); ++i)
            t += (i ? ", " : "") + std::to_string(shape[i]);
        return t + ")";
    }

    void step(unsigned char op, std::size_t at, ByteCursor& in) {
        switch (op) {
            case 0x80: {  // PROTO
                const auto proto = in.read<std::uint8_t>("protocol");
                if (proto > 5)
                    fail_at(at, "pickle protocol " + std::to_string(proto) + " is not supported");
                return;
            }
            case 0x95:
                in.take(8, "frame length");
                return;  // FRAME: framing is only a read hint
            case '(':
                if (marks_.size() >= limits_.max_marks) fail_at(at, "too many nested MARKs");
                marks_.push_back(stack_.size());
                return;
            case '}':
                push(make_kind(Kind::dict), at);
                return;
            case ']':
                push(make_kind(Kind::list), at);
                return;
            case ')':
                push(make_kind(Kind::tuple), at);
                return;
            case 't':
            case 'l':
            case 'd': {
                auto items = pop_mark(at);
                Value v;
                v.kind = op == 't' ? Kind::tuple : op == 'l' ? Kind::list : Kind::dict;
                if (op == 'd' && items.size() % 2) fail_at(at, "DICT with an odd number of items");
                v.items = std::move(items);
                push(make(std::move(v)), at);
                return;
            }
            case 0x85:
            case 0x86:
            case 0x87: {  // TUPLE1..3
                const std::size_t n = op - 0x84u;
                Value v;
                v.kind = Kind::tuple;
                v.items.resize(n);
                for (std::size_t i = n; i-- > 0;) v.items[i] = pop(at);
                push(make(std::move(v)), at);
                return;
            }
            case 'X':
                push(make_text(Kind::string,
                               in.read_text(in.read<std::uint32_t>("length"), "string")),
                     at);
                return;
            case 0x8c:
                push(make_text(Kind::string,
                               in.read_text(in.read<std::uint8_t>("length"), "string")),
                     at);
                return;
            case 0x8d:
                push(make_text(Kind::string,
                               in.read_text(in.read<std::uint64_t>("length"), "string")),
                     at);
                return;
            case 'T': {
                const auto n = in.read<std::int32_t>("length");
                if (n < 0) fail_at(at, "negative string length");
                push(make_text(Kind::string, in.read_text(static_cast<std::uint64_t>(n), "string")),
                     at);
                return;
            }
            case 'U':
                push(make_text(Kind::string,
                               in.read_text(in.read<std::uint8_t>("length"), "string")),
                     at);
                return;
            case 'B':
                push(
                    make_text(Kind::bytes, in.read_text(in.read<std::uint32_t>("length"), "bytes")),
                    at);
                return;
            case 'C':
                push(make_text(Kind::bytes, in.read_text(in.read<std::uint8_t>("length"), "bytes")),
                     at);
                return;
            case 0x8e:
                push(
                    make_text(Kind::bytes, in.read_text(in.read<std::uint64_t>("length"), "bytes")),
                    at);
                return;
            case 'J':
                push(make_int(in.read<std::int32_t>("int")), at);
                return;
            case 'K':
                push(make_int(in.read<std::uint8_t>("int")), at);
                return;
            case 'M':
                push(make_int(in.read<std::uint16_t>("int")), at);
                return;
            case 0x8a: {  // LONG1
                const auto n = in.read<std::uint8_t>("length");
                push_long(in.take(n, "long"), at);
                return;
            }
            case 0x8b: {  // LONG4
                const auto n = in.read<std::int32_t>("length");
                if (n < 0) fail_at(at, "negative long length");
                push_long(in.take(static_cast<std::uint64_t>(n), "long"), at);
                return;
            }
            case 'G': {  // BINFLOAT, big-endian
                auto b = in.take(8, "float");
                std::uint64_t bits = 0;
                for (std::size_t i = 0; i < 8; ++i)
                    bits = (bits << 8) | std::to_integer<unsigned>(b[i]);
                Value v;
                v.kind = Kind::floating;
                std::memcpy(&v.floating, &bits, 8);
                push(make(std::move(v)), at);
                return;
            }
            case 'N':
                push(make_kind(Kind::none), at);
                return;
            case 0x88:
            case 0x89: {
                Value v;
                v.kind = Kind::boolean;
                v.integer = op == 0x88;
                push(make(std::move(v)), at);
                return;
            }
            case 'c': {  // GLOBAL "module\nname\n"
                auto line = [&](const char* what) {
                    std::string s;
                    for (;;) {
                        if (s.size() > limits_.max_global_length)
                            fail_at(at, std::string("GLOBAL ") + what + " too long");
                        const auto ch = static_cast<char>(in.read<std::uint8_t>("GLOBAL"));
                        if (ch == '\n') return s;
                        s += ch;
                    }
                };
                const std::string module = line("module");
                const std::string name = line("name");
                push(make_global(module, name, at), at);
                return;
            }
            case 0x93: {  // STACK_GLOBAL
                const ValueId name = pop(at);
                const ValueId module = pop(at);
                const auto& m = expect(module, Kind::string, at, "STACK_GLOBAL module");
                const auto& n = expect(name, Kind::string, at, "STACK_GLOBAL name");
                if (m.text.size() > limits_.max_global_length ||
                    n.text.size() > limits_.max_global_length)
                    fail_at(at, "STACK_GLOBAL name too long");
                push(make_global(m.text, n.text, at), at);
                return;
            }
            case 'R': {
                const ValueId args = pop(at);
                const ValueId f = pop(at);
                push(reduce(f, args, at), at);
                return;
            }
            case 'b': {  // BUILD
                const ValueId state = pop(at);
                const ValueId target = top(at);
                // A state_dict's object state (e.g. its _metadata) is not needed.
                if (allow_ == AllowList::madmom) build(target, state, at);
                return;
            }
            case 0x81: {  // NEWOBJ
                const ValueId args = pop(at);
                const ValueId cls = pop(at);
                push(new_object(cls, args, at), at);
                return;
            }
            case 'Q': {
                if (allow_ == AllowList::madmom)
                    fail_at(at, "persistent ids are not allowed in a madmom pickle");
                const ValueId pid = pop(at);
                push(persistent_load(pid, at), at);
                return;
            }
            case 'q':
                memo_put(in.read<std::uint8_t>("memo index"), top(at), at);
                return;
            case 'r':
                memo_put(in.read<std::uint32_t>("memo index"), top(at), at);
                return;
            case 0x94:
                memo_put(static_cast<std::uint32_t>(memo_.size()), top(at), at);
                return;
            case 'h':
                push(memo_get(in.read<std::uint8_t>("memo index"), at), at);
                return;
            case 'j':
                push(memo_get(in.read<std::uint32_t>("memo index"), at), at);
                return;
            case 'a': {
                const ValueId v = pop(at);
                container(top(at), Kind::list, at, "APPEND").items.push_back(v);
                return;
            }
            case 'e': {
                auto items = pop_mark(at);
                auto& list = container(top(at), Kind::list, at, "APPENDS").items;
                list.insert(list.end(), items.begin(), items.end());
                return;
            }
            case 's': {
                const ValueId v = pop(at);
                const ValueId k = pop(at);
                auto& d = container(top(at), Kind::dict, at, "SETITEM").items;
                d.push_back(k);
                d.push_back(v);
                return;
            }
            case 'u': {
                auto items = pop_mark(at);
                if (items.size() % 2) fail_at(at, "SETITEMS with an odd number of items");
                auto& d = container(top(at), Kind::dict, at, "SETITEMS").items;
                d.insert(d.end(), items.begin(), items.end());
                return;
            }
            case '0':
                pop(at);
                return;
            case '1':
                pop_mark(at);
                return;
            case '2':
                push(top(at), at);
                return;
            default:
                break;
        }
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", op);
        throw UnsupportedError(context_ + ": pickle opcode " + hex +
                               " is not supported (pickle byte " + std::to_string(at) + ")");
    }
};

}  // namespace tagmap::weights::pickle
