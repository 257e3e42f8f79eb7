// The SGD's two-pass epoch (draw_samples, then move_samples moving several heads together)
// against the one-head-at-a-time reference sgd_block: bitwise the same positions and the same
// schedule after many epochs, for 2 and 3 dims, fit (same_set) and transform-style graphs,
// and any number of slots; coincident points included.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "tagmap/core/random.hpp"
#include "tagmap/project/umap/sgd.hpp"

namespace {

namespace ud = tagmap::project::umap_detail;
using tagmap::Rng;

struct Problem {
    ud::SgdGraph graph;
    std::vector<float> heads, tails;
    std::size_t n_tails = 0;
};

// Random heads with 0-12 edges each and weights spread over two orders of magnitude, as the
// fuzzy graph's; a few heads start on the same spot as others (d2 = 0 terms).
Problem make_problem(int dims, bool same_set) {
    Problem p;
    const int n_heads = 643, n_tails = same_set ? n_heads : 500;  // last block: 3 heads
    Rng rng(99, 3);
    p.graph.row_start.push_back(0);
    for (int h = 0; h < n_heads; ++h) {
        const int degree = int(rng.below(13));
        for (int e = 0; e < degree; ++e) {
            p.graph.tail.push_back(int(rng.below(std::uint32_t(n_tails))));
            const double weight = 0.01 + 0.99 * rng.uniform();
            p.graph.epochs_per_sample.push_back(1.0 / weight);
        }
        p.graph.row_start.push_back(int(p.graph.tail.size()));
    }
    p.heads.resize(std::size_t(n_heads * dims));
    for (float& v : p.heads) v = 10.0f * rng.uniform_float();
    for (int h = 0; h < 20; ++h)
        for (int d = 0; d < dims; ++d) p.heads[std::size_t(h * dims + d)] = p.heads[d];
    p.n_tails = std::size_t(n_tails);
    if (same_set) {
        p.tails = p.heads;
    } else {
        p.tails.resize(std::size_t(n_tails * dims));
        for (float& v : p.tails) v = 10.0f * rng.uniform_float();
    }
    return p;
}

bool same_bits(const std::vector<float>& x, const std::vector<float>& y) {
    return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

template <int Dims, int Slots>
void check(bool same_set) {
    const Problem p = make_problem(Dims, same_set);
    ud::SgdSettings s;
    s.same_set = same_set;
    s.n_epochs = 40;
    const std::size_t n_heads = p.graph.row_start.size() - 1, block = 128;

    std::vector<float> ref_heads = p.heads, ref_tails = p.tails;
    std::vector<double> next_sample = p.graph.epochs_per_sample;
    std::vector<double> next_negative(p.graph.tail.size());
    for (std::size_t e = 0; e < next_negative.size(); ++e)
        next_negative[e] = p.graph.epochs_per_sample[e] / s.negative_sample_rate;

    std::vector<float> heads = p.heads, tails = p.tails;
    ud::SgdSchedule schedule(p.graph, s.negative_sample_rate);
    ud::SgdSamples samples;

    for (int epoch = 0; epoch < s.n_epochs; ++epoch) {
        const float alpha = float(1.0 - double(epoch) / s.n_epochs);
        for (std::size_t begin = 0; begin < n_heads; begin += block) {
            const std::size_t end = std::min(n_heads, begin + block);
            Rng ref_rng = Rng::for_stream(s.seed, begin / block, std::uint64_t(epoch));
            ud::sgd_block<Dims>(begin, end, Dims, ref_heads.data(), ref_tails.data(), p.n_tails,
                                p.graph, next_sample, next_negative, s, epoch, alpha, ref_rng);
            Rng rng = Rng::for_stream(s.seed, begin / block, std::uint64_t(epoch));
            ud::draw_samples(begin, end, p.n_tails, p.graph, schedule, s, epoch, rng, samples);
            ud::move_samples<Dims, Slots>(begin, end, heads.data(), tails.data(), samples, s,
                                          alpha);
        }
        if (same_set) {
            ref_tails = ref_heads;
            tails = heads;
        }
    }
    EXPECT_TRUE(same_bits(ref_heads, heads)) << "dims " << Dims << ", slots " << Slots;
    EXPECT_EQ(schedule.next_sample, next_sample);
    EXPECT_EQ(schedule.next_negative, next_negative);
    for (std::size_t e = 0; e < next_sample.size(); ++e)
        ASSERT_EQ(schedule.next_due[e], ud::SgdSchedule::due_epoch(next_sample[e]));
}

TEST(SgdKernels, TwoPassEpochEqualsOneHeadAtATimeBitForBit) {
    check<2, ud::kSlots>(true);
    check<3, ud::kSlots>(true);
    check<2, 1>(true);
    check<3, 4>(true);
}

TEST(SgdKernels, TransformGraphsToo) {
    check<2, ud::kSlots>(false);
    check<3, ud::kSlots>(false);
}

}  // namespace
