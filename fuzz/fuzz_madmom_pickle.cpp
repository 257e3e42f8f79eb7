// Fuzzes the madmom pickle reader (the unpickler's madmom allow-list plus the tensor
// walk): bounded, never executes, only tagmap::Error.
#include <span>

#include "tagmap/weights/madmom_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        (void)tagmap::weights::read_madmom_pickle_bytes(std::as_bytes(std::span(data, size)),
                                                        "<fuzz>", "nets.0");
    } catch (const tagmap::Error&) {
    }
    return 0;
}
