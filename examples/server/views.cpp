#include "views.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>

#include "errors.hpp"

namespace tagmap::server {

std::string display_name(const store::TrackRecord& t) {
    if (t.title && t.artist) return *t.artist + " - " + *t.title;
    if (t.title) return *t.title;
    return std::filesystem::path(t.filename).filename().string();
}

std::optional<std::string> genre_of(const store::TrackRecord& t) {
    return t.label ? t.label : t.genre;
}

namespace {

template <class T>
nlohmann::json opt(const std::optional<T>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

}  // namespace

nlohmann::json track_json(const store::TrackRecord& t) {
    return {{"id", t.id},
            {"filename", t.filename},
            {"name", display_name(t)},
            {"title", opt(t.title)},
            {"artist", opt(t.artist)},
            {"album", opt(t.album)},
            {"genre", opt(genre_of(t))},
            {"file_genre", opt(t.genre)},
            {"label", opt(t.label)},
            {"year", opt(t.year)},
            {"track_number", opt(t.track_number)},
            {"duration", opt(t.duration)},
            {"sample_rate", opt(t.sample_rate)},
            {"channels", opt(t.channels)},
            {"codec", opt(t.codec)},
            {"size_bytes", t.size_bytes},
            {"processed_at", opt(t.processed_at)},
            {"vanished", t.vanished_at.has_value()},
            {"probe_error", opt(t.probe_error)},
            {"audio_url", "/api/v1/tracks/" + std::to_string(t.id) + "/audio"}};
}

nlohmann::json tags_json(const std::vector<store::TagScore>& tags) {
    auto out = nlohmann::json::array();
    for (const auto& t : tags) out.push_back({{"tag", t.tag}, {"score", t.score}});
    return out;
}

std::string model_param(const httplib::Request& req, store::Library& lib) {
    const auto models = lib.models();
    const auto wanted = req.has_param("model") ? req.get_param_value("model") : std::string();
    if (!req.has_param("model")) {
        if (models.empty()) throw HttpError(404, "the library has no model results yet");
        return models.front().model_id;
    }
    std::string list;
    for (const auto& m : models) {
        if (m.model_id == wanted) return wanted;
        list += (list.empty() ? "" : ", ") + m.model_id;
    }
    throw HttpError(400,
                    "unknown model (this library has: " + (list.empty() ? "none" : list) + ")");
}

void send_json(httplib::Response& res, const nlohmann::json& j, int status) {
    res.status = status;
    // Invalid UTF-8 (a file tag in Latin-1, say) is replaced, not a 500.
    res.set_content(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                    "application/json");
}

MapLookup find_map(Context& ctx, const store::MapSpec& spec, double wait_seconds) {
    const store::ProjectionKey key{spec.model_id, spec.source, spec.method, spec.dims,
                                   store::map_params(spec)};
    auto cached = [&]() {
        auto lib = ctx.pool.lease();  // released before any waiting
        return lib->projection(key);
    };
    MapLookup out;
    if ((out.map = cached())) return out;
    out.job = ctx.jobs.request(spec);
    using S = MapJobStatus::State;
    if (wait_seconds > 0 && (out.job.state == S::queued || out.job.state == S::running))
        out.job = ctx.jobs.wait(spec, std::chrono::duration<double>(wait_seconds));
    if (out.job.state == S::done || out.job.state == S::none) {
        if ((out.map = cached())) {
            ctx.jobs.forget_done(spec);
            return out;
        }
        out.job = ctx.jobs.request(spec);  // finished before this lookup: ask again
    }
    if (out.job.state == S::failed) throw HttpError(out.job.failure_status, out.job.error);
    return out;
}

void send_computing(httplib::Response& res, const store::MapSpec& spec, const MapJobStatus& job) {
    nlohmann::json j = {{"status", "computing"},
                        {"progress",
                         {{"state", map_job_state_name(job.state)},
                          {"queue_position", job.queue_position},
                          {"elapsed_seconds", job.elapsed_seconds}}},
                        {"map",
                         {{"model", spec.model_id},
                          {"source", store::source_name(spec.source)},
                          {"method", spec.method},
                          {"dims", spec.dims}}},
                        {"retry_after_seconds", 1}};
    res.set_header("Retry-After", "1");
    send_json(res, j, 202);
}

void append_float(std::string& out, float v) {
    if (!std::isfinite(v)) {
        out += "null";
        return;
    }
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, ec == std::errc() ? end : buf);
}

void append_json_string(std::string& out, const std::string& s) {
    // Printable ASCII without quotes or backslashes (most names) needs no escaping.
    if (std::all_of(s.begin(), s.end(),
                    [](char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; })) {
        out += '"';
        out += s;
        out += '"';
        return;
    }
    out += nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace tagmap::server
