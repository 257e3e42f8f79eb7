#include "shard.hpp"

#include <charconv>
#include <set>

#include <nlohmann/json.hpp>

#include "projection_cache.hpp"

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

Library open_place_shard_db(Library& source, const std::filesystem::path& out, const Shard& shard) {
    std::error_code ec;
    if (std::filesystem::exists(out, ec) && std::filesystem::equivalent(out, source.file(), ec))
        throw InvalidArgument("--out-db " + out.string() + " is the library itself");
    auto lib = Library::create(out);
    const auto source_name = std::filesystem::absolute(source.file()).lexically_normal().string();
    Transaction tx(lib.db());
    if (lib.info(kShardKey))
        throw InvalidArgument(out.string() + " is a preprocess-all shard, not a placement shard: " +
                              "give the placement its own --out-db");
    if (const auto was = lib.info(kPlaceShardKey); was && *was != shard.text())
        throw InvalidArgument(out.string() + " holds placement shard " + *was + ", not " +
                              shard.text() + ": give each shard its own --out-db");
    if (const auto was = lib.info(kPlaceShardSourceKey); was && *was != source_name)
        throw InvalidArgument(out.string() + " is a placement shard of " + *was + ", not of " +
                              source_name);
    lib.set_info(kPlaceShardKey, shard.text());
    lib.set_info(kPlaceShardSourceKey, source_name);
    lib.set_info(kPlaceShardStateKey, "running");
    lib.set_info(kPlaceShardMapsKey, "[]");
    lib.db().exec("DELETE FROM projections");  // a rerun places every map again
    tx.commit();
    return lib;
}

void store_placement(Library& shard_db, Library& source, const MapPlacement& p) {
    const auto model = source.model(p.key.model_id);
    if (!model) throw InvalidArgument(source.file().string() + " has no model " + p.key.model_id);
    shard_db.upsert_model(*model);
    {
        // The placed tracks under their ids in the library (the points refer to them).
        Transaction tx(shard_db.db());
        auto ins = shard_db.db().prepare(
            "INSERT INTO tracks(id, filename, size_bytes, mtime_ns) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(id) DO NOTHING");
        for (const auto id : p.track_ids) {
            const auto t = source.track(id);
            if (!t) throw InvalidArgument("track " + std::to_string(id) + " is not in the library");
            ins.bind(1, id).bind(2, t->filename).bind(3, t->size_bytes).bind(4, t->mtime_ns).run();
        }
        tx.commit();
    }
    Projection map;
    map.key = p.key;
    map.input_digest = p.fit_digest;
    map.coords = RowMatrixF(0, p.key.dims);
    const auto id = shard_db.store_projection(map);
    shard_db.add_projection_points(id, p.track_ids, p.coords);
    auto maps = nlohmann::json::parse(shard_db.info(kPlaceShardMapsKey).value_or("[]"));
    maps.push_back({{"model_id", p.key.model_id},
                    {"source", source_name(p.key.source)},
                    {"method", p.key.method},
                    {"dims", p.key.dims},
                    {"params", p.key.params},
                    {"fit_digest", p.fit_digest},
                    {"weights_digest", p.weights_digest},
                    {"to_place", p.to_place},
                    {"to_place_digest", p.to_place_digest},
                    {"batches", p.batches},
                    {"points", std::int64_t(p.track_ids.size())}});
    shard_db.set_info(kPlaceShardMapsKey, maps.dump());
}

void mark_place_shard_complete(Library& shard_db) {
    shard_db.set_info(kPlaceShardStateKey, "complete");
}

}  // namespace tagmap::store
