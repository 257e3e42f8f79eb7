// Real-time streaming for plugins and audio callbacks.
//
//   StreamingEmbedder s(model, on_chunk);
//   s.prepare(host_rate, max_block);         // allocates everything, off the audio thread
//   s.push(samples, n);                      // audio thread: mono samples at host_rate
//
// Design choice: the work is done INLINE in push(), on the calling thread. Samples are
// staged into fixed-size blocks, resampled to 16 kHz (libsoxr, the same HQ spec as
// files), windowed by the Chunker, and when a window completes the model runs and
// on_chunk(ChunkResult) is called before push() returns. No worker thread, hence no
// lock, no wake-up syscall and deterministic output; the price is that the push()
// that completes a window pays one model forward (bench/embed measures the worst-case
// push time against the block period). A host that cannot afford that on its audio
// thread calls push() from its own worker fed by a lock-free FIFO.
//
// After prepare(), push() performs no allocation, lock or syscall, provided the
// model's forward() and the callback do not (tests/embed counts malloc calls).
// examples/realtime_host is that worker pattern (SPSC rings; docs/embedding.md).
//
// Builds with -fno-exceptions -fno-rtti: try_prepare() reports bad arguments as a
// Status; the remaining TAGMAP_THROW sites (push() before prepare, libsoxr failing to
// create or run a resampler) are then fatal.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include <tagmap/audio/resample.hpp>
#include <tagmap/core/error.hpp>
#include <tagmap/embed/chunk_embedder.hpp>
#if TAGMAP_EXCEPTIONS
#include <tagmap/embed/pipeline.hpp>  // kept for includers that rely on it
#endif

namespace tagmap::embed {

template <ChunkModel M>
class StreamingEmbedder {
  public:
    /// Called on the push() thread for each completed window; the spans are valid only
    /// during the call. Invoking a std::function does not allocate.
    using Callback = std::function<void(const ChunkResult&)>;

    StreamingEmbedder(M& model, Callback on_chunk, ChunkOptions options = {})
        : model_(&model), on_chunk_(std::move(on_chunk)), options_(options) {
        if (!on_chunk_)
            TAGMAP_THROW(InvalidArgument("StreamingEmbedder: on_chunk callback is empty"));
    }

    /// Sets up for a host sample rate (a whole number of Hz, 1 kHz..768 kHz) and the
    /// largest block the host will push. Allocates and primes the resampler (~10 ms);
    /// call it off the audio thread. Calling it again starts a fresh stream.
    /// prepare() with bad arguments reported as a value (Errc::invalid_argument).
    Status try_prepare(double host_rate, std::size_t max_block) {
        if (max_block == 0)
            return Status(Errc::invalid_argument, "StreamingEmbedder: max_block must be > 0");
        if (!(host_rate >= audio::kMinSampleRate && host_rate <= audio::kMaxSampleRate) ||
            host_rate != static_cast<double>(static_cast<long long>(host_rate)))
            return Status(Errc::invalid_argument,
                          "StreamingEmbedder: host rate must be a whole number of Hz in ")
                .append(audio::kMinSampleRate)
                .append("..")
                .append(audio::kMaxSampleRate);
        prepare(host_rate, max_block);
        return Status::success();
    }

    void prepare(double host_rate, std::size_t max_block) {
        if (max_block == 0)
            TAGMAP_THROW(InvalidArgument("StreamingEmbedder: max_block must be > 0"));
        resampler_.reset();
        embedder_.reset();
        resampler_ = std::make_unique<audio::Resampler>(host_rate, audio::kModelSampleRate,
                                                        kStageTarget + 64);
        // libsoxr's FIFOs settle only if it always sees the same block size: stage the
        // host's blocks (any size) into blocks of a whole number of resampling periods.
        const std::uint64_t period = resampler_->passthrough() ? 1 : resampler_->input_period();
        stage_block_ = static_cast<std::size_t>(period * ((kStageTarget + period - 1) / period));
        stage_.assign(stage_block_, 0.0f);
        stage_fill_ = 0;
        resampler_->prime(stage_block_);
        embedder_.emplace(*model_, options_);
        max_block_ = max_block;
        host_rate_ = host_rate;
    }

    bool prepared() const { return embedder_.has_value(); }
    double host_rate() const { return host_rate_; }
    std::size_t max_block() const { return max_block_; }
    /// Host samples buffered before resampling (added latency, at most this - 1).
    std::size_t stage_block() const { return stage_block_; }
    /// Windows completed since prepare().
    std::size_t chunks_emitted() const {
        return embedder_ ? embedder_->chunker().windows_emitted() : 0;
    }

    /// Feeds n mono samples at the host rate (any n; max_block is not enforced).
    void push(const float* samples, std::size_t n) {
        if (!embedder_) TAGMAP_THROW(InvalidArgument("StreamingEmbedder: push() before prepare()"));
        while (n > 0) {
            const std::size_t take = std::min(n, stage_block_ - stage_fill_);
            std::copy_n(samples, take, stage_.data() + stage_fill_);
            stage_fill_ += take;
            samples += take;
            n -= take;
            if (stage_fill_ == stage_block_) {
                resampler_->process(
                    std::span<const float>(stage_),
                    [this](std::span<const float> block) { embedder_->push(block, on_chunk_); });
                stage_fill_ = 0;
            }
        }
    }

  private:
    static constexpr std::size_t kStageTarget = 256;  // host samples per resampler call

    M* model_;
    Callback on_chunk_;
    ChunkOptions options_;
    std::unique_ptr<audio::Resampler> resampler_;
    std::optional<ChunkEmbedder<M>> embedder_;
    std::vector<float> stage_;
    std::size_t stage_block_ = 0;
    std::size_t stage_fill_ = 0;
    std::size_t max_block_ = 0;
    double host_rate_ = 0.0;
};

}  // namespace tagmap::embed
