// A reader for the .npy reference arrays the fixture scripts write (little-endian
// float32 or int16, C order, any rank), for tests only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace tagmap::test {

template <class T>
struct NpyArrayOf {
    std::vector<std::size_t> shape;
    std::vector<T> values;
    std::size_t rows() const { return shape.empty() ? 1 : shape[0]; }
    std::size_t cols() const { return shape.size() > 1 ? shape[1] : 1; }
};
using NpyArray = NpyArrayOf<float>;

template <class T = float>
NpyArrayOf<T> read_npy(const std::filesystem::path& path) {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, std::int16_t>);
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path.string());
    char magic[8];
    in.read(magic, 8);
    if (!in || std::memcmp(magic, "\x93NUMPY", 6) != 0)
        throw std::runtime_error("not .npy: " + path.string());
    unsigned char b[4] = {};
    std::size_t header_len = 0;
    if (magic[6] == 1) {
        in.read(reinterpret_cast<char*>(b), 2);
        header_len = b[0] | (b[1] << 8);
    } else {
        in.read(reinterpret_cast<char*>(b), 4);
        header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (std::size_t(b[3]) << 24);
    }
    std::string header(header_len, ' ');
    in.read(header.data(), static_cast<std::streamsize>(header_len));
    const char* dtype = std::is_same_v<T, float> ? "'<f4'" : "'<i2'";
    if (header.find(dtype) == std::string::npos ||
        header.find("'fortran_order': False") == std::string::npos)
        throw std::runtime_error("expected a C-order " + std::string(dtype) + " array in " +
                                 path.string() + ": " + header);
    NpyArrayOf<T> a;
    std::size_t pos = header.find('(', header.find("'shape'")) + 1;
    const std::size_t close = header.find(')', pos);
    std::size_t count = 1;
    while (pos < close) {
        std::size_t used = 0;
        const std::size_t n = std::stoul(header.substr(pos, close - pos), &used);
        a.shape.push_back(n);
        count *= n;
        pos += used;
        while (pos < close && (header[pos] == ',' || header[pos] == ' ')) ++pos;
    }
    a.values.resize(count);
    in.read(reinterpret_cast<char*>(a.values.data()),
            static_cast<std::streamsize>(count * sizeof(T)));
    if (!in) throw std::runtime_error("truncated: " + path.string());
    return a;
}

}  // namespace tagmap::test
