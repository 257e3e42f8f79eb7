// dense1 applied to a (C, 1, T) signal without pooling it first.
#include "tagmap/nn/conv.hpp"
#include "tagmap/nn/linear.hpp"
#include "tagmap/nn/sequential.hpp"

using namespace tagmap::nn;
using Graph = Sequential<Conv1d<"layer1.conv", 3, 8, 3, 1, 1>, Linear<"dense1", 8, 10>>;
Graph::on<tagmap::Shape<3, 1, 50>> graph;
int main() {
    return 0;
}
