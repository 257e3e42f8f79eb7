// core/parallel.hpp: parallel_rounds runs every block of every round once, the between() step on
// the caller's thread after each round with the other threads held, and rethrows the first
// exception after all threads stopped.
#include <gtest/gtest.h>

#include <atomic>
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
