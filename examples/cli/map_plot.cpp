#include "map_plot.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <memory>
#include <numbers>
#include <system_error>

#include <cairo-svg.h>
#include <cairo.h>

#include <tagmap/core/error.hpp>

#include "tagmap_palette.hpp"  // generated from examples/web/palette.json (map_plot.cmake)

namespace tagmap::cli::plot {

const std::vector<std::string>& categorical_colors() {
    static const std::vector<std::string> colors{TAGMAP_PALETTE_CATEGORICAL};
    return colors;
}

const std::string& unlabeled_color() {
    static const std::string color = TAGMAP_PALETTE_UNLABELED;
    return color;
}

const std::string& category_color(std::size_t sorted_index) {
    const auto& colors = categorical_colors();
    return colors[sorted_index % colors.size()];
}

Rgb parse_color(const std::string& hex) {
    auto nibble = [&](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        throw InvalidArgument("not a #rrggbb colour: '" + hex + "'");
    };
    if (hex.size() != 7 || hex[0] != '#')
        throw InvalidArgument("not a #rrggbb colour: '" + hex + "'");
    auto byte = [&](int i) {
        return std::uint8_t(nibble(hex[std::size_t(i)]) * 16 + nibble(hex[std::size_t(i) + 1]));
    };
    return {byte(1), byte(3), byte(5)};
}

Format output_format(const std::filesystem::path& out) {
    std::string ext = out.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    if (ext == ".png") return Format::png;
    if (ext == ".svg") return Format::svg;
    throw InvalidArgument("cannot tell the picture format of " + out.string() +
                          ": the file name must end in .png or .svg");
}

Layout plot_layout(const PlotOptions& o, std::size_t n_points) {
    const double W = o.width, H = o.height;
    Layout l;
    const double u = std::min(W / 1600.0, H / 1200.0);
    l.unit = u;
    const double m = 28 * u, title_h = 40 * u, gap = 24 * u;
    const double legend_w = std::min(300 * u, 0.35 * W);
    l.title = {m, m, W - 2 * m, title_h};
    l.legend = {W - m - legend_w, m + title_h, legend_w, H - 2 * m - title_h};
    l.plot = {m, m + title_h, std::max(0.0, W - 2 * m - legend_w - gap),
              std::max(0.0, H - 2 * m - title_h)};
    const double n = double(std::max<std::size_t>(n_points, 1));
    l.radius = u * std::clamp(40.0 / std::sqrt(n), 2.5, 9.0);
    l.inset = l.radius + 2 * u + 0.03 * std::min(l.plot.w, l.plot.h);
    return l;
}

MapTransform map_transform(const std::vector<Point>& points, const PlotOptions& options) {
    const Layout l = plot_layout(options, points.size());
    MapTransform t;
    t.cx = l.plot.x + l.plot.w / 2;
    t.cy = l.plot.y + l.plot.h / 2;
    double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
    for (const auto& p : points) {
        if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
        x0 = std::min(x0, p.x);
        x1 = std::max(x1, p.x);
        y0 = std::min(y0, p.y);
        y1 = std::max(y1, p.y);
    }
    if (!(x0 <= x1)) return t;  // no finite point
    t.x_mid = (x0 + x1) / 2;
    t.y_mid = (y0 + y1) / 2;
    const double inner_w = std::max(0.0, l.plot.w - 2 * l.inset);
    const double inner_h = std::max(0.0, l.plot.h - 2 * l.inset);
    const double inf = std::numeric_limits<double>::infinity();
    const double sx = x1 > x0 ? inner_w / (x1 - x0) : inf;
    const double sy = y1 > y0 ? inner_h / (y1 - y0) : inf;
    t.scale = std::min(sx, sy);
    if (!std::isfinite(t.scale)) t.scale = 1;
    return t;
}

namespace {

struct SurfaceDeleter {
    void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); }
};
struct ContextDeleter {
    void operator()(cairo_t* c) const { cairo_destroy(c); }
};
using Surface = std::unique_ptr<cairo_surface_t, SurfaceDeleter>;
using Context = std::unique_ptr<cairo_t, ContextDeleter>;

void set_color(cairo_t* cr, const std::string& hex) {
    const Rgb c = parse_color(hex);
    cairo_set_source_rgb(cr, c.r / 255.0, c.g / 255.0, c.b / 255.0);
}

/// Cairo's text functions reject invalid UTF-8 (and then refuse to draw anything more):
/// replace every invalid sequence by U+FFFD.
std::string valid_utf8(const std::string& s) {
    std::string out;
    std::size_t i = 0;
    while (i < s.size()) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        std::size_t len = c < 0x80         ? 1
                          : (c >> 5) == 6  ? 2
                          : (c >> 4) == 14 ? 3
                          : (c >> 3) == 30 ? 4
                                           : 0;
        bool ok = len > 0 && i + len <= s.size();
        std::uint32_t cp = len == 1   ? c
                           : len == 2 ? (c & 0x1f)
                           : len == 3 ? (c & 0x0f)
                                      : (c & 0x07);
        for (std::size_t k = 1; ok && k < len; ++k) {
            const unsigned char cc = static_cast<unsigned char>(s[i + k]);
            ok = (cc & 0xc0) == 0x80;
            cp = (cp << 6) | (cc & 0x3f);
        }
        // Overlong forms, surrogates and values past U+10FFFF are invalid too.
        if (ok && ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
                   (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff)))
            ok = false;
        if (ok && cp == 0) ok = false;  // an embedded NUL would end cairo's C string
        if (ok) {
            out.append(s, i, len);
            i += len;
        } else {
            out += "\xef\xbf\xbd";
            ++i;
        }
    }
    return out;
}

double text_width(cairo_t* cr, const std::string& s) {
    cairo_text_extents_t e;
    cairo_text_extents(cr, s.c_str(), &e);
    return e.x_advance;
}

/// `s` (valid UTF-8), shortened at a character boundary with "…" to fit `max_width`.
std::string fit_text(cairo_t* cr, const std::string& s, double max_width) {
    if (text_width(cr, s) <= max_width) return s;
    const std::string ellipsis = "\xe2\x80\xa6";
    std::string t = s;
    while (!t.empty()) {
        // Drop the last character: its continuation bytes, then its lead byte.
        while (!t.empty() && (static_cast<unsigned char>(t.back()) & 0xc0) == 0x80) t.pop_back();
        if (!t.empty()) t.pop_back();
        if (text_width(cr, t + ellipsis) <= max_width) break;
    }
    return t + ellipsis;
}

void check(cairo_status_t status, const std::filesystem::path& out) {
    if (status != CAIRO_STATUS_SUCCESS)
        throw IoError("cannot write " + out.string() + ": " + cairo_status_to_string(status));
}

PlotSummary draw(cairo_t* cr, const MapPlot& plot, const PlotOptions& o) {
    const Layout l = plot_layout(o, plot.points.size());
    const double u = l.unit;
    const double tu = std::max(u, 0.75);  // text stays legible on small canvases
    PlotSummary summary;
    summary.transform = map_transform(plot.points, o);

    set_color(cr, kBackground);
    cairo_paint(cr);
    cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);

    // Title, top left.
    cairo_set_font_size(cr, 17 * tu);
    set_color(cr, "#333333");
    cairo_move_to(cr, l.title.x, l.title.y + 20 * tu);
    cairo_show_text(cr, fit_text(cr, valid_utf8(plot.title), l.title.w).c_str());

    // Points, in order; an edge in the background colour keeps large dots apart.
    const double edge = l.radius >= 4 * u ? u : 0;
    cairo_set_line_width(cr, edge);
    for (std::size_t i = 0; i < plot.points.size(); ++i) {
        const Point p = plot.points[i];
        if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
        const Point q = summary.transform(p);
        cairo_new_path(cr);
        cairo_arc(cr, q.x, q.y, l.radius, 0, 2 * std::numbers::pi);
        set_color(cr, plot.groups[std::size_t(plot.group[i])].color);
        if (edge > 0) {
            cairo_fill_preserve(cr);
            set_color(cr, kBackground);
            cairo_stroke(cr);
        } else {
            cairo_fill(cr);
        }
    }

    // Legend: an optional heading, then one row per group (swatch, name, count).
    std::vector<std::int64_t> counts(plot.groups.size(), 0);
    for (const int g : plot.group) ++counts[std::size_t(g)];
    const double line = 24 * tu, font = 15 * tu;
    double y = l.legend.y;
    cairo_set_font_size(cr, font);
    cairo_font_extents_t fe;
    cairo_font_extents(cr, &fe);
    const double baseline_offset = (fe.ascent - fe.descent) / 2;  // centres the text on a row
    if (!plot.legend_title.empty()) {
        cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
        set_color(cr, "#333333");
        cairo_move_to(cr, l.legend.x, y + line / 2 + baseline_offset);
        cairo_show_text(cr, fit_text(cr, valid_utf8(plot.legend_title), l.legend.w).c_str());
        cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
                               CAIRO_FONT_WEIGHT_NORMAL);
        y += line;
    }
    const auto rows = std::size_t(std::max(0.0, std::floor((l.legend.y + l.legend.h - y) / line)));
    std::size_t shown = plot.groups.size();
    if (shown > rows) shown = rows > 0 ? rows - 1 : 0;
    for (std::size_t g = 0; g < plot.groups.size(); ++g) {
        if (g >= shown) {
            ++summary.hidden_groups;
            summary.hidden_points += counts[g];
            continue;
        }
        const double cy = y + line / 2;
        LegendEntry e{plot.groups[g].name, "", plot.groups[g].color, counts[g]};
        cairo_new_path(cr);
        cairo_arc(cr, l.legend.x + 7 * tu, cy, 6 * tu, 0, 2 * std::numbers::pi);
        set_color(cr, e.color);
        cairo_fill(cr);
        const std::string count = std::to_string(e.count);
        const double count_w = text_width(cr, count);
        set_color(cr, "#666666");
        cairo_move_to(cr, l.legend.x + l.legend.w - count_w, cy + baseline_offset);
        cairo_show_text(cr, count.c_str());
        e.shown = fit_text(cr, valid_utf8(e.name), l.legend.w - 22 * tu - count_w - 10 * tu);
        set_color(cr, "#222222");
        cairo_move_to(cr, l.legend.x + 22 * tu, cy + baseline_offset);
        cairo_show_text(cr, e.shown.c_str());
        summary.legend.push_back(std::move(e));
        y += line;
    }
    if (summary.hidden_groups > 0) {
        const std::string more = "+ " + std::to_string(summary.hidden_groups) + " more (" +
                                 std::to_string(summary.hidden_points) + ")";
        set_color(cr, "#666666");
        cairo_move_to(cr, l.legend.x + 22 * tu, y + line / 2 + baseline_offset);
        cairo_show_text(cr, fit_text(cr, more, l.legend.w - 22 * tu).c_str());
    }
    return summary;
}

}  // namespace

PlotSummary draw_map(const MapPlot& plot, const PlotOptions& options,
                     const std::filesystem::path& out) {
    const Format format = output_format(out);
    if (options.width < 16 || options.height < 16 || options.width > 16384 ||
        options.height > 16384)
        throw InvalidArgument("picture size " + std::to_string(options.width) + " x " +
                              std::to_string(options.height) +
                              " is out of range (16 to 16384 pixels a side)");
    if (plot.group.size() != plot.points.size())
        throw InvalidArgument("map plot: " + std::to_string(plot.points.size()) + " points but " +
                              std::to_string(plot.group.size()) + " group indices");
    for (const int g : plot.group)
        if (g < 0 || std::size_t(g) >= plot.groups.size())
            throw InvalidArgument("map plot: group index " + std::to_string(g) + " out of range");
    for (const auto& g : plot.groups) parse_color(g.color);

    const std::filesystem::path tmp = out.string() + ".partial";
    auto discard = [&] {
        std::error_code ignored;
        std::filesystem::remove(tmp, ignored);
    };
    PlotSummary summary;
    try {
        Surface surface(
            format == Format::png
                ? cairo_image_surface_create(CAIRO_FORMAT_ARGB32, options.width, options.height)
                : cairo_svg_surface_create(tmp.c_str(), options.width, options.height));
        check(cairo_surface_status(surface.get()), out);
        {
            Context cr(cairo_create(surface.get()));
            summary = draw(cr.get(), plot, options);
            check(cairo_status(cr.get()), out);
        }
        if (format == Format::png)
            check(cairo_surface_write_to_png(surface.get(), tmp.c_str()), out);
        cairo_surface_finish(surface.get());
        check(cairo_surface_status(surface.get()), out);
    } catch (...) {
        discard();
        throw;
    }
    std::error_code ec;
    std::filesystem::rename(tmp, out, ec);
    if (ec) {
        discard();
        throw IoError("cannot write " + out.string() + ": " + ec.message());
    }
    return summary;
}

}  // namespace tagmap::cli::plot
