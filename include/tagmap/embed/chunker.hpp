// Cuts a stream of 16 kHz samples into model-sized windows.
//
// The padding rule (shared with the models): windows of `window` samples start at
// 0, hop, 2*hop, ...; a trailing partial window is dropped; a stream shorter than one
// window (but not empty) is zero-padded to exactly one window. hop == window (the
// default) gives non-overlapping chunks; hop < window overlaps; hop > window skips.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <tagmap/core/error.hpp>

namespace tagmap::embed {

/// Window/hop choice; hop 0 means "= window".
struct ChunkOptions {
    std::size_t hop = 0;
};

/// Number of windows the padding rule yields for `n` samples.
inline std::size_t chunk_count(std::uint64_t n, std::size_t window, std::size_t hop) {
    if (hop == 0) hop = window;
    if (n == 0) return 0;
    if (n < window) return 1;
    return static_cast<std::size_t>((n - window) / hop + 1);
}

/// Incremental windowing; allocates only in the constructor.
class Chunker {
  public:
    Chunker(std::size_t window, ChunkOptions options = {})
        : window_(window), hop_(options.hop == 0 ? window : options.hop), buffer_(window) {
        if (window == 0) TAGMAP_THROW(InvalidArgument("Chunker: window length must be > 0"));
    }

    std::size_t window() const { return window_; }
    std::size_t hop() const { return hop_; }
    std::size_t windows_emitted() const { return emitted_; }
    std::uint64_t samples_seen() const { return seen_; }

    /// Feeds samples; calls on_window(std::span<const float> window, std::size_t index,
    /// bool padded) for every window completed.
    template <class OnWindow>
    void push(std::span<const float> in, OnWindow&& on_window) {
        seen_ += in.size();
        while (!in.empty()) {
            if (skip_ > 0) {  // hop > window: drop the gap between windows
                const std::size_t n = std::min<std::size_t>(skip_, in.size());
                skip_ -= n;
                in = in.subspan(n);
                continue;
            }
            const std::size_t n = std::min(window_ - fill_, in.size());
            std::copy_n(in.data(), n, buffer_.data() + fill_);
            fill_ += n;
            in = in.subspan(n);
            if (fill_ == window_) {
                on_window(std::span<const float>(buffer_), emitted_, false);
                ++emitted_;
                advance();
            }
        }
    }

    /// Ends the stream: a stream that produced no window but had samples yields one
    /// zero-padded window. The chunker can be reused after reset().
    template <class OnWindow>
    void finish(OnWindow&& on_window) {
        if (emitted_ == 0 && fill_ > 0) {
            std::fill(buffer_.begin() + static_cast<std::ptrdiff_t>(fill_), buffer_.end(), 0.0f);
            on_window(std::span<const float>(buffer_), emitted_, true);
            ++emitted_;
        }
        fill_ = 0;
    }

    void reset() {
        fill_ = 0;
        skip_ = 0;
        emitted_ = 0;
        seen_ = 0;
    }

  private:
    void advance() {
        if (hop_ >= window_) {
            fill_ = 0;
            skip_ = hop_ - window_;
        } else {  // keep the overlapping tail
            std::copy(buffer_.begin() + static_cast<std::ptrdiff_t>(hop_), buffer_.end(),
                      buffer_.begin());
            fill_ = window_ - hop_;
        }
    }

    std::size_t window_;
    std::size_t hop_;
    std::vector<float> buffer_;
    std::size_t fill_ = 0;
    std::size_t skip_ = 0;
    std::size_t emitted_ = 0;
    std::uint64_t seen_ = 0;
};

}  // namespace tagmap::embed
