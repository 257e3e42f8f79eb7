// layer2.conv changes 4 channels into 6, so its identity shortcut cannot be added.
#include "tagmap/nn/conv.hpp"
#include "tagmap/nn/residual.hpp"

using namespace tagmap::nn;
using Block = Residual<Conv1d<"layer2.conv", 4, 6, 7, 1, 3>>;
Block::on<tagmap::Shape<4, 1, 30>> block;
int main() {
    return 0;
}
