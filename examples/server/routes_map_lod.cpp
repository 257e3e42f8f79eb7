// Large maps (docs/api.md, "GET /api/v1/maps/points"): a map's points in a level-of-detail
// order, served in binary slices so that a page never loads a million points at once.
// The order is computed once per map version and kept in memory: level L of a quadtree
// (2D) or octree (3D) over the map's bounding box holds, for every cell of side 2^-L that
// no coarser level already represents, the point of the cell with the smallest hash of its
// track id; points that no level up to the finest grid takes come last. Within a level,
// points go by hash. So every prefix is a spatially stratified sample (each occupied cell
// of the coarse grids is represented before any cell gets a second point) and the order
// depends only on the track ids and the coordinates.
#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>

#include "errors.hpp"
#include "params.hpp"
#include "views.hpp"

namespace tagmap::server {

namespace {

constexpr std::int64_t kDefaultLimit = 50000;
constexpr std::int64_t kMaxLimit = 10'000'000;
constexpr std::size_t kMaxIds = 1000;
constexpr int kMaxGridBits = 24;  // finest grid: at most 2^24 cells (a 2 MB bitmap)

/// splitmix64 of the track id: the per-point tie-break of the order (documented).
std::uint64_t id_hash(std::int64_t id) {
    std::uint64_t z = std::uint64_t(id) + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/// One map in level-of-detail order, with what the box and id queries need.
struct LodMap {
    std::string stamp;  ///< the map version it was built from
    int dims = 2;
    std::vector<std::int64_t> ids;     ///< LOD order
    std::vector<float> coords;         ///< n x dims, LOD order
    std::vector<std::int64_t> by_id;   ///< ids, sorted
    std::vector<std::uint32_t> rank;   ///< rank[j]: LOD position of by_id[j]
    std::vector<std::int64_t> levels;  ///< prefix length at the end of each level
    std::array<float, 3> lo{}, hi{};   ///< bounds of the finite points
    bool ids32 = true;                 ///< every id fits in uint32
    std::size_t size() const { return ids.size(); }
};

std::shared_ptr<const LodMap> build_lod(const store::Projection& p, std::string stamp) {
    auto out = std::make_shared<LodMap>();
    const int dims = int(p.coords.cols());
    const std::size_t n = p.track_ids.size();
    out->stamp = std::move(stamp);
    out->dims = dims;
    std::vector<char> finite(n, 1);
    std::array<float, 3> lo{INFINITY, INFINITY, INFINITY}, hi{-INFINITY, -INFINITY, -INFINITY};
    std::size_t n_finite = 0;
    for (std::size_t i = 0; i < n; ++i) {
        for (int d = 0; d < dims; ++d)
            if (!std::isfinite(p.coords(Eigen::Index(i), d))) finite[i] = 0;
        if (!finite[i]) continue;
        ++n_finite;
        for (int d = 0; d < dims; ++d) {
            lo[std::size_t(d)] = std::min(lo[std::size_t(d)], p.coords(Eigen::Index(i), d));
            hi[std::size_t(d)] = std::max(hi[std::size_t(d)], p.coords(Eigen::Index(i), d));
        }
    }
    if (!n_finite) lo = hi = {0, 0, 0};
    for (int d = dims; d < 3; ++d) lo[std::size_t(d)] = hi[std::size_t(d)] = 0;
    out->lo = lo;
    out->hi = hi;

    // The finest grid: about 4 cells per point, at most 2^kMaxGridBits cells.
    int top = 0;
    while (dims * (top + 1) <= kMaxGridBits &&
           (std::uint64_t(1) << (dims * (top + 1))) <=
               4 * std::uint64_t(std::max<std::size_t>(1, n_finite)))
        ++top;
    std::vector<std::uint64_t> hash(n);
    for (std::size_t i = 0; i < n; ++i) hash[i] = id_hash(p.track_ids[i]);
    std::vector<std::uint32_t> by_hash(n);
    std::iota(by_hash.begin(), by_hash.end(), 0u);
    std::sort(by_hash.begin(), by_hash.end(), [&](std::uint32_t a, std::uint32_t b) {
        return hash[a] != hash[b] ? hash[a] < hash[b] : p.track_ids[a] < p.track_ids[b];
    });
    // Cell coordinates on the finest grid (2^top per axis); coarser cells are shifts.
    std::vector<std::uint32_t> q(n * std::size_t(dims), 0);
    const auto side = double(std::uint64_t(1) << top);
    for (std::size_t i = 0; i < n; ++i) {
        if (!finite[i]) continue;
        for (int d = 0; d < dims; ++d) {
            const double span = double(hi[std::size_t(d)]) - double(lo[std::size_t(d)]);
            const double t =
                span > 0 ? (double(p.coords(Eigen::Index(i), d)) - lo[std::size_t(d)]) / span : 0;
            q[i * std::size_t(dims) + std::size_t(d)] =
                std::uint32_t(std::clamp(t * side, 0.0, side - 1));
        }
    }
    const int unleveled = top + 1, last = top + 2;  // past the finest grid; not finite
    std::vector<std::uint8_t> level(n, std::uint8_t(unleveled));
    for (std::size_t i = 0; i < n; ++i)
        if (!finite[i]) level[i] = std::uint8_t(last);
    std::vector<bool> taken;
    for (int L = 0; L <= top; ++L) {
        taken.assign(std::size_t(1) << (dims * L), false);
        const int shift = top - L;
        for (const auto i : by_hash) {
            if (!finite[i]) continue;
            std::size_t cell = 0;
            for (int d = 0; d < dims; ++d)
                cell = (cell << L) | (q[i * std::size_t(dims) + std::size_t(d)] >> shift);
            if (taken[cell]) continue;
            taken[cell] = true;  // i has the smallest hash of its cell: it represents it
            if (level[i] > L) level[i] = std::uint8_t(L);
        }
    }
    // Counting sort by level, hash order within a level.
    std::vector<std::int64_t> count(std::size_t(last) + 1, 0);
    for (const auto l : level) ++count[l];
    out->levels.resize(count.size());
    std::partial_sum(count.begin(), count.end(), out->levels.begin());
    std::vector<std::int64_t> next(count.size(), 0);
    for (std::size_t l = 1; l < count.size(); ++l) next[l] = out->levels[l - 1];
    std::vector<std::uint32_t> order(n);
    for (const auto i : by_hash) order[std::size_t(next[level[i]]++)] = i;

    out->ids.resize(n);
    out->coords.resize(n * std::size_t(dims));
    for (std::size_t r = 0; r < n; ++r) {
        const auto i = order[r];
        out->ids[r] = p.track_ids[i];
        for (int d = 0; d < dims; ++d)
            out->coords[r * std::size_t(dims) + std::size_t(d)] = p.coords(Eigen::Index(i), d);
        out->ids32 = out->ids32 && p.track_ids[i] >= 0 && p.track_ids[i] <= 0xFFFFFFFFll;
    }
    std::vector<std::uint32_t> by_id(n);
    std::iota(by_id.begin(), by_id.end(), 0u);
    std::sort(by_id.begin(), by_id.end(),
              [&](std::uint32_t a, std::uint32_t b) { return out->ids[a] < out->ids[b]; });
    out->by_id.resize(n);
    out->rank = by_id;
    for (std::size_t j = 0; j < n; ++j) out->by_id[j] = out->ids[by_id[j]];
    return out;
}

/// LOD maps by map key, checked against the database's version stamp of the map
/// (projection id, updated_at, its point count, the present tracks). A check is trusted as
/// long as a marker entry of the server's response cache lives (map_cache_seconds), so an
/// upload, which clears that cache, is seen at once.
class LodCache {
  public:
    std::shared_ptr<const LodMap> get(const std::string& key, const std::string& stamp) {
        std::lock_guard lock(mutex_);
        const auto it = maps_.find(key);
        if (it == maps_.end() || it->second.map->stamp != stamp) return nullptr;
        it->second.checked = std::chrono::steady_clock::now();
        return it->second.map;
    }
    /// The cached map, unchecked (the caller knows it was validated recently).
    std::shared_ptr<const LodMap> peek(const std::string& key) {
        std::lock_guard lock(mutex_);
        const auto it = maps_.find(key);
        return it == maps_.end() ? nullptr : it->second.map;
    }
    void put(const std::string& key, std::shared_ptr<const LodMap> map) {
        std::lock_guard lock(mutex_);
        if (maps_.size() >= kMaxMaps && !maps_.count(key)) {
            auto oldest = maps_.begin();
            for (auto it = maps_.begin(); it != maps_.end(); ++it)
                if (it->second.checked < oldest->second.checked) oldest = it;
            maps_.erase(oldest);
        }
        maps_[key] = {std::move(map), std::chrono::steady_clock::now()};
    }
    std::mutex& build_mutex() { return build_; }

    /// Present tracks (a vanished track leaves every map): a scan of the tracks table,
    /// 0.1 s of CPU at a million, so it is counted at most every 30 s.
    std::int64_t present_tracks(store::Library& lib) {
        const auto now = std::chrono::steady_clock::now();
        {
            std::lock_guard lock(mutex_);
            if (present_ >= 0 && now - present_at_ < std::chrono::seconds(30)) return present_;
        }
        const auto n = lib.track_count();
        std::lock_guard lock(mutex_);
        present_ = n;
        present_at_ = now;
        return n;
    }

  private:
    static constexpr std::size_t kMaxMaps = 8;
    struct Entry {
        std::shared_ptr<const LodMap> map;
        std::chrono::steady_clock::time_point checked;
    };
    std::mutex mutex_, build_;
    std::map<std::string, Entry> maps_;
    std::int64_t present_ = -1;
    std::chrono::steady_clock::time_point present_at_;
};

/// The version of the cached map of `spec`, or "" when it is not cached: its projection
/// row and updated_at, the last point row written to any map (points added by transform()
/// within the same second) and the present tracks. Cheap but the last (see LodCache).
std::string map_stamp(LodCache& cache, store::Library& lib, const store::MapSpec& spec) {
    auto q = lib.db().prepare(
        "SELECT p.id, p.updated_at, (SELECT max(rowid) FROM projection_points) FROM "
        "projections p WHERE model_id = ? AND source = ? AND method = ? AND dims = ? AND "
        "params = ?");
    q.bind(1, spec.model_id).bind(2, store::source_name(spec.source)).bind(3, spec.method);
    q.bind(4, spec.dims).bind(5, store::map_params(spec));
    if (!q.step()) return {};
    auto stamp = std::to_string(q.int64(0)) + "|" + q.text(1) + "|" + std::to_string(q.int64(2));
    q.reset();
    return stamp + "|" + std::to_string(cache.present_tracks(lib));
}

/// Comma-separated finite numbers, exactly `count` of them; 400 otherwise.
std::vector<double> number_list(const std::string& text, std::size_t count, const char* name) {
    std::vector<double> out;
    std::size_t start = 0;
    while (start <= text.size() && out.size() <= count) {
        auto end = text.find(',', start);
        if (end == std::string::npos) end = text.size();
        const auto part = text.substr(start, end - start);
        char* stop = nullptr;
        const double v = part.empty() ? NAN : std::strtod(part.c_str(), &stop);
        if (!std::isfinite(v) || stop != part.c_str() + part.size()) {
            out.clear();
            break;
        }
        out.push_back(v);
        start = end + 1;
    }
    if (out.size() != count)
        throw HttpError(400, std::string("parameter '") + name + "' must be " +
                                 std::to_string(count) + " comma-separated numbers");
    return out;
}

/// Track details of the given ids in columns (the /api/v1/summary form, same order): from
/// the in-memory snapshot where it has the track, else from SQLite (in id order, so that
/// neighbouring lookups share pages).
std::string summary_json(store::Library& lib, const std::string& model,
                         const std::vector<std::int64_t>& ids, const DetailsTable* details) {
    constexpr int kTags = 3;
    const auto m = lib.model(model);
    nlohmann::json tag_names = m ? nlohmann::json(m->tag_names) : nlohmann::json::array();
    std::vector<std::string> names(ids.size());
    std::vector<std::optional<std::string>> genre_text(ids.size());
    std::vector<int> tags(ids.size() * kTags, -1);
    std::vector<float> scores(tags.size(), 0.0f);
    std::vector<std::size_t> missing;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        const auto row = details ? details->row(ids[i]) : std::nullopt;
        if (!row) {
            missing.push_back(i);
            continue;
        }
        names[i] = details->name(*row);
        if (const auto g = details->genre[*row]; g >= 0)
            genre_text[i] = details->genres[std::size_t(g)];
        const auto& top = details->tags.table;
        if (const auto r = details->tag_row[*row]; r != DetailsTable::kNoTags)
            for (int k = 0; k < std::min(kTags, top.n); ++k) {
                tags[i * kTags + std::size_t(k)] =
                    top.tags[std::size_t(r) * std::size_t(top.n) + std::size_t(k)];
                scores[i * kTags + std::size_t(k)] =
                    top.scores[std::size_t(r) * std::size_t(top.n) + std::size_t(k)];
            }
    }
    std::sort(missing.begin(), missing.end(),
              [&](std::size_t a, std::size_t b) { return ids[a] < ids[b]; });
    auto tq = lib.db().prepare(
        "SELECT t.filename, t.title, t.artist, t.genre, l.genre FROM tracks t LEFT JOIN labels l "
        "ON l.track_id = t.id WHERE t.id = ?");
    auto eq = lib.db().prepare(
        "SELECT n_tags, taggram FROM embeddings WHERE track_id = ? AND model_id = ?");
    std::vector<float> row;
    for (const auto i : missing) {
        store::TrackRecord t;
        tq.bind(1, ids[i]);
        if (tq.step()) {
            t.filename = tq.text(0);
            t.title = tq.optional_text(1);
            t.artist = tq.optional_text(2);
            t.genre = tq.optional_text(3);
            t.label = tq.optional_text(4);
        }
        tq.reset();
        names[i] = display_name(t);
        genre_text[i] = genre_of(t);
        eq.bind(1, ids[i]).bind(2, model);
        if (eq.step()) {
            const auto blob = eq.blob(1);
            row.resize(std::min<std::size_t>(std::size_t(eq.int64(0)), blob.size() / 4));
            std::memcpy(row.data(), blob.data(), row.size() * 4);
            std::vector<int> k(row.size());
            std::iota(k.begin(), k.end(), 0);
            const auto take = std::min<std::size_t>(kTags, k.size());
            std::partial_sort(k.begin(), k.begin() + std::ptrdiff_t(take), k.end(),
                              [&](int a, int b) {
                                  return row[std::size_t(a)] > row[std::size_t(b)] ||
                                         (row[std::size_t(a)] == row[std::size_t(b)] && a < b);
                              });
            for (std::size_t r = 0; r < take; ++r) {
                tags[i * kTags + r] = k[r];
                scores[i * kTags + r] = row[std::size_t(k[r])];
            }
        }
        eq.reset();
    }
    // Genres numbered in order of first use, as before.
    std::vector<std::string> genres;
    std::vector<int> genre(ids.size(), -1);
    std::map<std::string, int> genre_index;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (!genre_text[i]) continue;
        const auto [it, added] = genre_index.try_emplace(*genre_text[i], int(genres.size()));
        if (added) genres.push_back(*genre_text[i]);
        genre[i] = it->second;
    }
    // Written directly (a DOM of 50,000 names and 150,000 scores costs more than the
    // lookups); the numbers as nlohmann writes them: scores as doubles, shortest form.
    std::string out;
    out.reserve(ids.size() * 100 + 1024);
    const auto list = [&](const char* key, std::size_t n, const auto& item) {
        out += ",\"";
        out += key;
        out += "\":[";
        for (std::size_t i = 0; i < n; ++i) {
            if (i) out += ',';
            item(i);
        }
        out += ']';
    };
    const auto number = [&](auto v) {
        char buf[32];
        const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
        out.append(buf, ec == std::errc() ? end : buf);
    };
    out += "{\"model\":";
    append_json_string(out, model);
    out += ",\"count\":" + std::to_string(ids.size()) + ",\"n\":" + std::to_string(kTags);
    list("ids", ids.size(), [&](std::size_t i) { number(ids[i]); });
    list("names", names.size(), [&](std::size_t i) { append_json_string(out, names[i]); });
    list("genres", genres.size(), [&](std::size_t i) { append_json_string(out, genres[i]); });
    list("genre", genre.size(), [&](std::size_t i) { number(genre[i]); });
    out += ",\"tag_names\":";
    out += tag_names.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    list("top_tags", tags.size(), [&](std::size_t i) { number(tags[i]); });
    list("top_scores", scores.size(), [&](std::size_t i) {
        if (std::isfinite(scores[i]))
            number(double(scores[i]));
        else
            out += "null";
    });
    out += '}';
    return out;
}

std::string list_text(const float* v, int count) {
    std::string out;
    for (int i = 0; i < count; ++i) {
        if (i) out += ',';
        append_float(out, v[i]);
    }
    return out;
}

void points(Context& ctx, LodCache& cache, const httplib::Request& req, httplib::Response& res) {
    store::MapSpec spec;
    {
        auto lib = ctx.pool.lease();
        spec.model_id = model_param(req, *lib);
    }
    spec.source =
        store::parse_source(choice_param(req, "source", "embedding", {"embedding", "taggram"}));
    spec.method = choice_param(req, "method", "umap", {"umap", "tsne"});
    spec.dims = int(int_param(req, "dims", 2, 2, 3));
    const auto format = choice_param(req, "format", "f32", {"f32", "summary"});
    const double wait = seconds_param(req, "timeout", 0, ctx.options.max_map_wait_seconds);
    const auto limit = int_param(req, "limit", kDefaultLimit, 0, kMaxLimit);
    const auto after = int_param(req, "after", 0, 0, std::int64_t(1) << 40);
    const auto box_text = param(req, "box");
    const auto ids_text = param(req, "ids");
    if (ids_text && (box_text || req.has_param("after") || req.has_param("limit")))
        throw HttpError(400, "parameter 'ids' cannot be combined with 'box', 'after' or 'limit'");
    std::vector<double> box;
    if (box_text) {
        box = number_list(*box_text, std::size_t(2 * spec.dims), "box");
        for (int d = 0; d < spec.dims; ++d)
            if (box[std::size_t(d)] > box[std::size_t(spec.dims + d)])
                throw HttpError(400, "parameter 'box' is min" +
                                         std::string(spec.dims == 3 ? " x,y,z" : " x,y") +
                                         " then max" + (spec.dims == 3 ? " x,y,z" : " x,y") +
                                         " (each min at most its max)");
    }
    std::vector<std::int64_t> wanted;
    if (ids_text) {
        std::size_t start = 0;
        while (start <= ids_text->size()) {
            auto end = ids_text->find(',', start);
            if (end == std::string::npos) end = ids_text->size();
            wanted.push_back(parse_track_id(ids_text->substr(start, end - start)));
            if (wanted.size() > kMaxIds)
                throw HttpError(
                    400, "parameter 'ids' takes at most " + std::to_string(kMaxIds) + " track ids");
            start = end + 1;
        }
    }

    // The page asks for these points' details next: start the in-memory snapshot now (in
    // the background), so that it is ready by then.
    ctx.details.get(spec.model_id);

    // The LOD form of the map's current version (built on first use and after a change).
    const auto key = map_key(spec);
    const auto checked_key = "lod-checked|" + key;
    std::shared_ptr<const LodMap> lod;
    if (ctx.map_cache.get(checked_key)) lod = cache.peek(key);
    if (!lod) {
        std::string stamp;
        {
            auto lib = ctx.pool.lease();
            stamp = map_stamp(cache, *lib, spec);
        }
        if (!stamp.empty()) lod = cache.get(key, stamp);
        if (!lod) {
            std::lock_guard build(cache.build_mutex());
            if (!stamp.empty()) lod = cache.get(key, stamp);  // built while this one waited
            if (!lod) {
                const auto found = find_map(ctx, spec, wait);
                if (!found.map) return send_computing(res, spec, found.job);
                {
                    auto lib = ctx.pool.lease();
                    stamp = map_stamp(cache, *lib, spec);
                }
                lod = build_lod(*found.map, stamp);
                cache.put(key, lod);
            }
        }
        ctx.map_cache.put(checked_key, {std::make_shared<const std::string>(), "", {}});
    }

    const int dims = lod->dims;
    const std::size_t n = lod->size();
    std::vector<std::uint32_t> rows;  // LOD positions of the answer
    std::int64_t in_box = -1;
    if (ids_text) {
        for (const auto id : wanted) {
            const auto it = std::lower_bound(lod->by_id.begin(), lod->by_id.end(), id);
            if (it != lod->by_id.end() && *it == id)
                rows.push_back(lod->rank[std::size_t(it - lod->by_id.begin())]);
        }
    } else if (box_text) {
        in_box = 0;
        const auto* c = lod->coords.data();
        for (std::size_t r = std::min<std::size_t>(std::size_t(after), n); r < n; ++r) {
            bool inside = true;
            for (int d = 0; d < dims && inside; ++d) {
                const double v = c[r * std::size_t(dims) + std::size_t(d)];
                inside = v >= box[std::size_t(d)] && v <= box[std::size_t(dims + d)];
            }
            if (!inside) continue;
            ++in_box;
            if (std::int64_t(rows.size()) < limit) rows.push_back(std::uint32_t(r));
        }
    } else {
        const auto first = std::min<std::size_t>(std::size_t(after), n);
        const auto end = std::min<std::size_t>(n, first + std::size_t(limit));
        for (auto r = first; r < end; ++r) rows.push_back(std::uint32_t(r));
    }

    res.set_header("X-Tagmap-Total", std::to_string(n));
    res.set_header("X-Tagmap-Bounds",
                   list_text(lod->lo.data(), dims) + "," + list_text(lod->hi.data(), dims));
    if (in_box >= 0) res.set_header("X-Tagmap-In-Box", std::to_string(in_box));
    if (format == "summary") {
        std::vector<std::int64_t> ids;
        ids.reserve(rows.size());
        for (const auto r : rows) ids.push_back(lod->ids[r]);
        const auto details = ctx.details.get(spec.model_id);
        auto lib = ctx.pool.lease();
        res.set_content(summary_json(*lib, spec.model_id, ids, details.get()), "application/json");
        res.status = 200;
        return;
    }
    static_assert(std::endian::native == std::endian::little,
                  "the f32 map form is little-endian; add byte swapping for this host");
    const std::size_t id_bytes = lod->ids32 ? 4 : 8, m = rows.size();
    std::string body(m * (id_bytes + 4 * std::size_t(dims)), '\0');
    char* out = body.data();
    for (const auto r : rows) {
        if (lod->ids32) {
            const auto v = std::uint32_t(lod->ids[r]);
            std::memcpy(out, &v, 4);
        } else {
            std::memcpy(out, &lod->ids[r], 8);
        }
        out += id_bytes;
    }
    for (const auto r : rows) {
        std::memcpy(out, lod->coords.data() + std::size_t(r) * std::size_t(dims),
                    4 * std::size_t(dims));
        out += 4 * dims;
    }
    res.set_header("X-Tagmap-Shape", std::to_string(m) + "," + std::to_string(dims));
    res.set_header("X-Tagmap-Layout",
                   std::string(lod->ids32 ? "ids:uint32le[N]" : "ids:int64le[N]") +
                       ",coords:float32le[N*dims]");
    res.set_content(std::move(body), "application/octet-stream");
    res.status = 200;
}

}  // namespace

void add_map_lod_routes(Router& router, Context& ctx) {
    auto cache = std::make_shared<LodCache>();
    router.get("/api/v1/maps/points",
               [&ctx, cache](const httplib::Request& req, httplib::Response& res,
                             const std::smatch&) { points(ctx, *cache, req, res); });
}

}  // namespace tagmap::server
