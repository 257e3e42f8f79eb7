// The CREPE fixtures of tools/make_crepe_fixtures.py: their manifest, the audio recipes
// (decimated shared WAV, synthetic chirp) and the seeded weights, rebuilt in C++.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "mono_audio.hpp"
#include "npy.hpp"
#include "tagmap/weights/tmw_writer.hpp"
#include "tagmap/weights/weight_file.hpp"

namespace tagmap::test {

inline std::filesystem::path crepe_data() {
    return test_data_dir() / "crepe";
}

inline nlohmann::json crepe_fixture(const std::string& name) {
    std::ifstream in(crepe_data() / "manifest.json");
    for (const auto& e : nlohmann::json::parse(in))
        if (e.at("name") == name) return e;
    throw std::runtime_error("no fixture '" + name + "' in tests/data/crepe/manifest.json");
}

inline NpyArray crepe_array(const nlohmann::json& fx, const char* key) {
    return read_npy(crepe_data() / fx.at(key).get<std::string>());
}

/// The fixture's 16 kHz samples.
inline std::vector<float> crepe_samples(const nlohmann::json& fx) {
    const auto& audio = fx.at("audio");
    std::vector<float> out;
    if (audio.contains("chirp")) {
        const double f0 = audio["chirp"][0], f1 = audio["chirp"][1], d = audio["chirp"][2];
        const auto n = audio.at("samples").get<std::size_t>();
        for (std::size_t i = 0; i < n; ++i) {
            const double t = double(i) / 16000.0;
            out.push_back(static_cast<float>(
                0.5 * std::sin(2 * std::numbers::pi * (f0 * t + (f1 - f0) * t * t / (2 * d)))));
        }
        return out;
    }
    out = every_nth(read_mono(fixtures_dir() / audio.at("file").get<std::string>()),
                    audio.at("decimate").get<std::size_t>());
    const auto offset = audio.value("offset", std::size_t{0});
    const auto count = audio.value("samples", out.size() - offset);
    return {out.begin() + std::ptrdiff_t(offset), out.begin() + std::ptrdiff_t(offset + count)};
}

/// tensor_ranges() and seeded_value() of the fixture script.
inline std::pair<double, double> seeded_range(const std::string& name,
                                              const std::vector<std::int64_t>& shape) {
    const auto ends = [&](const char* s) {
        const std::size_t n = std::strlen(s);
        return name.size() >= n && name.compare(name.size() - n, n, s) == 0;
    };
    if (ends("_BN.weight") || ends("running_var")) return {0.5, 1.5};
    if (ends("_BN.bias")) return {-0.2, 0.2};
    if (ends("running_mean")) return {0.0, 0.5};
    if (ends(".bias")) return {-0.1, 0.1};
    std::int64_t fan_in = 1;
    for (std::size_t i = 1; i < shape.size(); ++i) fan_in *= shape[i];
    const double a = std::sqrt(6.0 / double(fan_in));
    return {-a, a};
}

inline float seeded_value(std::uint64_t tensor_index, std::uint64_t i, double lo, double hi) {
    std::uint64_t z = (tensor_index << 32) + i + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z = z ^ (z >> 31);
    const double u = double(z >> 40) / 16777216.0;
    return static_cast<float>(lo + (hi - lo) * u);
}

/// A CREPE state dict of `capacity` (torchcrepe's names and order) with seeded values.
inline weights::WeightFile seeded_crepe(std::size_t capacity, std::size_t* numel = nullptr) {
    const auto c = std::int64_t(capacity);
    const std::int64_t ins[6] = {1, 32 * c, 4 * c, 4 * c, 4 * c, 8 * c};
    const std::int64_t outs[6] = {32 * c, 4 * c, 4 * c, 4 * c, 8 * c, 16 * c};
    std::vector<std::pair<std::string, std::vector<std::int64_t>>> specs;
    for (int i = 0; i < 6; ++i) {
        const std::string conv = "conv" + std::to_string(i + 1);
        specs.push_back({conv + ".weight", {outs[i], ins[i], i == 0 ? 512 : 64, 1}});
        specs.push_back({conv + ".bias", {outs[i]}});
        for (const char* s : {".weight", ".bias", ".running_mean", ".running_var"})
            specs.push_back({conv + "_BN" + s, {outs[i]}});
    }
    specs.push_back({"classifier.weight", {360, 64 * c}});
    specs.push_back({"classifier.bias", {360}});
    weights::TensorSet set;
    std::size_t total = 0;
    for (std::size_t k = 0; k < specs.size(); ++k) {
        const auto& [name, shape] = specs[k];
        const auto [lo, hi] = seeded_range(name, shape);
        std::size_t n = 1;
        for (auto d : shape) n *= std::size_t(d);
        std::vector<float> v(n);
        for (std::size_t i = 0; i < n; ++i) v[i] = seeded_value(k, i, lo, hi);
        weights::Tensor t{name, weights::DType::float32, shape, std::vector<std::byte>(n * 4)};
        std::memcpy(t.data.data(), v.data(), n * 4);
        set.push_back(std::move(t));
        total += n;
    }
    if (numel) *numel = total;
    return weights::WeightFile::from_bytes(weights::encode_tmw(set));
}

}  // namespace tagmap::test
