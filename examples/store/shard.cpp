#include "shard.hpp"

#include <charconv>
#include <set>

namespace tagmap::store {

std::uint64_t shard_hash(std::string_view filename) {
    std::uint64_t h = 14695981039346656037ull;
    for (const unsigned char c : filename) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h;
}

bool Shard::contains(std::string_view filename) const {
    return shard_hash(filename) % std::uint64_t(count) == std::uint64_t(index);
}

std::string Shard::text() const {
    return std::to_string(index) + "/" + std::to_string(count);
}

Shard parse_shard(const std::string& text) {
    const auto slash = text.find('/');
    Shard s;
    auto number = [&](std::string_view part, int& out) {
        const auto r = std::from_chars(part.data(), part.data() + part.size(), out);
        return r.ec == std::errc() && r.ptr == part.data() + part.size() && !part.empty();
    };
    const std::string_view all(text);
    if (slash == std::string::npos || !number(all.substr(0, slash), s.index) ||
        !number(all.substr(slash + 1), s.count) || s.count < 1 || s.index < 0 || s.index >= s.count)
        throw InvalidArgument("--shard takes K/N with 0 <= K < N (e.g. 0/4 .. 3/4), not '" + text +
                              "'");
    return s;
}

Library open_shard_db(Library& source, const std::filesystem::path& out, const Shard& shard,
                      const std::vector<std::int64_t>& pending) {
    std::error_code ec;
    if (std::filesystem::exists(out, ec) && std::filesystem::equivalent(out, source.file(), ec))
        throw InvalidArgument("--out-db " + out.string() + " is the library itself");
    auto lib = Library::create(out);
    const auto root = source.audio_root();
    if (!root)
        throw InvalidArgument(source.file().string() +
                              " has no audio folder: run `tagmap init-db --audio-dir` first");
    const auto source_name = std::filesystem::absolute(source.file()).lexically_normal().string();
    Transaction tx(lib.db());
    if (const auto was = lib.info(kShardKey); was && *was != shard.text())
        throw InvalidArgument(out.string() + " holds shard " + *was + ", not " + shard.text() +
                              ": give each shard its own --out-db");
    if (const auto was = lib.info(kShardSourceKey); was && *was != source_name)
        throw InvalidArgument(out.string() + " is a shard of " + *was + ", not of " + source_name);
    if (const auto r = lib.audio_root(); r && *r != *root)
        throw InvalidArgument(out.string() + " has audio folder " + r->string() + ", the library " +
                              root->string());
    lib.set_audio_root(*root);
    lib.set_info(kShardKey, shard.text());
    lib.set_info(kShardSourceKey, source_name);
    lib.set_info(kShardStateKey, "running");
    const std::set<std::int64_t> wanted(pending.begin(), pending.end());
    for (const auto& t : source.tracks())
        if (wanted.count(t.id) && shard.contains(t.filename)) {
            TrackRecord copy = t;
            copy.label.reset();
            lib.upsert_track(copy);
        }
    tx.commit();
    return lib;
}

void mark_shard_complete(Library& shard_db) {
    shard_db.set_info(kShardStateKey, "complete");
}

}  // namespace tagmap::store
