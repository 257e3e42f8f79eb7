#include "track_probe.hpp"

#include <sys/stat.h>

#include <cstring>

#include <taglib/audioproperties.h>
#include <taglib/fileref.h>
#include <taglib/tag.h>

#include <tagmap/audio/decode.hpp>

namespace tagmap::store {

FileState file_state(const std::filesystem::path& file) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0)
        throw IoError("cannot stat " + file.string() + ": " + std::strerror(errno));
    return {std::int64_t(st.st_size),
            std::int64_t(st.st_mtim.tv_sec) * 1000000000 + std::int64_t(st.st_mtim.tv_nsec)};
}

namespace {

std::optional<std::string> nonempty(const TagLib::String& s) {
    if (s.isEmpty()) return std::nullopt;
    std::string out = s.to8Bit(true);
    while (!out.empty() && (out.back() == ' ' || out.back() == '\0')) out.pop_back();
    if (out.empty()) return std::nullopt;
    return out;
}

void read_tags(const std::filesystem::path& file, TrackRecord& t) {
    // TagLib reads the container's own tags; it neither decodes nor writes.
    TagLib::FileRef ref(file.c_str(), /*readAudioProperties=*/true,
                        TagLib::AudioProperties::Fast);
    if (ref.isNull()) return;
    if (const TagLib::Tag* tag = ref.tag()) {
        t.title = nonempty(tag->title());
        t.artist = nonempty(tag->artist());
        t.album = nonempty(tag->album());
        t.genre = nonempty(tag->genre());
        if (tag->year() > 0) t.year = int(tag->year());
        if (tag->track() > 0) t.track_number = int(tag->track());
    }
    if (const auto* props = ref.audioProperties(); props && !t.duration) {
        if (props->lengthInMilliseconds() > 0) t.duration = props->lengthInMilliseconds() / 1000.0;
    }
}

}  // namespace

TrackRecord probe_track(const std::filesystem::path& file, const std::string& filename) {
    TrackRecord t;
    t.filename = filename;
    const auto state = file_state(file);
    t.size_bytes = state.size_bytes;
    t.mtime_ns = state.mtime_ns;
    try {
        audio::AudioFileReader reader(file);
        const auto& info = reader.info();
        t.sample_rate = info.sample_rate;
        t.channels = info.channels;
        t.codec = info.format;
        if (info.frames > 0 && info.sample_rate > 0)
            t.duration = double(info.frames) / double(info.sample_rate);
    } catch (const Error& e) {
        t.probe_error = e.what();
    }
    try {
        read_tags(file, t);
    } catch (const std::exception&) {
        // A file whose tags TagLib cannot parse is still indexed, without tags.
    }
    return t;
}

}  // namespace tagmap::store
