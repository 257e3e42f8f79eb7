// tagmap vs PyTorch (see fidelity.hpp for the bar).
#include "fidelity.hpp"
#include "tagmap/models/musicnn.hpp"

namespace {
using namespace tagmap;

// The real MagnaTagATune checkpoint from the shared test data.
TEST(ModelFidelity, MusicnnMtatRealCheckpoint) {
    static_assert(models::MusicnnMtat::Body::flops > 0 &&
                  nn::default_tall_conv == nn::TallConv::spectral);
    test::expect_matches_torch<models::MusicnnMtat>("musicnn-mtat");
}
// The GEMM reference kernel of the vertical convolutions, same bar.
TEST(ModelFidelity, MusicnnMtatRealCheckpointGemmKernel) {
    test::expect_matches_torch<models::MusicnnWith<nn::TallConv::gemm, 204, 51, 64, 200>>(
        "musicnn-mtat");
}

}  // namespace
