// core/parallel.hpp: parallel_rounds runs every block of every round once, the between() step on
// the caller's thread after each round with the other threads held, and rethrows the first
// exception after all threads stopped; parallel_for_blocks reuses its pool's threads, and
// nested calls and calls from several threads at once run every block once.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "tagmap/core/parallel.hpp"

namespace tp = tagmap;

TEST(ParallelRounds, EveryBlockOfEveryRoundOnceAndBetweenOnTheCaller) {
    constexpr int kRounds = 7;
    constexpr std::size_t kN = 1000, kBlock = 64;
    for (const int threads : {1, 2, 3}) {
        std::vector<std::atomic<int>> hits(kRounds * kN);
        std::vector<int> rounds_seen;
        const auto caller = std::this_thread::get_id();
        bool between_on_caller = true;
        bool round_complete_at_between = true;
        tp::parallel_rounds(
            kRounds, kN, kBlock, threads,
            [&](int round, std::size_t, std::size_t begin, std::size_t end) {
                for (std::size_t i = begin; i < end; ++i) hits[std::size_t(round) * kN + i]++;
            },
            [&](int round) {
                between_on_caller &= std::this_thread::get_id() == caller;
                for (std::size_t i = 0; i < kN; ++i)
                    round_complete_at_between &= hits[std::size_t(round) * kN + i] == 1;
                // nothing of the next round may have started yet
                if (round + 1 < kRounds)
                    for (std::size_t i = 0; i < kN; ++i)
                        round_complete_at_between &= hits[std::size_t(round + 1) * kN + i] == 0;
                rounds_seen.push_back(round);
            });
        for (const auto& h : hits) ASSERT_EQ(h.load(), 1) << threads << " threads";
        EXPECT_TRUE(between_on_caller);
        EXPECT_TRUE(round_complete_at_between);
        EXPECT_EQ(rounds_seen, (std::vector<int>{0, 1, 2, 3, 4, 5, 6}));
    }
}

TEST(ParallelRounds, FirstExceptionIsRethrownAndLaterRoundsSkipped) {
    for (const int threads : {1, 2}) {
        std::atomic<int> calls_after{0};
        EXPECT_THROW(tp::parallel_rounds(
                         5, 256, 16, threads,
                         [&](int round, std::size_t block, std::size_t, std::size_t) {
                             if (round >= 2) calls_after++;
                             if (round == 1 && block == 3) throw std::runtime_error("block");
                         },
                         [](int) {}),
                     std::runtime_error);
        EXPECT_EQ(calls_after.load(), 0) << threads << " threads";
    }
    // an exception from between() (say, a progress callback cancelling) stops the rounds too
    int rounds_run = 0;
    EXPECT_THROW(tp::parallel_rounds(
                     5, 256, 16, 2, [&](int, std::size_t, std::size_t, std::size_t) {},
                     [&](int round) {
                         ++rounds_run;
                         if (round == 1) throw std::runtime_error("cancel");
                     }),
                 std::runtime_error);
    EXPECT_EQ(rounds_run, 2);
    EXPECT_THROW(tp::parallel_rounds(
                     3, 10, 0, 1, [](int, std::size_t, std::size_t, std::size_t) {}, [](int) {}),
                 tagmap::InvalidArgument);
}

TEST(ParallelForBlocks, ReusesThePoolsThreads) {
    std::mutex mutex;
    std::set<std::thread::id> seen;
    std::atomic<int> blocks{0};
    for (int region = 0; region < 300; ++region)
        tp::parallel_for_blocks(64, 1, 3, [&](std::size_t, std::size_t, std::size_t) {
            blocks++;
            std::lock_guard lock(mutex);
            seen.insert(std::this_thread::get_id());
        });
    EXPECT_EQ(blocks.load(), 300 * 64);
    // The caller and pool threads, not new ones per region (600 helper starts otherwise). The
    // pool keeps as many threads as the largest request so far in this process (test_knn_exact
    // asks for 5 before this test runs), so the bound is the caller plus a small pool.
    EXPECT_LE(seen.size(), 8u);
}

TEST(ParallelForBlocks, NestedAndConcurrentCallsRunEveryBlockOnce) {
    constexpr std::size_t kOuter = 40, kInner = 50;
    auto job = [&](std::vector<std::atomic<int>>& hits) {
        for (int repeat = 0; repeat < 20; ++repeat)
            tp::parallel_for_blocks(kOuter, 1, 2, [&](std::size_t b, std::size_t, std::size_t) {
                // Inside a region: runs on this thread, every block once.
                tp::parallel_for(kInner, 2, [&](std::size_t i) { hits[b * kInner + i]++; });
            });
    };
    std::vector<std::atomic<int>> a(kOuter * kInner), b(kOuter * kInner);
    std::thread other([&] { job(b); });  // competes for the pool: gets threads of its own
    job(a);
    other.join();
    for (std::size_t i = 0; i < a.size(); ++i) {
        ASSERT_EQ(a[i].load(), 20) << i;
        ASSERT_EQ(b[i].load(), 20) << i;
    }
    // An exception from a nested region reaches the outermost caller.
    EXPECT_THROW(tp::parallel_for_blocks(8, 1, 2,
                                         [](std::size_t, std::size_t, std::size_t) {
                                             tp::parallel_for(8, 2, [](std::size_t i) {
                                                 if (i == 5) throw std::runtime_error("inner");
                                             });
                                         }),
                 std::runtime_error);
}
