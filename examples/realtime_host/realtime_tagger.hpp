// The real-time host pattern (docs/embedding.md): the audio callback only copies its
// block into a lock-free SPSC ring and reads the latest taggram from a second one; a
// worker thread drains the first ring into a StreamingEmbedder (resampling to 16 kHz,
// chunking, the model) and pushes each chunk's taggram into the second. The callback
// never allocates, locks, blocks or makes a system call; all waiting is on the worker.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <thread>

#include <tagmap/embed/streaming.hpp>

#include "spsc_ring.hpp"

namespace realtime {

/// One chunk's taggram as it leaves the worker.
template <std::size_t NTags>
struct Taggram {
    std::uint64_t chunk = 0;         ///< chunk index (from 0)
    std::uint64_t host_samples = 0;  ///< host samples the worker had taken when it finished
    float values[NTags] = {};
};

template <class Model, std::size_t InputCapacity = (1u << 18)>
class RealtimeTagger {
  public:
    static constexpr std::size_t n_tags = Model::n_tags;
    using Result = Taggram<n_tags>;

    /// Everything is allocated here (rings, resampler, buffers), off the audio thread.
    RealtimeTagger(Model& model, double host_rate, std::size_t max_block)
        : input_(std::make_unique<SpscRing<float, InputCapacity>>()),
          output_(std::make_unique<SpscRing<Result, 16>>()),
          embedder_(model, [this](const tagmap::embed::ChunkResult& r) { on_chunk(r); }) {
        embedder_.prepare(host_rate, max_block);
        scratch_.reset(new float[kWorkerBlock]);
    }
    ~RealtimeTagger() { stop(); }

    void start() {
        running_.store(true, std::memory_order_relaxed);
        worker_ = std::thread([this] { work(); });
    }
    /// Stops after the worker has drained what the callback pushed.
    void stop() {
        if (!worker_.joinable()) return;
        running_.store(false, std::memory_order_release);
        worker_.join();
    }

    // ---- audio thread ----------------------------------------------------------------
    /// The callback's whole job: n mono samples in; returns false on an overrun (the
    /// worker fell behind by more than the ring; the samples that did not fit are lost).
    bool process(const float* block, std::size_t n) noexcept {
        return process(block, n, [](const Result&) noexcept {});
    }
    /// process(), also handing every taggram that arrived since the last call (oldest
    /// first; several if the callback was descheduled) to on_result, which must be as
    /// real-time safe as the callback.
    template <class OnResult>
    bool process(const float* block, std::size_t n, OnResult&& on_result) noexcept {
        const std::size_t taken = input_->push(block, n);
        Result r;
        while (output_->pop(r)) {  // keep the newest
            on_result(static_cast<const Result&>(r));
            latest_ = r;
            ++received_;
        }
        if (taken < n) {
            ++overruns_;
            return false;
        }
        return true;
    }
    /// The newest taggram the callback has seen (chunk == received() - 1), if any.
    const Result& latest() const noexcept { return latest_; }
    std::uint64_t received() const noexcept { return received_; }
    std::uint64_t overruns() const noexcept { return overruns_; }
    /// Free space of the input ring, for a simulation that must not overrun.
    std::size_t input_space() const noexcept { return input_->free_space(); }

    // ---- any thread --------------------------------------------------------------------
    std::uint64_t chunks_done() const noexcept { return done_.load(std::memory_order_acquire); }
    /// Host samples the worker has taken and fully processed.
    std::uint64_t samples_done() const noexcept {
        return processed_.load(std::memory_order_acquire);
    }

  private:
    static constexpr std::size_t kWorkerBlock = 4096;

    void work() {
        for (;;) {
            const bool running = running_.load(std::memory_order_acquire);
            const std::size_t n = input_->pop(scratch_.get(), kWorkerBlock);
            if (n > 0) {
                taken_ += n;
                embedder_.push(scratch_.get(), n);
                processed_.store(taken_, std::memory_order_release);
                continue;
            }
            if (!running) break;
            std::this_thread::sleep_for(std::chrono::microseconds(200));  // the worker may wait
        }
    }

    void on_chunk(const tagmap::embed::ChunkResult& r) {
        Result out;
        out.chunk = r.index;
        out.host_samples = taken_;
        for (std::size_t i = 0; i < n_tags; ++i) out.values[i] = r.taggram[i];
        while (!output_->push(out))  // the callback drains every block; rarely full
            std::this_thread::sleep_for(std::chrono::microseconds(100));
        done_.fetch_add(1, std::memory_order_release);
    }

    std::unique_ptr<SpscRing<float, InputCapacity>> input_;
    std::unique_ptr<SpscRing<Result, 16>> output_;
    tagmap::embed::StreamingEmbedder<Model> embedder_;
    std::unique_ptr<float[]> scratch_;
    std::thread worker_;
    std::atomic<bool> running_{false};
    std::atomic<std::uint64_t> done_{0};
    std::atomic<std::uint64_t> processed_{0};
    std::uint64_t taken_ = 0;  // worker only
    // audio thread only
    Result latest_{};
    std::uint64_t received_ = 0;
    std::uint64_t overruns_ = 0;
};

}  // namespace realtime

namespace realtime {

/// A deterministic music-like test signal (three drifting partials, a pulse and some
/// noise), generated block by block without allocation: the simulated host's input.
class TestSignal {
  public:
    explicit TestSignal(double rate) : rate_(rate) {}
    void fill(float* out, std::size_t n) noexcept {
        for (std::size_t i = 0; i < n; ++i, ++t_) {
            const double s = static_cast<double>(t_) / rate_;
            const double drift = 1.0 + 0.25 * __builtin_sin(0.05 * s);
            p1_ += 2 * 3.141592653589793 * 220.0 * drift / rate_;
            p2_ += 2 * 3.141592653589793 * 330.0 * drift / rate_;
            p3_ += 2 * 3.141592653589793 * 1760.0 / rate_;
            noise_ = noise_ * 6364136223846793005ull + 1442695040888963407ull;
            const double white = static_cast<double>(noise_ >> 40) / double(1ull << 24) - 0.5;
            const double pulse = (t_ % static_cast<std::uint64_t>(rate_ / 2)) < 2000 ? 0.3 : 0.0;
            out[i] = static_cast<float>(0.3 * __builtin_sin(p1_) + 0.2 * __builtin_sin(p2_) +
                                        pulse * __builtin_sin(p3_) + 0.05 * white);
        }
    }

  private:
    double rate_;
    std::uint64_t t_ = 0, noise_ = 1;
    double p1_ = 0, p2_ = 0, p3_ = 0;
};

}  // namespace realtime
