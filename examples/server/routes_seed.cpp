// The seed system's routes, kept with their JSON shapes for its users' scripts:
//   GET /audios                      ["a.mp3", ...]        indexed file names
//   GET /tags                        ["rock", ...]         unique genres (labels, else tags)
//   GET /embeddings?red=&dataset=&metodo=&dimensions=     a map of the embeddings
//   GET /taggrams?...                                      a map of the taggrams
//   GET /audio/<file>                                      the file (Range supported)
// Maps: {"data": [{"audio", "coords", "name", "tag"}], "name": "embeddings_<red>_<dataset>_
// <metodo>_<dims>"}; "tag" is the track's genre, else its top tag.
#include <map>
#include <set>

#include "errors.hpp"
#include "params.hpp"
#include "views.hpp"

namespace tagmap::server {

namespace {

void seed_map(Context& ctx, store::Source source, const httplib::Request& req,
              httplib::Response& res) {
    const auto red = choice_param(req, "red", "musicnn", {"musicnn", "vgg"});
    const auto dataset = choice_param(req, "dataset", "mtat", {"mtat", "msd"});
    const auto metodo = choice_param(req, "metodo", "umap", {"umap", "tsne"});
    // The seed accepted both spellings.
    const char* dims_name = req.has_param("dimensions") ? "dimensions" : "dimensiones";
    const int dims = int(int_param(req, dims_name, 2, 2, 3));

    store::MapSpec spec;
    spec.model_id = red + "-" + dataset;
    spec.source = source;
    spec.method = metodo;
    spec.dims = dims;
    std::map<std::int64_t, store::TrackRecord> tracks;
    std::map<std::int64_t, std::string> top_tag;
    {
        auto lib = ctx.pool.lease();
        const auto model = lib->model(spec.model_id);
        if (!model)
            throw HttpError(400, "model " + spec.model_id + " has no results in this library");
        for (auto& t : lib->tracks()) tracks.emplace(t.id, std::move(t));
        // Top tag of every track from one read of the taggrams (argmax, lowest index on
        // ties: what Library::top_tags(id, model, 1) gives).
        const auto tg = lib->vectors(spec.model_id, store::Source::taggram);
        for (std::size_t i = 0; i < tg.track_ids.size(); ++i) {
            Eigen::Index best = 0;
            tg.rows.row(Eigen::Index(i)).maxCoeff(&best);
            top_tag[tg.track_ids[i]] = std::size_t(best) < model->tag_names.size()
                                           ? model->tag_names[std::size_t(best)]
                                           : "tag" + std::to_string(best);
        }
    }
    const auto found = find_map(ctx, spec, ctx.options.seed_map_wait_seconds);
    if (!found.map) return send_computing(res, spec, found.job);
    const auto& p = *found.map;

    std::string out = "{\"data\":[";
    bool first = true;
    for (Eigen::Index i = 0; i < p.coords.rows(); ++i) {
        const auto it = tracks.find(p.track_ids[std::size_t(i)]);
        if (it == tracks.end()) continue;  // vanished since the map was made
        const auto& t = it->second;
        if (!first) out += ',';
        first = false;
        out += "{\"audio\":";
        append_json_string(out, t.filename);
        out += ",\"coords\":[";
        for (Eigen::Index d = 0; d < p.coords.cols(); ++d) {
            if (d) out += ',';
            append_float(out, p.coords(i, d));
        }
        out += "],\"name\":";
        append_json_string(out, display_name(t));
        out += ",\"tag\":";
        const auto tag = top_tag.find(t.id);
        append_json_string(out, genre_of(t).value_or(tag != top_tag.end() ? tag->second : ""));
        out += '}';
    }
    out += "],\"name\":";
    append_json_string(
        out, std::string(source == store::Source::embedding ? "embeddings" : "taggrams") + "_" +
                 red + "_" + dataset + "_" + metodo + "_" + std::to_string(dims));
    out += '}';
    res.status = 200;
    res.set_content(out, "application/json");
}

}  // namespace

void add_seed_routes(Router& router, Context& ctx) {
    router.get("/audios",
               [&ctx](const httplib::Request&, httplib::Response& res, const std::smatch&) {
                   auto lib = ctx.pool.lease();
                   auto out = nlohmann::json::array();
                   for (const auto& t : lib->tracks()) out.push_back(t.filename);
                   send_json(res, out);
               });
    router.get("/tags",
               [&ctx](const httplib::Request&, httplib::Response& res, const std::smatch&) {
                   auto lib = ctx.pool.lease();
                   std::set<std::string> genres;
                   for (const auto& [id, genre] : lib->labels()) genres.insert(genre);
                   if (genres.empty())
                       for (const auto& t : lib->tracks())
                           if (t.genre && !t.genre->empty()) genres.insert(*t.genre);
                   send_json(res, nlohmann::json(genres));
               });
    router.get("/embeddings",
               [&ctx](const httplib::Request& req, httplib::Response& res, const std::smatch&) {
                   seed_map(ctx, store::Source::embedding, req, res);
               });
    router.get("/taggrams",
               [&ctx](const httplib::Request& req, httplib::Response& res, const std::smatch&) {
                   seed_map(ctx, store::Source::taggram, req, res);
               });
}

}  // namespace tagmap::server
