// Branch layers.0.conv keeps 10 rows, layers.1.conv only 8: nothing to concatenate.
#include "tagmap/nn/concat.hpp"
#include "tagmap/nn/conv.hpp"

using namespace tagmap::nn;
using Front =
    ConcatChannels<Conv2d<"layers.0.conv", 1, 4, Kernel<3, 3>, Stride<1, 1>, Padding<1, 1>>,
                   Conv2d<"layers.1.conv", 1, 4, Kernel<3, 3>>>;
Front::on<tagmap::Shape<1, 10, 10>> front;
int main() {
    return 0;
}
