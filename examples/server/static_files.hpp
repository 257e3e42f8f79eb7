// The map page's files (examples/web, assembled at build time in <build>/web/site; see
// docs/map.md) served over HTTP: GET/HEAD of "/" is index.html, other paths are files
// below the folder. Paths that leave the folder (.., symlinks pointing out) and
// directories are 404 in the server's JSON error form; missing files too.
#pragma once

#include <filesystem>
#include <string>

#include "http.hpp"

namespace tagmap::server {

class Router;

/// Answers `url_path` (decoded, starting with '/') from the files below `dir`: 200 with
/// the file and its content type, else a JSON 404. Never throws for a bad path.
void serve_static_file(const std::filesystem::path& dir, const std::string& url_path,
                       httplib::Response& res);

/// Mounts `dir` at "/" of a plain httplib::Server (GET and HEAD, through httplib's own
/// routing). Note: tagmap::server::Server answers every GET in its pre-routing step, so
/// httplib's routing never sees them there; that server uses add_static_routes().
void mount_static(httplib::Server& http, const std::filesystem::path& dir);

/// Registers the files below `dir` as the Router's last GET route, for every path that
/// does not start with /api/ (so unknown API paths stay JSON 404 "no such route").
/// Call it after the other route groups: the first matching route wins.
void add_static_routes(Router& router, const std::filesystem::path& dir);

}  // namespace tagmap::server
