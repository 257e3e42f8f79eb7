// CREPE (Kim et al. 2018), the monophonic pitch estimator, as ported to PyTorch by
// torchcrepe: six blocks of [F.pad -> conv (k x 1) -> ReLU -> BatchNorm (eps 1e-3) ->
// max-pool (2 x 1)] over a 1024-sample frame at 16 kHz, then the 360-bin sigmoid
// classifier on the height-major flattening. Capacity multiplies every width
// (4 tiny, 8 small, 16 medium, 24 large, 32 full). Frames ride along the width axis,
// so a batch of them goes through one GEMM per layer.
// Graph, preprocessing and decoding: docs/models/crepe.md.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tagmap/core/arena.hpp"
#include "tagmap/core/error.hpp"
#include "tagmap/core/shape.hpp"
#include "tagmap/models/crepe_decode.hpp"
#include "tagmap/models/tagging_model.hpp"  // tensor_views
#include "tagmap/nn/batch_norm.hpp"
#include "tagmap/nn/columns.hpp"
#include "tagmap/nn/conv.hpp"
#include "tagmap/nn/pad.hpp"
#include "tagmap/nn/pool.hpp"
#include "tagmap/nn/sequential.hpp"
#include "tagmap/weights/weight_file.hpp"

namespace tagmap::models {

namespace crepe {
inline constexpr std::size_t sample_rate = 16000;
inline constexpr std::size_t frame_size = 1024;
inline constexpr std::size_t hop = 160;  // 10 ms

/// CREPE's capacity multipliers.
inline constexpr std::size_t tiny = 4, small = 8, medium = 16, large = 24, full = 32;

/// Keras' BatchNormalization epsilon, as float32 (torchcrepe's 0.0010000000474974513).
struct KerasEpsilon {
    static constexpr double value = 0.0010000000474974513;
};

/// Frames of `n` samples: centred (512 zeros on each side, CREPE's default) gives
/// 1 + n / hop; uncentred 1 + (n - 1024) / hop, none when n < 1024.
constexpr std::size_t frame_count(std::size_t n, bool center = true) {
    if (center) return 1 + n / hop;
    return n < frame_size ? 0 : 1 + (n - frame_size) / hop;
}

/// Frame `index` of `samples` (centred or not), normalised on its own: mean 0 and
/// population standard deviation 1, the deviation clipped below at 1e-8 (crepe.core).
/// The same from a window of the signal: `window` holds samples window_start ..
/// window_start + window.size() - 1 of a signal of `signal_size` samples, covering every
/// sample of the frame that exists (how a stream frames without keeping the signal).
inline void normalized_frame(std::span<const float> window, std::size_t window_start,
                             std::size_t signal_size, std::size_t index, bool center,
                             std::span<float, frame_size> out) {
    const std::ptrdiff_t start =
        static_cast<std::ptrdiff_t>(index * hop) - (center ? std::ptrdiff_t(frame_size / 2) : 0);
    double sum = 0.0;
    for (std::size_t i = 0; i < frame_size; ++i) {
        const std::ptrdiff_t s = start + std::ptrdiff_t(i);
        out[i] = s >= 0 && s < std::ptrdiff_t(signal_size) ? window[std::size_t(s) - window_start]
                                                           : 0.0f;
        sum += out[i];
    }
    const double mean = sum / double(frame_size);
    double squares = 0.0;
    for (float v : out) squares += (v - mean) * (v - mean);
    const double scale = 1.0 / std::max(std::sqrt(squares / double(frame_size)), 1e-8);
    for (float& v : out) v = static_cast<float>((v - mean) * scale);
}

inline void normalized_frame(std::span<const float> samples, std::size_t index, bool center,
                             std::span<float, frame_size> out) {
    normalized_frame(samples, 0, samples.size(), index, center, out);
}
}  // namespace crepe

namespace crepe_blocks {
using namespace tagmap::nn;

/// CREPE's layer(): F.pad(x, (0, 0, top, bottom)) -> conv (k, 1) -> ReLU -> BN -> pool.
template <FixedString Name, std::size_t In, std::size_t Out, std::size_t K, std::size_t S,
          std::size_t Top, std::size_t Bottom>
using Block =
    Sequential<ZeroPad2d<0, 0, Top, Bottom>,
               Conv2d<Name, In, Out, Kernel<K, 1>, Stride<S, 1>, Padding<0, 0>, post::ReLU>,
               BatchNorm<join<Name, "_BN">, Out, crepe::KerasEpsilon>, MaxPool2d<2, 1>>;

/// Blocks 2-6: kernel 64, "same" padding (31 above, 32 below).
template <FixedString Name, std::size_t In, std::size_t Out>
using Same64 = Block<Name, In, Out, 64, 1, 31, 32>;
}  // namespace crepe_blocks

template <std::size_t Capacity>
struct CrepeArch {
    static constexpr std::size_t c = Capacity;
    using Network = nn::Sequential<
        crepe_blocks::Block<"conv1", 1, 32 * c, 512, 4, 254, 254>,
        crepe_blocks::Same64<"conv2", 32 * c, 4 * c>, crepe_blocks::Same64<"conv3", 4 * c, 4 * c>,
        crepe_blocks::Same64<"conv4", 4 * c, 4 * c>, crepe_blocks::Same64<"conv5", 4 * c, 8 * c>,
        crepe_blocks::Same64<"conv6", 8 * c, 16 * c>,
        nn::FlattenChannelsHeight,  // permute(0, 2, 1, 3).reshape
        nn::ColumnLinear<"classifier", 64 * c, crepe::n_bins, nn::post::Sigmoid>>;
};

/// The CREPE network: normalised frames -> 360-bin activations. `Batch` frames go
/// through the layers together (the last batch of a call is zero-filled).
template <std::size_t Capacity, std::size_t Batch = 1>
class Crepe {
  public:
    static constexpr std::size_t capacity = Capacity, batch = Batch;
    static constexpr std::size_t frame_size = crepe::frame_size, n_bins = crepe::n_bins;
    using Input = Shape<1, frame_size, Batch>;  // sample-major: frame b's sample h at h*B + b
    using Network = typename CrepeArch<Capacity>::Network::template on<Input>;
    static_assert(std::is_same_v<typename Network::Out, Shape<n_bins, 1, Batch>>,
                  "CREPE: the classifier must give 360 bins per frame");

    static constexpr std::size_t input_offset = 0;
    static constexpr std::size_t output_offset = float_bytes(Input::size);
    static constexpr std::size_t work_offset = output_offset + float_bytes(Network::Out::size);
    static constexpr std::size_t arena_bytes = work_offset + float_bytes(Network::work_floats);
    static constexpr std::size_t param_floats = Network::param_floats;
    /// Floating-point operations per frame.
    static constexpr double flops_per_frame = Network::flops / double(Batch);

    Crepe() : arena_(arena_bytes), params_(param_floats) {}
    Crepe(const Crepe&) = delete;
    Crepe& operator=(const Crepe&) = delete;
    Crepe(Crepe&&) = default;
    Crepe& operator=(Crepe&&) = default;

    static std::vector<std::string> check_weights(const weights::WeightFile& w) {
        std::vector<float> store(param_floats);
        Network net;
        nn::ParamBinder binder(tensor_views(w), store);
        net.bind(binder);
        return binder.problems();
    }

    /// Binds all weights; on any problem throws BindError listing them all, and the
    /// model keeps its previous weights.
    void bind(const weights::WeightFile& w) {
        std::vector<float> store(param_floats);
        Network net;
        nn::ParamBinder binder(tensor_views(w), store);
        net.bind(binder);
        binder.throw_if_problems("crepe (" + w.source() + ")");
        params_ = std::move(store);  // the layers point into this heap block, which moves
        network_ = net;
        bound_ = true;
    }

    bool bound() const { return bound_; }

    /// n frames (n x 1024, row-major, already normalised) -> n x 360 activations.
    void activations(std::span<const float> frames, std::size_t n, std::span<float> out) {
        check(frames.size() == n * frame_size && out.size() == n * n_bins,
              "frames must be n x 1024 and the output n x 360");
        run_batches(n, out, [&](std::size_t f, std::span<float, frame_size> dst) {
            std::copy_n(frames.data() + f * frame_size, frame_size, dst.data());
        });
    }

    /// Mono 16 kHz samples -> frame_count(n, center) x 360 activations: CREPE's framing
    /// (10 ms hop, centred by default) and per-frame normalisation, then the network.
    std::vector<float> activations(std::span<const float> samples, bool center = true) {
        for (std::size_t i = 0; i < samples.size(); ++i)
            if (!std::isfinite(samples[i]))
                throw AudioError("crepe: sample " + std::to_string(i) + " is not finite");
        const std::size_t n = crepe::frame_count(samples.size(), center);
        std::vector<float> out(n * n_bins);
        run_batches(n, out, [&](std::size_t f, std::span<float, frame_size> dst) {
            crepe::normalized_frame(samples, f, center, dst);
        });
        return out;
    }

  private:
    static void check(bool ok, const char* what) {
        if (!ok) throw InvalidArgument(std::string("crepe: ") + what);
    }

    template <class Fill>
    void run_batches(std::size_t n, std::span<float> out, Fill fill) {
        check(bound_, "no weights bound (call bind first)");
        float* input = arena_.floats_at(input_offset);
        float* output = arena_.floats_at(output_offset);
        float* work = arena_.floats_at(work_offset);
        alignas(64) float frame[frame_size];
        for (std::size_t first = 0; first < n; first += Batch) {
            const std::size_t count = std::min(Batch, n - first);
            for (std::size_t b = 0; b < Batch; ++b) {
                if (b < count)
                    fill(first + b, std::span<float, frame_size>(frame, frame_size));
                else
                    std::fill_n(frame, frame_size, 0.0f);
                for (std::size_t h = 0; h < frame_size; ++h) input[h * Batch + b] = frame[h];
            }
            network_.forward(input, output, work);
            for (std::size_t b = 0; b < count; ++b)
                for (std::size_t k = 0; k < n_bins; ++k)
                    out[(first + b) * n_bins + k] = output[k * Batch + b];
        }
    }

    Arena arena_;
    std::vector<float> params_;
    Network network_;
    bool bound_ = false;
};

/// CREPE as a sequence model: 16 kHz samples -> T x 2 (Hz, confidence), T =
/// frame_count(n), 100 rows per second; Viterbi-smoothed unless `viterbi` is false.
template <std::size_t Capacity, std::size_t Batch = 1>
class CrepePitch {
  public:
    static constexpr double sample_rate = double(crepe::sample_rate);
    static constexpr double frame_rate = sample_rate / double(crepe::hop);
    static constexpr std::size_t columns = 2;
    bool viterbi = true;

    static std::vector<std::string> check_weights(const weights::WeightFile& w) {
        return Crepe<Capacity, Batch>::check_weights(w);
    }
    void bind(const weights::WeightFile& w) { network_.bind(w); }
    std::vector<float> run(std::span<const float> samples) {
        const auto act = network_.activations(samples);
        return crepe::decode(act, act.size() / crepe::n_bins, viterbi);
    }

    /// The same rows as run() on the concatenated blocks, without keeping the signal or
    /// the activations: begin(), push() blocks, finish(). Memory: a frame's samples, a
    /// batch of frames and the decoder's undecided frames (crepe::DecodeStream).
    void begin(std::size_t /*expected_samples*/ = 0) {
        window_.clear();
        window_start_ = 0;
        seen_ = 0;
        next_frame_ = 0;
        decoder_.emplace(viterbi);
        streaming_ = true;
    }

    void push(std::span<const float> samples) {
        if (!streaming_) throw InvalidArgument("crepe: push() before begin()");
        for (std::size_t i = 0; i < samples.size(); ++i)
            if (!std::isfinite(samples[i]))
                throw AudioError("crepe: sample " + std::to_string(seen_ + i) + " is not finite");
        window_.insert(window_.end(), samples.begin(), samples.end());
        seen_ += samples.size();
        // Frame f is complete once its last sample, f * hop + 511, has arrived.
        std::size_t complete = 0;
        if (seen_ >= crepe::frame_size / 2)
            complete = (seen_ - crepe::frame_size / 2) / crepe::hop + 1;
        run_frames(complete, seen_);
    }

    std::vector<float> finish() {
        if (!streaming_) throw InvalidArgument("crepe: finish() before begin()");
        run_frames(crepe::frame_count(seen_), seen_);
        streaming_ = false;
        window_ = {};
        frames_ = {};
        activations_ = {};
        auto out = decoder_->finish();
        decoder_.reset();
        return out;
    }

    Crepe<Capacity, Batch>& network() { return network_; }

  private:
    static constexpr std::size_t stream_batch = 32;  // frames per network call

    /// Frames next_frame_ .. end - 1 through the network and the decoder; then drops the
    /// samples no later frame needs.
    void run_frames(std::size_t end, std::size_t signal_size) {
        frames_.resize(stream_batch * crepe::frame_size);
        activations_.resize(stream_batch * crepe::n_bins);
        while (next_frame_ < end) {
            const std::size_t n = std::min(stream_batch, end - next_frame_);
            for (std::size_t k = 0; k < n; ++k)
                crepe::normalized_frame(
                    window_, window_start_, signal_size, next_frame_ + k, true,
                    std::span<float, crepe::frame_size>(frames_.data() + k * crepe::frame_size,
                                                        crepe::frame_size));
            network_.activations(std::span<const float>(frames_.data(), n * crepe::frame_size), n,
                                 std::span<float>(activations_.data(), n * crepe::n_bins));
            for (std::size_t k = 0; k < n; ++k)
                decoder_->push(
                    std::span<const float>(activations_.data() + k * crepe::n_bins, crepe::n_bins));
            next_frame_ += n;
        }
        // The next frame starts at next_frame_ * hop - 512; compact now and then.
        const std::size_t keep_from = next_frame_ * crepe::hop > crepe::frame_size / 2
                                          ? next_frame_ * crepe::hop - crepe::frame_size / 2
                                          : 0;
        const std::size_t drop = std::min(keep_from, seen_) - window_start_;
        if (drop >= 16384 || drop == window_.size()) {
            window_.erase(window_.begin(), window_.begin() + std::ptrdiff_t(drop));
            window_start_ += drop;
        }
    }

    Crepe<Capacity, Batch> network_;
    // Streaming state (begin .. finish).
    bool streaming_ = false;
    std::vector<float> window_;  // samples window_start_ .. seen_ - 1
    std::size_t window_start_ = 0, seen_ = 0, next_frame_ = 0;
    std::vector<float> frames_, activations_;
    std::optional<crepe::DecodeStream> decoder_;
};

using CrepeTiny = Crepe<crepe::tiny>;
using CrepeTinyPitch = CrepePitch<crepe::tiny>;

}  // namespace tagmap::models
