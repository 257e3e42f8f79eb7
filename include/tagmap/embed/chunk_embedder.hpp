// A model bound to a Chunker and its output buffers: 16 kHz samples in, one
// ChunkResult per window out. Shared by the file pipeline (pipeline.hpp) and the
// streaming embedder (streaming.hpp); builds without exceptions and RTTI.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include <tagmap/embed/chunker.hpp>
#include <tagmap/embed/model_concept.hpp>

namespace tagmap::embed {

/// One chunk's outputs; the spans are valid only during the callback.
struct ChunkResult {
    std::size_t index = 0;  ///< chunk number from 0; chunk k starts at sample k * hop
    bool padded = false;    ///< the stream was shorter than one window and was zero-padded
    std::span<const float> taggram;
    std::span<const float> embedding;
};

/// A model bound to a Chunker and its output buffers. Allocates only in the
/// constructor; push() and finish() allocate nothing beyond what model.forward does.
template <ChunkModel M>
class ChunkEmbedder {
  public:
    explicit ChunkEmbedder(M& model, ChunkOptions options = {})
        : model_(&model),
          shape_(shape_of(model)),
          chunker_(shape_.input_samples, options),
          taggram_(shape_.n_tags),
          embedding_(shape_.embedding_dim) {}

    const ModelShape& shape() const { return shape_; }
    M& model() { return *model_; }
    const Chunker& chunker() const { return chunker_; }

    /// Feeds 16 kHz samples; sink(const ChunkResult&) for each completed window.
    template <class Sink>
    void push(std::span<const float> samples, Sink&& sink) {
        chunker_.push(samples, [&](std::span<const float> w, std::size_t i, bool padded) {
            run(w, i, padded, sink);
        });
    }

    /// Ends the stream (applies the padding rule). reset() before the next stream.
    template <class Sink>
    void finish(Sink&& sink) {
        chunker_.finish(
            [&](std::span<const float> w, std::size_t i, bool padded) { run(w, i, padded, sink); });
    }

    void reset() { chunker_.reset(); }

  private:
    template <class Sink>
    void run(std::span<const float> window, std::size_t index, bool padded, Sink& sink) {
        model_->forward(window, std::span<float>(taggram_), std::span<float>(embedding_));
        sink(ChunkResult{index, padded, taggram_, embedding_});
    }

    M* model_;
    ModelShape shape_;
    Chunker chunker_;
    std::vector<float> taggram_;
    std::vector<float> embedding_;
};

}  // namespace tagmap::embed
