// What the plot tests share: a temporary folder per test, running the tagmap binary, reading
// a PNG back with cairo, the palette file, and checking that every point of a map is drawn
// in its colour where map_transform() says.
#pragma once

#include <gtest/gtest.h>

#include <cairo.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fixtures.hpp"
#include "map_plot.hpp"
#include "program.hpp"
#include "tagmap_palette.hpp"

namespace tagmap::plot_test {

namespace fs = std::filesystem;
namespace plot = tagmap::cli::plot;

using test::RunResult;
using test::TempDir;
inline std::string slurp(const fs::path& p) {
    return test::read_file(p);
}
inline std::string quote(const std::string& s) {
    return test::shell_quote(s);
}

/// Fontconfig (under cairo's text) keeps what it parsed for the life of the process, which
/// LeakSanitizer reports at exit; not tagmap's allocation. Told to the test programs with
/// __lsan_default_suppressions (test_*.cpp) and to the tagmap binary through LSAN_OPTIONS.
inline constexpr const char* kLsanSuppressions = "leak:libfontconfig.so\n";

/// Runs a built program of the project with the fontconfig suppressions; its output lands
/// in `dir`.
inline RunResult run(const fs::path& dir, const char* program,
                     const std::vector<std::string>& args) {
    const auto suppressions = dir / "lsan-suppressions.txt";
    std::ofstream(suppressions) << kLsanSuppressions;
    ::setenv("LSAN_OPTIONS", ("suppressions=" + suppressions.string()).c_str(), 1);
    return test::run_program(program, args, dir);
}

/// A PNG read back with cairo.
class Png {
  public:
    explicit Png(const fs::path& file)
        : s_(cairo_image_surface_create_from_png(file.c_str()), cairo_surface_destroy) {}
    bool ok() const { return cairo_surface_status(s_.get()) == CAIRO_STATUS_SUCCESS; }
    int width() const { return cairo_image_surface_get_width(s_.get()); }
    int height() const { return cairo_image_surface_get_height(s_.get()); }
    /// The colour of pixel (x, y) (opaque pictures: alpha is ignored).
    plot::Rgb at(int x, int y) const {
        cairo_surface_flush(s_.get());
        const unsigned char* data = cairo_image_surface_get_data(s_.get());
        const int stride = cairo_image_surface_get_stride(s_.get());
        std::uint32_t v = 0;
        std::memcpy(&v, data + std::ptrdiff_t(y) * stride + 4 * x, 4);
        return {std::uint8_t(v >> 16), std::uint8_t(v >> 8), std::uint8_t(v)};
    }

  private:
    std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)> s_;
};

inline std::string hex(plot::Rgb c) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "#%02x%02x%02x", c.r, c.g, c.b);
    return buf;
}

/// examples/web/palette.json, read at run time (the binary has it compiled in).
inline nlohmann::json palette_file() {
    return nlohmann::json::parse(slurp(TAGMAP_PALETTE_FILE));
}

/// Checks that the centre pixel of every point is its colour, for points no other point of
/// a different colour comes near (overlaps are legitimately covered); returns how many
/// points were checked. Also checks that a spot of the plot area far from every point is
/// background.
inline int expect_points_drawn(const Png& png, const std::vector<plot::Point>& points,
                               const std::vector<std::string>& colors,
                               const plot::PlotOptions& options) {
    const auto t = plot::map_transform(points, options);
    const auto layout = plot::plot_layout(options, points.size());
    const double clear = 2 * layout.radius + 2 * layout.unit + 2;
    int checked = 0;
    std::vector<plot::Point> px;
    for (const auto& p : points) px.push_back(t(p));
    for (std::size_t i = 0; i < points.size(); ++i) {
        bool covered = false;
        for (std::size_t j = 0; j < points.size(); ++j)
            if (j != i && colors[j] != colors[i] &&
                std::hypot(px[j].x - px[i].x, px[j].y - px[i].y) < clear)
                covered = true;
        if (covered) continue;
        const int x = int(std::floor(px[i].x)), y = int(std::floor(px[i].y));
        EXPECT_GE(x, layout.plot.x);
        EXPECT_LT(x, layout.plot.x + layout.plot.w);
        EXPECT_GE(y, layout.plot.y);
        EXPECT_LT(y, layout.plot.y + layout.plot.h);
        EXPECT_EQ(hex(png.at(x, y)), colors[i]) << "point " << i << " at pixel " << x << "," << y;
        ++checked;
    }
    // Background: the grid spot of the plot area farthest from every point.
    double best = -1;
    int bx = 0, by = 0;
    for (double gy = layout.plot.y + 2; gy < layout.plot.y + layout.plot.h - 2; gy += 7)
        for (double gx = layout.plot.x + 2; gx < layout.plot.x + layout.plot.w - 2; gx += 7) {
            double d = 1e300;
            for (const auto& q : px) d = std::min(d, std::hypot(q.x - gx, q.y - gy));
            if (d > best) best = d, bx = int(gx), by = int(gy);
        }
    EXPECT_GT(best, 3 * layout.radius);
    EXPECT_EQ(hex(png.at(bx, by)), plot::kBackground) << "background at " << bx << "," << by;
    return checked;
}

}  // namespace tagmap::plot_test
