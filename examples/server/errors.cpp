#include "errors.hpp"

#include <cstdio>

#include <nlohmann/json.hpp>

#include <tagmap/core/error.hpp>

namespace tagmap::server {

HttpError::HttpError(int status, std::string detail)
    : status_(status), detail_(std::move(detail)) {}

const char* error_code(int status) {
    switch (status) {
        case 400:
            return "bad_request";
        case 403:
            return "forbidden";
        case 404:
            return "not_found";
        case 405:
            return "method_not_allowed";
        case 409:
            return "conflict";
        case 413:
            return "payload_too_large";
        case 415:
            return "unsupported_media_type";
        case 414:
            return "uri_too_long";
        case 416:
            return "range_not_satisfiable";
        case 500:
            return "internal_error";
        case 503:
            return "unavailable";
        default:
            return status >= 500 ? "internal_error" : "error";
    }
}

void send_error(httplib::Response& res, int status, const std::string& detail) {
    res.status = status;
    const nlohmann::json body = {{"error", error_code(status)}, {"detail", detail}};
    // Replace: a handler may have set a body or a content provider before failing.
    res.body.clear();
    res.set_content(body.dump(), "application/json");
}

void send_current_exception(httplib::Response& res) {
    try {
        throw;
    } catch (const HttpError& e) {
        send_error(res, e.status(), e.detail());
    } catch (const InvalidArgument& e) {
        // The store's and the map code's argument errors name values, never paths.
        send_error(res, 400, e.what());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "tagmap serve: error: %s\n", e.what());
        send_error(res, 500, "the server failed to answer this request (see the server log)");
    } catch (...) {
        std::fprintf(stderr, "tagmap serve: error: unknown exception\n");
        send_error(res, 500, "the server failed to answer this request (see the server log)");
    }
}

void drop_parsed_ranges(const httplib::Request& req) {
    // The Request object itself is not const (httplib owns a mutable one and hands out a
    // const reference), so this cast is well-defined.
    const_cast<httplib::Request&>(req).ranges.clear();
}

void install_error_handlers(
    httplib::Server& http,
    std::function<bool(const httplib::Request&, httplib::Response&)> reroute) {
    http.set_error_handler(httplib::Server::HandlerWithResponse(
        [reroute](const httplib::Request& req, httplib::Response& res) {
            drop_parsed_ranges(req);
            if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;  // ours
            if (res.status == 416 && reroute && reroute(req, res))
                return httplib::Server::HandlerResponse::Handled;
            std::string detail;
            switch (res.status) {
                case 400:
                    detail = "malformed request";
                    break;
                case 404:
                    detail = "no such route";
                    break;
                case 414:
                    detail = "request line too long";
                    break;
                case 416:
                    detail = "malformed Range header";
                    break;
                default:
                    detail = error_code(res.status);
                    break;
            }
            send_error(res, res.status, detail);
            return httplib::Server::HandlerResponse::Handled;
        }));
    http.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
            try {
                std::rethrow_exception(ep);
            } catch (...) {
                send_current_exception(res);
            }
        });
}

}  // namespace tagmap::server
