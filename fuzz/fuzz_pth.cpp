// Fuzzes the whole checkpoint reader (zip container, legacy stream, unpickler, tensor
// materialisation). Any input must either yield tensors that survive a .tmw round trip
// unchanged, or throw a tagmap::Error; anything else (crash, sanitizer report, other
// exception) is a bug.
#include <cstdlib>
#include <span>

#include "tagmap/weights/pth_reader.hpp"
#include "tagmap/weights/tmw_writer.hpp"
#include "tagmap/weights/weight_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace tw = tagmap::weights;
    tw::TensorSet tensors;
    try {
        tensors = tw::read_pth_bytes(std::as_bytes(std::span(data, size)));
    } catch (const tagmap::Error&) {
        return 0;
    }
    const auto w = tw::WeightFile::from_bytes(tw::encode_tmw(tensors));  // must not throw
    if (w.tensors().size() != tensors.size()) std::abort();
    for (std::size_t i = 0; i < tensors.size(); ++i)
        if (w.tensors()[i].bytes.size() != tensors[i].data.size()) std::abort();
    return 0;
}
