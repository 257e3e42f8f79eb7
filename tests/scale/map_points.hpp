// What the scale tests compare maps by: every point of a cached map, keyed by filename,
// with how it was placed (fit or transform) and the bits of its coordinates.
#pragma once

#include <bit>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "library.hpp"
#include "projection_cache.hpp"

namespace tagmap::store::test {

inline std::map<std::string, std::string> map_points(const std::filesystem::path& file,
                                                     const MapSpec& spec) {
    Library lib(file, OpenMode::read_only);
    const auto p =
        lib.projection({spec.model_id, spec.source, spec.method, spec.dims, map_params(spec)});
    std::map<std::string, std::string> out;
    if (!p) return out;
    for (std::size_t i = 0; i < p->track_ids.size(); ++i) {
        std::string row = p->transformed[i] ? "transform" : "fit";
        for (int d = 0; d < spec.dims; ++d)
            row.append(1, ' ').append(
                std::to_string(std::bit_cast<std::uint32_t>(p->coords(Eigen::Index(i), d))));
        out[lib.track(p->track_ids[i])->filename] = row;
    }
    return out;
}

}  // namespace tagmap::store::test
