// What the embedding pipeline needs from a model, as a concept: a chunk length in
// 16 kHz samples, output sizes, and forward(chunk, taggram, embedding). The runtime
// models::AnyModel satisfies it with virtual functions, the compile-time model types
// with static constexpr members; these helpers read either spelling.
#pragma once

#include <concepts>
#include <cstddef>
#include <span>

namespace tagmap::embed {

namespace detail {
template <class M>
std::size_t input_samples_of(const M& m) {
    if constexpr (requires { m.input_samples(); })
        return static_cast<std::size_t>(m.input_samples());
    else
        return static_cast<std::size_t>(M::input_samples);
}
template <class M>
std::size_t n_tags_of(const M& m) {
    if constexpr (requires { m.n_tags(); })
        return static_cast<std::size_t>(m.n_tags());
    else
        return static_cast<std::size_t>(M::n_tags);
}
template <class M>
std::size_t embedding_dim_of(const M& m) {
    if constexpr (requires { m.embedding_dim(); })
        return static_cast<std::size_t>(m.embedding_dim());
    else
        return static_cast<std::size_t>(M::embedding_dim);
}
}  // namespace detail

/// A model the pipeline can run: sizes (as functions or static constants) + forward.
template <class M>
concept ChunkModel = requires(M& m, const M& cm, std::span<const float> chunk,
                              std::span<float> taggram, std::span<float> embedding) {
    { detail::input_samples_of(cm) } -> std::convertible_to<std::size_t>;
    { detail::n_tags_of(cm) } -> std::convertible_to<std::size_t>;
    { detail::embedding_dim_of(cm) } -> std::convertible_to<std::size_t>;
    m.forward(chunk, taggram, embedding);
};

/// Sizes of a model, read once.
struct ModelShape {
    std::size_t input_samples = 0;
    std::size_t n_tags = 0;
    std::size_t embedding_dim = 0;
};

template <ChunkModel M>
ModelShape shape_of(const M& m) {
    return {detail::input_samples_of(m), detail::n_tags_of(m), detail::embedding_dim_of(m)};
}

}  // namespace tagmap::embed
