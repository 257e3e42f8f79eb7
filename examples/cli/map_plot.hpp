// Static pictures of a 2D map for reports and papers (`tagmap plot`), drawn with cairo:
// one filled circle per point in its group's colour, a legend of group names and counts on
// the right, a small title on top, no axes. PNG or SVG, chosen by the file's extension.
//
// Layout, for a canvas of W x H pixels (SVG: user units), every length scaled by
//   u = min(W / 1600, H / 1200):
//   margin m = 28u; title band at the top, 40u high; legend column on the right,
//   L = min(300u, 0.35 W) wide; the plot area is what is left: x in [m, W - m - L - 24u],
//   y in [m + 40u, H - m]. Points have radius r = u * clamp(40 / sqrt(N), 2.5, 9).
//   Text (title 17, legend 15 with 24 a row) scales with max(u, 0.75), to stay legible.
// Transform (map_transform): the points' bounding box is scaled into the plot area shrunk
// by the inset r + 2u + 0.03 min(plot width, plot height) on every side, with ONE scale for
// both axes (distances keep their meaning), centred, y pointing up:
//   px = cx + (x - x_mid) * s,  py = cy - (y - y_mid) * s
// where (x_mid, y_mid) is the bounding box's centre, (cx, cy) the plot area's, and
// s = min(inner width / x range, inner height / y range) (1 when both ranges are 0).
// (px, py) are cairo device coordinates: pixel (i, j) covers [i, i+1) x [j, j+1), so a
// point's centre falls in pixel (floor(px), floor(py)).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace tagmap::cli::plot {

/// The palette of examples/web/palette.json (compiled in at build time): "#rrggbb".
const std::vector<std::string>& categorical_colors();
const std::string& unlabeled_color();
/// Colour of the group at `sorted_index` in the sorted list of group names: the
/// categorical list, cycling.
const std::string& category_color(std::size_t sorted_index);
inline constexpr const char* kBackground = "#ffffff";

struct Rgb {
    std::uint8_t r = 0, g = 0, b = 0;
    bool operator==(const Rgb&) const = default;
};
/// "#rrggbb" (InvalidArgument otherwise).
Rgb parse_color(const std::string& hex);

struct Point {
    double x = 0, y = 0;
};
struct Rect {
    double x = 0, y = 0, w = 0, h = 0;
};

struct Group {
    std::string name;
    std::string color;  ///< "#rrggbb"
};

/// What to draw. Points are drawn in order (later ones on top).
struct MapPlot {
    std::vector<Point> points;  ///< map coordinates (non-finite ones are skipped)
    std::vector<int> group;     ///< per point: index into `groups`
    std::vector<Group> groups;  ///< legend order
    std::string title;
    std::string legend_title;  ///< e.g. "genre"; empty for none
};

struct PlotOptions {
    int width = 1600, height = 1200;
};

enum class Format { png, svg };
/// From the extension (.png or .svg, any case); InvalidArgument otherwise.
Format output_format(const std::filesystem::path& out);

struct Layout {
    double unit = 1;  ///< u
    Rect title, plot, legend;
    double radius = 1;  ///< of a point
    double inset = 1;   ///< the plot area shrinks by this on every side for the points' centres
};
Layout plot_layout(const PlotOptions& options, std::size_t n_points);

/// Map coordinates -> pixel coordinates (see the top of this file).
struct MapTransform {
    double scale = 1;
    double x_mid = 0, y_mid = 0;  ///< centre of the points' bounding box
    double cx = 0, cy = 0;        ///< centre of the plot area
    Point operator()(Point p) const {
        return {cx + (p.x - x_mid) * scale, cy - (p.y - y_mid) * scale};
    }
};
/// The transform draw_map uses for these points on this canvas.
MapTransform map_transform(const std::vector<Point>& points, const PlotOptions& options);

struct LegendEntry {
    std::string name;   ///< the group's name
    std::string shown;  ///< as drawn (shortened with "…" when too wide)
    std::string color;
    std::int64_t count = 0;
};
struct PlotSummary {
    std::vector<LegendEntry> legend;  ///< drawn entries, legend order
    std::size_t hidden_groups = 0;    ///< not drawn for lack of room ("+ N more" line)
    std::int64_t hidden_points = 0;   ///< points in those groups
    MapTransform transform;
};

/// Draws the map to `out` (written under a temporary name, then renamed). IoError when the
/// file cannot be written, InvalidArgument for a bad extension, size or group index.
PlotSummary draw_map(const MapPlot& plot, const PlotOptions& options,
                     const std::filesystem::path& out);

}  // namespace tagmap::cli::plot
