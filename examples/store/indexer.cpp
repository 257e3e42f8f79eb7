#include "indexer.hpp"

#include <algorithm>
#include <map>
#include <vector>

#include "audio_files.hpp"
#include "track_probe.hpp"

namespace tagmap::store {

std::string relative_key(const std::filesystem::path& root, const std::filesystem::path& file) {
    return file.lexically_relative(root).generic_string();
}

std::string scrub_path(std::string message, const std::filesystem::path& absolute,
                       const std::string& filename) {
    const std::string needle = absolute.string();
    if (needle.empty()) return message;
    for (std::size_t at = message.find(needle); at != std::string::npos;
         at = message.find(needle, at + filename.size()))
        message.replace(at, needle.size(), filename);
    return message;
}

IndexSummary index_audio(Library& library, const std::filesystem::path& root_in,
                         const IndexOptions& options) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_directory(root_in, ec))
        throw IoError("audio folder not found (or not a folder): " + root_in.string());
    const fs::path root = fs::canonical(root_in);

    // The walk: regular files (symlinks to files included) with an audio extension.
    // Directory symlinks are not followed, so a link cycle cannot trap the walk.
    std::vector<fs::path> files;
    for (auto it = fs::recursive_directory_iterator(root, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        std::error_code type_ec;
        if (it->is_regular_file(type_ec) && is_audio_extension(it->path()))
            files.push_back(it->path());
    }
    if (ec) throw IoError("cannot walk " + root.string() + ": " + ec.message());
    std::sort(files.begin(), files.end());

    struct Known {
        std::int64_t size, mtime;
        bool vanished;
    };
    std::map<std::string, Known> known;
    for (const auto& t : library.tracks(/*include_vanished=*/true))
        known[t.filename] = {t.size_bytes, t.mtime_ns, t.vanished_at.has_value()};

    IndexSummary summary;
    std::vector<std::string> seen;
    seen.reserve(files.size());
    std::int64_t in_tx = 0;
    std::optional<Transaction> tx;
    for (const auto& file : files) {
        const std::string key = relative_key(root, file);
        seen.push_back(key);
        ++summary.found;
        FileState state;
        try {
            state = file_state(file);
        } catch (const IoError&) {
            continue;  // vanished between the walk and now: the next run sees it gone
        }
        const auto k = known.find(key);
        const bool is_new = k == known.end();
        if (!is_new && !k->second.vanished && k->second.size == state.size_bytes &&
            k->second.mtime == state.mtime_ns) {
            ++summary.unchanged;
            continue;
        }
        TrackRecord t = probe_track(file, key);
        if (t.probe_error) {
            t.probe_error = scrub_path(*t.probe_error, file, key);
            ++summary.unreadable;
        }
        if (!tx) tx.emplace(library.db());
        library.upsert_track(t);
        if (is_new)
            ++summary.added;
        else if (k->second.vanished)
            ++summary.returned;
        else
            ++summary.changed;
        if (options.on_file) options.on_file(key, t.probe_error.value_or(""));
        if (++in_tx >= options.files_per_transaction) {
            tx->commit();
            tx.reset();
            in_tx = 0;
        }
    }
    if (!tx) tx.emplace(library.db());
    summary.vanished = library.mark_vanished_except(seen);
    tx->commit();
    return summary;
}

}  // namespace tagmap::store
