#include "server.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "http.hpp"

#include <tagmap/core/error.hpp>

#include "context.hpp"
#include "errors.hpp"
#include "router.hpp"
#include "static_files.hpp"

namespace tagmap::server {

namespace {

constexpr std::size_t kMaxPathLength = 4096;

/// httplib compresses with brotli at the encoder's default quality (11) whenever a client
/// accepts it, which takes seconds for a large map; such clients are answered with gzip.
void refuse_brotli(const httplib::Request& req) {
    auto& headers = const_cast<httplib::Headers&>(req.headers);  // httplib's own, mutable
    const auto it = headers.find("Accept-Encoding");
    if (it == headers.end() || it->second.find("br") == std::string::npos) return;
    std::string kept;
    std::size_t start = 0;
    while (start <= it->second.size()) {
        auto end = it->second.find(',', start);
        if (end == std::string::npos) end = it->second.size();
        auto token = it->second.substr(start, end - start);
        token.erase(0, token.find_first_not_of(" \t"));
        if (!token.empty() && token.compare(0, 2, "br") != 0)
            kept += (kept.empty() ? "" : ", ") + token;
        start = end + 1;
    }
    it->second = kept.empty() ? "identity" : kept;
}

}  // namespace

struct Server::Impl {
    Impl(const std::filesystem::path& db, const ServerOptions& o) : ctx(db, o) {
        { store::Library check(db, store::OpenMode::read_only, o.busy_timeout_ms); }
        add_seed_routes(router, ctx);
        add_api_routes(router, ctx);
        add_map_lod_routes(router, ctx);
        add_audio_routes(router, ctx);
        add_chunk_routes(router, ctx);
        add_series_routes(router, ctx);
        add_upload_routes(http, router, ctx, ctx.uploads, o.max_upload_bytes);
        if (!o.web_dir.empty()) add_static_routes(router, o.web_dir);  // last: it takes the rest
        configure();
    }

    void configure() {
        const auto threads = std::size_t(std::max(1, ctx.options.threads));
        http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
        http.set_keep_alive_max_count(100);  // then reconnect: fair to waiting clients
        http.set_keep_alive_timeout(5);
        // Only the upload route takes a body; others with one are read, then refused.
        http.set_payload_max_length(ctx.options.max_upload_bytes + (1u << 20));
        install_error_handlers(http, [this](const httplib::Request& req, httplib::Response& res) {
            if ((req.method != "GET" && req.method != "HEAD") || req.path.size() > kMaxPathLength)
                return false;
            res.status = -1;
            return router.dispatch(req, res);
        });
        http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
            drop_parsed_ranges(req);
            refuse_brotli(req);
            // Methods that may carry a body go through httplib's routing, which reads it
            // (keep-alive stays in sync), to the 405/404 handler below.
            if (req.method == "POST" || req.method == "PUT" || req.method == "PATCH" ||
                req.method == "DELETE")
                return httplib::Server::HandlerResponse::Unhandled;
            if (req.path.size() > kMaxPathLength)
                send_error(res, 414, "request path too long");
            else if (req.method != "GET" && req.method != "HEAD")
                not_allowed(req, res);
            else if (!router.dispatch(req, res))
                send_error(res, 404, "no such route");
            return httplib::Server::HandlerResponse::Handled;
        });
        const auto refuse = [this](const httplib::Request& req, httplib::Response& res) {
            not_allowed(req, res);
        };
        http.Post(".*", refuse);
        http.Put(".*", refuse);
        http.Patch(".*", refuse);
        http.Delete(".*", refuse);
        if (ctx.options.log_requests)
            http.set_logger([](const httplib::Request& req, const httplib::Response& res) {
                std::fprintf(stderr, "%s %s %s -> %d\n", req.remote_addr.c_str(),
                             req.method.c_str(), req.path.c_str(), res.status);
            });
    }

    void not_allowed(const httplib::Request& req, httplib::Response& res) {
        if (req.path.size() <= kMaxPathLength && router.has_path(req.path)) {
            res.set_header("Allow", "GET, HEAD");
            send_error(res, 405, "this route only answers GET and HEAD");
        } else {
            send_error(res, 404, "no such route");
        }
    }

    Context ctx;
    Router router;
    httplib::Server http;
    std::atomic<bool> stopped{false}, listening{false};
};

Server::Server(const std::filesystem::path& db, ServerOptions options)
    : impl_(std::make_unique<Impl>(db, options)) {}

Server::~Server() {
    stop();
}

int Server::bind(const std::string& host, int port) {
    if (port < 0 || port > 65535) throw InvalidArgument("port must be 0 to 65535");
    const int bound = port == 0 ? impl_->http.bind_to_any_port(host)
                                : (impl_->http.bind_to_port(host, port) ? port : -1);
    if (bound <= 0)
        throw IoError("cannot listen on " + host + ":" + std::to_string(port) +
                      " (address in use, or not an address of this machine?)");
    return bound;
}

void Server::listen() {
    if (impl_->stopped) return;
    impl_->listening = true;
    impl_->http.listen_after_bind();
    impl_->listening = false;
}

void Server::stop() {
    impl_->stopped = true;
    // listen() may have been entered without httplib running yet: wait for it, so that
    // stop() never leaves a listen() behind.
    while (impl_->listening && !impl_->http.is_running())
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    impl_->http.stop();
    impl_->ctx.jobs.stop();
    impl_->ctx.uploads.stop();
    impl_->ctx.details.stop();
}

bool Server::running() const {
    return impl_->http.is_running();
}

ServerStats Server::stats() const {
    ServerStats s;
    s.map_jobs_started = impl_->ctx.jobs.started();
    s.details_builds = impl_->ctx.details.builds();
    s.connections_opened = impl_->ctx.pool.opened();
    return s;
}

}  // namespace tagmap::server
