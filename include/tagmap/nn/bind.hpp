// Binding checkpoint tensors to layers by name. Layers ask the binder for the
// tensors they need; the binder checks presence, dtype and shape, hands out the floats,
// and collects every problem (rather than stopping at the first) so one error can
// list all missing, mis-shaped and unused tensors.
//
// Two sources: tensor views of a weight file (desktop; problems are kept as strings),
// or weights compiled into the program (weights/compiled_weights.hpp; nothing is
// allocated, the first problem and the count are kept in a Status). Layers read through
// view(), which is zero-copy and allocation-free for both.
#pragma once

#include <algorithm>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tagmap/core/error.hpp"
#include "tagmap/weights/compiled_weights.hpp"

namespace tagmap::nn {

/// A tensor offered for binding; `bytes` are little-endian values of `dtype_name`.
struct TensorView {
    std::string name;
    std::string dtype_name;  // "float32", "float64", ...
    std::vector<std::int64_t> shape;
    std::span<const std::byte> bytes;
};

inline std::string shape_string(std::span<const std::int64_t> shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i) s += ", ";
        s += std::to_string(shape[i]);
    }
    return s + "]";
}

/// A tensor name built from a prefix and a suffix ("layer1.conv" + ".weight") in a fixed
/// buffer, so that binding allocates nothing.
class TensorName {
  public:
    static constexpr std::size_t capacity = 192;
    TensorName(std::string_view prefix, std::string_view suffix = {}) {
        const std::size_t a = std::min(prefix.size(), capacity);
        const std::size_t b = std::min(suffix.size(), capacity - a);
        std::memcpy(text_, prefix.data(), a);
        std::memcpy(text_ + a, suffix.data(), b);
        size_ = a + b;
    }
    std::string_view view() const { return {text_, size_}; }
    operator std::string_view() const { return view(); }

  private:
    char text_[capacity];
    std::size_t size_ = 0;
};

class ParamBinder {
  public:
    /// Most tensors one binder tracks (the checkpoints here have < 200).
    static constexpr std::size_t max_tensors = 4096;

    /// `store` receives the bound parameters; layers claim consecutive pieces of it.
    ParamBinder(std::vector<TensorView> tensors, std::span<float> store)
        : tensors_(std::move(tensors)), store_(store), keep_strings_(true) {
        if (tensors_.size() > max_tensors)
            problem(Status(Errc::bind, "more than ").append(max_tensors).append(" tensors"));
    }

    /// Binds from weights compiled into the program; allocates nothing, ever.
    ParamBinder(const weights::CompiledWeights& compiled, std::span<float> store) noexcept
        : compiled_(compiled.tensors), store_(store), keep_strings_(false) {
        if (compiled_.size() > max_tensors)
            problem(Status(Errc::bind, "more than ").append(max_tensors).append(" tensors"));
    }

    /// The next `n` floats of the parameter store, for a layer's folded parameters (the
    /// store is sized from the layers' param_floats, so it is never too small).
    std::span<float> claim(std::size_t n) {
        if (n > store_.size() - claimed_)
            TAGMAP_THROW(
                Error("tagmap::nn::ParamBinder: parameter store too small (internal error)"));
        std::span<float> piece = store_.subspan(claimed_, n);
        claimed_ += n;
        return piece;
    }

    /// Zero-copy view of the float32 tensor `name` of exactly `shape`. On a problem it is
    /// recorded and an empty span is returned so binding can go on and report everything.
    std::span<const float> view(std::string_view name, std::span<const std::int64_t> want) {
        const Entry t = find(name);
        if (!t.found) {
            problem(Status(Errc::bind, "missing tensor '")
                        .append(name)
                        .append("' (expected float32 ")
                        .append(shape_text(want).message())
                        .append(")"));
            return {};
        }
        used_.set(t.index);
        if (!same_shape(t.shape, want)) {
            problem(Status(Errc::bind, "tensor '")
                        .append(t.name)
                        .append("' has shape ")
                        .append(shape_text(t.shape).message())
                        .append(", the model expects ")
                        .append(shape_text(want).message()));
            return {};
        }
        if (t.dtype != "float32") {
            problem(Status(Errc::bind, "tensor '")
                        .append(t.name)
                        .append("' has dtype ")
                        .append(t.dtype)
                        .append(", the model expects float32"));
            return {};
        }
        std::size_t count = 1;
        for (auto d : want) count *= static_cast<std::size_t>(d);
        if (t.bytes != count * sizeof(float) ||
            reinterpret_cast<std::uintptr_t>(t.data) % alignof(float) != 0) {
            problem(Status(Errc::bind, "tensor '")
                        .append(t.name)
                        .append("' holds ")
                        .append(static_cast<long long>(t.bytes))
                        .append(" bytes, expected ")
                        .append(static_cast<long long>(count * sizeof(float))));
            return {};
        }
        return {static_cast<const float*>(t.data), count};
    }
    std::span<const float> view(std::string_view name, std::initializer_list<std::int64_t> shape) {
        return view(name, std::span<const std::int64_t>(shape.begin(), shape.size()));
    }

    /// The float32 tensor `name` of exactly `shape`, copied. On a problem it is recorded
    /// and zeros are returned so binding can go on and report everything at once.
    std::vector<float> read(std::string_view name, std::initializer_list<std::int64_t> shape) {
        std::size_t count = 1;
        for (auto d : shape) count *= static_cast<std::size_t>(d);
        std::vector<float> values(count, 0.0f);
        const auto v = view(name, shape);
        if (v.size() == count) std::copy(v.begin(), v.end(), values.begin());
        return values;
    }

    /// Marks a tensor that inference does not need (e.g. BatchNorm's num_batches_tracked)
    /// as expected, so it is not reported as unused; it may be absent.
    void accept_if_present(std::string_view name) {
        const Entry t = find(name);
        if (t.found) used_.set(t.index);
    }

    /// Every problem found so far plus one line per tensor nobody asked for (weight-file
    /// binders; a compiled-weights binder keeps only the first, see status()).
    std::vector<std::string> problems() const {
        std::vector<std::string> all = problems_;
        for (std::size_t i = 0; i < size(); ++i)
            if (!used_.test(i)) all.emplace_back(unused_message(entry(i)).message());
        return all;
    }

    /// Number of problems, unused tensors included.
    std::size_t problem_count() const {
        std::size_t n = problem_count_;
        for (std::size_t i = 0; i < size(); ++i) n += !used_.test(i);
        return n;
    }

    /// ok, or Errc::bind naming `what`, the number of problems and the first one.
    /// Allocates nothing.
    Status status(std::string_view what) const {
        const std::size_t n = problem_count();
        if (n == 0) return Status::success();
        Status first = first_;
        if (problem_count_ == 0)
            for (std::size_t i = 0; i < size(); ++i)
                if (!used_.test(i)) {
                    first = unused_message(entry(i));
                    break;
                }
        return Status(Errc::bind, "weights do not fit ")
            .append(what)
            .append(": ")
            .append(static_cast<long long>(n))
            .append(n == 1 ? " problem: " : " problems, the first: ")
            .append(first.message());
    }

#if TAGMAP_EXCEPTIONS
    /// Throws BindError listing every problem, if there is any.
    void throw_if_problems(std::string_view what) const {
        const auto all = problems();
        if (all.empty()) return;
        std::string msg = "weights do not fit " + std::string(what) + ":";
        for (const auto& p : all) msg += "\n  " + p;
        throw BindError(msg);
    }
#endif

  private:
    struct Entry {
        bool found = false;
        std::size_t index = 0;
        std::string_view name, dtype;
        std::span<const std::int64_t> shape;
        const void* data = nullptr;
        std::size_t bytes = 0;
    };

    std::size_t size() const {
        return std::min(keep_strings_ ? tensors_.size() : compiled_.size(), max_tensors);
    }

    Entry entry(std::size_t i) const {
        if (keep_strings_) {
            const TensorView& t = tensors_[i];
            return {true, i, t.name, t.dtype_name, t.shape, t.bytes.data(), t.bytes.size()};
        }
        const weights::CompiledTensor& t = compiled_[i];
        return {true, i, t.name, t.dtype, t.shape, t.data, t.bytes};
    }

    Entry find(std::string_view name) const {
        for (std::size_t i = 0; i < size(); ++i) {
            const std::string_view n = keep_strings_ ? tensors_[i].name : compiled_[i].name;
            if (n == name) return entry(i);
        }
        return {};
    }

    static bool same_shape(std::span<const std::int64_t> a, std::span<const std::int64_t> b) {
        return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
    }

    /// "[5, 3, 3, 4]" in a fixed buffer.
    static Status shape_text(std::span<const std::int64_t> shape) {
        Status s(Errc::ok, "[");
        for (std::size_t i = 0; i < shape.size(); ++i) {
            if (i) s.append(", ");
            s.append(static_cast<long long>(shape[i]));
        }
        return s.append("]");
    }

    static Status unused_message(const Entry& t) {
        return Status(Errc::bind, "unexpected tensor '")
            .append(t.name)
            .append("' ")
            .append(shape_text(t.shape).message())
            .append(" (not used by the model)");
    }

    void problem(const Status& p) {
        if (problem_count_++ == 0) first_ = p;
        if (keep_strings_) problems_.emplace_back(p.message());
    }

    std::vector<TensorView> tensors_;
    std::span<const weights::CompiledTensor> compiled_;
    std::span<float> store_;
    bool keep_strings_;
    std::size_t claimed_ = 0;
    std::size_t problem_count_ = 0;
    Status first_;
    std::vector<std::string> problems_;
    std::bitset<max_tensors> used_;
};

}  // namespace tagmap::nn
