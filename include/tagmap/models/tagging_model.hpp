// A tagging network with its front end, as one type: 16 kHz samples -> log-mel
// (the checkpoint's window and filterbank) -> Body (spec_bn ... embedding) -> Head
// (dense2 + sigmoid = taggram). `Arch` states the graph (see musicnn.hpp, vgg.hpp).
//
// Memory: the bound parameters live in one heap block allocated at construction;
// all activations and scratch live in one 64-byte aligned arena of `arena_bytes`
// (a compile-time constant), owned or lent by the host. forward() allocates nothing.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tagmap/audio/log_mel.hpp"
#include "tagmap/core/arena.hpp"
#include "tagmap/core/error.hpp"
#include "tagmap/core/shape.hpp"
#include "tagmap/nn/bind.hpp"
#include "tagmap/weights/weight_file.hpp"

namespace tagmap::models {

/// The tensors of a weight file as binder input (views, no copies).
inline std::vector<nn::TensorView> tensor_views(const weights::WeightFile& w) {
    std::vector<nn::TensorView> views;
    views.reserve(w.tensors().size());
    for (const auto& t : w.tensors())
        views.push_back({t.name, std::string(weights::dtype_name(t.dtype)), t.shape, t.bytes});
    return views;
}

template <class Arch>
class TaggingModel {
  public:
    static constexpr std::size_t n_fft = 512;
    static constexpr std::size_t hop = 256;
    static constexpr std::size_t n_mels = Arch::n_mels;
    static constexpr std::size_t input_samples = Arch::input_samples;
    static constexpr std::size_t frames = input_samples / hop + 1;  // center=True
    using Spectrogram = Shape<1, n_mels, frames>;
    using Body = typename Arch::Body::template on<Spectrogram>;
    using Head = typename Arch::Head::template on<typename Body::Out>;
    static constexpr std::size_t embedding_dim = Body::Out::size;
    static constexpr std::size_t n_tags = Head::Out::size;

    // Arena layout: [log-mel spectrogram | scratch shared by body and head].
    static constexpr std::size_t spectrogram_offset = 0;
    static constexpr std::size_t work_offset = float_bytes(Spectrogram::size);
    static constexpr std::size_t arena_bytes =
        work_offset + float_bytes(std::max(Body::work_floats, Head::work_floats));
    static constexpr std::size_t param_floats = Body::param_floats + Head::param_floats;
    /// Floating-point operations of one forward of the network (front end excluded).
    static constexpr double flops = Body::flops + Head::flops;

    /// Owns an arena of arena_bytes.
    TaggingModel() : arena_(arena_bytes), params_(param_floats) {}
    /// Uses the host's arena (>= arena_bytes, 64-byte aligned); it must outlive the model.
    explicit TaggingModel(std::span<std::byte> host_arena)
        : arena_(host_arena, arena_bytes), params_(param_floats) {}

    TaggingModel(const TaggingModel&) = delete;
    TaggingModel& operator=(const TaggingModel&) = delete;
    TaggingModel(TaggingModel&&) = default;
    TaggingModel& operator=(TaggingModel&&) = default;

    /// One line per missing, mis-shaped, wrongly typed or unused tensor; empty if they fit.
    static std::vector<std::string> check_weights(const weights::WeightFile& w) {
        std::vector<float> store(param_floats);
        Bound b;
        nn::ParamBinder binder(tensor_views(w), store);
        bind_all(binder, b);
        return binder.problems();
    }

    /// Binds all weights (checking every tensor by name, dtype and shape). On any problem
    /// throws BindError listing all of them, and the model keeps its previous weights.
    void bind(const weights::WeightFile& w) {
        std::vector<float> store(param_floats);
        Bound b;
        nn::ParamBinder binder(tensor_views(w), store);
        bind_all(binder, b);
        binder.throw_if_problems(std::string(Arch::family) + " (" + w.source() + ")");
        b.mel.emplace(static_cast<int>(n_fft), static_cast<int>(hop), b.window, b.filterbank,
                      static_cast<int>(n_mels), static_cast<int>(input_samples));
        params_ = std::move(store);  // the layers point into this heap block, which moves
        body_ = b.body;
        head_ = b.head;
        mel_ = std::move(b.mel);
    }

    bool bound() const { return mel_.has_value(); }

    /// One chunk of exactly input_samples 16 kHz mono samples -> taggram (n_tags, after
    /// sigmoid) and embedding (embedding_dim). No allocation.
    void forward(std::span<const float> chunk, std::span<float> taggram,
                 std::span<float> embedding) {
        check_call(chunk.size(), input_samples, taggram.size(), embedding.size(), 1);
        run(chunk.data(), taggram.data(), embedding.data());
    }

    /// n chunks back to back; outputs n * n_tags and n * embedding_dim, chunk-major.
    void forward_batch(std::span<const float> chunks, std::size_t n, std::span<float> taggrams,
                       std::span<float> embeddings) {
        check_call(chunks.size(), n * input_samples, taggrams.size(), embeddings.size(), n);
        for (std::size_t i = 0; i < n; ++i)
            run(chunks.data() + i * input_samples, taggrams.data() + i * n_tags,
                embeddings.data() + i * embedding_dim);
    }

  private:
    struct Bound {
        Body body;
        Head head;
        std::vector<float> window, filterbank;
        std::optional<audio::LogMelSpectrogram> mel;
    };

    static void bind_all(nn::ParamBinder& binder, Bound& b) {
        b.window = binder.read("spec.spectrogram.window", {std::int64_t(n_fft)});
        b.filterbank =
            binder.read("spec.mel_scale.fb", {std::int64_t(n_fft / 2 + 1), std::int64_t(n_mels)});
        b.body.bind(binder);
        b.head.bind(binder);
    }

    void check_call(std::size_t samples, std::size_t want_samples, std::size_t tags,
                    std::size_t emb, std::size_t n) const {
        // Messages are built only on failure: forward must not allocate.
        const auto who = [] { return std::string(Arch::family) + " forward: "; };
        if (!bound()) throw InvalidArgument(who() + "no weights bound (call bind first)");
        if (samples != want_samples)
            throw InvalidArgument(who() + "got " + std::to_string(samples) + " samples, expected " +
                                  std::to_string(want_samples) + " (" + std::to_string(n) + " x " +
                                  std::to_string(input_samples) + ")");
        if (tags != n * n_tags || emb != n * embedding_dim)
            throw InvalidArgument(who() + "outputs hold " + std::to_string(tags) + " tags and " +
                                  std::to_string(emb) + " embedding values, expected " +
                                  std::to_string(n * n_tags) + " and " +
                                  std::to_string(n * embedding_dim));
    }

    void run(const float* chunk, float* taggram, float* embedding) {
        for (std::size_t i = 0; i < input_samples; ++i)
            if (!std::isfinite(chunk[i]))
                throw AudioError(std::string(Arch::family) + " forward: sample " +
                                 std::to_string(i) + " of the chunk is not finite");
        float* spectrogram = arena_.floats_at(spectrogram_offset);
        float* work = arena_.floats_at(work_offset);
        mel_->compute({chunk, input_samples}, {spectrogram, Spectrogram::size});
        body_.forward(spectrogram, embedding, work);
        head_.forward(embedding, taggram, work);
    }

    Arena arena_;
    std::vector<float> params_;
    Body body_;
    Head head_;
    std::optional<audio::LogMelSpectrogram> mel_;
};

}  // namespace tagmap::models
