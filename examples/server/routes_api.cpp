// The versioned API under /api/v1/ (docs/api.md): health, tracks, models, maps (JSON and a
// compact float32 form), neighbours, search and the stored genre-similarity reports.
#include <algorithm>
#include <bit>
#include <cstring>
#include <map>

#include "errors.hpp"
#include "params.hpp"
#include "views.hpp"

namespace tagmap::server {

namespace {

constexpr std::int64_t kMaxPage = 1000;
constexpr std::size_t kMaxQueryLength = 256;

/// The model for top tags: the `model` parameter, else the first model, else none.
std::optional<std::string> tags_model(const httplib::Request& req, store::Library& lib) {
    if (!req.has_param("model") && lib.models().empty()) return std::nullopt;
    return model_param(req, lib);
}

nlohmann::json track_with_tags(store::Library& lib, const store::TrackRecord& t,
                               const std::optional<std::string>& model) {
    auto j = track_json(t);
    j["top_tags"] = model ? tags_json(lib.top_tags(t.id, *model, 3)) : nlohmann::json::array();
    return j;
}

store::TrackRecord present_track(store::Library& lib, const std::string& id_text) {
    const auto id = parse_track_id(id_text);
    auto t = lib.track(id);
    if (!t || t->vanished_at) throw HttpError(404, "no track with id " + std::to_string(id));
    return *t;
}

store::Source source_param(const httplib::Request& req) {
    return store::parse_source(choice_param(req, "source", "embedding", {"embedding", "taggram"}));
}

std::string map_json(const store::Projection& p) {
    std::string out;
    out.reserve(std::size_t(p.coords.rows()) * (24 + 14 * std::size_t(p.coords.cols())) + 256);
    const nlohmann::json head = {{"model", p.key.model_id},
                                 {"source", store::source_name(p.key.source)},
                                 {"method", p.key.method},
                                 {"dims", p.key.dims},
                                 {"params", nlohmann::json::parse(p.key.params)},
                                 {"count", p.track_ids.size()},
                                 {"fitted_rows", p.fitted_rows},
                                 {"created_at", p.created_at},
                                 {"updated_at", p.updated_at}};
    out = head.dump();
    out.pop_back();  // '}': the points follow
    out += ",\"points\":[";
    for (Eigen::Index i = 0; i < p.coords.rows(); ++i) {
        if (i) out += ',';
        out += "{\"track_id\":";
        out += std::to_string(p.track_ids[std::size_t(i)]);
        out += ",\"coords\":[";
        for (Eigen::Index d = 0; d < p.coords.cols(); ++d) {
            if (d) out += ',';
            append_float(out, p.coords(i, d));
        }
        out += "],\"transformed\":";
        out += p.transformed[std::size_t(i)] ? "true" : "false";
        out += '}';
    }
    out += "]}";
    return out;
}

/// Binary form: N int64 track ids, then N x dims float32 coordinates (row-major), both
/// little-endian; the ids come first so that both blocks are naturally aligned.
std::string map_f32(const store::Projection& p) {
    static_assert(std::endian::native == std::endian::little,
                  "the f32 map form is little-endian; add byte swapping for this host");
    const std::size_t n = p.track_ids.size(), cells = std::size_t(p.coords.size());
    std::string out(n * sizeof(std::int64_t) + cells * sizeof(float), '\0');
    std::memcpy(out.data(), p.track_ids.data(), n * sizeof(std::int64_t));
    std::memcpy(out.data() + n * sizeof(std::int64_t), p.coords.data(), cells * sizeof(float));
    return out;
}

void maps(Context& ctx, const httplib::Request& req, httplib::Response& res) {
    store::MapSpec spec;
    {
        auto lib = ctx.pool.lease();
        spec.model_id = model_param(req, *lib);
    }
    spec.source = source_param(req);
    spec.method = choice_param(req, "method", "umap", {"umap", "tsne"});
    spec.dims = int(int_param(req, "dims", 2, 2, 3));
    const auto format = choice_param(req, "format", "json", {"json", "f32"});
    const double wait = seconds_param(req, "timeout", 0, ctx.options.max_map_wait_seconds);
    const auto cache_key = map_key(spec) + "|" + format;
    auto entry = ctx.map_cache.get(cache_key);
    if (!entry) {
        const auto found = find_map(ctx, spec, wait);
        if (!found.map) return send_computing(res, spec, found.job);
        const auto& p = *found.map;
        ResponseCache::Entry e;
        if (format == "f32") {
            e.body = std::make_shared<const std::string>(map_f32(p));
            e.content_type = "application/octet-stream";
            e.headers = {{"X-Tagmap-Shape", std::to_string(p.track_ids.size()) + "," +
                                                std::to_string(p.coords.cols())},
                         {"X-Tagmap-Layout", "ids:int64le[N],coords:float32le[N*dims]"}};
        } else {
            e.body = std::make_shared<const std::string>(map_json(p));
            e.content_type = "application/json";
        }
        ctx.map_cache.put(cache_key, e);
        entry = std::move(e);
    }
    for (const auto& [name, value] : entry->headers) res.set_header(name, value);
    res.set_content(*entry->body, entry->content_type);
    res.status = 200;
}

}  // namespace

void add_api_routes(Router& router, Context& ctx) {
    router.get(
        "/api/v1/?", [](const httplib::Request&, httplib::Response& res, const std::smatch&) {
            send_json(res, {{"api", "tagmap"},
                            {"version", 1},
                            {"routes",
                             {"health", "tracks", "tracks/<id>", "tracks/<id>/neighbors",
                              "tracks/<id>/audio", "tracks/<id>/chunks", "tracks/<id>/series",
                              "POST tracks", "jobs/<id>", "models", "maps", "maps/points",
                              "summary", "tag-scores", "search", "genre-similarity"}}});
        });

    router.get("/api/v1/health",
               [&ctx](const httplib::Request&, httplib::Response& res, const std::smatch&) {
                   auto lib = ctx.pool.lease();
                   auto models = nlohmann::json::array();
                   for (const auto& m : lib->models()) models.push_back(m.model_id);
                   send_json(res, {{"status", "ok"},
                                   {"tracks", lib->track_count()},
                                   {"models", models},
                                   {"map_jobs_active", ctx.jobs.active()},
                                   {"details_builds", ctx.details.builds()}});
               });

    router.get("/api/v1/models",
               [&ctx](const httplib::Request&, httplib::Response& res, const std::smatch&) {
                   auto lib = ctx.pool.lease();
                   auto out = nlohmann::json::array();
                   for (const auto& m : lib->models())  // weights_file is a server path: not shown
                       out.push_back({{"model_id", m.model_id},
                                      {"model", m.model},
                                      {"dataset", m.dataset},
                                      {"n_tags", m.n_tags},
                                      {"embedding_dim", m.embedding_dim},
                                      {"input_samples", m.input_samples},
                                      {"weights_digest", m.weights_digest},
                                      {"tags", m.tag_names}});
                   send_json(res, {{"models", out}});
               });

    router.get("/api/v1/tracks", [&ctx](const httplib::Request& req, httplib::Response& res,
                                        const std::smatch&) {
        const auto offset = int_param(req, "offset", 0, 0, std::int64_t(1) << 40);
        const auto limit = int_param(req, "limit", 100, 1, kMaxPage);
        auto lib = ctx.pool.lease();
        const auto model = tags_model(req, *lib);
        const auto all = lib->tracks();
        auto page = nlohmann::json::array();
        for (auto i = std::size_t(std::min<std::int64_t>(offset, std::int64_t(all.size())));
             i < all.size() && std::int64_t(page.size()) < limit; ++i)
            page.push_back(track_with_tags(*lib, all[i], model));
        send_json(res, {{"offset", offset},
                        {"limit", limit},
                        {"total", all.size()},
                        {"model", model ? nlohmann::json(*model) : nlohmann::json(nullptr)},
                        {"tracks", page}});
    });

    router.get("/api/v1/tracks/([^/]+)",
               [&ctx](const httplib::Request& req, httplib::Response& res, const std::smatch& m) {
                   auto lib = ctx.pool.lease();
                   const auto t = present_track(*lib, m[1]);
                   const auto model = tags_model(req, *lib);
                   auto j = track_with_tags(*lib, t, model);
                   j["model"] = model ? nlohmann::json(*model) : nlohmann::json(nullptr);
                   send_json(res, j);
               });

    router.get("/api/v1/tracks/([^/]+)/neighbors", [&ctx](const httplib::Request& req,
                                                          httplib::Response& res,
                                                          const std::smatch& m) {
        auto lib = ctx.pool.lease();
        const auto t = present_track(*lib, m[1]);
        const auto model = model_param(req, *lib);
        const auto source = source_param(req);
        const int k = int(int_param(req, "k", 10, 1, 100));
        if (lib->top_tags(t.id, model, 1).empty())
            throw HttpError(404, "track " + std::to_string(t.id) + " has no results of " + model);
        auto out = nlohmann::json::array();
        for (const auto& n : lib->neighbors(t.id, model, source, k)) {
            const auto other = lib->track(n.track_id);
            out.push_back({{"track_id", n.track_id},
                           {"similarity", n.similarity},
                           {"filename", other ? other->filename : std::string()},
                           {"name", other ? display_name(*other) : std::string()},
                           {"genre", other ? nlohmann::json(genre_of(*other).value_or(""))
                                           : nlohmann::json(nullptr)}});
        }
        send_json(res, {{"track_id", t.id},
                        {"model", model},
                        {"source", store::source_name(source)},
                        {"k", k},
                        {"neighbors", out}});
    });

    // Every present track's name, genre and top tags in columns, in one response: what the
    // page colours and labels a map of 100k tracks with (pages of /tracks take a request
    // per 1000 and rebuild each track's JSON).
    router.get("/api/v1/summary", [&ctx](const httplib::Request& req, httplib::Response& res,
                                         const std::smatch&) {
        const int n = int(int_param(req, "n", 3, 0, 10));
        auto lib = ctx.pool.lease();
        const auto model = tags_model(req, *lib);
        const auto all = lib->tracks();
        store::TopTagTable top;
        if (model) top = lib->top_tag_table(*model, n);
        std::vector<std::int64_t> ids;
        std::vector<std::string> names, genres;
        std::vector<int> genre;
        std::map<std::string, int> genre_index;
        std::vector<int> tags(all.size() * std::size_t(top.n), -1);
        std::vector<float> scores(tags.size(), 0.0f);
        std::size_t row = 0;  // both lists are ordered by track id
        for (std::size_t i = 0; i < all.size(); ++i) {
            const auto& t = all[i];
            ids.push_back(t.id);
            names.push_back(display_name(t));
            const auto g = genre_of(t);
            if (!g) {
                genre.push_back(-1);
            } else {
                const auto [it, added] = genre_index.try_emplace(*g, int(genres.size()));
                if (added) genres.push_back(*g);
                genre.push_back(it->second);
            }
            while (row < top.track_ids.size() && top.track_ids[row] < t.id) ++row;
            if (row < top.track_ids.size() && top.track_ids[row] == t.id)
                for (int k = 0; k < top.n; ++k) {
                    tags[i * std::size_t(top.n) + std::size_t(k)] =
                        top.tags[row * std::size_t(top.n) + std::size_t(k)];
                    scores[i * std::size_t(top.n) + std::size_t(k)] =
                        top.scores[row * std::size_t(top.n) + std::size_t(k)];
                }
        }
        nlohmann::json tag_names = nlohmann::json::array();
        if (model)
            if (const auto m = lib->model(*model)) tag_names = m->tag_names;
        send_json(res, {{"model", model ? nlohmann::json(*model) : nlohmann::json(nullptr)},
                        {"count", ids.size()},
                        {"n", top.n},
                        {"ids", ids},
                        {"names", names},
                        {"genres", genres},
                        {"genre", genre},
                        {"tag_names", tag_names},
                        {"top_tags", tags},
                        {"top_scores", scores}});
    });

    // One tag's score (the mean taggram's entry) for every track with a result of the model.
    router.get("/api/v1/tag-scores", [&ctx](const httplib::Request& req, httplib::Response& res,
                                            const std::smatch&) {
        const auto tag = param(req, "tag");
        if (!tag || tag->empty() || tag->size() > kMaxQueryLength)
            throw HttpError(400, "parameter 'tag' is required (a tag name of the model)");
        auto lib = ctx.pool.lease();
        const auto model = model_param(req, *lib);
        const auto m = lib->model(model);
        const auto& names = m->tag_names;
        Eigen::Index k = Eigen::Index(std::find(names.begin(), names.end(), *tag) - names.begin());
        // Without a tag list the tags are named tag<i>, as in top_tags().
        if (names.empty() && tag->size() > 3 && tag->size() < 8 && tag->starts_with("tag") &&
            std::all_of(tag->begin() + 3, tag->end(), [](char c) { return c >= '0' && c <= '9'; }))
            k = Eigen::Index(std::stol(tag->substr(3)));
        const auto v = lib->vectors(model, store::Source::taggram);
        if (k >= v.rows.cols() && !(names.empty() && v.rows.rows() == 0))
            throw HttpError(400, "model " + model + " has no tag '" + *tag + "'");
        std::vector<float> scores(v.track_ids.size());
        for (Eigen::Index r = 0; r < v.rows.rows(); ++r) scores[std::size_t(r)] = v.rows(r, k);
        send_json(res, {{"model", model},
                        {"tag", *tag},
                        {"count", scores.size()},
                        {"ids", v.track_ids},
                        {"scores", scores}});
    });

    router.get("/api/v1/maps", [&ctx](const httplib::Request& req, httplib::Response& res,
                                      const std::smatch&) { maps(ctx, req, res); });

    router.get("/api/v1/search",
               [&ctx](const httplib::Request& req, httplib::Response& res, const std::smatch&) {
                   const auto q = param(req, "q").value_or("");
                   if (q.empty() || q.size() > kMaxQueryLength)
                       throw HttpError(400, "parameter 'q' is required (1 to " +
                                                std::to_string(kMaxQueryLength) + " characters)");
                   const int limit = int(int_param(req, "limit", 20, 1, kMaxPage));
                   auto lib = ctx.pool.lease();
                   const auto model = tags_model(req, *lib);
                   // The tag matches from the in-memory snapshot once it is built (a scan
                   // of every taggram until then).
                   const auto details = model ? ctx.details.get(*model) : nullptr;
                   auto out = nlohmann::json::array();
                   for (const auto& t : lib->search(q, model.value_or(""), limit,
                                                    details ? &details->tags : nullptr))
                       out.push_back(track_with_tags(*lib, t, model));
                   send_json(res, {{"query", q}, {"count", out.size()}, {"results", out}});
               });

    router.get("/api/v1/genre-similarity",
               [&ctx](const httplib::Request& req, httplib::Response& res, const std::smatch&) {
                   auto lib = ctx.pool.lease();
                   const auto model = model_param(req, *lib);
                   const auto source = source_param(req);
                   const auto report = lib->similarity_report(model, source);
                   if (!report)
                       throw HttpError(404, std::string("no genre-similarity report for ") + model +
                                                " " + store::source_name(source) +
                                                " (run tagmap compute-genre-similarity)");
                   res.status = 200;
                   res.set_content(*report, "application/json");
               });
}

}  // namespace tagmap::server
