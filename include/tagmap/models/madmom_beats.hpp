// madmom's beat activation (RNNBeatProcessor, offline): the 2015 ensemble of 8
// bidirectional LSTM networks (Boeck, Krebs & Widmer, ISMIR 2015) on madmom's
// multi-resolution log-filtered spectrogram, averaged, 100 frames per second.
//
//   44.1 kHz mono -> int16 -> MadmomBeatFeatures (T x 266)
//   -> per network: BLSTM(266 -> 2x25) -> BLSTM(50 -> 2x25) -> BLSTM(50 -> 2x25)
//                   -> Dense(50 -> 1, sigmoid)
//   -> mean of the 8 outputs (summed in order, / 8, float32): T values in [0, 1]
//
// Weights: `tagmap-convert beats_blstm_{1..8}.pkl madmom-beats.tmw` (tensor names
// "nets.<i>.layers.<j>...", see docs/models/madmom.md). The model files are madmom's,
// licensed CC BY-NC-SA 4.0 (non-commercial): so are the weights and their outputs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tagmap/audio/madmom_features.hpp"
#include "tagmap/core/error.hpp"
#include "tagmap/models/tagging_model.hpp"
#include "tagmap/nn/bidirectional.hpp"
#include "tagmap/nn/bind.hpp"
#include "tagmap/nn/lstm.hpp"
#include "tagmap/nn/time_dense.hpp"
#include "tagmap/weights/weight_file.hpp"

namespace tagmap::models {

/// One network of the ensemble, as madmom's NeuralNetwork.layers lists it.
struct MadmomBeatsNet {
    template <FixedString Name, std::size_t In>
    using Blstm =
        nn::Bidirectional<Name, nn::Lstm<"fwd_layer", In, 25>, nn::Lstm<"bwd_layer", In, 25>>;
    Blstm<"layers.0", 266> layer0;
    Blstm<"layers.1", 50> layer1;
    Blstm<"layers.2", 50> layer2;
    nn::TimeDense<"layers.3", 50, 1, nn::Activation::sigmoid> layer3;

    static constexpr std::size_t in_features = 266;
    static constexpr std::size_t param_floats =
        decltype(layer0)::param_floats + decltype(layer1)::param_floats +
        decltype(layer2)::param_floats + decltype(layer3)::param_floats;
    /// Scratch for T steps: two T x 50 ping-pong buffers and the LSTM work.
    static constexpr std::size_t work_floats(std::size_t steps) {
        return 2 * steps * 50 + decltype(layer0)::work_floats(steps);
    }
    static constexpr double flops(std::size_t steps) {
        return decltype(layer0)::flops(steps) + decltype(layer1)::flops(steps) +
               decltype(layer2)::flops(steps) + decltype(layer3)::flops(steps);
    }

    void bind(nn::ParamBinder& b, std::string_view prefix) {
        layer0.bind(b, prefix);
        layer1.bind(b, prefix);
        layer2.bind(b, prefix);
        layer3.bind(b, prefix);
    }

    /// features: T x 266 -> activation: T.
    void forward(const float* features, std::size_t steps, float* activation, float* work) const {
        float* a = work;
        float* b = a + steps * 50;
        float* w = b + steps * 50;
        layer0.forward(features, steps, a, w);
        layer1.forward(a, steps, b, w);
        layer2.forward(b, steps, a, w);
        layer3.forward(a, steps, activation);
    }
};

class MadmomBeats {
  public:
    static constexpr std::size_t n_nets = 8;
    static constexpr double sample_rate = 44100.0;
    static constexpr double frame_rate = 100.0;
    static constexpr std::size_t columns = 1;
    static constexpr std::size_t param_floats = n_nets * MadmomBeatsNet::param_floats;

    /// One line per missing, mis-shaped, wrongly typed or unused tensor; empty if they fit.
    static std::vector<std::string> check_weights(const weights::WeightFile& w) {
        std::vector<float> store(param_floats);
        std::array<MadmomBeatsNet, n_nets> nets;
        nn::ParamBinder binder(tensor_views(w), store);
        bind_all(binder, nets);
        return binder.problems();
    }

    /// Binds the 8 networks (BindError listing every problem; the model keeps its
    /// previous weights then).
    void bind(const weights::WeightFile& w) {
        std::vector<float> store(param_floats);
        std::array<MadmomBeatsNet, n_nets> nets;
        nn::ParamBinder binder(tensor_views(w), store);
        bind_all(binder, nets);
        binder.throw_if_problems("madmom-beats (" + w.source() + ")");
        params_ = std::move(store);  // the layers point into this heap block, which moves
        nets_ = nets;
        bound_ = true;
    }

    bool bound() const { return bound_; }

    /// Mono samples at 44.1 kHz in [-1, 1) -> beat activation, one value per 10 ms
    /// (frame t centred on sample 441 t), ceil(samples / 441) values.
    std::vector<float> run(std::span<const float> samples) {
        const std::vector<std::int16_t> pcm = audio::MadmomBeatFeatures::to_int16(samples);
        return run_int16(pcm);
    }

    /// The same from int16 samples, as madmom reads them from a 16-bit file.
    std::vector<float> run_int16(std::span<const std::int16_t> pcm) {
        require_bound();
        const std::vector<float> features = features_.compute(pcm);
        return run_features(features, audio::MadmomBeatFeatures::frames(pcm.size()));
    }

    /// The same as run() on the concatenated blocks: begin(), push() blocks, finish().
    /// The features are computed as the samples arrive, so neither the float signal nor
    /// its int16 copy is kept; what remains is the offline BLSTM's need for the whole
    /// feature sequence (T x 266 floats) and its per-layer buffers (docs/streaming.md).
    void begin(std::size_t expected_samples = 0) {
        require_bound();
        features_.begin(expected_samples);
    }

    void push(std::span<const float> samples) {
        pcm_.resize(samples.size());
        audio::MadmomBeatFeatures::to_int16(samples, pcm_, features_.samples_seen());
        features_.push(pcm_);
    }

    std::vector<float> finish() {
        const std::size_t samples = features_.samples_seen();
        std::vector<float> features = features_.finish();
        pcm_ = {};
        auto out = run_features(features, audio::MadmomBeatFeatures::frames(samples));
        work_ = {};  // T-sized: not kept for the next file
        return out;
    }

    /// The ensemble on precomputed features (T x 266).
    std::vector<float> run_features(std::span<const float> features, std::size_t steps) const {
        std::vector<float> sum(steps, 0.0f), one(steps);
        for (std::size_t i = 0; i < n_nets; ++i) {
            run_net(i, features, steps, one);
            for (std::size_t t = 0; t < steps; ++t) sum[t] += one[t];
        }
        for (float& v : sum) v /= float(n_nets);
        return sum;
    }

    /// Network i alone (0-based, madmom's beats_blstm_<i+1>.pkl) on features T x 266.
    void run_net(std::size_t i, std::span<const float> features, std::size_t steps,
                 std::span<float> activation) const {
        require_bound();
        if (i >= n_nets) throw InvalidArgument("madmom-beats: network index out of range");
        if (features.size() != steps * MadmomBeatsNet::in_features || activation.size() != steps)
            throw InvalidArgument("madmom-beats: features hold " + std::to_string(features.size()) +
                                  " floats and the output " + std::to_string(activation.size()) +
                                  ", expected " + std::to_string(steps) + " x 266 and " +
                                  std::to_string(steps));
        work_.resize(MadmomBeatsNet::work_floats(steps));
        nets_[i].forward(features.data(), steps, activation.data(), work_.data());
    }

  private:
    static void bind_all(nn::ParamBinder& binder, std::array<MadmomBeatsNet, n_nets>& nets) {
        for (std::size_t i = 0; i < n_nets; ++i) nets[i].bind(binder, "nets." + std::to_string(i));
    }
    void require_bound() const {
        if (!bound_) throw InvalidArgument("madmom-beats: no weights bound (call bind first)");
    }

    std::vector<float> params_;
    std::array<MadmomBeatsNet, n_nets> nets_{};
    bool bound_ = false;
    audio::MadmomBeatFeatures features_;
    std::vector<std::int16_t> pcm_;  // one pushed block as int16
    mutable std::vector<float> work_;
};

}  // namespace tagmap::models
