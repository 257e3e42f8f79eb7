// The server's own routing table. All routes are GET (HEAD is served as GET without a
// body); they are matched in the pre-routing step, so the server alone decides between
// 404 (no route has this path) and 405 (a route has it, the method is not GET/HEAD).
#pragma once

#include <functional>
#include <regex>
#include <string>
#include <vector>

#include "http.hpp"

namespace tagmap::server {

using RouteHandler =
    std::function<void(const httplib::Request&, httplib::Response&, const std::smatch&)>;

class Router {
  public:
    /// `pattern` must match the whole decoded path (std::regex_match).
    void get(const std::string& pattern, RouteHandler handler);
    /// Runs the handler of the first matching route, turning exceptions into JSON errors.
    /// False if no route matches the path.
    bool dispatch(const httplib::Request& req, httplib::Response& res) const;
    bool has_path(const std::string& path) const;

  private:
    struct Route {
        std::regex pattern;
        RouteHandler handler;
    };
    std::vector<Route> routes_;
};

}  // namespace tagmap::server
