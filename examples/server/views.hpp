// JSON views of library records and the map lookup shared by the seed routes and the API.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include "http.hpp"

#include "context.hpp"
#include "library.hpp"

namespace tagmap::server {

/// "Artist - Title", the title, or the file name.
std::string display_name(const store::TrackRecord& t);
/// The genre label, else the file's genre tag.
std::optional<std::string> genre_of(const store::TrackRecord& t);

/// A track's public fields (no filesystem path: the filename is relative to the root).
nlohmann::json track_json(const store::TrackRecord& t);
nlohmann::json tags_json(const std::vector<store::TagScore>& tags);

/// The `model` parameter: one of the library's models; default the first one. 400 for
/// any other id; 404 when the library has no model results at all.
std::string model_param(const httplib::Request& req, store::Library& lib);

/// Sends JSON with the right content type.
void send_json(httplib::Response& res, const nlohmann::json& j, int status = 200);

/// The cached map of `spec`, or, when it is missing, the status of its background job
/// after waiting at most `wait_seconds` for it. A failed job throws HttpError.
struct MapLookup {
    std::optional<store::Projection> map;
    MapJobStatus job;
};
MapLookup find_map(Context& ctx, const store::MapSpec& spec, double wait_seconds);

/// The 202 answer for a map being computed (also sets Retry-After).
void send_computing(httplib::Response& res, const store::MapSpec& spec, const MapJobStatus& job);

/// Shortest round-trip text of a float (JSON numbers; non-finite values become null).
void append_float(std::string& out, float v);
/// A JSON string literal.
void append_json_string(std::string& out, const std::string& s);

}  // namespace tagmap::server
