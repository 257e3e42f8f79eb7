// tagmap vs PyTorch (see fidelity.hpp for the bar).
#include "fidelity.hpp"
#include "tagmap/models/musicnn.hpp"

namespace {
using namespace tagmap;

// The real MagnaTagATune checkpoint from the shared test data.
TEST(ModelFidelity, MusicnnMtatRealCheckpoint) {
    test::expect_matches_torch<models::MusicnnMtat>("musicnn-mtat");
}

}  // namespace
