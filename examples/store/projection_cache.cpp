#include "projection_cache.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <tagmap/core/parallel.hpp>

#include <nlohmann/json.hpp>

#include <tagmap/audio/resample.hpp>
#include "blob.hpp"
#include "digest.hpp"
#include "map_algorithms.hpp"

namespace tagmap::store {

const char* map_update_name(MapUpdate u) {
    switch (u) {
        case MapUpdate::unchanged:
            return "unchanged";
        case MapUpdate::fitted:
            return "fitted";
        case MapUpdate::placed_new:
            return "placed new tracks";
        case MapUpdate::refitted:
            return "refitted";
    }
    return "?";
}

namespace {

double effective_perplexity(const MapSpec& s, Eigen::Index n) {
    return std::max(1.0, std::min(s.perplexity, double(n - 1) / 3.0));
}

project::UmapOptions umap_options(const MapSpec& s, int threads) {
    project::UmapOptions o;
    o.dims = s.dims;
    o.n_neighbors = s.n_neighbors;
    o.min_dist = s.min_dist;
    o.seed = s.seed;
    o.threads = threads;
    return o;
}

project::TsneOptions tsne_options(const MapSpec& s, Eigen::Index n, int threads) {
    project::TsneOptions o;
    o.dims = s.dims;
    o.perplexity = effective_perplexity(s, n);
    o.seed = s.seed;
    o.threads = threads;
    return o;
}

RowMatrixF fit(const MapSpec& s, const RowMatrixF& X, int threads) {
    if (s.method == "umap") return maps::umap(X, umap_options(s, threads));
    return maps::tsne(X, tsne_options(s, X.rows(), threads));
}

RowMatrixF select_rows(const RowMatrixF& X, const std::vector<Eigen::Index>& rows) {
    RowMatrixF out(Eigen::Index(rows.size()), X.cols());
    for (std::size_t i = 0; i < rows.size(); ++i) out.row(Eigen::Index(i)) = X.row(rows[i]);
    return out;
}

/// Positions of `queries` from the map positions of their k nearest reference rows (their
/// inverse-distance-weighted mean, Euclidean in the input space): for a track's chunks.
RowMatrixF interpolate_positions(const RowMatrixF& X, const RowMatrixF& Y,
                                 const RowMatrixF& queries, int k = 5) {
    k = int(std::min<Eigen::Index>(k, X.rows()));
    RowMatrixF placed(queries.rows(), Y.cols());
    std::vector<std::pair<double, Eigen::Index>> d(std::size_t(X.rows()));
    for (Eigen::Index c = 0; c < queries.rows(); ++c) {
        for (Eigen::Index r = 0; r < X.rows(); ++r)
            d[std::size_t(r)] = {(X.row(r) - queries.row(c)).cast<double>().squaredNorm(), r};
        std::partial_sort(d.begin(), d.begin() + k, d.end());
        Eigen::RowVectorXd acc = Eigen::RowVectorXd::Zero(Y.cols());
        double total = 0;
        for (int j = 0; j < k; ++j) {
            const double w = 1.0 / (std::sqrt(d[std::size_t(j)].first) + 1e-6);
            acc += w * Y.row(d[std::size_t(j)].second).cast<double>();
            total += w;
        }
        placed.row(c) = (acc / total).cast<float>();
    }
    return placed;
}

}  // namespace

std::string map_params(const MapSpec& s) {
    nlohmann::json j;  // std::map-backed: keys come out sorted, so the text is canonical
    j["seed"] = s.seed;
    if (s.method == "umap") {
        j["n_neighbors"] = s.n_neighbors;
        j["min_dist"] = s.min_dist;
        if (s.fit_sample > 0) j["fit_sample"] = s.fit_sample;  // absent: maps cached before
        if (s.fit_sample > 0 && s.transform_batch != kTransformBatch)
            j["transform_batch"] = s.transform_batch;
    } else {
        j["perplexity"] = s.perplexity;
    }
    return j.dump();
}

MapSpec map_spec(const ProjectionKey& key) {
    MapSpec s;
    s.model_id = key.model_id;
    s.source = key.source;
    s.method = key.method;
    s.dims = key.dims;
    const auto j = nlohmann::json::parse(key.params, nullptr, /*allow_exceptions=*/false);
    if (j.is_object()) {
        s.seed = j.value("seed", s.seed);
        s.n_neighbors = j.value("n_neighbors", s.n_neighbors);
        s.min_dist = j.value("min_dist", s.min_dist);
        s.perplexity = j.value("perplexity", s.perplexity);
        s.fit_sample = j.value("fit_sample", s.fit_sample);
        s.transform_batch = j.value("transform_batch", s.transform_batch);
    }
    return s;
}

std::string rows_digest(const std::vector<std::int64_t>& ids, const RowMatrixF& rows) {
    Sha256 sha;
    sha.update_int(rows.cols());
    for (std::size_t i = 0; i < ids.size(); ++i) {
        sha.update_int(ids[i]);
        sha.update(float_bytes(
            std::span<const float>(rows.row(Eigen::Index(i)).data(), std::size_t(rows.cols()))));
    }
    return sha.hex();
}

std::vector<Eigen::Index> fit_sample_rows(const std::vector<std::int64_t>& ids, std::int64_t m,
                                          std::uint64_t seed) {
    std::vector<std::pair<std::uint64_t, Eigen::Index>> keyed(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
        // splitmix64 of (seed, id): a fixed, well-mixed order of the tracks
        std::uint64_t z = seed ^ (std::uint64_t(ids[i]) * 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        keyed[i] = {z ^ (z >> 31), Eigen::Index(i)};
    }
    const std::size_t take = std::size_t(std::clamp<std::int64_t>(m, 0, std::int64_t(ids.size())));
    std::partial_sort(keyed.begin(), keyed.begin() + std::ptrdiff_t(take), keyed.end());
    std::vector<Eigen::Index> rows;
    rows.reserve(take);
    for (std::size_t i = 0; i < take; ++i) rows.push_back(keyed[i].second);
    std::sort(rows.begin(), rows.end());
    return rows;
}

RowMatrixF transform_in_batches(const RowMatrixF& X_fit, const RowMatrixF& Y_fit,
                                const project::UmapOptions& options, const RowMatrixF& X,
                                const std::vector<Eigen::Index>& rows, Eigen::Index batch,
                                const Shard& shard, std::vector<Eigen::Index>* kept) {
    batch = std::max<Eigen::Index>(batch, 1);
    const std::size_t total = (rows.size() + std::size_t(batch) - 1) / std::size_t(batch);
    std::vector<std::size_t> mine;  // this shard's batches
    for (std::size_t b = std::size_t(shard.index); b < total; b += std::size_t(shard.count))
        mine.push_back(b);
    // Where each kept batch starts in the output.
    std::vector<Eigen::Index> offset(mine.size() + 1, 0);
    for (std::size_t i = 0; i < mine.size(); ++i) {
        const std::size_t lo = mine[i] * std::size_t(batch);
        offset[i + 1] =
            offset[i] + Eigen::Index(std::min(rows.size(), lo + std::size_t(batch)) - lo);
    }
    RowMatrixF Y(offset.back(), options.dims);
    if (kept) kept->clear();
    for (const auto b : mine) {
        const std::size_t lo = b * std::size_t(batch);
        const std::size_t hi = std::min(rows.size(), lo + std::size_t(batch));
        if (kept)
            kept->insert(kept->end(), rows.begin() + std::ptrdiff_t(lo),
                         rows.begin() + std::ptrdiff_t(hi));
    }
    if (mine.empty()) return Y;
    // Batches in parallel, one thread each: transform() gives the same bits at any thread
    // count, so the map does not depend on how the batches are spread.
    const int workers = std::max(1, std::min(resolve_threads(options.threads), int(mine.size())));
    project::UmapOptions one = options;
    one.threads = workers == 1 ? options.threads : 1;
    const auto placer = maps::umap_from_embedding(X_fit, Y_fit, one);
    std::atomic<std::size_t> next{0};
    std::exception_ptr error;
    std::mutex error_mutex;
    auto work = [&] {
        for (std::size_t i; (i = next.fetch_add(1)) < mine.size();) {
            try {
                const std::size_t lo = mine[i] * std::size_t(batch);
                const std::size_t hi = std::min(rows.size(), lo + std::size_t(batch));
                const std::vector<Eigen::Index> part(rows.begin() + std::ptrdiff_t(lo),
                                                     rows.begin() + std::ptrdiff_t(hi));
                Y.middleRows(offset[i], Eigen::Index(part.size())) =
                    maps::umap_transform(placer, select_rows(X, part));
            } catch (...) {
                std::lock_guard lock(error_mutex);
                if (!error) error = std::current_exception();
                next = mine.size();
            }
        }
    };
    std::vector<std::thread> pool;
    for (int w = 1; w < workers; ++w) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    if (error) std::rethrow_exception(error);
    return Y;
}

RowMatrixF fit_sample_umap(const RowMatrixF& X, const std::vector<Eigen::Index>& sample,
                           const project::UmapOptions& options, Eigen::Index batch) {
    if (sample.size() < 3)
        throw InvalidArgument("a sample fit needs at least 3 points, got " +
                              std::to_string(sample.size()));
    const RowMatrixF X_fit = select_rows(X, sample);
    const RowMatrixF Y_fit = maps::umap_embedding(X_fit, options);
    RowMatrixF Y(X.rows(), options.dims);
    std::vector<char> fitted(std::size_t(X.rows()), 0);
    for (std::size_t i = 0; i < sample.size(); ++i) {
        Y.row(sample[i]) = Y_fit.row(Eigen::Index(i));
        fitted[std::size_t(sample[i])] = 1;
    }
    std::vector<Eigen::Index> rest;
    for (Eigen::Index r = 0; r < X.rows(); ++r)
        if (!fitted[std::size_t(r)]) rest.push_back(r);
    const RowMatrixF placed = transform_in_batches(X_fit, Y_fit, options, X, rest, batch);
    for (std::size_t i = 0; i < rest.size(); ++i) Y.row(rest[i]) = placed.row(Eigen::Index(i));
    return Y;
}

MapResult update_map(Library& library, const MapSpec& spec, bool place_new, bool refit, int threads,
                     bool fit_only) {
    if (spec.method != "umap" && spec.method != "tsne")
        throw InvalidArgument("unknown map method '" + spec.method + "' (umap or tsne)");
    if (spec.dims != 2 && spec.dims != 3)
        throw InvalidArgument("maps have 2 or 3 dimensions, not " + std::to_string(spec.dims));
    const auto start = std::chrono::steady_clock::now();
    const auto v = library.vectors(spec.model_id, spec.source);
    if (v.track_ids.size() < 3)
        throw InvalidArgument("a map of " + spec.model_id +
                              " needs at least 3 embedded tracks, "
                              "the library has " +
                              std::to_string(v.track_ids.size()));
    const ProjectionKey key{spec.model_id, spec.source, spec.method, spec.dims, map_params(spec)};
    MapResult result;
    result.points = std::int64_t(v.track_ids.size());
    auto elapsed = [&] {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    const bool sample_map = spec.method == "umap" && spec.fit_sample > 0;
    if (fit_only && !sample_map)
        throw InvalidArgument(
            "fitting a map without placing its tracks needs UMAP with a "
            "fit sample (--method umap --fit-sample M)");
    const bool sampled = sample_map && std::int64_t(v.track_ids.size()) > spec.fit_sample;
    auto fit_all = [&](MapUpdate how) {
        if (sampled) {
            // The sample is the map's fitted part, the rest transformed points: the same
            // pieces as fit_sample_umap(), so a map placed later by shards is this one.
            const auto rows = fit_sample_rows(v.track_ids, spec.fit_sample, spec.seed);
            const auto options = umap_options(spec, threads);
            const RowMatrixF X_fit = select_rows(v.rows, rows);
            Projection p;
            p.key = key;
            std::vector<char> in_sample(v.track_ids.size(), 0);
            for (const auto r : rows) {
                p.track_ids.push_back(v.track_ids[std::size_t(r)]);
                in_sample[std::size_t(r)] = 1;
            }
            p.coords = maps::umap_embedding(X_fit, options);
            p.input_digest = rows_digest(p.track_ids, X_fit);
            p.fitted_rows = std::int64_t(rows.size());
            std::vector<std::int64_t> rest_ids;
            std::vector<Eigen::Index> rest_rows;
            for (std::size_t i = 0; i < v.track_ids.size(); ++i)
                if (!in_sample[i]) {
                    rest_ids.push_back(v.track_ids[i]);
                    rest_rows.push_back(Eigen::Index(i));
                }
            if (fit_only) {
                library.store_projection(p);
                result.new_points = std::int64_t(rest_ids.size());
                result.note = std::to_string(rest_ids.size()) + " track(s) left to place";
            } else {
                const RowMatrixF placed = transform_in_batches(X_fit, p.coords, options, v.rows,
                                                               rest_rows, spec.transform_batch);
                const auto id = library.store_projection(p);
                library.add_projection_points(id, rest_ids, placed);
            }
            result.update = how;
            result.seconds = elapsed();
            return result;
        }
        Projection p;
        p.key = key;
        p.track_ids = v.track_ids;
        p.input_digest = rows_digest(v.track_ids, v.rows);
        p.fitted_rows = std::int64_t(v.track_ids.size());
        p.coords = fit(spec, v.rows, threads);
        library.store_projection(p);
        result.update = how;
        result.seconds = elapsed();
        return result;
    };

    const auto cached = library.projection(key);
    if (!cached) return fit_all(MapUpdate::fitted);
    if (refit) return fit_all(MapUpdate::refitted);

    // Is the fitted part still what the map was fitted on?
    std::map<std::int64_t, Eigen::Index> row_of;
    for (std::size_t i = 0; i < v.track_ids.size(); ++i) row_of[v.track_ids[i]] = Eigen::Index(i);
    std::vector<std::int64_t> fitted_ids;
    std::vector<Eigen::Index> fitted_rows, fitted_points;
    std::set<std::int64_t> on_map;
    for (std::size_t i = 0; i < cached->track_ids.size(); ++i) {
        on_map.insert(cached->track_ids[i]);
        if (cached->transformed[i]) continue;
        const auto it = row_of.find(cached->track_ids[i]);
        if (it == row_of.end()) {
            result.note = "a track of the map was removed or re-embedded";
            return fit_all(MapUpdate::refitted);
        }
        fitted_ids.push_back(cached->track_ids[i]);
        fitted_rows.push_back(it->second);
        fitted_points.push_back(Eigen::Index(i));
    }
    const RowMatrixF X_fit = select_rows(v.rows, fitted_rows);
    if (rows_digest(fitted_ids, X_fit) != cached->input_digest) {
        result.note = "vectors changed since the fit (new weights?)";
        return fit_all(MapUpdate::refitted);
    }
    std::vector<std::int64_t> new_ids;
    std::vector<Eigen::Index> new_rows;
    for (std::size_t i = 0; i < v.track_ids.size(); ++i)
        if (!on_map.count(v.track_ids[i])) {
            new_ids.push_back(v.track_ids[i]);
            new_rows.push_back(Eigen::Index(i));
        }
    result.new_points = std::int64_t(new_ids.size());
    if (new_ids.empty() || fit_only) {
        if (fit_only && !new_ids.empty())
            result.note = std::to_string(new_ids.size()) + " track(s) left to place";
        result.seconds = elapsed();
        return result;  // unchanged
    }
    // A sample-fitted map places every track outside its sample with transform() anyway.
    if (!place_new && !sample_map) {
        result.note = "tracks were added (--place-new keeps the old points where they are)";
        return fit_all(MapUpdate::refitted);
    }
    const RowMatrixF fitted_coords = select_rows(cached->coords, fitted_points);
    // Both optimise only the new tracks against the fixed map (the fitted tracks stay put);
    // a sample map in its batches, as place_map_shard() does on many machines.
    const RowMatrixF placed =
        sample_map ? transform_in_batches(X_fit, fitted_coords, umap_options(spec, threads), v.rows,
                                          new_rows, spec.transform_batch)
        : spec.method == "umap"
            ? maps::umap_transform(
                  maps::umap_from_embedding(X_fit, fitted_coords, umap_options(spec, threads)),
                  select_rows(v.rows, new_rows))
            : maps::tsne_transform(X_fit, fitted_coords, tsne_options(spec, X_fit.rows(), threads),
                                   select_rows(v.rows, new_rows));
    library.add_projection_points(cached->id, new_ids, placed);
    result.update = MapUpdate::placed_new;
    result.seconds = elapsed();
    return result;
}

MapPlacement place_map_shard(Library& library, const MapSpec& spec, const Shard& shard,
                             int threads) {
    const std::string name = spec.method + " " + std::to_string(spec.dims) + "D map of " +
                             spec.model_id + " " + source_name(spec.source);
    if (spec.method != "umap" || spec.fit_sample <= 0)
        throw InvalidArgument(
            "placement shards are for sample-fitted UMAP maps "
            "(--method umap --fit-sample M), not the " +
            name);
    const ProjectionKey key{spec.model_id, spec.source, spec.method, spec.dims, map_params(spec)};
    const auto cached = library.projection(key);
    if (!cached)
        throw InvalidArgument(library.file().string() + " has no " + name + " with options " +
                              key.params +
                              ": fit it first with `tagmap project --db ... --fit-sample M "
                              "--fit-only` and the same options");
    const auto model = library.model(spec.model_id);
    const auto v = library.vectors(spec.model_id, spec.source);
    std::map<std::int64_t, Eigen::Index> row_of;
    for (std::size_t i = 0; i < v.track_ids.size(); ++i) row_of[v.track_ids[i]] = Eigen::Index(i);
    std::vector<std::int64_t> fitted_ids;
    std::vector<Eigen::Index> fitted_rows, fitted_points;
    std::set<std::int64_t> on_map;
    const std::string refit = ": refit it with `tagmap project --db ... --fit-only --refit`";
    for (std::size_t i = 0; i < cached->track_ids.size(); ++i) {
        on_map.insert(cached->track_ids[i]);
        if (cached->transformed[i]) continue;
        const auto it = row_of.find(cached->track_ids[i]);
        if (it == row_of.end())
            throw InvalidArgument("a fitted track of the " + name + " was removed" + refit);
        fitted_ids.push_back(cached->track_ids[i]);
        fitted_rows.push_back(it->second);
        fitted_points.push_back(Eigen::Index(i));
    }
    const RowMatrixF X_fit = select_rows(v.rows, fitted_rows);
    if (fitted_ids.size() < 3 || rows_digest(fitted_ids, X_fit) != cached->input_digest)
        throw InvalidArgument("the vectors of the " + name +
                              "'s fitted tracks changed since the fit (new weights?)" + refit);
    std::vector<std::int64_t> new_ids;
    std::vector<Eigen::Index> new_rows;
    for (std::size_t i = 0; i < v.track_ids.size(); ++i)
        if (!on_map.count(v.track_ids[i])) {
            new_ids.push_back(v.track_ids[i]);
            new_rows.push_back(Eigen::Index(i));
        }
    MapPlacement p;
    p.key = key;
    p.fit_digest = cached->input_digest;
    p.weights_digest = model ? model->weights_digest : std::string();
    p.to_place = std::int64_t(new_ids.size());
    p.to_place_digest = rows_digest(new_ids, select_rows(v.rows, new_rows));
    const auto batch = std::max<std::int64_t>(spec.transform_batch, 1);
    p.batches = (p.to_place + batch - 1) / batch;
    std::vector<Eigen::Index> kept;
    p.coords =
        transform_in_batches(X_fit, select_rows(cached->coords, fitted_points),
                             umap_options(spec, threads), v.rows, new_rows, batch, shard, &kept);
    for (const auto r : kept) p.track_ids.push_back(v.track_ids[std::size_t(r)]);
    return p;
}

ChunkPath chunk_path(Library& library, const MapSpec& spec, std::int64_t track_id, int n_tags) {
    ChunkPath path;
    path.track_id = track_id;
    const ProjectionKey key{spec.model_id, spec.source, spec.method, spec.dims, map_params(spec)};
    const auto cached = library.projection(key);
    if (!cached)
        throw InvalidArgument("no cached " + spec.method + " " + std::to_string(spec.dims) +
                              "D map of " + spec.model_id + " " + source_name(spec.source) +
                              ": run `tagmap project --db`");
    const auto outputs = library.chunk_outputs(track_id, spec.model_id);
    if (!outputs || outputs->chunks == 0) return path;
    const auto model = library.model(spec.model_id);
    const int dim = spec.source == Source::embedding ? outputs->embedding_dim : outputs->n_tags;
    const auto& values = spec.source == Source::embedding ? outputs->embeddings : outputs->taggrams;
    RowMatrixF chunks(outputs->chunks, dim);
    std::copy(values.begin(), values.end(), chunks.data());

    // The map's reference rows: the fitted tracks with their vectors.
    const auto v = library.vectors(spec.model_id, spec.source);
    std::map<std::int64_t, Eigen::Index> row_of;
    for (std::size_t i = 0; i < v.track_ids.size(); ++i) row_of[v.track_ids[i]] = Eigen::Index(i);
    std::vector<Eigen::Index> rows, points;
    for (std::size_t i = 0; i < cached->track_ids.size(); ++i) {
        const auto it = row_of.find(cached->track_ids[i]);
        if (it == row_of.end()) continue;
        rows.push_back(it->second);
        points.push_back(Eigen::Index(i));
    }
    if (rows.size() < 3) return path;
    const RowMatrixF X = select_rows(v.rows, rows);
    const RowMatrixF Y = select_rows(cached->coords, points);
    if (X.cols() != dim)
        throw FormatError("chunk vectors of " + spec.model_id + " have " + std::to_string(dim) +
                          " values, track vectors " + std::to_string(X.cols()));
    // Interpolated, on both kinds of map: UMAP's transform() of a track's own chunks onto a
    // small map (tens of tracks) lands far outside it, pushed by negative samples.
    const RowMatrixF placed = interpolate_positions(X, Y, chunks);
    path.hop_seconds = double(outputs->chunk_hop) / audio::kModelSampleRate;
    for (int c = 0; c < outputs->chunks; ++c) {
        ChunkPoint p;
        p.index = c;
        p.start_seconds = c * path.hop_seconds;
        p.coords.assign(placed.row(c).data(), placed.row(c).data() + spec.dims);
        const float* tags =
            outputs->taggrams.data() + std::size_t(c) * std::size_t(outputs->n_tags);
        std::vector<int> order(std::size_t(outputs->n_tags));
        for (int t = 0; t < outputs->n_tags; ++t) order[std::size_t(t)] = t;
        const int take = std::min(n_tags, outputs->n_tags);
        std::partial_sort(order.begin(), order.begin() + take, order.end(), [&](int a, int b) {
            return tags[a] > tags[b] || (tags[a] == tags[b] && a < b);
        });
        for (int t = 0; t < take; ++t) {
            const int i = order[std::size_t(t)];
            const bool named = model && std::size_t(i) < model->tag_names.size();
            p.top_tags.push_back(
                {named ? model->tag_names[std::size_t(i)] : "tag" + std::to_string(i), tags[i]});
        }
        path.chunks.push_back(std::move(p));
    }
    return path;
}

}  // namespace tagmap::store
