// GET /api/v1/tracks/<id>/chunks: a track's per-chunk path through a cached map, with each
// chunk's top tags, for the player (docs/api.md). The map itself never moves: chunks are
// interpolated from their nearest tracks (store::chunk_path), per request; a missing map
// is computed in the background like /maps (202).
#include "errors.hpp"
#include "params.hpp"
#include "views.hpp"

namespace tagmap::server {

void add_chunk_routes(Router& router, Context& ctx) {
    router.get("/api/v1/tracks/([^/]+)/chunks", [&ctx](const httplib::Request& req,
                                                       httplib::Response& res,
                                                       const std::smatch& m) {
        const auto id = parse_track_id(m[1]);
        store::MapSpec spec;
        {
            auto lib = ctx.pool.lease();
            const auto t = lib->track(id);
            if (!t || t->vanished_at) throw HttpError(404, "no track with id " + std::to_string(id));
            spec.model_id = model_param(req, *lib);
        }
        spec.source = store::parse_source(
            choice_param(req, "source", "embedding", {"embedding", "taggram"}));
        spec.method = choice_param(req, "method", "umap", {"umap", "tsne"});
        spec.dims = int(int_param(req, "dims", 2, 2, 3));
        const int n_tags = int(int_param(req, "tags", 5, 1, 50));
        const auto found = find_map(ctx, spec, seconds_param(req, "timeout", 0,
                                                             ctx.options.max_map_wait_seconds));
        if (!found.map) return send_computing(res, spec, found.job);
        auto lib = ctx.pool.lease();
        const auto path = store::chunk_path(*lib, spec, id, n_tags);
        if (path.chunks.empty())
            throw HttpError(404, "track " + std::to_string(id) + " has no chunk outputs of " +
                                     spec.model_id);
        auto chunks = nlohmann::json::array();
        for (const auto& c : path.chunks)
            chunks.push_back({{"index", c.index},
                              {"start", c.start_seconds},
                              {"coords", c.coords},
                              {"top_tags", tags_json(c.top_tags)}});
        send_json(res, {{"track_id", id},
                        {"model", spec.model_id},
                        {"source", store::source_name(spec.source)},
                        {"method", spec.method},
                        {"dims", spec.dims},
                        {"hop_seconds", path.hop_seconds},
                        {"chunks", chunks}});
    });
}

}  // namespace tagmap::server
