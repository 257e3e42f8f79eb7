// tagmap plot without audio: the drawing (map_plot.cpp) on synthetic points, and the
// command on a library written with the store API, its map stored directly in the
// projection cache (known coordinates, no model run, so fast and sanitizer-friendly).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>

#include <tagmap/core/error.hpp>

#include "library.hpp"
#include "plot_test_util.hpp"
#include "projection_cache.hpp"

extern "C" const char* __lsan_default_suppressions() {
    return tagmap::plot_test::kLsanSuppressions;
}

namespace {

using namespace tagmap::plot_test;
namespace store = tagmap::store;

// ---------------------------------------------------------------- the drawing

TEST(MapPlot, PaletteIsTheSharedFile) {
    const auto file = palette_file();
    ASSERT_EQ(file["categorical"].size(), plot::categorical_colors().size());
    for (std::size_t i = 0; i < plot::categorical_colors().size(); ++i)
        EXPECT_EQ(plot::categorical_colors()[i], file["categorical"][i].get<std::string>());
    EXPECT_EQ(plot::unlabeled_color(), file["unlabeled"].get<std::string>());
    EXPECT_EQ(plot::categorical_colors().front(), "#4e79a7");  // Tableau 10
    EXPECT_EQ(plot::unlabeled_color(), "#c0c0c0");
    // The list cycles.
    const auto n = plot::categorical_colors().size();
    EXPECT_EQ(plot::category_color(n), plot::category_color(0));
    EXPECT_EQ(plot::category_color(n + 3), plot::category_color(3));
    EXPECT_EQ(plot::parse_color("#4E79a7"), (plot::Rgb{0x4e, 0x79, 0xa7}));
    EXPECT_THROW(plot::parse_color("4e79a7"), tagmap::InvalidArgument);
    EXPECT_THROW(plot::parse_color("#4e79ag"), tagmap::InvalidArgument);
}

TEST(MapPlot, TransformKeepsTheAspectAndFillsThePlotArea) {
    const plot::PlotOptions o{1600, 1200};
    const auto l = plot::plot_layout(o, 3);
    EXPECT_DOUBLE_EQ(l.unit, 1.0);
    // Wide data: the x range fills the inner width, y uses the same scale.
    const std::vector<plot::Point> pts{{-10, 0}, {10, 1}, {0, 0.5}};
    const auto t = plot::map_transform(pts, o);
    const double pad = l.inset;
    EXPECT_DOUBLE_EQ(pad, l.radius + 2 * l.unit + 0.03 * std::min(l.plot.w, l.plot.h));
    EXPECT_NEAR(t(pts[0]).x, l.plot.x + pad, 1e-9);
    EXPECT_NEAR(t(pts[1]).x, l.plot.x + l.plot.w - pad, 1e-9);
    EXPECT_NEAR(t(pts[2]).x, l.plot.x + l.plot.w / 2, 1e-9);
    EXPECT_NEAR(t(pts[0]).y - t(pts[1]).y, t.scale, 1e-9);  // y up, same scale
    EXPECT_NEAR(t(pts[2]).y, l.plot.y + l.plot.h / 2, 1e-9);
    // Tall data: the y range fills the inner height.
    const auto tall = plot::map_transform({{0, -3}, {1, 5}}, o);
    EXPECT_NEAR(tall({0, 5}).y, l.plot.y + pad, 1e-9);
    EXPECT_NEAR(tall({0, -3}).y, l.plot.y + l.plot.h - pad, 1e-9);
    // One point, or all at one place: the centre of the plot area.
    for (const auto& same : {std::vector<plot::Point>{{3, 4}}, {{3, 4}, {3, 4}}}) {
        const auto c = plot::map_transform(same, o);
        EXPECT_DOUBLE_EQ(c({3, 4}).x, l.plot.x + l.plot.w / 2);
        EXPECT_DOUBLE_EQ(c({3, 4}).y, l.plot.y + l.plot.h / 2);
    }
    // Non-finite points do not widen the box.
    const auto nan = plot::map_transform({{-10, 0}, {10, 1}, {NAN, 1e9}, {0, INFINITY}}, o);
    EXPECT_DOUBLE_EQ(nan.scale, plot::map_transform({{-10, 0}, {10, 1}}, o).scale);
    // The layout scales with the canvas.
    const auto half = plot::plot_layout({800, 600}, 3);
    EXPECT_DOUBLE_EQ(half.unit, 0.5);
    EXPECT_DOUBLE_EQ(half.radius, l.radius / 2);
    EXPECT_GT(l.plot.w, 0.6 * 1600);
}

/// Points on a spiral in `n_groups` groups.
plot::MapPlot spiral(int n, int n_groups) {
    plot::MapPlot mp;
    for (int g = 0; g < n_groups; ++g)
        mp.groups.push_back({"group " + std::to_string(g), plot::category_color(std::size_t(g))});
    for (int i = 0; i < n; ++i) {
        const double a = 0.7 * i, r = 1 + 0.3 * i;
        mp.points.push_back({r * std::cos(a) + 100, r * std::sin(a) - 50});
        mp.group.push_back(i % n_groups);
    }
    mp.title = "spiral";
    mp.legend_title = "group";
    return mp;
}

TEST(MapPlot, PngHasTheSizeAndEveryPointInItsColour) {
    TempDir dir("tagmap-plot-png");
    for (const plot::PlotOptions o : {plot::PlotOptions{1600, 1200}, plot::PlotOptions{900, 700}}) {
        const auto mp = spiral(30, 4);
        const auto out = dir / "map.png";
        const auto summary = plot::draw_map(mp, o, out);
        EXPECT_FALSE(fs::exists(dir / "map.png.partial"));
        const Png png(out);
        ASSERT_TRUE(png.ok());
        EXPECT_EQ(png.width(), o.width);
        EXPECT_EQ(png.height(), o.height);
        std::vector<std::string> colors;
        for (const int g : mp.group) colors.push_back(mp.groups[std::size_t(g)].color);
        EXPECT_GE(expect_points_drawn(png, mp.points, colors, o), 25);
        ASSERT_EQ(summary.legend.size(), 4u);
        for (std::size_t g = 0; g < 4; ++g) {
            EXPECT_EQ(summary.legend[g].name, "group " + std::to_string(g));
            EXPECT_EQ(summary.legend[g].shown, summary.legend[g].name);
            EXPECT_EQ(summary.legend[g].color, plot::category_color(g));
            EXPECT_EQ(summary.legend[g].count, g < 2 ? 8 : 7);
        }
        EXPECT_EQ(summary.hidden_groups, 0u);
        const auto t = plot::map_transform(mp.points, o);
        EXPECT_DOUBLE_EQ(summary.transform.scale, t.scale);
        EXPECT_DOUBLE_EQ(summary.transform.cx, t.cx);
    }
}

TEST(MapPlot, SvgIsWrittenForTheSvgExtension) {
    TempDir dir("tagmap-plot-svg");
    const auto out = dir / "Map.SVG";
    plot::draw_map(spiral(20, 3), {1000, 700}, out);
    const std::string svg = slurp(out);
    EXPECT_EQ(svg.rfind("<?xml", 0), 0u) << svg.substr(0, 100);
    EXPECT_NE(svg.find("<svg"), std::string::npos);
    EXPECT_NE(svg.find("viewBox=\"0 0 1000 700\""), std::string::npos) << svg.substr(0, 300);
    EXPECT_NE(svg.find("</svg>"), std::string::npos);
    EXPECT_FALSE(fs::exists(dir / "Map.SVG.partial"));
}

TEST(MapPlot, LongLegendsAreCutAndCounted) {
    TempDir dir("tagmap-plot-legend");
    auto mp = spiral(300, 100);  // 100 groups do not fit at 800 x 600
    mp.groups[0].name = "a genre name far too long to fit in the legend column of the map";
    mp.groups[1].name = std::string("bad \xff\xfe utf-8 \xc3");  // drawn, not fatal
    const auto summary = plot::draw_map(mp, {800, 600}, dir / "map.png");
    ASSERT_GT(summary.hidden_groups, 0u);
    EXPECT_EQ(summary.legend.size() + summary.hidden_groups, 100u);
    std::int64_t total = summary.hidden_points;
    for (const auto& e : summary.legend) total += e.count;
    EXPECT_EQ(total, 300);
    const auto& cut = summary.legend[0].shown;
    EXPECT_NE(cut, mp.groups[0].name);
    EXPECT_EQ(cut.substr(cut.size() - 3), "\xe2\x80\xa6");  // ends with "…"
    EXPECT_EQ(mp.groups[0].name.rfind(cut.substr(0, cut.size() - 3), 0), 0u);
    EXPECT_EQ(summary.legend[1].shown, "bad \xef\xbf\xbd\xef\xbf\xbd utf-8 \xef\xbf\xbd");
    EXPECT_TRUE(Png(dir / "map.png").ok());
}

TEST(MapPlot, BadInputsAreRefusedAndLeaveNoFile) {
    TempDir dir("tagmap-plot-bad");
    const auto mp = spiral(5, 2);
    for (const char* name : {"map.jpg", "map", "map.png.bak", "png"}) {
        try {
            plot::draw_map(mp, {}, dir / name);
            ADD_FAILURE() << name;
        } catch (const tagmap::InvalidArgument& e) {
            EXPECT_NE(std::string(e.what()).find(".png or .svg"), std::string::npos) << e.what();
        }
        EXPECT_FALSE(fs::exists(dir / name));
    }
    EXPECT_THROW(plot::draw_map(mp, {}, dir / "no" / "such" / "folder.png"), tagmap::IoError);
    EXPECT_THROW(plot::draw_map(mp, {}, dir / "no" / "such" / "folder.svg"), tagmap::IoError);
    auto wrong = mp;
    wrong.group[2] = 7;
    EXPECT_THROW(plot::draw_map(wrong, {}, dir / "map.png"), tagmap::InvalidArgument);
    EXPECT_THROW(plot::draw_map(mp, {10, 10}, dir / "map.png"), tagmap::InvalidArgument);
    EXPECT_TRUE(fs::is_empty(dir.path()));
}

// ---------------------------------------------------------------- the command

const char* const kModel = "musicnn-mtat";

store::ModelRecord model_record() {
    store::ModelRecord m;
    m.model_id = kModel;
    m.model = "musicnn";
    m.dataset = "mtat";
    m.n_tags = 3;
    m.embedding_dim = 4;
    m.input_samples = 48000;
    m.weights_digest = "digest";
    m.weights_file = "/weights/musicnn-mtat.tmw";
    m.tag_names = {"rock", "piano", "quiet"};
    return m;
}

/// 12 tracks: labels (jazz x3, rock x4, Ambient x1), two with only a genre tag (blues), two
/// with nothing; top tag i % 3; the umap embedding map is stored with known coordinates.
class PlotCommand : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = std::make_unique<TempDir>("tagmap-plot");
        db_ = (*dir_ / "library.db").string();
        auto lib = store::Library::create(db_);
        lib.upsert_model(model_record());
        const std::vector<std::string> label = {"jazz", "rock", "jazz", "rock", "Ambient", "",
                                                "",     "rock", "jazz", "",     "rock",    ""};
        const std::vector<std::string> tag = {"", "", "", "",      "", "blues",
                                              "", "", "", "blues", "", ""};
        std::map<std::int64_t, std::string> labels;
        store::Projection p;
        p.key = key("umap", store::Source::embedding);
        p.input_digest = "synthetic";
        p.coords.resize(12, 2);
        for (int i = 0; i < 12; ++i) {
            store::TrackRecord t;
            t.filename = std::string(1, 't').append(std::to_string(i)).append(".wav");
            t.size_bytes = 1000 + i;
            t.mtime_ns = 1;
            if (!tag[std::size_t(i)].empty()) t.genre = tag[std::size_t(i)];
            const auto id = lib.upsert_track(t);
            store::TrackResult r;
            r.model_id = kModel;
            r.weights_digest = "digest";
            r.source_size = t.size_bytes;
            r.source_mtime_ns = 1;
            r.audio_seconds = 3;
            r.chunks = 1;
            r.chunk_hop = 48000;
            r.embedding_dim = 4;
            r.n_tags = 3;
            r.embedding = {float(i), 1, 2, 3};
            r.taggram = {0.1f, 0.1f, 0.1f};
            r.taggram[std::size_t(i % 3)] = 0.9f;
            r.chunk_embeddings = r.embedding;
            r.chunk_taggrams = r.taggram;
            lib.store_track(id, {r}, {}, true);
            if (!label[std::size_t(i)].empty()) labels[id] = label[std::size_t(i)];
            ids_.push_back(id);
            p.track_ids.push_back(id);
            // A loose grid, far enough apart that no point hides another.
            p.coords(i, 0) = float(i % 4) * 2.5f - 1;
            p.coords(i, 1) = float(i / 4) * 3.0f + 7;
        }
        p.fitted_rows = 12;
        lib.replace_labels(labels, "csv");
        lib.store_projection(p);
        coords_ = p.coords;
    }

    static store::ProjectionKey key(const std::string& method, store::Source source) {
        store::MapSpec spec;
        spec.model_id = kModel;
        spec.source = source;
        spec.method = method;
        return {kModel, source, method, 2, store::map_params(spec)};
    }

    RunResult plot(std::vector<std::string> args) {
        args.insert(args.begin(), {"plot", "--db", db_});
        return run(dir_->path(), "tagmap", args);
    }

    std::vector<plot::Point> points() const {
        std::vector<plot::Point> pts;
        for (Eigen::Index i = 0; i < coords_.rows(); ++i)
            pts.push_back({coords_(i, 0), coords_(i, 1)});
        return pts;
    }

    std::unique_ptr<TempDir> dir_;
    std::string db_;
    std::vector<std::int64_t> ids_;
    store::RowMatrixF coords_;
};

TEST_F(PlotCommand, PngOfTheCachedMapColouredByGenre) {
    const auto out = *dir_ / "map.png";
    const auto r = plot({"--out", out.string(), "--json"});
    ASSERT_EQ(r.code, 0) << r.text();
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["model"], kModel);
    EXPECT_EQ(j["points"], 12);
    // Groups in sorted (byte) order take the palette in turn; unlabelled last, grey.
    const auto pal = palette_file()["categorical"];
    const std::vector<std::pair<std::string, int>> expected = {
        {"Ambient", 1}, {"blues", 2}, {"jazz", 3}, {"rock", 4}, {"(unlabelled)", 2}};
    ASSERT_EQ(j["legend"].size(), expected.size()) << j.dump(1);
    std::map<std::string, std::string> color_of;
    for (std::size_t k = 0; k < expected.size(); ++k) {
        const auto& e = j["legend"][k];
        EXPECT_EQ(e["name"], expected[k].first);
        EXPECT_EQ(e["count"], expected[k].second);
        const bool unlabeled = k + 1 == expected.size();
        EXPECT_EQ(e["unlabeled"], unlabeled);
        EXPECT_EQ(e["color"], unlabeled ? palette_file()["unlabeled"] : pal[k]);
        color_of[expected[k].first] = e["color"];
    }
    const Png png(out);
    ASSERT_TRUE(png.ok());
    EXPECT_EQ(png.width(), 1600);
    EXPECT_EQ(png.height(), 1200);
    // Each point where map_transform puts the stored coordinates, in its group's colour.
    const std::vector<std::string> group = {"jazz",    "rock",  "jazz",         "rock",
                                            "Ambient", "blues", "(unlabelled)", "rock",
                                            "jazz",    "blues", "rock",         "(unlabelled)"};
    std::vector<std::string> colors;
    for (const auto& g : group) colors.push_back(color_of[g]);
    EXPECT_EQ(expect_points_drawn(png, points(), colors, {1600, 1200}), 12);
    EXPECT_DOUBLE_EQ(j["transform"]["scale"].get<double>(),
                     plot::map_transform(points(), {1600, 1200}).scale);

    // The plain summary lists the legend too.
    const auto text = plot({"--out", out.string(), "--width", "800", "--height", "640"});
    ASSERT_EQ(text.code, 0) << text.text();
    EXPECT_NE(text.out.find("jazz"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("#c0c0c0"), std::string::npos) << text.out;
    const Png small(out);
    EXPECT_EQ(small.width(), 800);
    EXPECT_EQ(small.height(), 640);
    EXPECT_EQ(expect_points_drawn(small, points(), colors, {800, 640}), 12);
}

TEST_F(PlotCommand, SvgAndColourByTopTag) {
    const auto out = *dir_ / "map.svg";
    const auto r = plot({"--out", out.string(), "--color", "tag", "--json"});
    ASSERT_EQ(r.code, 0) << r.text();
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["format"], "svg");
    // Top tag of track i is tag i % 3: piano, quiet, rock (sorted), 4 each.
    const std::vector<std::string> names = {"piano", "quiet", "rock"};
    ASSERT_EQ(j["legend"].size(), 3u) << j.dump(1);
    for (std::size_t k = 0; k < 3; ++k) {
        EXPECT_EQ(j["legend"][k]["name"], names[k]);
        EXPECT_EQ(j["legend"][k]["count"], 4);
        EXPECT_EQ(j["legend"][k]["color"], plot::category_color(k));
    }
    EXPECT_NE(slurp(out).find("viewBox=\"0 0 1600 1200\""), std::string::npos);

    const auto png = *dir_ / "tags.png";
    ASSERT_EQ(plot({"--out", png.string(), "--color", "tag"}).code, 0);
    const std::vector<std::string> tag_of = {"rock", "piano", "quiet"};
    std::vector<std::string> colors;
    for (int i = 0; i < 12; ++i) {
        const auto& t = tag_of[std::size_t(i % 3)];
        colors.push_back(plot::category_color(
            std::size_t(std::find(names.begin(), names.end(), t) - names.begin())));
    }
    EXPECT_EQ(expect_points_drawn(Png(png), points(), colors, {1600, 1200}), 12);
}

TEST_F(PlotCommand, MissingMapsAndBadArgumentsGiveClearErrors) {
    const auto out = (*dir_ / "map.png").string();
    // Not cached: t-SNE, the taggram map, other map options. Nothing is computed.
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"--method", "tsne"}, {"--source", "taggram"}, {"--seed", "7"}}) {
        auto a = args;
        a.insert(a.end(), {"--out", out});
        const auto r = plot(a);
        EXPECT_EQ(r.code, 1) << r.text();
        EXPECT_NE(r.err.find("no cached 2D"), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("run `tagmap project --db " + db_ + "`"), std::string::npos) << r.err;
        EXPECT_FALSE(fs::exists(out));
    }
    {
        store::Library lib(db_, store::OpenMode::read_only);
        EXPECT_FALSE(lib.projection(key("tsne", store::Source::embedding)));
    }
    auto r = plot({"--model", "vgg-mtat", "--out", out});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("model vgg-mtat has no results"), std::string::npos) << r.err;
    for (const char* name : {"map.jpg", "map"}) {
        r = plot({"--out", (*dir_ / name).string()});
        EXPECT_EQ(r.code, 1) << r.text();
        EXPECT_NE(r.err.find("must end in .png or .svg"), std::string::npos) << r.err;
        EXPECT_FALSE(fs::exists(*dir_ / name));
    }
    r = plot({"--out", out, "--color", "mood"});
    EXPECT_NE(r.code, 0);
    r = plot({});  // --out is required
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("--out"), std::string::npos) << r.err;
    r = plot({"--out", (*dir_ / "missing" / "map.png").string()});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("cannot write"), std::string::npos) << r.err;

    // A library without results, and no library at all.
    const auto empty = (*dir_ / "empty.db").string();
    store::Library::create(empty);
    r = run(dir_->path(), "tagmap", {"plot", "--db", empty, "--out", out});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("no embedded model"), std::string::npos) << r.err;
    r = run(dir_->path(), "tagmap", {"plot", "--db", (*dir_ / "nope.db").string(), "--out", out});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("nope.db"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(*dir_ / "nope.db"));
}

TEST_F(PlotCommand, AStaleMapIsDrawnWithAWarning) {
    {
        // A track embedded after the map was made, and 9 tracks that vanished since.
        store::Library lib(db_, store::OpenMode::read_write);
        store::TrackRecord t;
        t.filename = "new.wav";
        t.size_bytes = 5;
        t.mtime_ns = 1;
        const auto id = lib.upsert_track(t);
        store::TrackResult r;
        r.model_id = kModel;
        r.weights_digest = "digest";
        r.source_size = 5;
        r.source_mtime_ns = 1;
        r.chunks = 1;
        r.chunk_hop = 48000;
        r.embedding_dim = 4;
        r.n_tags = 3;
        r.embedding = r.chunk_embeddings = {1, 2, 3, 4};
        r.taggram = r.chunk_taggrams = {0.1f, 0.2f, 0.3f};
        lib.store_track(id, {r}, {}, true);
        lib.mark_vanished_except({"t0.wav", "t1.wav", "t2.wav", "new.wav"});
    }
    const auto out = *dir_ / "map.png";
    const auto r = plot({"--out", out.string(), "--json"});
    ASSERT_EQ(r.code, 0) << r.text();
    EXPECT_NE(r.err.find("the map is older than the library (1 embedded tracks are not on it)"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("run `tagmap project --db"), std::string::npos) << r.err;
    // Vanished tracks are left out, as everywhere.
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["points"], 3);
    ASSERT_EQ(j["legend"].size(), 2u);  // jazz x2, rock
    EXPECT_EQ(j["legend"][0]["name"], "jazz");
    EXPECT_EQ(j["legend"][0]["count"], 2);
    EXPECT_EQ(j["legend"][1]["name"], "rock");
}

}  // namespace
