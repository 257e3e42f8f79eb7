#include "synthetic_library.hpp"

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>

#include "library.hpp"
#include "projection_cache.hpp"

namespace tagmap::bench {

void make_synthetic_library(const std::filesystem::path& db, int tracks, std::uint64_t seed) {
    namespace fs = std::filesystem;
    fs::remove(db);
    fs::remove(fs::path(db.string() + "-wal"));
    fs::remove(fs::path(db.string() + "-shm"));
    auto lib = store::Library::create(db);
    lib.set_audio_root(fs::absolute(db).parent_path());
    store::ModelRecord m;
    m.model_id = "musicnn-mtat";
    m.model = "musicnn";
    m.dataset = "mtat";
    m.n_tags = 50;
    m.embedding_dim = 200;
    m.input_samples = 48000;
    m.weights_digest = "synthetic";
    m.weights_file = "synthetic.tmw";
    for (int i = 0; i < 50; ++i) m.tag_names.push_back("tag" + std::to_string(i));
    lib.upsert_model(m);

    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal;
    std::uniform_real_distribution<float> unit(0.f, 1.f);
    const char* genres[] = {"rock", "jazz", "classical", "electronic", "folk"};
    std::vector<std::int64_t> ids;
    lib.db().exec("PRAGMA synchronous = OFF");  // a throw-away fixture: no fsync per track
    for (int i = 0; i < tracks; ++i) {
        store::TrackRecord t;
        char name[64];
        std::snprintf(name, sizeof name, "synthetic/track%05d.mp3", i);
        t.filename = name;
        t.size_bytes = 1000;
        t.duration = 30;
        t.title = "Track " + std::to_string(i);
        t.artist = "Artist " + std::to_string(i % 97);
        t.genre = genres[i % 5];
        const auto id = lib.upsert_track(t);
        ids.push_back(id);
        store::TrackResult r;
        r.model_id = m.model_id;
        r.weights_digest = m.weights_digest;
        r.source_size = t.size_bytes;
        r.audio_seconds = 30;
        r.chunks = 1;
        r.chunk_hop = 48000;
        r.embedding_dim = 200;
        r.n_tags = 50;
        for (int d = 0; d < 200; ++d) r.embedding.push_back(std::max(0.f, normal(rng)));
        for (int d = 0; d < 50; ++d) r.taggram.push_back(unit(rng));
        r.chunk_embeddings = r.embedding;
        r.chunk_taggrams = r.taggram;
        lib.store_track(id, {r}, {}, true);
    }

    // The cached map: the key of the default MapSpec (what the server looks up).
    store::MapSpec spec;
    spec.model_id = m.model_id;
    store::Projection p;
    p.key = {spec.model_id, store::Source::embedding, spec.method, spec.dims,
             store::map_params(spec)};
    p.track_ids = ids;
    p.fitted_rows = std::int64_t(ids.size());
    p.coords = store::RowMatrixF(Eigen::Index(ids.size()), 2);
    for (Eigen::Index i = 0; i < p.coords.rows(); ++i)
        for (Eigen::Index d = 0; d < 2; ++d) p.coords(i, d) = 10 * normal(rng);
    const auto v = lib.vectors(spec.model_id, store::Source::embedding);
    p.input_digest = store::rows_digest(v.track_ids, v.rows);
    lib.store_projection(p);
}

}  // namespace tagmap::bench
