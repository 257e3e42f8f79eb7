// An LSTM layer with peephole connections over a run-time number of time steps, in
// madmom's formulation (madmom.ml.nn.layers.LSTMLayer): feature sizes are compile-time,
// the sequence length T is a run-time argument.
//
// Per step, with h and c the previous output and state (zeros at t = 0):
//   i  = sigmoid(x W_i + b_i + c . p_i + h R_i)
//   f  = sigmoid(x W_f + b_f + c . p_f + h R_f)
//   g  = tanh   (x W_c + b_c           + h R_c)
//   c' = g . i + c . f
//   o  = sigmoid(x W_o + b_o + c' . p_o + h R_o)   (the output peephole sees the new state)
//   h' = tanh(c') . o
// Weights are stored (in, out) and used as row vector times matrix. The input
// projections of all T steps are one GEMM; only h R is computed step by step.
// forward_block() runs a sequence in blocks of steps with the state carried between
// them, so a caller keeps one block at a time; on the blocks of SequenceBlocks it gives
// forward()'s outputs bit for bit (see there why the block sizes matter).
//
// Tensors, under `<prefix>.<Name>.`: input_gate / forget_gate / output_gate .weights
// (In, H), .bias (H), .recurrent_weights (H, H), .peephole_weights (H); cell .weights,
// .bias, .recurrent_weights. madmom's legacy per-gate buffers (.cell, ._tmp) are accepted
// and ignored.
#pragma once

#include <Eigen/Core>

#include <array>
#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "tagmap/core/fixed_string.hpp"
#include "tagmap/nn/bind.hpp"

namespace tagmap::nn {

/// scipy.special.expit in float32, the sigmoid madmom uses.
inline float expit(float x) {
    return 1.0f / (1.0f + std::exp(-x));
}

/// Blocks of a sequence of `steps` steps on which Lstm::forward_block gives
/// Lstm::forward's outputs bit for bit: every block has `block` steps (a multiple of 48,
/// at least 96) except the last, which ends the sequence and has as many steps modulo 48
/// as the whole one, and 2 or more when the whole has. Why: Eigen 3.4's GEMM hands the
/// time steps past a multiple of its panel width (a divisor of 48) and a one-row product
/// (a GEMV) to other kernels, whose sums may round differently.
struct SequenceBlocks {
    std::size_t steps = 0, block = 480;

    std::size_t count() const { return steps == 0 ? 0 : (steps + block - 1) / block; }
    std::size_t begin(std::size_t i) const {
        const std::size_t n = count();
        // A last block of one step (after full ones) takes 48 steps from the one before.
        if (i + 1 == n && n > 1 && steps - i * block == 1) return steps - 49;
        return i * block;
    }
    std::size_t end(std::size_t i) const { return i + 1 == count() ? steps : begin(i + 1); }
    std::size_t size(std::size_t i) const { return end(i) - begin(i); }
};

template <FixedString Name, std::size_t In, std::size_t Hidden>
struct Lstm {
    static constexpr FixedString name = Name;
    static constexpr std::size_t in_features = In;
    static constexpr std::size_t out_features = Hidden;
    static constexpr std::size_t G = 4 * Hidden;  // packed gate columns: i, f, c, o
    // Parameter layout: W (In, 4H) | b (4H) | R (H, 4H) | peepholes p_i, p_f, p_o (3, H).
    static constexpr std::size_t w_offset = 0;
    static constexpr std::size_t b_offset = w_offset + In * G;
    static constexpr std::size_t r_offset = b_offset + G;
    static constexpr std::size_t p_offset = r_offset + Hidden * G;
    static constexpr std::size_t param_floats = p_offset + 3 * Hidden;
    /// Scratch floats for a sequence or a block of T steps: the input projections of
    /// every step and one step's h R (the state lives in State).
    static constexpr std::size_t work_floats(std::size_t steps) { return steps * G + G; }

    /// The recurrent state between two blocks of one sequence; zeros at its start.
    struct State {
        std::array<float, Hidden> h{}, c{};
    };
    /// Multiply-adds x 2 for T steps.
    static constexpr double flops(std::size_t steps) {
        return 2.0 * double(steps) * double(G) * double(In + Hidden);
    }

    const float* params = nullptr;

    void bind(ParamBinder& binder, std::string_view prefix) {
        float* p = binder.claim(param_floats).data();
        const std::string base =
            std::string(prefix) + (prefix.empty() ? "" : ".") + std::string(Name.view()) + ".";
        constexpr std::string_view parts[4] = {"input_gate", "forget_gate", "cell", "output_gate"};
        constexpr auto in = std::int64_t(In), h = std::int64_t(Hidden);
        for (std::size_t g = 0; g < 4; ++g) {
            const std::string n = base + std::string(parts[g]) + ".";
            const auto w = binder.read(n + "weights", {in, h});
            const auto b = binder.read(n + "bias", {h});
            const auto r = binder.read(n + "recurrent_weights", {h, h});
            for (std::size_t k = 0; k < In; ++k)
                for (std::size_t j = 0; j < Hidden; ++j)
                    p[w_offset + k * G + g * Hidden + j] = w[k * Hidden + j];
            for (std::size_t k = 0; k < Hidden; ++k)
                for (std::size_t j = 0; j < Hidden; ++j)
                    p[r_offset + k * G + g * Hidden + j] = r[k * Hidden + j];
            for (std::size_t j = 0; j < Hidden; ++j) p[b_offset + g * Hidden + j] = b[j];
            if (g != 2) {
                const auto peep = binder.read(n + "peephole_weights", {h});
                const std::size_t slot = g < 2 ? g : 2;
                for (std::size_t j = 0; j < Hidden; ++j) p[p_offset + slot * Hidden + j] = peep[j];
            }
            binder.accept_if_present(n + "cell");
            binder.accept_if_present(n + "_tmp");
        }
        params = p;
    }

    /// x: T rows of In floats (contiguous); writes T rows of Hidden floats to out, row t at
    /// out + t * out_stride. reverse: run t = T-1 .. 0 (the backward half of a
    /// bidirectional layer), which equals running on the reversed sequence and reversing
    /// the result. work: work_floats(T) floats.
    void forward(const float* x, std::size_t steps, float* out, std::size_t out_stride,
                 bool reverse, float* work) const {
        State state;
        forward_block(x, steps, out, out_stride, reverse, state, work);
    }

    /// The same for one block of a longer sequence, from `state` (then the state after
    /// the block): x holds the block's rows in time order, out gets them in time order.
    /// reverse: the block runs from its last row to its first, and the blocks go from the
    /// end of the sequence to its start. work: work_floats(steps) floats, 16-byte
    /// aligned (Eigen's activation loops start with scalars up to an aligned address, so
    /// the alignment of work and of each output row is part of the arithmetic).
    void forward_block(const float* x, std::size_t steps, float* out, std::size_t out_stride,
                       bool reverse, State& state, float* work) const {
        using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
        const auto T = static_cast<Eigen::Index>(steps);
        Eigen::Map<RowMatrix> z(work, T, Eigen::Index(G));
        z.noalias() =
            Eigen::Map<const RowMatrix>(x, T, Eigen::Index(In)) *
            Eigen::Map<const RowMatrix>(params + w_offset, Eigen::Index(In), Eigen::Index(G));
        float* hr = work + steps * G;  // h R of the current step, all 4 gates
        float* h = state.h.data();
        float* c = state.c.data();
        const float* b = params + b_offset;
        const float* R = params + r_offset;
        const float* pi = params + p_offset;
        const float* pf = pi + Hidden;
        const float* po = pf + Hidden;
        constexpr std::size_t H = Hidden;
        for (std::size_t s = 0; s < steps; ++s) {
            const std::size_t t = reverse ? steps - 1 - s : s;
            const float* zt = work + t * G;
            for (std::size_t j = 0; j < G; ++j) hr[j] = 0.0f;
            for (std::size_t k = 0; k < H; ++k) {
                const float hk = h[k];
                const float* row = R + k * G;
                for (std::size_t j = 0; j < G; ++j) hr[j] += hk * row[j];
            }
            float* ht = out + t * out_stride;
            // Pre-activations in place of h R, in madmom's order ((x W + b) + c . p) + h R;
            // the activations run as Eigen's vectorized exp / tanh.
            for (std::size_t j = 0; j < H; ++j) {
                hr[j] = ((zt[j] + b[j]) + c[j] * pi[j]) + hr[j];
                hr[H + j] = ((zt[H + j] + b[H + j]) + c[j] * pf[j]) + hr[H + j];
                hr[2 * H + j] = (zt[2 * H + j] + b[2 * H + j]) + hr[2 * H + j];
            }
            Eigen::Map<Eigen::Array<float, 2 * H, 1>> gates_if(hr);
            Eigen::Map<Eigen::Array<float, H, 1>> cand(hr + 2 * H);
            gates_if = (1.0f + (-gates_if).exp()).inverse();
            cand = cand.tanh();
            for (std::size_t j = 0; j < H; ++j) {
                c[j] = hr[2 * H + j] * hr[j] + c[j] * hr[H + j];
                hr[3 * H + j] = ((zt[3 * H + j] + b[3 * H + j]) + c[j] * po[j]) + hr[3 * H + j];
            }
            Eigen::Map<Eigen::Array<float, H, 1>> gate_o(hr + 3 * H);
            Eigen::Map<Eigen::Array<float, H, 1>> h_out(ht);
            h_out = Eigen::Map<const Eigen::Array<float, H, 1>>(c).tanh() *
                    (1.0f + (-gate_o).exp()).inverse();
            for (std::size_t j = 0; j < H; ++j) h[j] = ht[j];
        }
    }
};

}  // namespace tagmap::nn
