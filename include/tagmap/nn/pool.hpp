// Pooling and reductions: MaxPool2d (stride = kernel, floor), max / mean over one
// axis of the whole plane (MusiCNN's pooling over frequency, VGG's over time), and
// the global [max | mean] over time of a (C, 1, T) signal.
#pragma once

#include <algorithm>
#include <cstddef>

#include "tagmap/nn/layer.hpp"

namespace tagmap::nn {

/// torch.nn.MaxPool2d(kernel) with stride = kernel and no padding.
template <std::size_t KH, std::size_t KW>
struct MaxPool2d {
    template <ShapeType Input>
    struct on {
        static_assert(Input::height >= KH && Input::width >= KW,
                      "MaxPool2d: kernel is larger than the input");
        using In = Input;
        using Out = Shape<Input::channels, Input::height / KH, Input::width / KW>;
        static constexpr std::size_t param_floats = 0, work_floats = 0;
        static constexpr double flops = double(Out::size) * KH * KW;
        void bind(ParamBinder&) {}
        void forward(const float* in, float* out, float*) const {
            for (std::size_t c = 0; c < Out::channels; ++c)
                for (std::size_t oh = 0; oh < Out::height; ++oh)
                    for (std::size_t ow = 0; ow < Out::width; ++ow) {
                        const float* src = in + (c * In::height + oh * KH) * In::width + ow * KW;
                        float m = src[0];
                        for (std::size_t kh = 0; kh < KH; ++kh)
                            for (std::size_t kw = 0; kw < KW; ++kw)
                                m = std::max(m, src[kh * In::width + kw]);
                        out[(c * Out::height + oh) * Out::width + ow] = m;
                    }
        }
    };
};

enum class Axis { height, width };
enum class Reduction { max, mean };

namespace detail {
template <Reduction R, Axis A>
struct ReduceAxis {
    template <ShapeType Input>
    struct on {
        using In = Input;
        using Out = std::conditional_t<A == Axis::height, Shape<Input::channels, 1, Input::width>,
                                       Shape<Input::channels, Input::height, 1>>;
        static constexpr std::size_t param_floats = 0, work_floats = 0;
        static constexpr double flops = Input::size;
        void bind(ParamBinder&) {}
        void forward(const float* in, float* out, float*) const {
            constexpr std::size_t H = Input::height, W = Input::width;
            for (std::size_t c = 0; c < Input::channels; ++c) {
                const float* x = in + c * H * W;
                if constexpr (A == Axis::height) {
                    float* y = out + c * W;
                    std::copy_n(x, W, y);
                    for (std::size_t h = 1; h < H; ++h)
                        for (std::size_t w = 0; w < W; ++w)
                            y[w] = R == Reduction::max ? std::max(y[w], x[h * W + w])
                                                       : y[w] + x[h * W + w];
                    if constexpr (R == Reduction::mean)
                        for (std::size_t w = 0; w < W; ++w) y[w] /= static_cast<float>(H);
                } else {
                    for (std::size_t h = 0; h < H; ++h) {
                        const float* row = x + h * W;
                        float acc = row[0];
                        for (std::size_t w = 1; w < W; ++w)
                            acc = R == Reduction::max ? std::max(acc, row[w]) : acc + row[w];
                        out[c * H + h] = R == Reduction::mean ? acc / static_cast<float>(W) : acc;
                    }
                }
            }
        }
    };
};
}  // namespace detail

/// Max over a whole axis, keeping it as extent 1 (MaxPool2d((H, 1)) / MaxPool1d(T)).
template <Axis A>
struct MaxOver : detail::ReduceAxis<Reduction::max, A> {};
/// Mean over a whole axis, keeping it as extent 1 (AvgPool2d((H, 1)) / AvgPool1d(T)).
template <Axis A>
struct MeanOver : detail::ReduceAxis<Reduction::mean, A> {};

/// (C, 1, T) -> (2C, 1, 1): [max over T of every channel | mean over T of every channel],
/// i.e. torch.cat([MaxPool1d(T)(x), AvgPool1d(T)(x)], 1).
struct GlobalMaxMeanPool {
    template <ShapeType Input>
    struct on {
        static_assert(Input::height == 1, "GlobalMaxMeanPool: input must be a (C, 1, T) signal");
        using In = Input;
        using Out = Shape<2 * Input::channels, 1, 1>;
        static constexpr std::size_t param_floats = 0, work_floats = 0;
        static constexpr double flops = 2.0 * Input::size;
        void bind(ParamBinder&) {}
        void forward(const float* in, float* out, float*) const {
            constexpr std::size_t C = Input::channels, T = Input::width;
            for (std::size_t c = 0; c < C; ++c) {
                const float* x = in + c * T;
                float m = x[0], s = 0.0f;
                for (std::size_t t = 0; t < T; ++t) {
                    m = std::max(m, x[t]);
                    s += x[t];
                }
                out[c] = m;
                out[C + c] = s / static_cast<float>(T);
            }
        }
    };
};

}  // namespace tagmap::nn
