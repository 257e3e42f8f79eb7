// What the indexer records of one audio file: size and mtime (change detection), the
// decoder's view of its header (duration, rate, channels, codec) and its tags read with
// TagLib (ID3v2, Vorbis comments, FLAC, Opus, MP4, WAV INFO).
#pragma once

#include <filesystem>
#include <string>

#include "library.hpp"

namespace tagmap::store {

struct FileState {
    std::int64_t size_bytes = 0;
    std::int64_t mtime_ns = 0;
};

/// stat() of the file (IoError if it cannot be read).
FileState file_state(const std::filesystem::path& file);

/// Probes `file` (header and tags). Never throws for a bad audio file: the reason is in
/// probe_error and the other fields stay empty. `filename` is the library-relative key.
TrackRecord probe_track(const std::filesystem::path& file, const std::string& filename);

}  // namespace tagmap::store
