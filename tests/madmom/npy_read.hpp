// A minimal .npy reader for the madmom reference arrays (little-endian float32 / int16,
// C order), for tests only.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace tagmap::test {

template <class T>
struct NpyArray {
    std::vector<std::size_t> shape;
    std::vector<T> values;
};

template <class T>
NpyArray<T> read_npy(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path.string());
    char magic[8];
    in.read(magic, 8);
    if (std::memcmp(magic, "\x93NUMPY", 6) != 0)
        throw std::runtime_error("not .npy: " + path.string());
    std::uint32_t hlen = 0;
    if (magic[6] == 1) {
        std::uint16_t h16 = 0;
        in.read(reinterpret_cast<char*>(&h16), 2);
        hlen = h16;
    } else {
        in.read(reinterpret_cast<char*>(&hlen), 4);
    }
    std::string header(hlen, '\0');
    in.read(header.data(), hlen);
    const char* want = sizeof(T) == 4 ? "'<f4'" : "'<i2'";
    if (header.find(want) == std::string::npos ||
        header.find("'fortran_order': False") == std::string::npos)
        throw std::runtime_error("unexpected .npy header in " + path.string() + ": " + header);
    NpyArray<T> a;
    const auto open = header.find('(', header.find("'shape'"));
    const auto close = header.find(')', open);
    std::string dims = header.substr(open + 1, close - open - 1);
    std::size_t n = 1, pos = 0;
    while (pos < dims.size()) {
        const auto comma = dims.find(',', pos);
        const std::string d =
            dims.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        if (d.find_first_of("0123456789") != std::string::npos) {
            a.shape.push_back(std::stoul(d));
            n *= a.shape.back();
        }
        if (comma == std::string::npos) break;
        pos = comma + 1;
    }
    a.values.resize(n);
    in.read(reinterpret_cast<char*>(a.values.data()), std::streamsize(n * sizeof(T)));
    if (!in) throw std::runtime_error("truncated " + path.string());
    return a;
}

}  // namespace tagmap::test
