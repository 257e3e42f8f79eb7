// Fuzzes the symbolic unpickler alone: bounded, never executes, only tagmap::Error.
#include <span>

#include "tagmap/weights/pickle.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        tagmap::weights::pickle::Unpickler u("<fuzz>");
        std::size_t end = 0;
        (void)u.load(std::as_bytes(std::span(data, size)), 0, &end);
    } catch (const tagmap::Error&) {
    }
    return 0;
}
