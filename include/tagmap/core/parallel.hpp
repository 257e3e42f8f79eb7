// A small deterministic parallel-for over fixed-size blocks, on std::thread.
//
// Why: the projections (project/) promise bitwise-identical results at any thread count. That holds
// when the work is cut into blocks whose boundaries depend only on the problem size (never on
// the thread count), each block's output depends only on its own inputs (and its own RNG
// stream, see random.hpp), and partial results are combined in block order afterwards.
// Threads merely pick blocks from a shared counter, so which thread ran a block is irrelevant.
//
// API (namespace tagmap):
//   int resolve_threads(int threads)     0 -> std::thread::hardware_concurrency() (>= 1);
//                                         negative -> InvalidArgument
//   std::size_t block_count(n, block_size)  ceil(n / block_size)
//   void parallel_for_blocks(n, block_size, threads, f)
//        calls f(block_index, begin, end) once per block [begin, end) of [0, n); blocks run
//        concurrently on up to `threads` threads (the caller's thread is one of them).
//        The first exception thrown by f is rethrown in the caller after all threads stop;
//        remaining blocks are skipped.
//   std::vector<T> parallel_map_blocks<T>(n, block_size, threads, f)
//        like parallel_for_blocks, with T f(block_index, begin, end); returns the per-block
//        results in block order, for a fixed-order reduction by the caller.
//   void parallel_for(n, threads, f)
//        calls f(i) for every i in [0, n), in blocks of 64; for independent per-item work.
//   void parallel_rounds(rounds, n, block_size, threads, f, between)
//        `rounds` successive parallel_for_blocks, f(round, block, begin, end), on one set of
//        threads started once; between(round) runs on the caller's thread after each round,
//        while the others wait (for snapshots and progress reports). Exceptions as above.
#pragma once

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cstddef>
#include <exception>
#include <mutex>
#include <string>
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
    if (workers <= 1) {
        for (std::size_t b = 0; b < blocks; ++b) run_block(b);
        return;
    }
    std::atomic<std::size_t> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr error;
    std::mutex error_mutex;
    auto worker = [&] {
        for (;;) {
            if (failed.load(std::memory_order_relaxed)) return;
            const std::size_t b = next.fetch_add(1, std::memory_order_relaxed);
            if (b >= blocks) return;
            try {
                run_block(b);
            } catch (...) {
                std::lock_guard lock(error_mutex);
                if (!error) error = std::current_exception();
                failed.store(true, std::memory_order_relaxed);
                return;
            }
        }
    };
    std::vector<std::thread> pool;
    pool.reserve(workers - 1);
    for (std::size_t t = 0; t + 1 < workers; ++t) pool.emplace_back(worker);
    worker();
    for (auto& thread : pool) thread.join();
    if (error) std::rethrow_exception(error);
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

/// Successive rounds of blocks on threads started once: for short rounds (an SGD epoch of a
/// few thousand points) starting threads per round would cost more than the work.
template <class F, class Between>
void parallel_rounds(int rounds, std::size_t n, std::size_t block_size, int threads, F&& f,
                     Between&& between) {
    if (block_size == 0) throw InvalidArgument("parallel_rounds: block_size must be > 0");
    const std::size_t blocks = block_count(n, block_size);
    const auto workers =
        static_cast<std::size_t>(std::min<std::size_t>(resolve_threads(threads), blocks));
    auto run_block = [&](int round, std::size_t b) {
        const std::size_t begin = b * block_size;
        f(round, b, begin, std::min(n, begin + block_size));
    };
    if (workers <= 1) {
        for (int round = 0; round < rounds; ++round) {
            for (std::size_t b = 0; b < blocks; ++b) run_block(round, b);
            between(round);
        }
        return;
    }
    std::atomic<std::size_t> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr error;
    std::mutex error_mutex;
    auto record = [&] {
        std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
        failed.store(true, std::memory_order_relaxed);
    };
    std::barrier sync(static_cast<std::ptrdiff_t>(workers));
    auto worker = [&](bool caller) {
        for (int round = 0; round < rounds; ++round) {
            while (!failed.load(std::memory_order_relaxed)) {
                const std::size_t b = next.fetch_add(1, std::memory_order_relaxed);
                if (b >= blocks) break;
                try {
                    run_block(round, b);
                } catch (...) {
                    record();
                }
            }
            sync.arrive_and_wait();  // round done everywhere
            if (caller) {
                if (!failed.load(std::memory_order_relaxed)) {
                    try {
                        between(round);
                    } catch (...) {
                        record();
                    }
                }
                next.store(0, std::memory_order_relaxed);
            }
            sync.arrive_and_wait();  // between() done, counter reset
        }
    };
    std::vector<std::thread> pool;
    pool.reserve(workers - 1);
    for (std::size_t t = 0; t + 1 < workers; ++t) pool.emplace_back(worker, false);
    worker(true);
    for (auto& thread : pool) thread.join();
    if (error) std::rethrow_exception(error);
}

}  // namespace tagmap
