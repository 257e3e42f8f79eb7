// madmom-beats in blocks: the log-only feature rows rebuild compute()'s rows; the block
// sweeps of MadmomBeats give the whole-sequence layers' outputs (MadmomBeatsNet::forward,
// the path the golden tests were measured on) bit for bit at lengths around the block
// edges; run(), streaming in memory and streaming to a file (also through
// make_sequence_model's options) agree bit for bit; and a stream into a file store
// allocates nothing per frame.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>

#include "allocation_counter.hpp"
#include "madmom_test_util.hpp"
#include "tagmap/core/scratch_store.hpp"
#include "tagmap/models/crepe.hpp"
#include "tagmap/models/madmom_beats.hpp"
#include "tagmap/models/sequence_model.hpp"

namespace {

using namespace tagmap;

std::vector<std::int16_t> test_signal(std::size_t n, std::uint32_t seed) {
    std::vector<std::int16_t> pcm(n);
    for (std::size_t i = 0; i < n; ++i) {
        seed = seed * 1664525u + 1013904223u;
        // Clicks every 0.5 s over a tone and noise: an activation with beats in it.
        const double click = (i % 22050) < 300 ? 12000.0 : 0.0;
        const double tone = 6000.0 * std::sin(0.03 * double(i) + 2e-7 * double(i % 100003) * i);
        pcm[i] = std::int16_t(click + tone + double(int(seed >> 20) - 2048));
    }
    return pcm;
}

bool same_bits(std::span<const float> a, std::span<const float> b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size_bytes()) == 0;
}

/// The 8 networks as MadmomBeats binds them, for the whole-sequence reference.
struct Nets {
    std::vector<float> store = std::vector<float>(models::MadmomBeats::param_floats);
    std::array<models::MadmomBeatsNet, 8> nets;
    explicit Nets(const weights::WeightFile& w) {
        nn::ParamBinder binder(models::tensor_views(w), store);
        for (std::size_t i = 0; i < 8; ++i) nets[i].bind(binder, "nets." + std::to_string(i));
        EXPECT_TRUE(binder.problems().empty());
    }
    /// Network i on the whole sequence at once, with a heap work block as before.
    std::vector<float> whole(std::size_t i, std::span<const float> features, std::size_t T) const {
        std::vector<float> work(models::MadmomBeatsNet::work_floats(T)), out(T);
        nets[i].forward(features.data(), T, out.data(), work.data());
        return out;
    }
    std::vector<float> whole_mean(std::span<const float> features, std::size_t T) const {
        std::vector<float> sum(T, 0.0f);
        for (std::size_t i = 0; i < 8; ++i) {
            const auto one = whole(i, features, T);
            for (std::size_t t = 0; t < T; ++t) sum[t] += one[t];
        }
        for (float& v : sum) v /= 8.0f;
        return sum;
    }
};

TEST(MadmomStreaming, SequenceBlocks) {
    // Full blocks, then a last one with the length's residue modulo 48 and never one step
    // after full blocks.
    for (std::size_t T : {1, 2, 95, 96, 97, 480, 481, 482, 959, 960, 961, 1000, 1441}) {
        const nn::SequenceBlocks b{T, 480};
        std::size_t at = 0;
        for (std::size_t i = 0; i < b.count(); ++i) {
            EXPECT_EQ(b.begin(i), at) << T;
            if (i + 1 < b.count()) {
                EXPECT_EQ(b.size(i) % 48, 0u) << T;
            }
            at = b.end(i);
        }
        EXPECT_EQ(at, T);
        const std::size_t last = b.size(b.count() - 1);
        EXPECT_EQ(last % 48, T % 48) << T;
        EXPECT_TRUE(last >= 2 || T == 1) << T;
    }
    EXPECT_EQ(nn::SequenceBlocks({0, 480}).count(), 0u);
}

TEST(MadmomStreaming, LogRowsRebuildTheFeatures) {
    audio::MadmomBeatFeatures fe;
    const auto pcm = test_signal(100000, 3);
    const auto rows = fe.compute(pcm);
    const std::size_t T = rows.size() / fe.columns(), logc = fe.log_columns();
    ASSERT_EQ(logc, 133u);
    std::vector<float> log(T * logc);
    for (std::size_t t = 0; t < T; ++t)
        fe.pack_log(rows.data() + t * fe.columns(), log.data() + t * logc);
    for (const auto& [t0, n] : {std::pair<std::size_t, std::size_t>{0, T},
                                {0, 1},
                                {1, 5},
                                {2, 7},
                                {50, T - 50},
                                {T - 1, 1}}) {
        std::vector<float> out(n * fe.columns());
        const std::size_t first = t0 - std::min(t0, audio::MadmomBeatFeatures::max_lag);
        fe.expand(log.data() + first * logc, t0, n, out.data());
        EXPECT_TRUE(same_bits(out, std::span(rows).subspan(t0 * fe.columns(), n * fe.columns())))
            << t0 << " + " << n;
    }
}

TEST(MadmomStreaming, ScratchStores) {
    MemoryScratch memory;
    FileScratch file(std::tmpfile());
    for (ScratchStore* s :
         {static_cast<ScratchStore*>(&memory), static_cast<ScratchStore*>(&file)}) {
        const std::vector<float> a = {1, 2, 3, 4, 5}, b = {-1, -2};
        s->write(0, a);
        s->write(3, b);
        s->write(10, b);  // past the end: grows
        std::vector<float> got(5);
        s->read(0, got);
        EXPECT_EQ(got, (std::vector<float>{1, 2, 3, -1, -2}));
        s->read(10, std::span(got).first(2));
        EXPECT_EQ(got[1], -2.0f);
        s->release();
        EXPECT_THROW(s->read(0, std::span(got).first(1)), InvalidArgument);
    }
    EXPECT_THROW(FileScratch(nullptr), IoError);
}

class MadmomBlocks : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        if (!test::have_madmom_models()) return;
        weights_ = new weights::WeightFile(test::madmom_ensemble_weights());
        nets_ = new Nets(*weights_);
    }
    static void TearDownTestSuite() {
        delete nets_;
        delete weights_;
        nets_ = nullptr;
        weights_ = nullptr;
    }
    void SetUp() override { TAGMAP_REQUIRE_MADMOM(); }
    static weights::WeightFile* weights_;
    static Nets* nets_;
};
weights::WeightFile* MadmomBlocks::weights_ = nullptr;
Nets* MadmomBlocks::nets_ = nullptr;

// Lengths around the block edges (480 frames; odd and even, a last block of one frame,
// a last block shorter than Eigen's panel), on madmom's features of test.wav and on
// features of a longer synthetic signal.
TEST_F(MadmomBlocks, NetworksMatchTheWholeSequenceLayers) {
    const auto golden = test::read_npy<float>(test::madmom_dir() / "test.features.npy");
    audio::MadmomBeatFeatures fe;
    const auto synthetic = fe.compute(test_signal(441 * 1500, 11));
    models::MadmomBeats model;
    model.bind(*weights_);
    for (const std::size_t T : {1, 2, 3, 5, 47, 49, 97, 479, 480, 481, 482, 527, 961, 1000}) {
        const std::span<const float> x(golden.values.data(), T * 266);
        for (std::size_t i = 0; i < 8; ++i) {
            std::vector<float> blocked(T);
            model.run_net(i, x, T, blocked);
            ASSERT_TRUE(same_bits(blocked, nets_->whole(i, x, T))) << "T " << T << ", net " << i;
        }
    }
    for (const std::size_t T : {1441, 1500}) {
        const std::span<const float> x(synthetic.data(), T * 266);
        EXPECT_TRUE(same_bits(model.run_features(x, T), nets_->whole_mean(x, T))) << T;
    }
}

// run() == streamed in any blocks == streamed into a file store, and all equal the
// whole-sequence reference on compute()'s features.
TEST_F(MadmomBlocks, RunStreamedAndSpilledAgree) {
    const auto pcm = test_signal(441 * 1100 + 123, 5);
    std::vector<float> samples(pcm.size());
    for (std::size_t i = 0; i < pcm.size(); ++i) samples[i] = float(pcm[i]) / 32768.0f;
    audio::MadmomBeatFeatures fe;
    const auto features = fe.compute(pcm);
    const std::size_t T = audio::MadmomBeatFeatures::frames(pcm.size());
    const auto reference = nets_->whole_mean(features, T);

    models::MadmomBeats model;
    model.bind(*weights_);
    EXPECT_TRUE(same_bits(model.run(samples), reference));
    EXPECT_TRUE(same_bits(model.run_int16(pcm), reference));
    const auto stream = [&](std::size_t block) {
        model.begin(block % 2 ? samples.size() : 0);
        for (std::size_t i = 0; i < samples.size(); i += block)
            model.push(std::span(samples).subspan(i, std::min(block, samples.size() - i)));
        return model.finish();
    };
    for (const std::size_t block : {441, 4096, 70001})
        EXPECT_TRUE(same_bits(stream(block), reference));
    model.set_scratch(std::make_unique<FileScratch>(std::tmpfile()));
    for (const std::size_t block : {1000, 65536}) EXPECT_TRUE(same_bits(stream(block), reference));
    EXPECT_TRUE(same_bits(model.run(samples), reference));
    // The activation is not trivial: beats, not a constant.
    EXPECT_GT(*std::max_element(reference.begin(), reference.end()), 0.2f);
}

// The run-time handle passes the application's store on (one per instance) and
// streams to the same bits.
TEST_F(MadmomBlocks, SequenceOptionsGiveTheStore) {
    const auto pcm = test_signal(441 * 700, 21);
    std::vector<float> samples(pcm.size());
    for (std::size_t i = 0; i < pcm.size(); ++i) samples[i] = float(pcm[i]) / 32768.0f;
    models::MadmomBeats plain;
    plain.bind(*weights_);
    const auto reference = plain.run(samples);
    int made = 0;
    const auto m =
        models::make_sequence_model("madmom-beats", *weights_, {[&] {
                                        ++made;
                                        return std::make_unique<FileScratch>(std::tmpfile());
                                    }});
    EXPECT_EQ(made, 1);
    m->begin(samples.size());
    for (std::size_t i = 0; i < samples.size(); i += 30000)
        m->push(std::span(samples).subspan(i, std::min<std::size_t>(30000, samples.size() - i)));
    EXPECT_TRUE(same_bits(m->finish(), reference));
    // CREPE keeps nothing per frame: the factory is not asked.
    EXPECT_FALSE(models::ScratchSequenceModel<models::CrepeTinyPitch>);
}

// With a file store nothing on the heap grows with the stream: after the first blocks,
// push() allocates nothing. finish() is not counted: Eigen's GEMM takes its packing buffers
// from the heap when its cache-size-dependent blocking exceeds its stack limit (seen on a
// Zen 3, not on a Zen 5), transient per block product.
TEST_F(MadmomBlocks, FileStoreKeepsNothingPerFrame) {
    models::MadmomBeats model;
    model.bind(*weights_);
    std::FILE* file = std::tmpfile();
    ASSERT_NE(file, nullptr);
    const int fd = fileno(file);
    model.set_scratch(std::make_unique<FileScratch>(file));
    const auto file_floats = [fd] {
        struct stat st {};
        EXPECT_EQ(fstat(fd, &st), 0);
        return std::size_t(st.st_size) / sizeof(float);
    };
    const auto pcm = test_signal(441 * 3000, 9);
    std::vector<float> samples(pcm.size());
    for (std::size_t i = 0; i < pcm.size(); ++i) samples[i] = float(pcm[i]) / 32768.0f;
    constexpr std::size_t block = 4410;
    model.begin();
    long during_push = 0;
    for (std::size_t i = 0; i < samples.size(); i += block) {
        const long before = test::allocations_of_this_thread();
        model.push(std::span(samples).subspan(i, std::min(block, samples.size() - i)));
        if (i >= 40 * block) during_push += test::allocations_of_this_thread() - before;
    }
    EXPECT_EQ(during_push, 0);
    // The log rows went to the file, a block of 480 frames at a time.
    EXPECT_EQ(file_floats(), 2880u * 133u);
    const auto out = model.finish();
    EXPECT_EQ(out.size(), 3000u);
    EXPECT_EQ(file_floats(), 0u);  // finish() gives the file space back
}

}  // namespace
