// A small deterministic parallel-for over fixed-size blocks, on a persistent thread pool.
//
// Why: the projections (project/) promise bitwise-identical results at any thread count. That holds
// when the work is cut into blocks whose boundaries depend only on the problem size (never on
// the thread count), each block's output depends only on its own inputs (and its own RNG
// stream, see random.hpp), and partial results are combined in block order afterwards.
// Threads merely pick blocks from a shared counter, so which thread ran a block is irrelevant.
//
// Why a pool: a t-SNE iteration has about ten parallel regions; starting and joining threads
// for each (7,500 times per fit) cost more than the work on a loaded machine, where every new
// thread waits to be scheduled. The pool's threads are started once per process, on first use,
// and sleep between regions. The caller's thread starts on the blocks at once, so a helper
// that is late to wake merely takes fewer blocks.
//
// API (namespace tagmap):
//   int resolve_threads(int threads)     0 -> std::thread::hardware_concurrency() (>= 1);
//                                         negative -> InvalidArgument
//   std::size_t block_count(n, block_size)  ceil(n / block_size)
//   void parallel_for_blocks(n, block_size, threads, f)
//        calls f(block_index, begin, end) once per block [begin, end) of [0, n); blocks run
//        concurrently on up to `threads` threads (the caller's thread is one of them).
//        The first exception thrown by f is rethrown in the caller after all threads stop;
//        remaining blocks are skipped. Thread-safe: a call made while the pool serves another
//        caller runs on threads of its own; a call from inside f runs serially.
//   std::vector<T> parallel_map_blocks<T>(n, block_size, threads, f)
//        like parallel_for_blocks, with T f(block_index, begin, end); returns the per-block
//        results in block order, for a fixed-order reduction by the caller.
//   void parallel_for(n, threads, f)
//        calls f(i) for every i in [0, n), in blocks of 64; for independent per-item work.
//   void parallel_rounds(rounds, n, block_size, threads, f, between)
//        `rounds` successive parallel_for_blocks, f(round, block, begin, end); between(round)
//        runs on the caller's thread after each round, before the next one starts (for
//        snapshots and progress reports). Exceptions as above.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "tagmap/core/error.hpp"

namespace tagmap {

/// Number of worker threads to use: `threads`, or all hardware threads when 0.
inline int resolve_threads(int threads) {
    if (threads < 0)
        throw InvalidArgument("threads must be >= 0 (0 = all cores), got " +
                              std::to_string(threads));
    if (threads > 0) return threads;
    const unsigned hw = std::thread::hardware_concurrency();
    return hw == 0 ? 1 : static_cast<int>(hw);
}

inline std::size_t block_count(std::size_t n, std::size_t block_size) {
    return block_size == 0 ? 0 : (n + block_size - 1) / block_size;
}

namespace parallel_detail {

/// One parallel region: work(context) claims and runs blocks until none is left; it never
/// throws (the caller's wrapper records exceptions).
struct Region {
    void (*work)(void*);
    void* context;
};

/// True on a thread that is running blocks of a region (nested calls then run serially).
inline bool& inside_region() {
    thread_local bool inside = false;
    return inside;
}

/// The process-wide pool: threads started on demand (up to the most helpers ever asked for),
/// asleep between regions, one region at a time.
class Pool {
  public:
    static Pool& instance() {
        static Pool pool;
        return pool;
    }
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;
    ~Pool() {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        wake_.notify_all();
        for (auto& thread : threads_) thread.join();
    }

    /// Runs `region` on the caller's thread and up to `helpers` pool threads; returns when
    /// every thread that joined has left it. False (nothing run) if the pool is busy.
    bool run(const Region& region, std::size_t helpers) {
        std::unique_lock busy(busy_, std::try_to_lock);
        if (!busy.owns_lock()) return false;
        {
            std::lock_guard lock(mutex_);
            try {
                while (threads_.size() < helpers) threads_.emplace_back([this] { serve(); });
            } catch (const std::system_error&) {  // no more threads: run with those there are
            }
            region_ = &region;
            seats_ = helpers;
            ++generation_;
        }
        wake_.notify_all();
        region.work(region.context);
        std::unique_lock lock(mutex_);
        seats_ = 0;  // late wakers no longer join
        done_.wait(lock, [&] { return active_ == 0; });
        region_ = nullptr;
        return true;
    }

  private:
    Pool() = default;

    void serve() {
        inside_region() = true;
        std::uint64_t seen = 0;
        std::unique_lock lock(mutex_);
        for (;;) {
            wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
            if (stop_) return;
            seen = generation_;
            if (seats_ == 0) continue;
            --seats_;
            ++active_;
            const Region* region = region_;
            lock.unlock();
            region->work(region->context);
            lock.lock();
            if (--active_ == 0) done_.notify_one();
        }
    }

    std::mutex busy_;   // held by the caller of the current region
    std::mutex mutex_;  // guards everything below
    std::condition_variable wake_, done_;
    std::vector<std::thread> threads_;
    const Region* region_ = nullptr;
    std::size_t seats_ = 0, active_ = 0;
    std::uint64_t generation_ = 0;
    bool stop_ = false;
};

}  // namespace parallel_detail

/// Runs f(block, begin, end) for every block of [0, n); see the header comment.
template <class F>
void parallel_for_blocks(std::size_t n, std::size_t block_size, int threads, F&& f) {
    if (block_size == 0) throw InvalidArgument("parallel_for_blocks: block_size must be > 0");
    const std::size_t blocks = block_count(n, block_size);
    if (blocks == 0) return;
    const auto workers =
        static_cast<std::size_t>(std::min<std::size_t>(resolve_threads(threads), blocks));
    auto run_block = [&](std::size_t b) {
        const std::size_t begin = b * block_size;
        f(b, begin, std::min(n, begin + block_size));
    };
    bool& inside = parallel_detail::inside_region();
    if (workers <= 1 || inside) {
        for (std::size_t b = 0; b < blocks; ++b) run_block(b);
        return;
    }
    struct State {
        State(decltype(run_block)& r, std::size_t b) : run(r), blocks(b) {}
        decltype(run_block)& run;
        std::size_t blocks;
        std::atomic<std::size_t> next{0};
        std::atomic<bool> failed{false};
        std::exception_ptr error;
        std::mutex error_mutex;
    } state(run_block, blocks);
    auto work = [](void* context) {
        auto& s = *static_cast<State*>(context);
        for (;;) {
            if (s.failed.load(std::memory_order_relaxed)) return;
            const std::size_t b = s.next.fetch_add(1, std::memory_order_relaxed);
            if (b >= s.blocks) return;
            try {
                s.run(b);
            } catch (...) {
                std::lock_guard lock(s.error_mutex);
                if (!s.error) s.error = std::current_exception();
                s.failed.store(true, std::memory_order_relaxed);
                return;
            }
        }
    };
    const parallel_detail::Region region{work, &state};
    struct Inside {
        bool& flag;
        ~Inside() { flag = false; }
    } guard{inside = true};
    if (!parallel_detail::Pool::instance().run(region, workers - 1)) {
        // Another caller holds the pool: threads of our own, as many as can be started.
        std::vector<std::thread> own;
        own.reserve(workers - 1);
        try {
            for (std::size_t t = 0; t + 1 < workers; ++t)
                own.emplace_back([&] {
                    parallel_detail::inside_region() = true;
                    work(&state);
                });
        } catch (const std::system_error&) {
        }
        work(&state);
        for (auto& thread : own) thread.join();
    }
    if (state.error) std::rethrow_exception(state.error);
}

/// Per-block results, in block order, for a reduction whose order never depends on threads.
template <class T, class F>
std::vector<T> parallel_map_blocks(std::size_t n, std::size_t block_size, int threads, F&& f) {
    std::vector<T> results(block_count(n, block_size));
    parallel_for_blocks(
        n, block_size, threads,
        [&](std::size_t b, std::size_t begin, std::size_t end) { results[b] = f(b, begin, end); });
    return results;
}

/// f(i) for each i in [0, n), for independent per-item work.
template <class F>
void parallel_for(std::size_t n, int threads, F&& f) {
    parallel_for_blocks(n, 64, threads, [&](std::size_t, std::size_t begin, std::size_t end) {
        for (std::size_t i = begin; i < end; ++i) f(i);
    });
}

/// Successive rounds of blocks, between(round) on the caller after each (an SGD epoch of a
/// few thousand points per round: the pool makes a region cheap enough for that).
template <class F, class Between>
void parallel_rounds(int rounds, std::size_t n, std::size_t block_size, int threads, F&& f,
                     Between&& between) {
    if (block_size == 0) throw InvalidArgument("parallel_rounds: block_size must be > 0");
    for (int round = 0; round < rounds; ++round) {
        parallel_for_blocks(
            n, block_size, threads,
            [&](std::size_t b, std::size_t begin, std::size_t end) { f(round, b, begin, end); });
        between(round);
    }
}

}  // namespace tagmap
