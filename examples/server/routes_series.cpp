// GET /api/v1/tracks/<id>/series: which time series of the sequence models (CREPE pitch,
// madmom beat activation) a track has; with ?model=, one of them as JSON or float32
// (docs/api.md), for the player's pitch and beat curves.
#include <algorithm>
#include <bit>
#include <cstring>

#include "errors.hpp"
#include "params.hpp"
#include "views.hpp"

namespace tagmap::server {

namespace {

nlohmann::json series_model_json(const store::SeriesModelRecord& m) {
    return {{"model", m.model_id},
            {"fps", m.frame_rate},
            {"sample_rate", m.sample_rate},
            {"columns", m.column_names},
            {"weights_digest", m.weights_digest},
            {"license", m.license.empty() ? nlohmann::json(nullptr) : nlohmann::json(m.license)}};
}

/// The `model` parameter, when given: a plausible model id (400 otherwise, and for one of
/// the library's taggers); whether the library has series of it is the caller's 404.
std::optional<std::string> series_model_param(const httplib::Request& req, store::Library& lib) {
    const auto wanted = param(req, "model");
    if (!wanted) return std::nullopt;
    const bool plain = !wanted->empty() && wanted->size() <= 64 &&
                       std::all_of(wanted->begin(), wanted->end(), [](char c) {
                           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                                  c == '_' || c == '.';
                       });
    if (!plain) throw HttpError(400, "parameter 'model' must be a model id (such as crepe-tiny)");
    if (lib.model(*wanted))
        throw HttpError(400, *wanted +
                                 " is a tagging model, not a sequence model (its "
                                 "per-chunk outputs are at /api/v1/tracks/<id>/chunks)");
    return wanted;
}

/// Values row-major, shortest round-trip floats: [[hz, confidence], ...] or [a, b, ...].
std::string series_json(std::int64_t track_id, const store::SeriesModelRecord& m,
                        const store::TrackSeries& s) {
    auto head = series_model_json(m);
    head["track_id"] = track_id;
    head["frames"] = s.frames;
    head["audio_seconds"] = s.audio_seconds;
    std::string out = head.dump();
    out.pop_back();  // '}': the values follow
    out.reserve(out.size() + s.values.size() * 12 + 16);
    out += ",\"values\":[";
    const auto cols = std::size_t(s.columns);
    for (std::size_t t = 0; t < std::size_t(s.frames); ++t) {
        if (t) out += ',';
        if (cols > 1) out += '[';
        for (std::size_t c = 0; c < cols; ++c) {
            if (c) out += ',';
            append_float(out, s.values[t * cols + c]);
        }
        if (cols > 1) out += ']';
    }
    out += "]}";
    return out;
}

}  // namespace

void add_series_routes(Router& router, Context& ctx) {
    router.get("/api/v1/tracks/([^/]+)/series", [&ctx](const httplib::Request& req,
                                                       httplib::Response& res,
                                                       const std::smatch& m) {
        const auto id = parse_track_id(m[1]);
        const auto format = choice_param(req, "format", "json", {"json", "f32"});
        auto lib = ctx.pool.lease();
        // Parameters are checked before the track, so a bad request is a 400 for any id.
        const auto model = series_model_param(req, *lib);
        const auto t = lib->track(id);
        if (!t || t->vanished_at) throw HttpError(404, "no track with id " + std::to_string(id));
        if (!model) {
            auto list = nlohmann::json::array();
            for (const auto& sid : lib->track_series_models(id))
                if (const auto rec = lib->series_model(sid)) {
                    auto j = series_model_json(*rec);
                    j["url"] = "/api/v1/tracks/" + std::to_string(id) + "/series?model=" + sid;
                    list.push_back(std::move(j));
                }
            return send_json(res, {{"track_id", id}, {"series", list}});
        }
        const auto rec = lib->series_model(*model);
        if (!rec) {
            std::string list;
            for (const auto& r : lib->series_models())
                list += (list.empty() ? "" : ", ") + r.model_id;
            throw HttpError(404, "the library has no series of " + *model +
                                     " (it has: " + (list.empty() ? "none" : list) + ")");
        }
        const auto s = lib->series(id, *model);
        if (!s)
            throw HttpError(404, "track " + std::to_string(id) + " has no " + *model + " series");
        if (format == "json") {
            res.status = 200;
            res.set_content(series_json(id, *rec, *s), "application/json");
            return;
        }
        static_assert(std::endian::native == std::endian::little,
                      "the f32 series form is little-endian; add byte swapping for this host");
        std::string body(s->values.size() * sizeof(float), '\0');
        if (!body.empty()) std::memcpy(body.data(), s->values.data(), body.size());
        res.set_header("X-Tagmap-Shape",
                       std::to_string(s->frames) + "," + std::to_string(s->columns));
        res.set_header("X-Tagmap-Layout", "values:float32le[frames*columns]");
        res.set_header("X-Tagmap-Fps", nlohmann::json(s->frame_rate).dump());
        res.set_header("X-Tagmap-Columns", nlohmann::json(rec->column_names).dump());
        res.status = 200;
        res.set_content(body, "application/octet-stream");
    });
}

}  // namespace tagmap::server
