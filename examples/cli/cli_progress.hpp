// Progress of a multi-file run on stderr: a self-overwriting bar on a terminal (files
// done, percent, audio seconds per second, ETA), one plain line per file otherwise.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace tagmap::cli {

class Progress {
  public:
    Progress(std::size_t files, std::uintmax_t total_bytes, bool quiet)
        : files_(files),
          total_bytes_(total_bytes),
          quiet_(quiet),
          tty_(::isatty(2) == 1),
          start_(std::chrono::steady_clock::now()) {}

    bool tty() const { return tty_; }

    /// A file finished (ok, failed or skipped): bytes of input, seconds of audio decoded.
    void file_done(const std::string& name, std::uintmax_t bytes, double audio_seconds,
                   const std::string& status) {
        ++done_;
        done_bytes_ += bytes;
        audio_seconds_ += audio_seconds;
        if (quiet_) return;
        const double elapsed = seconds();
        const double speed = elapsed > 0 ? audio_seconds_ / elapsed : 0.0;
        if (tty_) {
            const double frac = total_bytes_ ? double(done_bytes_) / double(total_bytes_)
                                             : double(done_) / double(files_ ? files_ : 1);
            const double eta = frac > 0 ? elapsed * (1 - frac) / frac : 0.0;
            const int width = 24, filled = static_cast<int>(frac * width + 0.5);
            std::fprintf(stderr, "\r\033[K[%s%s] %zu/%zu files  %.0f s audio/s  ETA %s  %s",
                         std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
                         done_, files_, speed, clock(eta).c_str(), name.c_str());
            if (done_ == files_) std::fputc('\n', stderr);
        } else {
            std::fprintf(stderr, "[%zu/%zu] %s %s\n", done_, files_, status.c_str(), name.c_str());
        }
        std::fflush(stderr);
    }

    /// A message that must not be overwritten by the bar (warnings, failures).
    void message(const std::string& text) {
        if (tty_ && !quiet_) std::fputs("\r\033[K", stderr);
        std::fprintf(stderr, "%s\n", text.c_str());
        std::fflush(stderr);
    }

    double seconds() const {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    }
    double audio_seconds() const { return audio_seconds_; }

  private:
    static std::string clock(double s) {
        const auto t = static_cast<long>(s + 0.5);
        char buf[32];
        if (t >= 3600)
            std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
        else
            std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
        return buf;
    }

    std::size_t files_;
    std::uintmax_t total_bytes_;
    bool quiet_;
    bool tty_;
    std::chrono::steady_clock::time_point start_;
    std::size_t done_ = 0;
    std::uintmax_t done_bytes_ = 0;
    double audio_seconds_ = 0;
};

}  // namespace tagmap::cli
