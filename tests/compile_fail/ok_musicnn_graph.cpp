// Control case: a correct graph compiles with the same harness, so the failures of
// the other cases come from their static_asserts and not from the set-up.
#include "tagmap/nn/concat.hpp"
#include "tagmap/nn/conv.hpp"
#include "tagmap/nn/linear.hpp"
#include "tagmap/nn/pool.hpp"
#include "tagmap/nn/residual.hpp"
#include "tagmap/nn/sequential.hpp"

using namespace tagmap::nn;
using Graph = Sequential<Conv2d<"layers.0.conv", 1, 8, Kernel<5, 3>, Stride<1, 1>, Padding<0, 1>>,
                         MaxOver<Axis::height>,
                         StackConcat<Conv1d<"layer1.conv", 8, 4, 3, 1, 1, post::ReLU>,
                                     Residual<Conv1d<"layer2.conv", 4, 4, 3, 1, 1>>>,
                         GlobalMaxMeanPool, Linear<"dense1", 32, 10>>;
static_assert(std::is_same_v<Graph::on<tagmap::Shape<1, 12, 20>>::Out, tagmap::Shape<10>>);
int main() {
    return 0;
}
