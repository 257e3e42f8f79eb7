// tagmap plot: a picture (PNG or SVG) of a library's cached 2D map, points coloured by genre
// or by top tag, for reports and papers. It never computes a map: `tagmap project --db`
// does. The drawing is map_plot.cpp; the colours are those of the map page
// (examples/web/palette.json).
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <tagmap/core/error.hpp>
#include "cli_library.hpp"
#include "commands.hpp"
#include "map_plot.hpp"
#include "projection_cache.hpp"

namespace tagmap::cli {
namespace {

struct PlotArgs {
    DbArgs db;
    std::string model, source = "embedding", method = "umap", color = "genre", out;
    int width = 1600, height = 1200;
    store::MapSpec spec;  // seed and method options: those of `tagmap project`
    bool json = false;
};

std::string describe(const store::MapSpec& s) {
    return "2D " + s.method + " map of " + (s.model_id.empty() ? "any model's" : s.model_id) + " " +
           store::source_name(s.source) + " vectors";
}

void run_plot(PlotArgs& a) {
    const plot::Format format = plot::output_format(a.out);  // before any work
    store::Library lib(a.db.db, store::OpenMode::read_only, a.db.busy_timeout_ms);
    const auto models = lib.models();
    if (models.empty())
        throw InvalidArgument("library " + a.db.db + " has no embedded model: run `tagmap " +
                              "preprocess-all --db " + a.db.db + "`, then `tagmap project --db " +
                              a.db.db + "`");
    store::MapSpec spec = a.spec;
    spec.source = store::parse_source(a.source);
    spec.method = a.method;
    spec.dims = 2;
    store::MapSpec defaults;
    defaults.method = spec.method;
    const bool default_options = store::map_params(spec) == store::map_params(defaults);
    const std::string hint =
        "run `tagmap project --db " + a.db.db + "`" +
        (default_options ? std::string() : std::string(" with the same map options"));
    std::optional<store::Projection> map;
    if (!a.model.empty()) {
        if (!lib.model(a.model)) {
            std::string list;
            for (const auto& m : models) list += (list.empty() ? "" : ", ") + m.model_id;
            throw InvalidArgument("model " + a.model + " has no results in " + a.db.db +
                                  " (it has: " + list + ")");
        }
        spec.model_id = a.model;
        map = lib.projection({spec.model_id, spec.source, spec.method, 2, store::map_params(spec)});
    } else {
        for (const auto& m : models) {  // the first model (by id) with such a map
            spec.model_id = m.model_id;
            map = lib.projection(
                {spec.model_id, spec.source, spec.method, 2, store::map_params(spec)});
            if (map) break;
        }
        if (!map) spec.model_id.clear();
    }
    if (!map)
        throw InvalidArgument("no cached " + describe(spec) + " in " + a.db.db +
                              (default_options ? "" : " with params " + store::map_params(spec)) +
                              ": " + hint + " (tagmap plot draws maps, it does not compute them)");

    // Who is on the map (the store leaves vanished tracks out), and who is not yet.
    std::map<std::int64_t, store::TrackRecord> tracks;
    for (auto& t : lib.tracks(false)) tracks.emplace(t.id, std::move(t));
    const auto current = lib.vectors(spec.model_id, spec.source).track_ids;
    const std::set<std::int64_t> on_map(map->track_ids.begin(), map->track_ids.end());
    std::size_t gone = 0, missing = 0;
    for (const auto id : current) missing += on_map.count(id) ? 0 : 1;

    struct Item {
        std::int64_t track_id;
        plot::Point p;
        std::string group;  // empty: unlabelled
    };
    std::vector<Item> items;
    for (std::size_t i = 0; i < map->track_ids.size(); ++i) {
        const auto it = tracks.find(map->track_ids[i]);
        if (it == tracks.end()) {
            ++gone;
            continue;
        }
        const auto& t = it->second;
        std::string group;
        if (a.color == "genre") {
            if (t.label && !t.label->empty())
                group = *t.label;
            else if (t.genre && !t.genre->empty())
                group = *t.genre;
        } else {
            const auto top = lib.top_tags(t.id, spec.model_id, 1);
            if (!top.empty()) group = top.front().tag;
        }
        const auto row = Eigen::Index(i);
        items.push_back({t.id, {map->coords(row, 0), map->coords(row, 1)}, std::move(group)});
    }
    if (gone > 0 || missing > 0) {
        std::string what;
        if (missing > 0) what = std::to_string(missing) + " embedded tracks are not on it";
        if (gone > 0)
            what += (what.empty() ? "" : ", ") + std::to_string(gone) + " of its tracks are gone";
        std::fprintf(stderr, "tagmap plot: warning: the map is older than the library (%s): %s\n",
                     what.c_str(), hint.c_str());
    }

    // Colours: groups in sorted order take the categorical palette in turn (as the map page
    // does); unlabelled points are grey, drawn first (underneath) and listed last.
    std::set<std::string> names;
    for (const auto& item : items)
        if (!item.group.empty()) names.insert(item.group);
    plot::MapPlot mp;
    std::map<std::string, int> index;
    for (const auto& name : names) {
        index[name] = int(mp.groups.size());
        mp.groups.push_back({name, plot::category_color(mp.groups.size())});
    }
    const bool any_unlabeled =
        std::any_of(items.begin(), items.end(), [](const Item& i) { return i.group.empty(); });
    if (any_unlabeled)  // named as on the map page
        mp.groups.push_back(
            {a.color == "genre" ? "(unlabelled)" : "(no top tag)", plot::unlabeled_color()});
    std::stable_partition(items.begin(), items.end(),
                          [](const Item& i) { return i.group.empty(); });
    for (const auto& item : items) {
        mp.points.push_back(item.p);
        mp.group.push_back(item.group.empty() ? int(mp.groups.size()) - 1 : index[item.group]);
    }
    std::string method_name = spec.method == "umap" ? "UMAP" : "t-SNE";
    mp.title = spec.model_id + " \xc2\xb7 " + store::source_name(spec.source) + " \xc2\xb7 " +
               method_name + " \xc2\xb7 " + std::to_string(items.size()) + " tracks";
    mp.legend_title = a.color == "genre" ? "genre" : "top tag";

    const plot::PlotOptions options{a.width, a.height};
    const auto summary = plot::draw_map(mp, options, a.out);

    if (a.json) {
        nlohmann::json j;
        j["out"] = a.out;
        j["format"] = format == plot::Format::png ? "png" : "svg";
        j["width"] = a.width;
        j["height"] = a.height;
        j["model"] = spec.model_id;
        j["source"] = store::source_name(spec.source);
        j["method"] = spec.method;
        j["params"] = nlohmann::json::parse(map->key.params);
        j["color"] = a.color;
        j["points"] = items.size();
        j["legend"] = nlohmann::json::array();
        for (std::size_t k = 0; k < summary.legend.size(); ++k) {
            const auto& e = summary.legend[k];
            const bool unlabeled = any_unlabeled && k + 1 == mp.groups.size();
            j["legend"].push_back({{"name", e.name},
                                   {"shown", e.shown},
                                   {"color", e.color},
                                   {"count", e.count},
                                   {"unlabeled", unlabeled}});
        }
        j["hidden_groups"] = summary.hidden_groups;
        j["hidden_points"] = summary.hidden_points;
        const auto& t = summary.transform;
        j["transform"] = {
            {"scale", t.scale}, {"x_mid", t.x_mid}, {"y_mid", t.y_mid}, {"cx", t.cx}, {"cy", t.cy}};
        std::cout << j.dump(2) << '\n';
        return;
    }
    std::printf("%s: %s %s %s, %zu tracks, %d x %d\n", a.out.c_str(), spec.model_id.c_str(),
                store::source_name(spec.source), spec.method.c_str(), items.size(), a.width,
                a.height);
    for (const auto& e : summary.legend)
        std::printf("  %-24s %6lld  %s\n", e.name.c_str(), (long long)e.count, e.color.c_str());
    if (summary.hidden_groups > 0)
        std::printf("  (+ %zu more groups, %lld tracks, not in the legend)\n",
                    summary.hidden_groups, (long long)summary.hidden_points);
}

}  // namespace

void add_plot_command(CLI::App& app) {
    auto a = std::make_shared<PlotArgs>();
    auto* cmd = app.add_subcommand(
        "plot", "Picture (PNG or SVG) of a library's cached 2D map, coloured by genre or top tag");
    add_db_options(cmd, a->db);
    cmd->add_option("--out", a->out, "output picture: .png or .svg")->required();
    cmd->add_option("--model", a->model,
                    "model id (default: the first, by id, with such a cached map)");
    cmd->add_option("--source", a->source, "embedding or taggram")
        ->check(CLI::IsMember({"embedding", "taggram"}))
        ->capture_default_str();
    cmd->add_option("--method", a->method, "umap or tsne")
        ->check(CLI::IsMember({"umap", "tsne"}))
        ->capture_default_str();
    cmd->add_option("--color", a->color,
                    "genre (label, else the file's genre tag) or tag (the track's top tag)")
        ->check(CLI::IsMember({"genre", "tag"}))
        ->capture_default_str();
    cmd->add_option("--width", a->width, "pixels (SVG: user units)")
        ->check(CLI::Range(200, 16384))
        ->capture_default_str();
    cmd->add_option("--height", a->height, "pixels (SVG: user units)")
        ->check(CLI::Range(200, 16384))
        ->capture_default_str();
    cmd->add_option("--seed", a->spec.seed,
                    "map options, to pick a map `tagmap project` fitted with other options")
        ->capture_default_str();
    cmd->add_option("--n-neighbors", a->spec.n_neighbors, "UMAP map option")->capture_default_str();
    cmd->add_option("--min-dist", a->spec.min_dist, "UMAP map option")->capture_default_str();
    cmd->add_option("--perplexity", a->spec.perplexity, "t-SNE map option")->capture_default_str();
    cmd->add_flag("--json", a->json,
                  "print what was drawn as JSON (legend entries, counts, colours, transform)");
    cmd->callback([a] { run_plot(*a); });
}

}  // namespace tagmap::cli
