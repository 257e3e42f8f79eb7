// Test helper: writes small audio files with libsndfile into a temporary folder.
#pragma once

#include <sndfile.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

namespace tagmap::test {

/// A fresh empty directory under the system temp dir, removed by the destructor.
class TempDir {
  public:
    explicit TempDir(const std::string& tag) {
        path_ = std::filesystem::temp_directory_path() /
                (tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

  private:
    static int& counter() {
        static int c = 0;
        return c;
    }
    std::filesystem::path path_;
};

/// Writes interleaved float samples as a file of the given libsndfile format.
inline void write_audio(const std::filesystem::path& path, const std::vector<float>& interleaved,
                        int rate, int channels, int format = SF_FORMAT_WAV | SF_FORMAT_FLOAT) {
    SF_INFO info{};
    info.samplerate = rate;
    info.channels = channels;
    info.format = format;
    SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
    if (!f) throw std::runtime_error("cannot write " + path.string() + ": " + sf_strerror(nullptr));
    sf_command(f, SFC_SET_CLIPPING, nullptr, SF_TRUE);
    const sf_count_t frames = static_cast<sf_count_t>(interleaved.size() / channels);
    if (sf_writef_float(f, interleaved.data(), frames) != frames) {
        sf_close(f);
        throw std::runtime_error("short write " + path.string());
    }
    sf_close(f);
}

inline std::vector<float> sine(std::size_t n, double freq, double rate, double amp = 0.5) {
    std::vector<float> s(n);
    for (std::size_t i = 0; i < n; ++i)
        s[i] = static_cast<float>(amp * std::sin(2 * std::numbers::pi * freq * i / rate));
    return s;
}

}  // namespace tagmap::test
