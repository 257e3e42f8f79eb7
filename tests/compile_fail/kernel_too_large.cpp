// A 67-row kernel on a 40-band spectrogram.
#include "tagmap/nn/conv.hpp"

using namespace tagmap::nn;
Conv2d<"layers.0.conv", 1, 204, Kernel<67, 7>, Stride<1, 1>,
       Padding<0, 3>>::on<tagmap::Shape<1, 40, 188>>
    conv;
int main() {
    return 0;
}
