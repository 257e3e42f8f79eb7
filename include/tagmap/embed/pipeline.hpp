// From audio to per-chunk and track-level model outputs, for any ChunkModel.
//
//   file --decode/down-mix/resample (one pass, streamed)--> 16 kHz
//        --Chunker (window = model input, hop, padding rule)--> model.forward
//        --> per-chunk (taggram, embedding) and/or TrackAggregate (mean, max)
//
// Several models can share one decode of a file (embed_file with a span of models):
// each gets its own Chunker, since window lengths differ (48000 vs 59049 samples).
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>
#include <vector>

#include <tagmap/audio/read_resampled.hpp>
#include <tagmap/embed/aggregate.hpp>
#include <tagmap/embed/chunk_embedder.hpp>
#include <tagmap/embed/chunker.hpp>
#include <tagmap/embed/model_concept.hpp>

namespace tagmap::embed {

/// Per-chunk outputs stacked row-major: taggrams (chunks x n_tags), embeddings
/// (chunks x embedding_dim).
struct ChunkMatrix {
    std::size_t chunks = 0;
    std::size_t n_tags = 0;
    std::size_t embedding_dim = 0;
    std::vector<float> taggrams;
    std::vector<float> embeddings;
    bool padded = false;  ///< the single chunk is zero-padded

    void append(const ChunkResult& r) {
        taggrams.insert(taggrams.end(), r.taggram.begin(), r.taggram.end());
        embeddings.insert(embeddings.end(), r.embedding.begin(), r.embedding.end());
        padded = padded || r.padded;
        ++chunks;
    }
};

/// Runs one decode of `path` through several models. sink(model_index, ChunkResult).
/// Returns what the decoder learned (length, rate, peak/near-silence).
template <ChunkModel M, class Sink>
audio::ReadReport embed_file(const std::filesystem::path& path, std::span<M* const> models,
                             Sink&& sink, ChunkOptions options = {}) {
    std::vector<ChunkEmbedder<M>> embedders;
    embedders.reserve(models.size());
    for (M* m : models) embedders.emplace_back(*m, options);
    const auto report = audio::read_resampled(path, [&](std::span<const float> block) {
        for (std::size_t i = 0; i < embedders.size(); ++i)
            embedders[i].push(block, [&](const ChunkResult& r) { sink(i, r); });
    });
    for (std::size_t i = 0; i < embedders.size(); ++i)
        embedders[i].finish([&](const ChunkResult& r) { sink(i, r); });
    return report;
}

/// Per-chunk outputs of one model for 16 kHz samples already in memory.
template <ChunkModel M>
ChunkMatrix embed_samples(std::span<const float> samples_16k, M& model, ChunkOptions options = {}) {
    ChunkEmbedder<M> embedder(model, options);
    ChunkMatrix out;
    out.n_tags = embedder.shape().n_tags;
    out.embedding_dim = embedder.shape().embedding_dim;
    auto sink = [&](const ChunkResult& r) { out.append(r); };
    embedder.push(samples_16k, sink);
    embedder.finish(sink);
    return out;
}

/// Per-chunk outputs of one model for a file.
template <ChunkModel M>
ChunkMatrix embed_file_per_chunk(const std::filesystem::path& path, M& model,
                                 ChunkOptions options = {}) {
    const ModelShape shape = shape_of(model);
    ChunkMatrix out;
    out.n_tags = shape.n_tags;
    out.embedding_dim = shape.embedding_dim;
    M* models[] = {&model};
    embed_file(
        path, std::span<M* const>(models),
        [&](std::size_t, const ChunkResult& r) { out.append(r); }, options);
    return out;
}

/// Track-level (mean/max over chunks) outputs of one model for a file.
template <ChunkModel M>
TrackAggregate embed_file_track(const std::filesystem::path& path, M& model,
                                ChunkOptions options = {}) {
    const ModelShape shape = shape_of(model);
    TrackAggregate track(shape.n_tags, shape.embedding_dim);
    M* models[] = {&model};
    embed_file(
        path, std::span<M* const>(models),
        [&](std::size_t, const ChunkResult& r) { track.add(r.taggram, r.embedding); }, options);
    return track;
}

}  // namespace tagmap::embed
