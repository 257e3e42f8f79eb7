// Sequence models by id: networks whose output is a time series of run-time length
// (CREPE's pitch track, madmom's beat activation), behind one run-time interface for
// the CLI and apps, next to the fixed-chunk taggers of registry.hpp. With
// TAGMAP_SEPARATE_MODEL_TABLES the models are compiled once, as registry.hpp says.
#pragma once

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tagmap/core/error.hpp"
#include "tagmap/core/scratch_store.hpp"
#include "tagmap/weights/weight_file.hpp"

#if !defined(TAGMAP_SEPARATE_MODEL_TABLES) || defined(TAGMAP_MODEL_TABLES_IMPLEMENTATION)
#include "tagmap/models/crepe.hpp"
#include "tagmap/models/madmom_beats.hpp"
#endif

namespace tagmap::models {

// A model whose output is a time series of run-time length (pitch, beat activation), as
// opposed to the fixed-chunk taggers of registry.hpp.
class AnySequenceModel {
  public:
    virtual ~AnySequenceModel() = default;
    virtual std::string_view id() const = 0;
    virtual double sample_rate() const = 0;   // input rate in Hz (16000 CREPE, 44100 madmom)
    virtual double frame_rate() const = 0;    // output rows per second (100 for both)
    virtual std::size_t columns() const = 0;  // 2 for CREPE (Hz, confidence), 1 for madmom
    /// Mono samples at sample_rate() -> rows x columns(), row-major.
    virtual std::vector<float> run(std::span<const float> samples) = 0;
    /// The same rows from a signal given in blocks, without keeping the whole signal:
    /// begin() (expected_samples: a hint to reserve once, 0 if unknown), push() the blocks,
    /// finish() returns what run() returns on their concatenation, bit for bit.
    virtual void begin(std::size_t expected_samples = 0) = 0;
    virtual void push(std::span<const float> samples) = 0;
    virtual std::vector<float> finish() = 0;
};

/// A model type that streams itself (begin / push / finish as in AnySequenceModel); the
/// others are streamed by collecting the signal and calling run() at the end.
template <class M>
concept StreamingSequenceModel = requires(M m, std::size_t n, std::span<const float> samples) {
    m.begin(n);
    m.push(samples);
    { m.finish() } -> std::same_as<std::vector<float>>;
};

/// A model type that keeps per-frame data until the end of its input in a ScratchStore
/// of the caller's choice (MadmomBeats::set_scratch).
template <class M>
concept ScratchSequenceModel = requires(M m, std::unique_ptr<ScratchStore> s) {
    m.set_scratch(std::move(s));
};

/// What a class needs to be listed in the table below: default constructible, bound
/// once from a weight file (BindError listing every problem), rates and width as
/// constants, and run() as in AnySequenceModel.
template <class M>
concept SequenceModelType = std::default_initializable<M> &&
    requires(M m, const weights::WeightFile& w, std::span<const float> samples) {
    { M::sample_rate } -> std::convertible_to<double>;
    { M::frame_rate } -> std::convertible_to<double>;
    { M::columns } -> std::convertible_to<std::size_t>;
    { M::check_weights(w) } -> std::same_as<std::vector<std::string>>;
    m.bind(w);
    { m.run(samples) } -> std::same_as<std::vector<float>>;
};

/// How make_sequence_model() sets a model up.
struct SequenceOptions {
    /// Storage for what a model keeps until the end of a file (madmom-beats: its features
    /// and layer outputs, 832 bytes per 10 ms, MadmomBeats::set_scratch), called once per
    /// model instance that has such data; empty: memory. The application picks the store
    /// (the CLI: a std::tmpfile() per instance, in a FileScratch).
    std::function<std::unique_ptr<ScratchStore>()> scratch;
};

namespace detail {
struct SequenceModelEntry {
    std::string_view id;
    std::unique_ptr<AnySequenceModel> (*make)(std::string_view id, const weights::WeightFile& w,
                                              const SequenceOptions& options);
    std::vector<std::string> (*check)(const weights::WeightFile& w);
};

#if !defined(TAGMAP_SEPARATE_MODEL_TABLES) || defined(TAGMAP_MODEL_TABLES_IMPLEMENTATION)
template <SequenceModelType Model>
class SequenceHandle final : public AnySequenceModel {
  public:
    explicit SequenceHandle(std::string_view id) : id_(id) {}
    std::string_view id() const override { return id_; }
    double sample_rate() const override { return Model::sample_rate; }
    double frame_rate() const override { return Model::frame_rate; }
    std::size_t columns() const override { return Model::columns; }
    std::vector<float> run(std::span<const float> samples) override { return model_.run(samples); }
    void begin(std::size_t expected_samples) override {
        if constexpr (StreamingSequenceModel<Model>) {
            model_.begin(expected_samples);
        } else {
            signal_.clear();
            signal_.reserve(expected_samples);
        }
    }
    void push(std::span<const float> samples) override {
        if constexpr (StreamingSequenceModel<Model>)
            model_.push(samples);
        else
            signal_.insert(signal_.end(), samples.begin(), samples.end());
    }
    std::vector<float> finish() override {
        if constexpr (StreamingSequenceModel<Model>) {
            return model_.finish();
        } else {
            auto out = model_.run(signal_);
            signal_ = {};
            return out;
        }
    }
    Model& model() { return model_; }

  private:
    std::string_view id_;
    Model model_;
    std::vector<float> signal_;  // only for models that do not stream themselves
};

template <SequenceModelType Model>
std::unique_ptr<AnySequenceModel> make_bound_sequence(std::string_view id,
                                                      const weights::WeightFile& w,
                                                      const SequenceOptions& options) {
    auto handle = std::make_unique<SequenceHandle<Model>>(id);
    handle->model().bind(w);
    if constexpr (ScratchSequenceModel<Model>)
        if (options.scratch) handle->model().set_scratch(options.scratch());
    return handle;
}

template <SequenceModelType Model>
constexpr SequenceModelEntry sequence_entry(std::string_view id) {
    return {id, &make_bound_sequence<Model>, &Model::check_weights};
}

#if !defined(TAGMAP_SEPARATE_MODEL_TABLES)
inline
#endif
    std::span<const SequenceModelEntry>
    sequence_model_table() {
    // One line per model: sequence_entry<Class>("id"), with the class's header included
    // at the top of this file (e.g. madmom-beats: tagmap/models/madmom_beats.hpp).
    static const auto table = std::to_array<SequenceModelEntry>({
        sequence_entry<CrepeTinyPitch>("crepe-tiny"),
        sequence_entry<MadmomBeats>("madmom-beats"),
    });
    return table;
}
#else
std::span<const SequenceModelEntry> sequence_model_table();  // in the file defining the tables
#endif

inline const SequenceModelEntry& find_sequence_model(std::string_view id) {
    std::string known;
    for (const auto& e : sequence_model_table()) {
        if (e.id == id) return e;
        known += (known.empty() ? "" : ", ") + std::string(e.id);
    }
    throw InvalidArgument("unknown sequence model id '" + std::string(id) + "' (known: " + known +
                          ")");
}
}  // namespace detail

/// The ids of the table above, in its order (crepe-tiny, ...).
inline std::span<const std::string_view> sequence_model_ids() {
    static const std::vector<std::string_view> ids = [] {
        std::vector<std::string_view> v;
        for (const auto& e : detail::sequence_model_table()) v.push_back(e.id);
        return v;
    }();
    return ids;
}

inline bool is_sequence_model(std::string_view id) {
    const auto ids = sequence_model_ids();
    return std::find(ids.begin(), ids.end(), id) != ids.end();
}

/// A sequence model bound to `w`. Unknown id -> InvalidArgument listing the known ids;
/// weights that do not fit -> BindError listing every problem.
inline std::unique_ptr<AnySequenceModel> make_sequence_model(std::string_view id,
                                                             const weights::WeightFile& w,
                                                             const SequenceOptions& options = {}) {
    const auto& e = detail::find_sequence_model(id);
    return e.make(e.id, w, options);
}

/// One line per missing / unexpected / mis-shaped tensor; empty when the weights fit.
inline std::vector<std::string> check_sequence_weights(std::string_view id,
                                                       const weights::WeightFile& w) {
    return detail::find_sequence_model(id).check(w);
}

}  // namespace tagmap::models
