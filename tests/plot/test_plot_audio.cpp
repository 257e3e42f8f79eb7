// tagmap plot end to end: a library of 4 shared clips built with the real binary (init-db,
// index-audio, preprocess-all with MusiCNN, compute-genre-similarity, project), then plots
// of its cached maps checked against the map read back through the store API. Slow: it
// embeds audio.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "library.hpp"
#include "plot_test_util.hpp"
#include "projection_cache.hpp"

extern "C" const char* __lsan_default_suppressions() {
    return tagmap::plot_test::kLsanSuppressions;
}

namespace {

using namespace tagmap::plot_test;
namespace store = tagmap::store;

const char* const kModel = "musicnn-mtat";

class PlotLibrary : public ::testing::Test {
  protected:
    // One library for the suite: two clips labelled hedgewars by the CSV, one copy whose
    // only genre is its file's tag (Blues), one with neither (unlabelled).
    static void SetUpTestSuite() {
        dir_ = new TempDir("tagmap-plot-audio-library");
        const auto audio = tagmap::test::fixtures_dir() / "audio";
        ASSERT_TRUE(fs::exists(audio / "lincity-city-blues.mp3"))
            << "no shared clips in " << audio << " (set TAGMAP_FIXTURES)";
        const auto music = *dir_ / "music";
        fs::create_directories(music);
        fs::create_symlink(audio / "hedgewars-rock.mp3", music / "hedgewars-rock.mp3");
        fs::create_symlink(audio / "hedgewars-pirate.wav", music / "hedgewars-pirate.wav");
        fs::create_symlink(audio / "wesnoth-silence-short.ogg", music / "quiet.ogg");
        const std::string tag_cmd = "ffmpeg -nostdin -loglevel error -i " +
                                    quote((audio / "lincity-city-blues.mp3").string()) +
                                    " -map 0:a -c copy -metadata genre=Blues " +
                                    quote((music / "city-blues.mp3").string());
        ASSERT_EQ(std::system(tag_cmd.c_str()), 0) << "ffmpeg is needed (tools/deps.sh)";
        std::ofstream(*dir_ / "labels.csv")
            << "filename,genre\nhedgewars-rock.mp3,hedgewars\nhedgewars-pirate.wav,hedgewars\n";
        fs::create_directories(*dir_ / "weights");
        db_ = (*dir_ / "library.db").string();
        const std::vector<std::vector<std::string>> steps = {
            {"tagmap-convert",
             (tagmap::test::fixtures_dir() / "weights" / "musicnn-mtat.pth").string(),
             (*dir_ / "weights" / "musicnn-mtat.tmw").string()},
            {"tagmap", "init-db", "--db", db_, "--audio-dir", music.string()},
            {"tagmap", "index-audio", "--db", db_, "-q"},
            {"tagmap", "preprocess-all", "--db", db_, "--weights-dir", (*dir_ / "weights").string(),
             "--jobs", "2", "-q"},
            {"tagmap", "compute-genre-similarity", "--db", db_, "--labels",
             (*dir_ / "labels.csv").string()},
            {"tagmap", "project", "--db", db_, "--dims", "2", "--quiet"},
        };
        for (const auto& step : steps) {
            const std::vector<std::string> args(step.begin() + 1, step.end());
            const auto r = run(dir_->path(), step[0].c_str(), args);
            ASSERT_EQ(r.code, 0) << step[0] << " " << args[0] << "\n" << r.text();
        }
    }
    static void TearDownTestSuite() {
        delete dir_;
        dir_ = nullptr;
    }

    RunResult plot(std::vector<std::string> args) {
        args.insert(args.begin(), {"plot", "--db", db_});
        return run(dir_->path(), "tagmap", args);
    }

    /// The cached map of (method, source) with the default options, via the store API.
    static store::Projection cached_map(const std::string& method, store::Source source) {
        store::MapSpec spec;
        spec.model_id = kModel;
        spec.source = source;
        spec.method = method;
        store::Library lib(db_, store::OpenMode::read_only);
        auto p = lib.projection({kModel, source, method, 2, store::map_params(spec)});
        if (!p) throw std::runtime_error("no cached map");
        return *p;
    }
    static std::vector<plot::Point> points(const store::Projection& p) {
        std::vector<plot::Point> out;
        for (Eigen::Index i = 0; i < p.coords.rows(); ++i)
            out.push_back({p.coords(i, 0), p.coords(i, 1)});
        return out;
    }

    static TempDir* dir_;
    static std::string db_;
};

TempDir* PlotLibrary::dir_ = nullptr;
std::string PlotLibrary::db_;

TEST_F(PlotLibrary, PngByGenreMatchesTheCachedMap) {
    const auto out = *dir_ / "map.png";
    const auto r = plot({"--out", out.string(), "--json"});
    ASSERT_EQ(r.code, 0) << r.text();
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["model"], kModel);
    EXPECT_EQ(j["source"], "embedding");
    EXPECT_EQ(j["method"], "umap");
    EXPECT_EQ(j["points"], 4);
    // "Blues" sorts before "hedgewars" (byte order): palette colours 0 and 1; grey last.
    const auto pal = palette_file();
    ASSERT_EQ(j["legend"].size(), 3u) << j.dump(1);
    EXPECT_EQ(j["legend"][0]["name"], "Blues");
    EXPECT_EQ(j["legend"][0]["count"], 1);
    EXPECT_EQ(j["legend"][0]["color"], pal["categorical"][0]);
    EXPECT_EQ(j["legend"][1]["name"], "hedgewars");
    EXPECT_EQ(j["legend"][1]["count"], 2);
    EXPECT_EQ(j["legend"][1]["color"], pal["categorical"][1]);
    EXPECT_EQ(j["legend"][2]["name"], "(unlabelled)");
    EXPECT_EQ(j["legend"][2]["count"], 1);
    EXPECT_EQ(j["legend"][2]["color"], pal["unlabeled"]);

    const Png png(out);
    ASSERT_TRUE(png.ok());
    EXPECT_EQ(png.width(), 1600);
    EXPECT_EQ(png.height(), 1200);
    // Expected colours from the library itself: label, else genre tag, else grey.
    const auto map = cached_map("umap", store::Source::embedding);
    store::Library lib(db_, store::OpenMode::read_only);
    std::vector<std::string> colors;
    for (const auto id : map.track_ids) {
        const auto t = lib.track(id);
        ASSERT_TRUE(t);
        const std::string g = t->label ? *t->label : t->genre ? *t->genre : "";
        colors.push_back(g == "Blues"       ? pal["categorical"][0].get<std::string>()
                         : g == "hedgewars" ? pal["categorical"][1].get<std::string>()
                                            : pal["unlabeled"].get<std::string>());
    }
    EXPECT_GE(expect_points_drawn(png, points(map), colors, {1600, 1200}), 3);
}

TEST_F(PlotLibrary, SvgAndTopTagColoursOfTheTsneTaggramMap) {
    const auto svg = *dir_ / "map.svg";
    auto r = plot({"--out", svg.string(), "--method", "tsne", "--source", "taggram", "--color",
                   "tag", "--width", "1000", "--height", "750", "--json"});
    ASSERT_EQ(r.code, 0) << r.text();
    EXPECT_NE(slurp(svg).find("viewBox=\"0 0 1000 750\""), std::string::npos);
    const auto j = nlohmann::json::parse(r.out);
    // The legend is the sorted set of the tracks' top tags.
    const auto map = cached_map("tsne", store::Source::taggram);
    store::Library lib(db_, store::OpenMode::read_only);
    std::vector<std::string> top;
    std::map<std::string, int> count;
    for (const auto id : map.track_ids) {
        top.push_back(lib.top_tags(id, kModel, 1).at(0).tag);
        ++count[top.back()];
    }
    ASSERT_EQ(j["legend"].size(), count.size()) << j.dump(1);
    std::size_t k = 0;
    std::map<std::string, std::string> color_of;
    for (const auto& [name, n] : count) {
        EXPECT_EQ(j["legend"][k]["name"], name);
        EXPECT_EQ(j["legend"][k]["count"], n);
        EXPECT_EQ(j["legend"][k]["color"], palette_file()["categorical"][k]);
        color_of[name] = j["legend"][k]["color"];
        ++k;
    }
    // The same map as PNG: points where the t-SNE map puts them.
    const auto png = *dir_ / "tags.png";
    r = plot({"--out", png.string(), "--method", "tsne", "--source", "taggram", "--color", "tag",
              "--width", "1000", "--height", "750"});
    ASSERT_EQ(r.code, 0) << r.text();
    std::vector<std::string> colors;
    for (const auto& t : top) colors.push_back(color_of[t]);
    EXPECT_GE(expect_points_drawn(Png(png), points(map), colors, {1000, 750}), 3);
}

TEST_F(PlotLibrary, ErrorsNameTheProblem) {
    const auto out = (*dir_ / "x.png").string();
    auto r = plot({"--out", out, "--seed", "3"});  // no map fitted with that seed
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("run `tagmap project --db " + db_ + "`"), std::string::npos) << r.err;
    r = plot({"--out", (*dir_ / "x.pdf").string()});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find(".png or .svg"), std::string::npos) << r.err;
    r = plot({"--out", out, "--model", "vgg-mtat"});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("it has: musicnn-mtat"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out));
}

}  // namespace
