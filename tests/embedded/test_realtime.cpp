// The real-time host's callback (examples/realtime_host) allocates nothing, takes no
// lock and makes no system call, over TAGMAP_RT_SECONDS (environment, default 30, at
// most 600) seconds of simulated 48 kHz audio in
// 64-sample blocks, and the taggrams it receives are exactly those of the same signal
// pushed straight into a StreamingEmbedder.
//
// How it is proved: the simulation runs in a forked child whose audio thread enters
// seccomp strict mode (only read, write, _exit and sigreturn are allowed; any other
// system call kills the process) before the first callback; allocations (operator new,
// malloc & co. wrapped at link time) and pthread mutex locks are counted per thread.
// The worker thread, started before, is not restricted.
#include <gtest/gtest.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include <tagmap/models/musicnn.hpp>
#include <tagmap/weights/weight_file.hpp>

#include "allocation_counter.hpp"
#include "fixtures.hpp"
#include "realtime_tagger.hpp"

namespace {
thread_local long locks = 0;
}  // namespace

extern "C" {
int __real_pthread_mutex_lock(pthread_mutex_t*);
int __wrap_pthread_mutex_lock(pthread_mutex_t* m) {
    ++locks;
    return __real_pthread_mutex_lock(m);
}
}

namespace {

using Model = tagmap::models::MusicnnMtat;
using Tagger = realtime::RealtimeTagger<Model>;
constexpr double rate = 48000;
constexpr std::size_t block = 64;
constexpr std::size_t max_seconds = 600;
constexpr std::size_t max_chunks = max_seconds / 3 + 1;

// The simulated duration: the 10-minute run is the same binary with TAGMAP_RT_SECONDS=600.
std::size_t simulated_seconds() {
    const char* s = std::getenv("TAGMAP_RT_SECONDS");
    const long v = s ? std::strtol(s, nullptr, 10) : 30;
    return v > 0 && std::size_t(v) <= max_seconds ? std::size_t(v) : 30;
}
const std::size_t seconds = simulated_seconds();
const std::size_t blocks = static_cast<std::size_t>(double(seconds) * rate / block);

struct ChildReport {
    long allocations = 0, locks = 0;
    unsigned long long overruns = 0, received = 0, blocks = 0;
    float taggrams[max_chunks][Model::n_tags] = {};
};

bool write_all(int fd, const void* p, std::size_t n) {
    auto* c = static_cast<const char*>(p);
    while (n > 0) {
        const ssize_t w = ::write(fd, c, n);
        if (w <= 0) return false;
        c += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}

/// The child: sets up (heap allowed), then the audio thread runs under seccomp strict.
[[noreturn]] void run_child(int fd, Model& model) {
    Tagger tagger(model, rate, block);
    realtime::TestSignal signal(rate);
    static ChildReport report;  // static: no allocation while restricted
    tagger.start();
    if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) != 0) ::_exit(3);
    const long allocations0 = tagmap::test::allocations_of_this_thread(), locks0 = locks;
    float buffer[block];
    // Every taggram the callback receives (not only the latest), to compare them all.
    auto record = [](const Tagger::Result& t) noexcept {
        if (t.chunk < max_chunks) std::memcpy(report.taggrams[t.chunk], t.values, sizeof t.values);
        ++report.received;
    };
    for (std::size_t b = 0; b < blocks; ++b) {
        signal.fill(buffer, block);
        while (tagger.input_space() < block) {  // the simulated host does not overrun
        }
        tagger.process(buffer, block, record);  // the callback
        report.blocks = b + 1;
    }
    // Let the worker finish the last chunk, still polling from the callback thread.
    while (tagger.samples_done() < blocks * block || tagger.received() < tagger.chunks_done()) {
        tagger.process(buffer, 0, record);
    }
    report.allocations = tagmap::test::allocations_of_this_thread() - allocations0;
    report.locks = locks - locks0;
    report.overruns = tagger.overruns();
    if (tagger.received() != report.received) report.received = ~0ull;  // inconsistent
    write_all(fd, &report, sizeof report);
    ::syscall(SYS_exit, 0);  // strict mode allows exit (of this thread) only
    __builtin_unreachable();
}

TEST(RealtimeHost, CallbackAllocatesLocksAndSyscallsNothing) {
    const auto pth = tagmap::test::fixtures_dir() / "weights" / "musicnn-mtat.pth";
    if (!std::filesystem::exists(pth)) GTEST_SKIP() << "no " << pth;
    auto weights = tagmap::weights::WeightFile::load(pth);
    Model model;
    model.bind(weights);

    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::close(fds[0]);
        run_child(fds[1], model);
    }
    ::close(fds[1]);
    auto report = std::make_unique<ChildReport>();
    std::size_t got = 0;
    auto* bytes = reinterpret_cast<char*>(report.get());
    while (got < sizeof(ChildReport)) {
        const ssize_t r = ::read(fds[0], bytes + got, sizeof(ChildReport) - got);
        if (r <= 0) break;
        got += static_cast<std::size_t>(r);
    }
    ::close(fds[0]);
    ::kill(child, SIGKILL);  // its worker thread outlives the audio thread's exit
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_EQ(got, sizeof(ChildReport))
        << "the child died before reporting: the callback made a forbidden system call "
           "(seccomp strict kills with SIGKILL) or crashed";

    EXPECT_EQ(report->blocks, blocks);
    EXPECT_EQ(report->allocations, 0) << "heap allocations on the audio thread";
    EXPECT_EQ(report->locks, 0) << "mutex locks on the audio thread";
    EXPECT_EQ(report->overruns, 0u);

    // The same signal straight into a StreamingEmbedder: the same taggrams, bit for bit.
    std::vector<std::vector<float>> want;
    tagmap::embed::StreamingEmbedder<Model> direct(model, [&](const tagmap::embed::ChunkResult& r) {
        want.emplace_back(r.taggram.begin(), r.taggram.end());
    });
    direct.prepare(rate, block);
    realtime::TestSignal signal(rate);
    std::vector<float> buffer(block);
    for (std::size_t b = 0; b < blocks; ++b) {
        signal.fill(buffer.data(), block);
        direct.push(buffer.data(), block);
    }
    const std::size_t chunks = want.size();
    ASSERT_GE(chunks, seconds / 3 - 1);
    ASSERT_EQ(report->received, chunks);
    for (std::size_t c = 0; c < chunks; ++c)
        for (std::size_t i = 0; i < Model::n_tags; ++i)
            ASSERT_EQ(report->taggrams[c][i], want[c][i]) << "chunk " << c << " tag " << i;
}

}  // namespace

namespace {

// The detector itself: a system call made in seccomp strict mode kills the process, so
// a callback that made one could not report.
TEST(RealtimeHost, StrictModeKillsOnAnyOtherSystemCall) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) != 0) ::_exit(3);
        ::syscall(SYS_getppid);
        ::syscall(SYS_exit, 0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status));
    EXPECT_EQ(WTERMSIG(status), SIGKILL);
}

}  // namespace
