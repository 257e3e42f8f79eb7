// Helpers for the model tests: the fixture manifest written by
// tools/make_model_fixtures.py, its audio recipe, and the reference outputs.
#pragma once

#include <sndfile.h>

#include <cstddef>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "tagmap/weights/weight_file.hpp"

namespace tagmap::test {

inline std::filesystem::path models_data() {
    return test_data_dir() / "models";
}

inline nlohmann::json model_fixture(const std::string& name) {
    std::ifstream in(models_data() / "manifest.json");
    const auto manifest = nlohmann::json::parse(in);
    for (const auto& entry : manifest)
        if (entry.at("name") == name) return entry;
    throw std::runtime_error("no fixture '" + name + "' in tests/data/models/manifest.json");
}

/// The fixture's audio: a mono float file read with libsndfile, every `decimate`-th
/// sample kept, cut into n_chunks consecutive chunks of input_samples.
inline std::vector<float> fixture_chunks(const nlohmann::json& fx) {
    const auto& audio = fx.at("audio");
    const auto path = fixtures_dir() / audio.at("file").get<std::string>();
    SF_INFO info{};
    SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
    if (!f) throw std::runtime_error("cannot open " + path.string());
    std::vector<float> all(static_cast<std::size_t>(info.frames) * info.channels);
    sf_readf_float(f, all.data(), info.frames);
    sf_close(f);
    if (info.channels != 1) throw std::runtime_error("fixture audio must be mono");
    const auto step = audio.at("decimate").get<std::size_t>();
    const auto want =
        fx.at("n_chunks").get<std::size_t>() * fx.at("input_samples").get<std::size_t>();
    std::vector<float> out;
    for (std::size_t i = 0; i < all.size() && out.size() < want; i += step) out.push_back(all[i]);
    if (out.size() != want) throw std::runtime_error("fixture audio too short");
    return out;
}

/// A 2-d little-endian float32 C-order .npy file (what the fixture script writes).
struct Array2d {
    std::size_t rows = 0, cols = 0;
    std::vector<float> values;
    std::size_t shape(int axis) const { return axis == 0 ? rows : cols; }
    const float* data() const { return values.data(); }
    auto begin() const { return values.begin(); }
    auto end() const { return values.end(); }
};

inline Array2d fixture_array(const nlohmann::json& fx, const char* key) {
    const auto path = models_data() / fx.at(key).get<std::string>();
    std::ifstream in(path, std::ios::binary);
    char magic[8];
    in.read(magic, 8);
    if (!in || std::string(magic, 6) != "\x93NUMPY")
        throw std::runtime_error("not npy: " + path.string());
    std::size_t header_len = 0;
    if (magic[6] == 1) {
        unsigned char b[2];
        in.read(reinterpret_cast<char*>(b), 2);
        header_len = b[0] | (b[1] << 8);
    } else {
        unsigned char b[4];
        in.read(reinterpret_cast<char*>(b), 4);
        header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (std::size_t(b[3]) << 24);
    }
    std::string header(header_len, ' ');
    in.read(header.data(), static_cast<std::streamsize>(header_len));
    if (header.find("'descr': '<f4'") == std::string::npos ||
        header.find("'fortran_order': False") == std::string::npos)
        throw std::runtime_error("expected C-order float32: " + path.string());
    const auto open = header.find('(', header.find("'shape'"));
    Array2d a;
    if (std::sscanf(header.c_str() + open, "(%zu, %zu)", &a.rows, &a.cols) != 2)
        throw std::runtime_error("expected a 2-d array: " + path.string());
    a.values.resize(a.rows * a.cols);
    in.read(reinterpret_cast<char*>(a.values.data()),
            static_cast<std::streamsize>(a.values.size() * sizeof(float)));
    if (!in) throw std::runtime_error("truncated: " + path.string());
    return a;
}

/// The fixture's weights: the shared real checkpoint or a committed small one.
inline weights::WeightFile fixture_weights(const nlohmann::json& fx) {
    auto w = fx.at("weights").get<std::string>();
    const std::string shared = "$TAGMAP_FIXTURES/";
    if (w.rfind(shared, 0) == 0)
        return weights::WeightFile::load(fixtures_dir() / w.substr(shared.size()));
    return weights::WeightFile::load(models_data() / w);
}

}  // namespace tagmap::test
