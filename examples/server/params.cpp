#include "params.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "errors.hpp"

namespace tagmap::server {

namespace {

std::optional<std::int64_t> parse_int(const std::string& s) {
    if (s.empty() || s.size() > 20) return std::nullopt;
    std::int64_t v = 0;
    const char* begin = s.data();
    if (*begin == '+') ++begin;
    const auto [end, ec] = std::from_chars(begin, s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return v;
}

}  // namespace

std::optional<std::string> param(const httplib::Request& req, const char* name) {
    if (!req.has_param(name)) return std::nullopt;
    return req.get_param_value(name);
}

std::int64_t int_param(const httplib::Request& req, const char* name, std::int64_t fallback,
                       std::int64_t min, std::int64_t max) {
    const auto text = param(req, name);
    if (!text) return fallback;
    const auto v = parse_int(*text);
    if (!v || *v < min || *v > max)
        throw HttpError(400, std::string("parameter '") + name + "' must be an integer from " +
                                 std::to_string(min) + " to " + std::to_string(max));
    return *v;
}

double seconds_param(const httplib::Request& req, const char* name, double fallback, double max) {
    const auto text = param(req, name);
    if (!text) return fallback;
    char* end = nullptr;
    const double v = text->empty() ? NAN : std::strtod(text->c_str(), &end);
    if (!std::isfinite(v) || end != text->c_str() + text->size() || v < 0 || v > max)
        throw HttpError(400, std::string("parameter '") + name +
                                 "' must be a number of seconds "
                                 "from 0 to " +
                                 std::to_string(int(max)));
    return v;
}

std::string choice_param(const httplib::Request& req, const char* name, const std::string& fallback,
                         std::initializer_list<const char*> choices) {
    const auto text = param(req, name);
    std::string list;
    for (const char* c : choices) list += (list.empty() ? "" : ", ") + std::string(c);
    if (!text) {
        if (fallback.empty())
            throw HttpError(400,
                            std::string("parameter '") + name + "' is required (" + list + ")");
        return fallback;
    }
    for (const char* c : choices)
        if (*text == c) return *text;
    throw HttpError(400, std::string("parameter '") + name + "' must be one of: " + list);
}

std::int64_t parse_track_id(const std::string& text) {
    const auto v = parse_int(text);
    if (!v || *v <= 0) throw HttpError(400, "track ids are positive integers");
    return *v;
}

}  // namespace tagmap::server
