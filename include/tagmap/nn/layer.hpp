// What every layer shares. A layer is a *descriptor* type that reads like its PyTorch
// module (Conv2d<"layers.0.conv", in, out, Kernel<67, 7>, ...>); applied to an input
// Shape it yields the concrete layer `typename D::template on<In>`, which has
//   using In, Out;                              // compile-time extents
//   static constexpr std::size_t param_floats;  // floats it keeps after binding
//   static constexpr std::size_t work_floats;   // scratch floats forward needs
//   static constexpr double flops;              // multiply-adds x 2 per forward
//   void bind(ParamBinder&);
//   void forward(const float* in, float* out, float* work) const;  // in, out distinct
// A connection that does not fit fails in `on<In>` with a static_assert; the
// diagnostic's "in instantiation of" line names the layer (its checkpoint name).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tagmap/core/fixed_string.hpp"
#include "tagmap/core/shape.hpp"
#include "tagmap/nn/bind.hpp"

namespace tagmap::nn {

template <std::size_t H, std::size_t W = 1>
struct Kernel {
    static constexpr std::size_t height = H, width = W;
};
template <std::size_t H, std::size_t W = 1>
struct Stride {
    static constexpr std::size_t height = H, width = W;
};
template <std::size_t H, std::size_t W = 0>
struct Padding {
    static constexpr std::size_t height = H, width = W;
};

/// Operations fused into the output of a Conv or Linear: a BatchNorm folded into the
/// weights at bind time, then an activation applied while the output is hot.
namespace post {
template <FixedString Name>
struct BatchNorm {
    static constexpr FixedString name = Name;
};
struct ReLU {};
struct Sigmoid {};
}  // namespace post

enum class Activation { none, relu, sigmoid };

template <class... Post>
struct PostOps;
template <>
struct PostOps<> {
    static constexpr bool has_batch_norm = false;
    static constexpr Activation activation = Activation::none;
};
template <FixedString N, class... Rest>
struct PostOps<post::BatchNorm<N>, Rest...> {
    static_assert(sizeof...(Rest) <= 1, "post ops: at most BatchNorm then one activation");
    static constexpr bool has_batch_norm = true;
    static constexpr FixedString batch_norm_name = N;
    static constexpr Activation activation = PostOps<Rest...>::activation;
};
template <>
struct PostOps<post::ReLU> {
    static constexpr bool has_batch_norm = false;
    static constexpr Activation activation = Activation::relu;
};
template <>
struct PostOps<post::Sigmoid> {
    static constexpr bool has_batch_norm = false;
    static constexpr Activation activation = Activation::sigmoid;
};

inline void apply_activation(Activation a, float* x, std::size_t n) {
    if (a == Activation::relu) {
        for (std::size_t i = 0; i < n; ++i) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
    } else if (a == Activation::sigmoid) {
        for (std::size_t i = 0; i < n; ++i) x[i] = 1.0f / (1.0f + std::exp(-x[i]));
    }
}

/// PyTorch's BatchNorm default epsilon (the checkpoints converted from PyTorch use it).
inline constexpr double batch_norm_eps = 1e-5;

/// A BatchNorm epsilon as a type (floating-point template arguments are not portable to
/// every compiler this builds with): `static constexpr double value`.
struct PyTorchEpsilon {
    static constexpr double value = batch_norm_eps;
};

/// The four tensors of an inference BatchNorm `name` over `channels`, as views (empty
/// when the binder recorded a problem): y = x * scale(c) + shift(c). Allocates nothing.
struct BatchNormTensors {
    std::span<const float> gamma, beta, mean, var;
    double eps = batch_norm_eps;

    bool complete() const {
        return !gamma.empty() && !beta.empty() && !mean.empty() && !var.empty();
    }
    double scale(std::size_t c) const {
        return gamma[c] / std::sqrt(static_cast<double>(var[c]) + eps);
    }
    double shift(std::size_t c) const { return beta[c] - mean[c] * scale(c); }
};

inline BatchNormTensors view_batch_norm(ParamBinder& binder, std::string_view name,
                                        std::size_t channels, double eps = batch_norm_eps) {
    const auto c = static_cast<std::int64_t>(channels);
    BatchNormTensors t;
    t.eps = eps;
    t.gamma = binder.view(TensorName(name, ".weight"), {c});
    t.beta = binder.view(TensorName(name, ".bias"), {c});
    t.mean = binder.view(TensorName(name, ".running_mean"), {c});
    t.var = binder.view(TensorName(name, ".running_var"), {c});
    binder.accept_if_present(TensorName(name, ".num_batches_tracked"));
    return t;
}

/// Per-channel (scale, shift) of an inference BatchNorm `name` over `channels` (zeros for
/// tensors with problems): y = x * scale + shift.
inline void read_batch_norm(ParamBinder& binder, const std::string& name, std::size_t channels,
                            std::vector<double>& scale, std::vector<double>& shift) {
    const BatchNormTensors bn = view_batch_norm(binder, name, channels);
    scale.assign(channels, 0.0);
    shift.assign(channels, 0.0);
    if (!bn.complete()) return;
    for (std::size_t i = 0; i < channels; ++i) {
        scale[i] = bn.scale(i);
        shift[i] = bn.shift(i);
    }
}

/// Binds weight (rows x per_row, checkpoint shape `weight_shape`) and bias (rows) of
/// `name`, folding the BatchNorm of Post into them, into `params` = [weight | bias].
/// Allocates nothing; on a problem (recorded by the binder) params are zeroed.
template <class Post>
void bind_affine(ParamBinder& binder, std::string_view name,
                 std::initializer_list<std::int64_t> weight_shape, std::size_t rows,
                 std::size_t per_row, float* params) {
    const auto w = binder.view(TensorName(name, ".weight"), weight_shape);
    const auto b = binder.view(TensorName(name, ".bias"), {static_cast<std::int64_t>(rows)});
    BatchNormTensors bn;
    if constexpr (Post::has_batch_norm)
        bn = view_batch_norm(binder, Post::batch_norm_name.view(), rows);
    if (w.empty() || b.empty() || (Post::has_batch_norm && !bn.complete())) {
        std::fill(params, params + rows * per_row + rows, 0.0f);
        return;
    }
    for (std::size_t r = 0; r < rows; ++r) {
        const double scale = Post::has_batch_norm ? bn.scale(r) : 1.0;
        const double shift = Post::has_batch_norm ? bn.shift(r) : 0.0;
        for (std::size_t k = 0; k < per_row; ++k)
            params[r * per_row + k] = static_cast<float>(w[r * per_row + k] * scale);
        params[rows * per_row + r] = static_cast<float>(b[r] * scale + shift);
    }
}

template <class L>
concept ConcreteLayer = requires {
    typename L::In;
    typename L::Out;
    L::param_floats;
    L::work_floats;
};

}  // namespace tagmap::nn
