#include "static_files.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <system_error>

#include "errors.hpp"
#include "router.hpp"

namespace tagmap::server {

namespace {

const char* content_type(const std::filesystem::path& file) {
    const auto ext = file.extension().string();
    if (ext == ".html" || ext == ".htm") return "text/html; charset=utf-8";
    if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
    if (ext == ".css") return "text/css; charset=utf-8";
    if (ext == ".json" || ext == ".map") return "application/json";
    if (ext == ".png") return "image/png";
    if (ext == ".svg") return "image/svg+xml";
    if (ext == ".ico") return "image/x-icon";
    if (ext == ".wasm") return "application/wasm";
    if (ext == ".txt" || ext == ".md") return "text/plain; charset=utf-8";
    return "application/octet-stream";
}

/// The file below `root` (canonical) that `url_path` names, or empty.
std::filesystem::path resolve(const std::filesystem::path& root, const std::string& url_path) {
    if (url_path.empty() || url_path.front() != '/' || url_path.find('\0') != std::string::npos ||
        url_path.find('\\') != std::string::npos)
        return {};
    std::string rel = url_path.substr(1);
    if (rel.empty() || rel.back() == '/') rel += "index.html";
    const std::filesystem::path p(rel);
    for (const auto& part : p)
        if (part == ".." || part == ".") return {};
    std::error_code ec;
    const auto full = std::filesystem::weakly_canonical(root / p, ec);
    if (ec) return {};
    // Below the root, also after symlinks are resolved.
    const auto [r, f] = std::mismatch(root.begin(), root.end(), full.begin(), full.end());
    if (r != root.end()) return {};
    if (!std::filesystem::is_regular_file(full, ec)) return {};
    return full;
}

}  // namespace

void serve_static_file(const std::filesystem::path& dir, const std::string& url_path,
                       httplib::Response& res) {
    std::error_code ec;
    const auto root = std::filesystem::canonical(dir, ec);
    const auto file = ec ? std::filesystem::path() : resolve(root, url_path);
    std::ifstream in;
    if (!file.empty()) in.open(file, std::ios::binary);
    if (!in) {
        send_error(
            res, 404,
            url_path == "/" ? "the map page is not installed on this server" : "no such file");
        return;
    }
    std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    res.status = 200;
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_content(std::move(body), content_type(file));
}

void mount_static(httplib::Server& http, const std::filesystem::path& dir) {
    const auto handler = [dir](const httplib::Request& req, httplib::Response& res) {
        serve_static_file(dir, req.path, res);
    };
    http.Get("/(?!api/).*", handler);
}

void add_static_routes(Router& router, const std::filesystem::path& dir) {
    router.get("/(?!api/).*", [dir](const httplib::Request& req, httplib::Response& res,
                                    const std::smatch&) { serve_static_file(dir, req.path, res); });
}

}  // namespace tagmap::server
