// A little-endian float32 C-order .npy reader (1-d or 2-d) for the CREPE tests.
#pragma once

#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace tagmap::test {

struct NpyArray {
    std::vector<std::size_t> shape;
    std::vector<float> values;
    std::size_t rows() const { return shape.at(0); }
    std::size_t cols() const { return shape.size() > 1 ? shape[1] : 1; }
};

inline NpyArray read_npy(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    char magic[8];
    in.read(magic, 8);
    if (!in || std::string(magic, 6) != "\x93NUMPY")
        throw std::runtime_error("not npy: " + path.string());
    std::size_t header_len = 0;
    unsigned char b[4] = {};
    if (magic[6] == 1) {
        in.read(reinterpret_cast<char*>(b), 2);
        header_len = b[0] | (b[1] << 8);
    } else {
        in.read(reinterpret_cast<char*>(b), 4);
        header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (std::size_t(b[3]) << 24);
    }
    std::string header(header_len, ' ');
    in.read(header.data(), static_cast<std::streamsize>(header_len));
    if (header.find("'descr': '<f4'") == std::string::npos ||
        header.find("'fortran_order': False") == std::string::npos)
        throw std::runtime_error("expected C-order float32: " + path.string());
    NpyArray a;
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
            static_cast<std::streamsize>(count * sizeof(float)));
    if (!in) throw std::runtime_error("truncated: " + path.string());
    return a;
}

}  // namespace tagmap::test
