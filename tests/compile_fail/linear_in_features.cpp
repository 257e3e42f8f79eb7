// dense1 declares 100 input features; the pooled vector has 2 x 8 = 16.
#include "tagmap/nn/conv.hpp"
#include "tagmap/nn/linear.hpp"
#include "tagmap/nn/pool.hpp"
#include "tagmap/nn/sequential.hpp"

using namespace tagmap::nn;
using Graph =
    Sequential<Conv1d<"layer1.conv", 3, 8, 3, 1, 1>, GlobalMaxMeanPool, Linear<"dense1", 100, 10>>;
Graph::on<tagmap::Shape<3, 1, 50>> graph;
int main() {
    return 0;
}
