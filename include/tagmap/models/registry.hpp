// The models by id, behind one runtime interface, for apps and the CLI that pick a
// model at run time. Compile-time users can use the types in musicnn.hpp / vgg.hpp.
//
// Header-only by default: every file that includes this compiles every model's code
// (tens of seconds each). A program with several such files can compile the models once:
// define TAGMAP_SEPARATE_MODEL_TABLES for all its files and compile tagmap/models/
// model_tables.hpp in exactly one of them with TAGMAP_MODEL_TABLES_IMPLEMENTATION
// defined (docs/models/registry.md).
#pragma once

#include <array>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "tagmap/core/cpu_features.hpp"
#include "tagmap/core/error.hpp"
#include "tagmap/weights/weight_file.hpp"

#if !defined(TAGMAP_SEPARATE_MODEL_TABLES) || defined(TAGMAP_MODEL_TABLES_IMPLEMENTATION)
#include "tagmap/models/musicnn.hpp"
#include "tagmap/models/vgg.hpp"
#endif

namespace tagmap::models {

/// Arithmetic of the heavy convolutions. fp32 is the reference (1e-4 of PyTorch); bf16
/// rounds their operands to bfloat16 and accumulates in fp32 (AVX512_BF16 only; on CPUs
/// with AMX-BF16 as hi + lo bf16 pairs on tiles, near fp32; fidelity in
/// docs/models/musicnn.md).
enum class Precision { fp32, bf16 };

/// "fp32" or "bf16"; anything else -> InvalidArgument.
inline Precision parse_precision(std::string_view name) {
    if (name == "fp32") return Precision::fp32;
    if (name == "bf16") return Precision::bf16;
    throw InvalidArgument("unknown precision '" + std::string(name) + "' (known: fp32, bf16)");
}

class AnyModel {
  public:
    virtual ~AnyModel() = default;
    virtual std::string_view id() const = 0;
    virtual std::size_t input_samples() const = 0;  // 16 kHz samples per chunk
    virtual std::size_t n_tags() const = 0;
    virtual std::size_t embedding_dim() const = 0;
    virtual std::string_view tag_set() const = 0;  // "mtat" or "msd": tags/<set>.txt
    /// One chunk (exactly input_samples() samples); outputs sized n_tags()/embedding_dim().
    virtual void forward(std::span<const float> chunk, std::span<float> taggram,
                         std::span<float> embedding) = 0;
    /// n chunks back to back (n*input_samples()), outputs n*n_tags() and n*embedding_dim().
    virtual void forward_batch(std::span<const float> chunks, std::size_t n,
                               std::span<float> taggrams, std::span<float> embeddings) = 0;
};

namespace detail {
struct ModelEntry {
    std::string_view id;
    std::string_view tag_set;
    std::unique_ptr<AnyModel> (*make)(std::string_view id, std::string_view tag_set,
                                      const weights::WeightFile& w);
    std::vector<std::string> (*check)(const weights::WeightFile& w);
    /// The bf16 variant's maker; nullptr when the model has none.
    std::unique_ptr<AnyModel> (*make_bf16)(std::string_view id, std::string_view tag_set,
                                           const weights::WeightFile& w) = nullptr;
};

#if !defined(TAGMAP_SEPARATE_MODEL_TABLES) || defined(TAGMAP_MODEL_TABLES_IMPLEMENTATION)
template <class Model>
class ModelHandle final : public AnyModel {
  public:
    ModelHandle(std::string_view id, std::string_view tag_set) : id_(id), tag_set_(tag_set) {}
    std::string_view id() const override { return id_; }
    std::size_t input_samples() const override { return Model::input_samples; }
    std::size_t n_tags() const override { return Model::n_tags; }
    std::size_t embedding_dim() const override { return Model::embedding_dim; }
    std::string_view tag_set() const override { return tag_set_; }
    void forward(std::span<const float> chunk, std::span<float> taggram,
                 std::span<float> embedding) override {
        model_.forward(chunk, taggram, embedding);
    }
    void forward_batch(std::span<const float> chunks, std::size_t n, std::span<float> taggrams,
                       std::span<float> embeddings) override {
        model_.forward_batch(chunks, n, taggrams, embeddings);
    }
    Model& model() { return model_; }

  private:
    std::string_view id_, tag_set_;
    Model model_;
};

template <class Model>
std::unique_ptr<AnyModel> make_bound(std::string_view id, std::string_view tag_set,
                                     const weights::WeightFile& w) {
    auto handle = std::make_unique<ModelHandle<Model>>(id, tag_set);
    handle->model().bind(w);
    return handle;
}

template <class Model, class Bf16Model = void>
ModelEntry entry(std::string_view id, std::string_view tag_set) {
    ModelEntry e{id, tag_set, &make_bound<Model>, &Model::check_weights};
    if constexpr (!std::is_void_v<Bf16Model>) e.make_bf16 = &make_bound<Bf16Model>;
    return e;
}

// Inline in a header-only build; one ordinary definition with TAGMAP_SEPARATE_MODEL_TABLES.
#if !defined(TAGMAP_SEPARATE_MODEL_TABLES)
inline
#endif
    const std::array<ModelEntry, 4>&
    model_table() {
    static const std::array<ModelEntry, 4> table = {
        entry<MusicnnMtat, MusicnnMtatBf16>("musicnn-mtat", "mtat"),
        entry<MusicnnMsd>("musicnn-msd", "msd"),
        entry<VggMtat>("vgg-mtat", "mtat"),
        entry<VggMsd>("vgg-msd", "msd"),
    };
    return table;
}
#else
const std::array<ModelEntry, 4>& model_table();  // in the file that defines the tables
#endif

inline const ModelEntry& find_model(std::string_view id) {
    std::string known;
    for (const auto& e : model_table()) {
        if (e.id == id) return e;
        known += (known.empty() ? "" : ", ") + std::string(e.id);
    }
    throw InvalidArgument("unknown model id '" + std::string(id) + "' (known: " + known + ")");
}
}  // namespace detail

/// musicnn-mtat, musicnn-msd, vgg-mtat, vgg-msd.
inline std::span<const std::string_view> model_ids() {
    static constexpr std::array<std::string_view, 4> ids = {"musicnn-mtat", "musicnn-msd",
                                                            "vgg-mtat", "vgg-msd"};
    return ids;
}

/// A model bound to `w`. Unknown id -> InvalidArgument listing the known ids; weights
/// that do not fit -> BindError listing every problem.
/// With Precision::bf16: UnsupportedError when the model has no bf16 variant or the CPU
/// has no AVX512_BF16 (never a silent fp32 model).
inline std::unique_ptr<AnyModel> make_model(std::string_view id, const weights::WeightFile& w,
                                            Precision precision = Precision::fp32) {
    const auto& e = detail::find_model(id);
    if (precision == Precision::fp32) return e.make(e.id, e.tag_set, w);
    if (!e.make_bf16) {
        std::string with;
        for (const auto& other : detail::model_table())
            if (other.make_bf16) with += (with.empty() ? "" : ", ") + std::string(other.id);
        throw UnsupportedError("model '" + std::string(id) +
                               "' has no bf16 variant (bf16 models: " + with + ")");
    }
    if (!cpu_has_avx512_bf16())
        throw UnsupportedError("bf16 precision needs a CPU with AVX512_BF16; this one has none");
    return e.make_bf16(e.id, e.tag_set, w);
}

/// One line per missing / unexpected / mis-shaped tensor; empty when the weights fit.
inline std::vector<std::string> check_weights(std::string_view id, const weights::WeightFile& w) {
    return detail::find_model(id).check(w);
}

}  // namespace tagmap::models
