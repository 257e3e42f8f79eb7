// layers.1.conv expects 4 input channels but layers.0.conv produces 8.
#include "tagmap/nn/conv.hpp"
#include "tagmap/nn/sequential.hpp"

using namespace tagmap::nn;
using Graph = Sequential<Conv2d<"layers.0.conv", 1, 8, Kernel<3, 3>>,
                         Conv2d<"layers.1.conv", 4, 8, Kernel<3, 3>>>;
Graph::on<tagmap::Shape<1, 16, 16>> graph;
int main() {
    return 0;
}
