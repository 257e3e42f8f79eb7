// A program outside the tagmap tree: it must find every public header through
// find_package(tagmap) and link the dependencies the target carries.
#include <tagmap/tagmap.hpp>

int main() {
    try {
        throw tagmap::FormatError("consumer");
    } catch (const tagmap::Error&) {
        return 0;
    }
    return 1;
}
