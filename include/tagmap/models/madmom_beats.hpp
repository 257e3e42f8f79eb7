// madmom's beat activation (RNNBeatProcessor, offline): the 2015 ensemble of 8
// bidirectional LSTM networks (Boeck, Krebs & Widmer, ISMIR 2015) on madmom's
// multi-resolution log-filtered spectrogram, averaged, 100 frames per second.
//
//   44.1 kHz mono -> int16 -> MadmomBeatFeatures (T x 266)
//   -> per network: BLSTM(266 -> 2x25) -> BLSTM(50 -> 2x25) -> BLSTM(50 -> 2x25)
//                   -> Dense(50 -> 1, sigmoid)
//   -> mean of the 8 outputs (summed in order, / 8, float32): T values in [0, 1]
//
// Streamed (begin / push / finish) the features are computed as the samples arrive and
// only their log part (133 floats per frame, the differences follow from it) is kept
// until the end, in a ScratchStore (memory, or a file the application hands over); then
// each network runs in four sweeps over blocks of frames, forward and backward, keeping
// three layer outputs of 25 floats per frame there too: 208 floats per frame in all
// (300 MB per hour in memory; in a file, a few MB of fixed buffers). The sweeps give the
// whole-sequence layers' outputs bit for bit (nn::SequenceBlocks), so run(), streaming
// and the stores agree exactly.
//
// Weights: `tagmap-convert beats_blstm_{1..8}.pkl madmom-beats.tmw` (tensor names
// "nets.<i>.layers.<j>...", see docs/models/madmom.md). The model files are madmom's,
// licensed CC BY-NC-SA 4.0 (non-commercial): so are the weights and their outputs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tagmap/audio/madmom_features.hpp"
#include "tagmap/core/error.hpp"
#include "tagmap/core/scratch_store.hpp"
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
    /// Scratch for forward() on T steps: two T x 50 ping-pong buffers and the LSTM work.
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

    /// features: T x 266 -> activation: T, the whole sequence at once (MadmomBeats runs
    /// the same layers in blocks, with the same results).
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
    /// Frames per block of the sweeps (4.8 s; nn::SequenceBlocks): the buffers hold one.
    static constexpr std::size_t block_frames = 480;
    /// Floats per frame kept in the scratch store until the networks have run: the log
    /// spectra (133) and three layer outputs of 25.
    static constexpr std::size_t kept_floats_per_frame = 133 + 3 * 25;

    MadmomBeats() : scratch_(std::make_unique<MemoryScratch>()) {}

    /// Where the per-frame data of a sequence are kept (see kept_floats_per_frame);
    /// null: memory (the default). Results do not depend on it.
    void set_scratch(std::unique_ptr<ScratchStore> scratch) {
        scratch_ = scratch ? std::move(scratch) : std::make_unique<MemoryScratch>();
    }

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
        begin(pcm.size());
        // In pieces, so the front end's window never copies the whole signal.
        constexpr std::size_t piece = 1 << 16;
        for (std::size_t i = 0; i < pcm.size(); i += piece)
            features_.push(pcm.subspan(i, std::min(piece, pcm.size() - i)),
                           [this](std::span<const float> row) { keep(row); });
        return finish();
    }

    /// The same as run() on the concatenated blocks: begin(), push() blocks, finish().
    /// The features are computed as the samples arrive and their log part goes to the
    /// scratch store (the signal is not kept); the networks run at finish(), which gives
    /// run()'s values bit for bit.
    void begin(std::size_t expected_samples = 0) {
        require_bound();
        prepare();
        scratch_->release();
        // A little over the hint (a resampled length can differ by a few samples).
        if (expected_samples > 0)
            scratch_->reserve((audio::MadmomBeatFeatures::frames(expected_samples) + 16) *
                              kept_floats_per_frame);
        features_.begin();
        kept_frames_ = staged_ = 0;
    }

    void push(std::span<const float> samples) {
        pcm_.resize(samples.size());
        audio::MadmomBeatFeatures::to_int16(samples, pcm_, features_.samples_seen());
        features_.push(pcm_, [this](std::span<const float> row) { keep(row); });
    }

    std::vector<float> finish() {
        features_.finish([this](std::span<const float> row) { keep(row); });
        flush_rows();
        pcm_ = {};
        const std::size_t T = kept_frames_;
        std::vector<float> sum(T, 0.0f);
        const Features x{nullptr, 0};
        reserve_slots(T * features_.log_columns(), T);
        for (std::size_t i = 0; i < n_nets; ++i)
            run_network(nets_[i], x, T, T * features_.log_columns(), sum.data(), true);
        for (float& v : sum) v /= float(n_nets);
        scratch_->release();  // T-sized: not kept for the next file
        return sum;
    }

    /// The ensemble on precomputed features (T x 266).
    std::vector<float> run_features(std::span<const float> features, std::size_t steps) const {
        check_features(features, steps, steps);
        std::vector<float> sum(steps, 0.0f);
        reserve_slots(0, steps);
        for (std::size_t i = 0; i < n_nets; ++i)
            run_network(nets_[i], Features{features.data(), 0}, steps, 0, sum.data(), true);
        for (float& v : sum) v /= float(n_nets);
        scratch_->release();
        return sum;
    }

    /// Network i alone (0-based, madmom's beats_blstm_<i+1>.pkl) on features T x 266.
    void run_net(std::size_t i, std::span<const float> features, std::size_t steps,
                 std::span<float> activation) const {
        require_bound();
        if (i >= n_nets) throw InvalidArgument("madmom-beats: network index out of range");
        check_features(features, steps, activation.size());
        reserve_slots(0, steps);
        run_network(nets_[i], Features{features.data(), 0}, steps, 0, activation.data(), false);
        scratch_->release();
    }

  private:
    static constexpr std::size_t H = 25, W2 = 2 * H;  // hidden units per direction, row width

    static void bind_all(nn::ParamBinder& binder, std::array<MadmomBeatsNet, n_nets>& nets) {
        for (std::size_t i = 0; i < n_nets; ++i) nets[i].bind(binder, "nets." + std::to_string(i));
    }
    void require_bound() const {
        if (!bound_) throw InvalidArgument("madmom-beats: no weights bound (call bind first)");
    }
    void check_features(std::span<const float> features, std::size_t steps, std::size_t out) const {
        require_bound();
        if (features.size() != steps * MadmomBeatsNet::in_features || out != steps)
            throw InvalidArgument("madmom-beats: features hold " + std::to_string(features.size()) +
                                  " floats and the output " + std::to_string(out) + ", expected " +
                                  std::to_string(steps) + " x 266 and " + std::to_string(steps));
    }

    /// The fixed buffers of one block (allocated once per instance, about 1.6 MB).
    void prepare() const {
        if (!buffer_.empty()) return;
        const std::size_t B = block_frames, logc = features_.log_columns();
        std::size_t at = 0;
        const auto take = [&](std::size_t n) {
            const std::size_t a = at;
            at += (n + 16 + 15) / 16 * 16;  // 64-byte multiples, and room for an odd shift
            return a;
        };
        const std::size_t x = take(B * MadmomBeatsNet::in_features), log = take((B + 2) * logc),
                          z = take(decltype(MadmomBeatsNet::layer0.fwd)::work_floats(B)),
                          l0 = take(B * W2), l1 = take(B * W2), l2 = take(B * W2),
                          packed = take(B * H), staged = take(B * logc), act = take(B);
        buffer_.assign(at + 16, 0.0f);
        float* base = buffer_.data();
        while (reinterpret_cast<std::uintptr_t>(base) % 64 != 0) ++base;
        x_ = base + x, log_ = base + log, z_ = base + z, l0_ = base + l0, l1_ = base + l1,
        l2_ = base + l2, packed_ = base + packed, staged_rows_ = base + staged, act_ = base + act;
    }

    /// The row sink of the streamed front end: log parts, a block at a time, to the store.
    void keep(std::span<const float> row) {
        features_.pack_log(row.data(), staged_rows_ + staged_ * features_.log_columns());
        if (++staged_ == block_frames) flush_rows();
    }
    void flush_rows() {
        const std::size_t logc = features_.log_columns();
        scratch_->write(kept_frames_ * logc, {staged_rows_, staged_ * logc});
        kept_frames_ += staged_;
        staged_ = 0;
    }

    void reserve_slots(std::size_t at, std::size_t steps) const {
        scratch_->reserve(at + 3 * steps * H);
    }

    /// Where the network input comes from: rows T x 266 in memory, or else the log
    /// parts in the scratch store from float 0.
    struct Features {
        const float* rows;
        std::size_t log_at;
    };
    void load_features(const Features& f, std::size_t t0, std::size_t n) const {
        constexpr std::size_t in = MadmomBeatsNet::in_features;
        if (f.rows) {
            std::memcpy(x_, f.rows + t0 * in, n * in * sizeof(float));
            return;
        }
        const std::size_t logc = features_.log_columns();
        const std::size_t first = t0 - std::min(t0, audio::MadmomBeatFeatures::max_lag);
        scratch_->read(f.log_at + first * logc, {log_, (t0 + n - first) * logc});
        features_.expand(log_, t0, n, x_);
    }

    /// 25 floats of each of n rows of 50 (from `rows` on) to or from the store at `at`.
    void put(const float* rows, std::size_t n, std::size_t at) const {
        for (std::size_t r = 0; r < n; ++r) std::memcpy(packed_ + r * H, rows + r * W2, H * 4);
        scratch_->write(at, {packed_, n * H});
    }
    void get(float* rows, std::size_t n, std::size_t at) const {
        scratch_->read(at, {packed_, n * H});
        for (std::size_t r = 0; r < n; ++r) std::memcpy(rows + r * W2, packed_ + r * H, H * 4);
    }

    /// One network over T frames in four sweeps of blocks, with the layer states carried
    /// from block to block: (1) forward: layer 0 forward; (2) backward: layer 0 backward,
    /// layer 1 backward; (3) forward: layers 1 and 2 forward; (4) backward: layer 2
    /// backward and the dense layer. Between sweeps the store keeps three T x 25 slots
    /// from float `at`: fwd0 then fwd1, bwd0 then fwd2, bwd1. Each layer writes its rows
    /// at the same addresses modulo 16 bytes as MadmomBeatsNet::forward's buffers (layer
    /// 1's are 50 T floats after layer 0's), which Eigen's activation loops depend on.
    void run_network(const MadmomBeatsNet& net, const Features& x, std::size_t T, std::size_t at,
                     float* act, bool add) const {
        prepare();
        const nn::SequenceBlocks blocks{T, block_frames};
        const std::size_t s0 = at, s1 = at + T * H, s2 = at + 2 * T * H;
        float* l0 = l0_;
        float* l1 = l1_ + (T % 2 == 1 ? 2 : 0);
        float* l2 = l2_;
        const std::size_t n = blocks.count();
        {  // (1)
            decltype(net.layer0.fwd)::State f0;
            for (std::size_t b = 0; b < n; ++b) {
                const std::size_t t0 = blocks.begin(b), m = blocks.size(b);
                load_features(x, t0, m);
                net.layer0.fwd.forward_block(x_, m, l0, W2, false, f0, z_);
                put(l0, m, s0 + t0 * H);
            }
        }
        {  // (2)
            decltype(net.layer0.bwd)::State b0;
            decltype(net.layer1.bwd)::State b1;
            for (std::size_t b = n; b-- > 0;) {
                const std::size_t t0 = blocks.begin(b), m = blocks.size(b);
                load_features(x, t0, m);
                net.layer0.bwd.forward_block(x_, m, l0 + H, W2, true, b0, z_);
                get(l0, m, s0 + t0 * H);
                put(l0 + H, m, s1 + t0 * H);
                net.layer1.bwd.forward_block(l0, m, l1 + H, W2, true, b1, z_);
                put(l1 + H, m, s2 + t0 * H);
            }
        }
        {  // (3)
            decltype(net.layer1.fwd)::State f1;
            decltype(net.layer2.fwd)::State f2;
            for (std::size_t b = 0; b < n; ++b) {
                const std::size_t t0 = blocks.begin(b), m = blocks.size(b);
                get(l0, m, s0 + t0 * H);
                get(l0 + H, m, s1 + t0 * H);
                net.layer1.fwd.forward_block(l0, m, l1, W2, false, f1, z_);
                get(l1 + H, m, s2 + t0 * H);
                net.layer2.fwd.forward_block(l1, m, l2, W2, false, f2, z_);
                put(l1, m, s0 + t0 * H);
                put(l2, m, s1 + t0 * H);
            }
        }
        {  // (4)
            decltype(net.layer2.bwd)::State b2;
            for (std::size_t b = n; b-- > 0;) {
                const std::size_t t0 = blocks.begin(b), m = blocks.size(b);
                get(l1, m, s0 + t0 * H);
                get(l1 + H, m, s2 + t0 * H);
                net.layer2.bwd.forward_block(l1, m, l2 + H, W2, true, b2, z_);
                get(l2, m, s1 + t0 * H);
                net.layer3.forward(l2, m, act_);
                for (std::size_t r = 0; r < m; ++r)
                    act[t0 + r] = add ? act[t0 + r] + act_[r] : act_[r];
            }
        }
    }

    std::vector<float> params_;
    std::array<MadmomBeatsNet, n_nets> nets_{};
    bool bound_ = false;
    audio::MadmomBeatFeatures features_;
    std::unique_ptr<ScratchStore> scratch_;
    std::vector<std::int16_t> pcm_;             // one pushed block as int16
    std::size_t kept_frames_ = 0, staged_ = 0;  // log rows in the store, and staged
    // One block's buffers, in buffer_ (64-byte aligned): network input, log rows, LSTM
    // work, the three layers' outputs, packed slot rows, staged log rows, activations.
    mutable std::vector<float> buffer_;
    mutable float *x_ = nullptr, *log_ = nullptr, *z_ = nullptr, *l0_ = nullptr, *l1_ = nullptr,
                  *l2_ = nullptr, *packed_ = nullptr, *staged_rows_ = nullptr, *act_ = nullptr;
};

}  // namespace tagmap::models
