// tagmap vs PyTorch (see fidelity.hpp for the bar).
#include "fidelity.hpp"
#include "tagmap/models/musicnn.hpp"
#include "tagmap/models/vgg.hpp"

namespace {
using namespace tagmap;

// Seeded random weights at small widths, same graph code as the full models.
TEST(ModelFidelity, MusicnnMsdSmallRandom) {
    test::expect_matches_torch<models::Musicnn<12, 6, 24, 32>>("musicnn-msd-small");
    test::expect_matches_torch<models::MusicnnWith<nn::TallConv::gemm, 12, 6, 24, 32>>(
        "musicnn-msd-small");
}
TEST(ModelFidelity, VggMsdSmallRandom) {
    test::expect_matches_torch<models::Vgg<models::VggBlock::residual, 8>>("vgg-msd-small");
}
TEST(ModelFidelity, VggMtatSmallRandom) {
    test::expect_matches_torch<models::Vgg<models::VggBlock::simple, 8>>("vgg-mtat-small");
}

}  // namespace
