// What the model benchmarks read from ../shared (or $TAGMAP_FIXTURES): the directory, and
// the model fixtures' audio recipe, which the PyTorch side scripts (torch_ratio.py,
// torch_crepe.py) reproduce so both sides run the very same samples.
#pragma once

#include <sndfile.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <vector>

namespace tagmap::bench {

inline std::filesystem::path shared_dir() {
    if (const char* env = std::getenv("TAGMAP_FIXTURES"); env && *env) return env;
    return "../shared";
}

/// hedgewars-pirate.wav, every 3rd sample (-> 16 kHz), the first n samples, repeated if
/// the clip is shorter (tests/data/models/manifest.json's recipe).
inline std::vector<float> fixture_audio(std::size_t n) {
    const auto path = shared_dir() / "audio/hedgewars-pirate.wav";
    SF_INFO info{};
    SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
    if (!f) throw std::runtime_error("cannot open " + path.string());
    std::vector<float> all(static_cast<std::size_t>(info.frames) * info.channels);
    sf_readf_float(f, all.data(), info.frames);
    sf_close(f);
    std::vector<float> out;
    for (std::size_t i = 0; out.size() < n; i = (i + 3) % all.size()) out.push_back(all[i]);
    return out;
}

}  // namespace tagmap::bench
