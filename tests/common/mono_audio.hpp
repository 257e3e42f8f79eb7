// A mono audio file's samples as float, read with libsndfile (the fixture scripts read
// the same files with soundfile, which wraps the same library).
#pragma once

#include <sndfile.h>

#include <filesystem>
#include <stdexcept>
#include <vector>

namespace tagmap::test {

inline std::vector<float> read_mono(const std::filesystem::path& path) {
    SF_INFO info{};
    SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
    if (!f) throw std::runtime_error("cannot open " + path.string());
    std::vector<float> all(static_cast<std::size_t>(info.frames) * info.channels);
    sf_readf_float(f, all.data(), info.frames);
    sf_close(f);
    if (info.channels != 1)
        throw std::runtime_error("fixture audio must be mono: " + path.string());
    return all;
}

/// Every `step`-th sample of `samples` (the fixtures' cheap decimation).
inline std::vector<float> every_nth(const std::vector<float>& samples, std::size_t step) {
    std::vector<float> out;
    for (std::size_t i = 0; i < samples.size(); i += step) out.push_back(samples[i]);
    return out;
}

}  // namespace tagmap::test
