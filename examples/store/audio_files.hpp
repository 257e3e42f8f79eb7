// Which files a music folder's walk picks up: the extensions of every format the
// decoders read (libsndfile, and FFmpeg for MP4/AAC/ALAC and WMA). Files named
// explicitly are always tried, whatever their extension: the decoder decides.
#pragma once

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>
#include <string>

namespace tagmap::store {

inline bool is_audio_extension(const std::filesystem::path& p) {
    static const std::set<std::string> known = {
        ".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc",
        ".au",  ".snd",  ".w64",  ".caf", ".rf64", ".m4a", ".mp4", ".aac", ".alac", ".wma"};
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return known.count(ext) > 0;
}

}  // namespace tagmap::store
