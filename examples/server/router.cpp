#include "router.hpp"

#include "errors.hpp"

namespace tagmap::server {

void Router::get(const std::string& pattern, RouteHandler handler) {
    routes_.push_back({std::regex(pattern), std::move(handler)});
}

bool Router::dispatch(const httplib::Request& req, httplib::Response& res) const {
    for (const auto& r : routes_) {
        std::smatch m;
        if (!std::regex_match(req.path, m, r.pattern)) continue;
        try {
            r.handler(req, res, m);
        } catch (...) {
            send_current_exception(res);
        }
        return true;
    }
    return false;
}

bool Router::has_path(const std::string& path) const {
    for (const auto& r : routes_)
        if (std::regex_match(path, r.pattern)) return true;
    return false;
}

}  // namespace tagmap::server
