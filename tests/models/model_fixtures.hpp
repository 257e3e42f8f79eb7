// Helpers for the model tests: the fixture manifest written by
// tools/make_model_fixtures.py, its audio recipe, and the reference outputs.
#pragma once

#include <cstddef>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "mono_audio.hpp"
#include "npy.hpp"
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
    auto out = every_nth(read_mono(fixtures_dir() / audio.at("file").get<std::string>()),
                         audio.at("decimate").get<std::size_t>());
    const auto want =
        fx.at("n_chunks").get<std::size_t>() * fx.at("input_samples").get<std::size_t>();
    if (out.size() < want) throw std::runtime_error("fixture audio too short");
    out.resize(want);
    return out;
}

/// A 2-d float32 array of the fixture script.
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
    auto npy = read_npy(path);
    if (npy.shape.size() != 2) throw std::runtime_error("expected a 2-d array: " + path.string());
    return {npy.shape[0], npy.shape[1], std::move(npy.values)};
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
