// Errors of the HTTP server: every failure answers JSON {"error": <code>, "detail": <words>}
// with the matching status. Handlers throw HttpError; other exceptions become 400 (a
// tagmap::InvalidArgument) or 500 with a generic detail, and the full message goes to the
// server's log only: no stack, no filesystem path reaches a client.
#pragma once

#include <exception>
#include <functional>
#include <string>

#include "http.hpp"

namespace tagmap::server {

class HttpError : public std::exception {
  public:
    HttpError(int status, std::string detail);
    int status() const { return status_; }
    const std::string& detail() const { return detail_; }
    const char* what() const noexcept override { return detail_.c_str(); }

  private:
    int status_;
    std::string detail_;
};

/// The short machine-readable code of a status ("bad_request", "not_found", ...).
const char* error_code(int status);

/// Sets status and the JSON error body.
void send_error(httplib::Response& res, int status, const std::string& detail);

/// Turns the exception in flight into an error response (and logs unexpected ones).
void send_current_exception(httplib::Response& res);

/// httplib's error handler (any status >= 400 without a body gets the JSON form) and
/// exception handler. httplib answers 416 itself, before routing, to a Range header it
/// cannot parse; `reroute` then gets the request (its parsed ranges dropped), so that the
/// audio routes answer with their own 416 (with Content-Range) and other routes as usual.
void install_error_handlers(
    httplib::Server& http,
    std::function<bool(const httplib::Request&, httplib::Response&)> reroute);

/// httplib parses Range headers itself and would re-apply them to whatever body a handler
/// sets (JSON included); the server handles Range only on its audio routes, so the parsed
/// ranges are dropped before routing and the header is read again where it is meant.
void drop_parsed_ranges(const httplib::Request& req);

}  // namespace tagmap::server
