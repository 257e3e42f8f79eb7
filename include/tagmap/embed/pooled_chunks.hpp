// One model's windows of one stream, run on the workers of a pool (task_queue.hpp)
// instead of on the thread that decodes: the owner pushes 16 kHz samples as it decodes,
// every completed window becomes a task that runs on whichever worker takes it (with that
// worker's instance of the model), and the results are handed back in chunk order. Since
// a window's outputs depend only on its samples, they are the same bytes whichever worker
// (and how many) ran it; summing them in chunk order keeps track-level means identical
// to a single-threaded run.
#pragma once

#include <cstddef>
#include <deque>
#include <exception>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <tagmap/embed/chunk_embedder.hpp>
#include <tagmap/embed/chunker.hpp>
#include <tagmap/embed/model_concept.hpp>
#include <tagmap/embed/task_queue.hpp>

namespace tagmap::embed {

/// `model_for(worker)` returns worker's own instance of the model (M&).
template <ChunkModel M, class ModelFor>
class PooledChunks {
  public:
    PooledChunks(TaskQueue& queue, std::size_t owner, const M& model, ChunkOptions options,
                 ModelFor model_for)
        : queue_(&queue),
          owner_(owner),
          shape_(shape_of(model)),
          chunker_(shape_.input_samples, options),
          model_for_(std::move(model_for)) {}

    PooledChunks(const PooledChunks&) = delete;
    PooledChunks& operator=(const PooledChunks&) = delete;

    /// Tasks in flight refer to this object: wait for them (running queued tasks).
    ~PooledChunks() { queue_->help_until_done(owner_, group_); }

    const ModelShape& shape() const { return shape_; }

    /// Feeds samples; each completed window is queued (or run here if the queue is full).
    void push(std::span<const float> samples) {
        chunker_.push(samples, [&](std::span<const float> w, std::size_t i, bool padded) {
            submit(w, i, padded);
        });
    }

    /// Ends the stream (padding rule) and waits until every window has run.
    void finish() {
        chunker_.finish(
            [&](std::span<const float> w, std::size_t i, bool padded) { submit(w, i, padded); });
        queue_->help_until_done(owner_, group_);
    }

    /// After finish(): the first failure of a window's forward, empty if none.
    std::string error() const {
        std::lock_guard lock(error_mutex_);
        return error_;
    }

    std::size_t chunks() const { return slots_.size(); }

    /// After finish(): sink(const ChunkResult&) for every chunk, in chunk order.
    template <class Sink>
    void results(Sink&& sink) const {
        for (std::size_t i = 0; i < slots_.size(); ++i)
            sink(ChunkResult{i, slots_[i].padded, slots_[i].taggram, slots_[i].embedding});
    }

  private:
    struct Slot {
        std::vector<float> taggram, embedding;
        bool padded = false;
    };

    void submit(std::span<const float> window, std::size_t index, bool padded) {
        // A deque keeps references to its elements valid while it grows, so the tasks
        // write into their slots while the owner appends new ones.
        Slot& slot = slots_.emplace_back();
        slot.padded = padded;
        slot.taggram.resize(shape_.n_tags);
        slot.embedding.resize(shape_.embedding_dim);
        (void)index;  // == slots_.size() - 1: windows come in order
        queue_->submit(owner_, group_,
                       [this, &slot, samples = std::vector<float>(window.begin(), window.end())](
                           std::size_t worker) {
                           try {
                               model_for_(worker).forward(std::span<const float>(samples),
                                                          std::span<float>(slot.taggram),
                                                          std::span<float>(slot.embedding));
                           } catch (const std::exception& e) {
                               fail(e.what());
                           } catch (...) {
                               fail("unknown error in a model's forward");
                           }
                       });
    }

    void fail(const char* what) {
        std::lock_guard lock(error_mutex_);
        if (error_.empty()) error_ = what;
        if (error_.empty()) error_ = "unknown error";
    }

    TaskQueue* queue_;
    std::size_t owner_;
    ModelShape shape_;
    Chunker chunker_;
    ModelFor model_for_;
    TaskQueue::Group group_;
    std::deque<Slot> slots_;
    mutable std::mutex error_mutex_;
    std::string error_;
};

}  // namespace tagmap::embed
