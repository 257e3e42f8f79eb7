// Validation of request parameters: anything malformed or out of range is a 400 with a
// detail that names the parameter and what it accepts.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>

#include "http.hpp"

namespace tagmap::server {

/// The first value of a query parameter, if present.
std::optional<std::string> param(const httplib::Request& req, const char* name);

/// An integer in [min, max]; `fallback` when absent. 400 if not a plain decimal integer
/// or out of range.
std::int64_t int_param(const httplib::Request& req, const char* name, std::int64_t fallback,
                       std::int64_t min, std::int64_t max);

/// A number of seconds in [0, max]; `fallback` when absent.
double seconds_param(const httplib::Request& req, const char* name, double fallback, double max);

/// One of `choices`; `fallback` when absent (an empty fallback makes it required).
std::string choice_param(const httplib::Request& req, const char* name, const std::string& fallback,
                         std::initializer_list<const char*> choices);

/// A track id from a path segment: a positive decimal integer, else 400.
std::int64_t parse_track_id(const std::string& text);

}  // namespace tagmap::server
