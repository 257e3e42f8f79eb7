// A tagging network with its front end, as one type: 16 kHz samples -> log-mel
// (the checkpoint's window and filterbank) -> Body (spec_bn ... embedding) -> Head
// (dense2 + sigmoid = taggram). `Arch` states the graph (see musicnn.hpp, vgg.hpp).
//
// Memory: all activations and scratch live in one 64-byte aligned arena of
// `arena_bytes` (a compile-time constant), owned or lent by the host; forward()
// allocates nothing. The bound parameters (`param_floats`) live in one heap block
// allocated at construction, or, with StaticMemory = true, in the host's buffer.
//
// StaticMemory = true is the firmware / plugin configuration (docs/embedding.md): the
// host lends the arena and the parameter store (see Storage), the front end is a
// fixed-size FFT instead of FFTW, and nothing touches the heap, not even binding. The
// window and filterbank are then viewed in the bound weights, which must outlive the
// model (compiled weights always do). Both configurations build without exceptions
// and RTTI through the Status API (try_bind, try_forward); the throwing API (bind,
// forward, and everything about WeightFile) is there when exceptions are.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

#include "tagmap/audio/log_mel.hpp"
#include "tagmap/core/arena.hpp"
#include "tagmap/core/error.hpp"
#include "tagmap/core/shape.hpp"
#include "tagmap/nn/bind.hpp"
#include "tagmap/weights/compiled_weights.hpp"

#if TAGMAP_EXCEPTIONS
#include <string>

#include "tagmap/weights/weight_file.hpp"
#endif

namespace tagmap::models {

#if TAGMAP_EXCEPTIONS
/// The tensors of a weight file as binder input (views, no copies).
inline std::vector<nn::TensorView> tensor_views(const weights::WeightFile& w) {
    std::vector<nn::TensorView> views;
    views.reserve(w.tensors().size());
    for (const auto& t : w.tensors())
        views.push_back({t.name, std::string(weights::dtype_name(t.dtype)), t.shape, t.bytes});
    return views;
}
#endif

template <class Arch, bool StaticMemory = false>
class TaggingModel {
  public:
    static constexpr bool static_memory = StaticMemory;
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

    using FrontEnd =
        std::conditional_t<StaticMemory, audio::FixedLogMel<n_fft, hop, n_mels, input_samples>,
                           audio::LogMelSpectrogram>;

    /// All the memory a static-memory model uses besides itself and the weights; a host
    /// puts one in static storage: `static Model::Storage storage; static Model m(storage);`
    struct Storage {
        alignas(arena_alignment) std::byte arena[arena_bytes];
        alignas(arena_alignment) float params[param_floats];
    };

    /// Owns an arena of arena_bytes.
    TaggingModel() requires(!StaticMemory) : arena_(arena_bytes), params_(param_floats) {}
    /// Uses the host's arena (>= arena_bytes, 64-byte aligned); it must outlive the model.
    explicit TaggingModel(std::span<std::byte> host_arena) requires(!StaticMemory)
        : arena_(host_arena, arena_bytes), params_(param_floats) {}
    /// Static memory: the host's arena and parameter store (sizes checked at compile
    /// time; the arena must be 64-byte aligned), which must outlive the model.
    TaggingModel(std::span<std::byte, arena_bytes> host_arena,
                 std::span<float, param_floats> host_params) requires StaticMemory
        : arena_(host_arena, arena_bytes),
          params_(host_params) {}
    explicit TaggingModel(Storage& storage) requires StaticMemory
        : TaggingModel(std::span<std::byte, arena_bytes>(storage.arena),
                       std::span<float, param_floats>(storage.params)) {}

    TaggingModel(const TaggingModel&) = delete;
    TaggingModel& operator=(const TaggingModel&) = delete;
    TaggingModel(TaggingModel&&) = default;
    TaggingModel& operator=(TaggingModel&&) = default;

    /// Binds weights compiled into the program (tagmap-convert --emit-header), checking
    /// every tensor by name, dtype and shape. Returns Errc::bind with the number of
    /// problems and the first one. With static memory nothing is allocated, and a failed
    /// bind leaves the model unbound; otherwise it keeps its previous weights.
    Status try_bind(const weights::CompiledWeights& w) {
        ParamStore store = fresh_store();
        nn::ParamBinder binder(w, store_span(store));
        return finish_bind(binder, store, w.source);
    }

#if TAGMAP_EXCEPTIONS
    /// try_bind, throwing BindError on failure.
    void bind(const weights::CompiledWeights& w) {
        throw_if_error(try_bind(w));
    }

    /// One line per missing, mis-shaped, wrongly typed or unused tensor; empty if they fit.
    static std::vector<std::string> check_weights(const weights::WeightFile& w) {
        std::vector<float> store(param_floats);
        Bound b;
        nn::ParamBinder binder(tensor_views(w), store);
        bind_all(binder, b);
        return binder.problems();
    }

    /// Binds all weights (checking every tensor by name, dtype and shape). On any problem
    /// throws BindError listing all of them, and the model keeps its previous weights
    /// (static memory: the model is left unbound). With static memory `w` must outlive
    /// the model.
    void bind(const weights::WeightFile& w) {
        ParamStore store = fresh_store();
        nn::ParamBinder binder(tensor_views(w), store_span(store));
        Bound b;
        bind_all(binder, b);
        binder.throw_if_problems(std::string(Arch::family) + " (" + w.source() + ")");
        throw_if_error(commit(b, store));
    }
#endif

    bool bound() const {
        return mel_.has_value();
    }

    /// One chunk of exactly input_samples 16 kHz mono samples -> taggram (n_tags, after
    /// sigmoid) and embedding (embedding_dim). No allocation, no exception: errors are
    /// Errc::invalid_argument (unbound, wrong sizes) or Errc::audio (non-finite sample).
    Status try_forward(std::span<const float> chunk, std::span<float> taggram,
                       std::span<float> embedding) noexcept {
        if (!bound()) return Status(Errc::invalid_argument, "forward: no weights bound");
        if (chunk.size() != input_samples || taggram.size() != n_tags ||
            embedding.size() != embedding_dim)
            return Status(Errc::invalid_argument, "forward: wrong input or output size");
        if (const std::size_t i = first_non_finite(chunk.data()); i < input_samples)
            return Status(Errc::audio, "forward: sample ")
                .append(static_cast<long long>(i))
                .append(" of the chunk is not finite");
        run(chunk.data(), taggram.data(), embedding.data());
        return Status::success();
    }

    /// As try_forward, throwing InvalidArgument / AudioError with detailed messages.
    void forward(std::span<const float> chunk, std::span<float> taggram,
                 std::span<float> embedding) {
        check_call(chunk.size(), input_samples, taggram.size(), embedding.size(), 1);
        check_finite(chunk.data());
        run(chunk.data(), taggram.data(), embedding.data());
    }

    /// n chunks back to back; outputs n * n_tags and n * embedding_dim, chunk-major.
    void forward_batch(std::span<const float> chunks, std::size_t n, std::span<float> taggrams,
                       std::span<float> embeddings) {
        check_call(chunks.size(), n * input_samples, taggrams.size(), embeddings.size(), n);
        for (std::size_t i = 0; i < n; ++i) {
            check_finite(chunks.data() + i * input_samples);
            run(chunks.data() + i * input_samples, taggrams.data() + i * n_tags,
                embeddings.data() + i * embedding_dim);
        }
    }

  private:
    using ParamStore = std::conditional_t<StaticMemory, std::span<float>, std::vector<float>>;

    struct Bound {
        Body body;
        Head head;
        std::span<const float> window, filterbank;
    };

    ParamStore fresh_store() const {
        if constexpr (StaticMemory)
            return params_;
        else
            return ParamStore(param_floats);
    }
    static std::span<float> store_span(ParamStore& store) {
        return store;
    }

    static void bind_all(nn::ParamBinder& binder, Bound& b) {
        b.window = binder.view("spec.spectrogram.window", {std::int64_t(n_fft)});
        b.filterbank =
            binder.view("spec.mel_scale.fb", {std::int64_t(n_fft / 2 + 1), std::int64_t(n_mels)});
        b.body.bind(binder);
        b.head.bind(binder);
    }

    Status finish_bind(nn::ParamBinder& binder, ParamStore& store, std::string_view source) {
        if constexpr (StaticMemory) mel_.reset();  // the store is being overwritten
        Bound b;
        bind_all(binder, b);
        nn::TensorName what(Arch::family, " (");
        Status st = binder.status(nn::TensorName(what.view(), source).view());
        if (!st.ok()) return st.append(")");
        return commit(b, store);
    }

    /// Builds the front end from the bound window and filterbank and adopts the layers.
    Status commit(Bound& b, ParamStore& store) {
        if constexpr (StaticMemory) {
            mel_.emplace();
            Status st = mel_->init(std::span<const float, n_fft>(b.window.data(), n_fft),
                                   std::span<const float, (n_fft / 2 + 1) * n_mels>(
                                       b.filterbank.data(), (n_fft / 2 + 1) * n_mels));
            if (!st.ok()) {
                mel_.reset();
                return st;
            }
        } else {
            mel_.emplace(static_cast<int>(n_fft), static_cast<int>(hop), b.window, b.filterbank,
                         static_cast<int>(n_mels), static_cast<int>(input_samples));
            params_ = std::move(store);  // the layers point into this heap block, which moves
        }
        body_ = b.body;
        head_ = b.head;
        return Status::success();
    }

    void check_call(std::size_t samples, std::size_t want_samples, std::size_t tags,
                    std::size_t emb, std::size_t n) const {
        // Messages are built only on failure: forward must not allocate.
        const auto who = [] { return std::string(Arch::family) + " forward: "; };
        if (!bound()) TAGMAP_THROW(InvalidArgument(who() + "no weights bound (call bind first)"));
        if (samples != want_samples)
            TAGMAP_THROW(InvalidArgument(who() + "got " + std::to_string(samples) +
                                         " samples, expected " + std::to_string(want_samples) +
                                         " (" + std::to_string(n) + " x " +
                                         std::to_string(input_samples) + ")"));
        if (tags != n * n_tags || emb != n * embedding_dim)
            TAGMAP_THROW(InvalidArgument(
                who() + "outputs hold " + std::to_string(tags) + " tags and " +
                std::to_string(emb) + " embedding values, expected " + std::to_string(n * n_tags) +
                " and " + std::to_string(n * embedding_dim)));
        (void)who;
    }

    static std::size_t first_non_finite(const float* chunk) noexcept {
        for (std::size_t i = 0; i < input_samples; ++i)
            if (!std::isfinite(chunk[i])) return i;
        return input_samples;
    }

    void check_finite(const float* chunk) const {
        if (const std::size_t i = first_non_finite(chunk); i < input_samples)
            TAGMAP_THROW(AudioError(std::string(Arch::family) + " forward: sample " +
                                    std::to_string(i) + " of the chunk is not finite"));
    }

    void run(const float* chunk, float* taggram, float* embedding) {
        float* spectrogram = arena_.floats_at(spectrogram_offset);
        float* work = arena_.floats_at(work_offset);
        if constexpr (StaticMemory)
            mel_->compute(std::span<const float, input_samples>(chunk, input_samples),
                          std::span<float, Spectrogram::size>(spectrogram, Spectrogram::size));
        else
            mel_->compute({chunk, input_samples}, {spectrogram, Spectrogram::size});
        body_.forward(spectrogram, embedding, work);
        head_.forward(embedding, taggram, work);
    }

    Arena arena_;
    ParamStore params_;
    Body body_;
    Head head_;
    std::optional<FrontEnd> mel_;
};

}  // namespace tagmap::models
