// Binding checkpoint tensors to layers by name. Layers ask the binder for the
// tensors they need; the binder checks presence, dtype and shape, copies the floats,
// and collects every problem (rather than stopping at the first) so one error can
// list all missing, mis-shaped and unused tensors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tagmap/core/error.hpp"

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

class ParamBinder {
  public:
    /// `store` receives the bound parameters; layers claim consecutive pieces of it.
    ParamBinder(std::vector<TensorView> tensors, std::span<float> store)
        : tensors_(std::move(tensors)), store_(store) {}

    /// The next `n` floats of the parameter store, for a layer's folded parameters.
    std::span<float> claim(std::size_t n) {
        if (n > store_.size() - claimed_)
            throw Error("tagmap::nn::ParamBinder: parameter store too small (internal error)");
        std::span<float> piece = store_.subspan(claimed_, n);
        claimed_ += n;
        return piece;
    }

    /// The float32 tensor `name` of exactly `shape`. On a problem it is recorded and zeros
    /// are returned so binding can go on and report everything at once.
    std::vector<float> read(std::string_view name, std::initializer_list<std::int64_t> shape) {
        std::vector<std::int64_t> want(shape);
        std::size_t count = 1;
        for (auto d : want) count *= static_cast<std::size_t>(d);
        std::vector<float> values(count, 0.0f);
        const TensorView* t = find(name);
        if (!t) {
            problems_.push_back("missing tensor '" + std::string(name) + "' (expected float32 " +
                                shape_string(want) + ")");
            return values;
        }
        used_.insert(t->name);
        if (t->shape != want) {
            problems_.push_back("tensor '" + t->name + "' has shape " + shape_string(t->shape) +
                                ", the model expects " + shape_string(want));
            return values;
        }
        if (t->dtype_name != "float32") {
            problems_.push_back("tensor '" + t->name + "' has dtype " + t->dtype_name +
                                ", the model expects float32");
            return values;
        }
        if (t->bytes.size() != count * sizeof(float)) {
            problems_.push_back("tensor '" + t->name + "' holds " +
                                std::to_string(t->bytes.size()) + " bytes, expected " +
                                std::to_string(count * sizeof(float)));
            return values;
        }
        std::memcpy(values.data(), t->bytes.data(), t->bytes.size());
        return values;
    }

    /// Marks a tensor that inference does not need (e.g. BatchNorm's num_batches_tracked)
    /// as expected, so it is not reported as unused; it may be absent.
    void accept_if_present(std::string_view name) {
        if (const TensorView* t = find(name)) used_.insert(t->name);
    }

    /// Every problem found so far plus one line per tensor nobody asked for.
    std::vector<std::string> problems() const {
        std::vector<std::string> all = problems_;
        for (const auto& t : tensors_)
            if (!used_.count(t.name))
                all.push_back("unexpected tensor '" + t.name + "' " + shape_string(t.shape) +
                              " (not used by the model)");
        return all;
    }

    /// Throws BindError listing every problem, if there is any.
    void throw_if_problems(std::string_view what) const {
        const auto all = problems();
        if (all.empty()) return;
        std::string msg = "weights do not fit " + std::string(what) + ":";
        for (const auto& p : all) msg += "\n  " + p;
        throw BindError(msg);
    }

  private:
    const TensorView* find(std::string_view name) const {
        for (const auto& t : tensors_)
            if (t.name == name) return &t;
        return nullptr;
    }

    std::vector<TensorView> tensors_;
    std::span<float> store_;
    std::size_t claimed_ = 0;
    std::vector<std::string> problems_;
    std::set<std::string> used_;
};

}  // namespace tagmap::nn
