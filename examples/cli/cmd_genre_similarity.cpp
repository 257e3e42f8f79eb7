// tagmap compute-genre-similarity: how well each model's track-level vectors group the
// library's genres (labels from the old system's filename,genre CSV or from the files'
// genre tags), with centred cosine and leave-one-out centroids (docs/label_similarity.md).
// Results go to the database, to a readable report on stdout and, with --json, to a file.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include <tagmap/project/label_similarity.hpp>

#include "cli_library.hpp"
#include "commands.hpp"

namespace tagmap::cli {
namespace {

struct SimilarityArgs {
    DbArgs db;
    std::string labels_csv;
    std::string json_out;
    std::vector<std::string> models;
    int k = 10;
    int threads = 0;
};

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
    std::size_t b = 0;
    while (b < s.size() && (s[b] == ' ' || s[b] == '\t')) ++b;
    return s.substr(b);
}

/// filename,genre rows (a header row is skipped), matched to tracks by relative path, else
/// by file name when that name is unique in the library.
std::map<std::int64_t, std::string> labels_from_csv(store::Library& lib, const std::string& csv) {
    std::ifstream in(csv);
    if (!in) throw IoError("cannot read labels file " + csv);
    std::map<std::string, std::int64_t> by_path;
    std::map<std::string, std::vector<std::int64_t>> by_name;
    for (const auto& t : lib.tracks()) {
        by_path[t.filename] = t.id;
        by_name[std::filesystem::path(t.filename).filename().string()].push_back(t.id);
    }
    std::map<std::int64_t, std::string> out;
    std::size_t line_no = 0, unmatched = 0, ambiguous = 0;
    for (std::string line; std::getline(in, line);) {
        ++line_no;
        line = trim(line);
        if (line.empty()) continue;
        const auto comma = line.rfind(',');
        if (comma == std::string::npos)
            throw FormatError(csv + ":" + std::to_string(line_no) +
                              ": expected filename,genre, got: " + line);
        std::string file = trim(line.substr(0, comma)), genre = trim(line.substr(comma + 1));
        if (file.size() >= 2 && file.front() == '"' && file.back() == '"')
            file = file.substr(1, file.size() - 2);
        if (line_no == 1 && file == "filename") continue;
        if (genre.empty()) continue;
        if (auto p = by_path.find(file); p != by_path.end()) {
            out[p->second] = genre;
        } else if (auto n = by_name.find(std::filesystem::path(file).filename().string());
                   n != by_name.end() && n->second.size() == 1) {
            out[n->second.front()] = genre;
        } else if (n != by_name.end()) {
            ++ambiguous;
        } else {
            ++unmatched;
        }
    }
    if (unmatched || ambiguous)
        std::fprintf(stderr,
                     "compute-genre-similarity: %zu label(s) name no indexed track, %zu match "
                     "several tracks by file name (give the relative path)\n",
                     unmatched, ambiguous);
    return out;
}

nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

void print_report(const std::string& model, const std::string& source, const nlohmann::json& r) {
    std::printf("\n== %s, %s (%d labelled tracks, %d genres)\n", model.c_str(), source.c_str(),
                r["labeled_tracks"].get<int>(), int(r["genres"].size()));
    auto fig = [&](const char* key) {
        const auto& v = r["figures"][key];
        if (v.is_null())
            std::printf("  %-34s n/a\n", key);
        else
            std::printf("  %-34s %.4f\n", key, v.get<double>());
    };
    for (const auto& [key, value] : r["figures"].items()) fig(key.c_str());
    std::printf("  %-16s %6s  %s\n", "genre", "tracks", "nearest centroid of its tracks");
    const auto& genres = r["genres"];
    for (std::size_t g = 0; g < genres.size(); ++g) {
        std::string row;
        for (std::size_t h = 0; h < genres.size(); ++h) {
            const int c = r["confusion"][g][h].get<int>();
            if (c) row += genres[h].get<std::string>() + ":" + std::to_string(c) + " ";
        }
        std::printf("  %-16s %6d  %s\n", genres[g].get<std::string>().c_str(),
                    r["counts"][g].get<int>(), row.empty() ? "(no own centroid)" : row.c_str());
    }
}

void run_similarity(const SimilarityArgs& a) {
    store::Library lib(a.db.db, store::OpenMode::read_write, a.db.busy_timeout_ms);
    std::map<std::int64_t, std::string> labels;
    std::string label_source;
    if (!a.labels_csv.empty()) {
        labels = labels_from_csv(lib, a.labels_csv);
        label_source = "csv";
    } else {
        for (const auto& t : lib.tracks())
            if (t.genre) labels[t.id] = *t.genre;
        label_source = "tag";
    }
    if (labels.size() < 2)
        throw InvalidArgument("fewer than 2 labelled tracks (" + std::to_string(labels.size()) +
                              "): give --labels CSV (filename,genre) or tag the files' genres");
    lib.replace_labels(labels, label_source);

    std::set<std::string> genre_set;
    for (const auto& [id, g] : labels) genre_set.insert(g);
    const std::vector<std::string> genres(genre_set.begin(), genre_set.end());
    std::map<std::string, int> genre_index;
    for (std::size_t g = 0; g < genres.size(); ++g) genre_index[genres[g]] = int(g);

    nlohmann::json all = nlohmann::json::object();
    std::size_t computed = 0;
    for (const auto& m : lib.models()) {
        if (!a.models.empty() &&
            std::find(a.models.begin(), a.models.end(), m.model_id) == a.models.end())
            continue;
        for (const auto source : {store::Source::embedding, store::Source::taggram}) {
            const auto v = lib.vectors(m.model_id, source);
            std::vector<int> codes(v.track_ids.size(), -1);
            int labelled = 0;
            for (std::size_t i = 0; i < v.track_ids.size(); ++i)
                if (auto it = labels.find(v.track_ids[i]); it != labels.end()) {
                    codes[i] = genre_index[it->second];
                    ++labelled;
                }
            if (labelled < 2) continue;
            project::LabelSimilarityOptions options;
            options.k = a.k;
            options.threads = a.threads;
            const auto s = project::label_similarity(v.rows, codes, int(genres.size()), options);
            nlohmann::json r;
            r["model"] = m.model_id;
            r["source"] = store::source_name(source);
            r["label_source"] = label_source;
            r["labeled_tracks"] = s.labeled_count;
            r["scored_tracks"] = s.scored_count;
            r["genres"] = genres;
            nlohmann::json f = nlohmann::json::object();
            f["mean_similarity_to_own_genre"] = number(s.mean_similarity_to_own_genre);
            f["std_similarity_to_own_genre"] = number(s.std_similarity_to_own_genre);
            f["min_similarity_to_own_genre"] = number(s.min_similarity_to_own_genre);
            f["max_similarity_to_own_genre"] = number(s.max_similarity_to_own_genre);
            f["agreement_rate"] = number(s.agreement_rate);
            f["silhouette_score"] = number(s.silhouette_score);
            f["knn_genre_precision_at_" + std::to_string(a.k)] = number(s.knn_genre_precision_at_k);
            r["figures"] = f;
            r["knn_k"] = s.knn_k;
            r["counts"] = nlohmann::json::array();
            r["confusion"] = nlohmann::json::array();
            for (std::size_t g = 0; g < genres.size(); ++g) {
                r["counts"].push_back(s.group_counts(Eigen::Index(g)));
                nlohmann::json row = nlohmann::json::array();
                for (std::size_t h = 0; h < genres.size(); ++h)
                    row.push_back(s.confusion(Eigen::Index(g), Eigen::Index(h)));
                r["confusion"].push_back(row);
            }
            std::vector<store::SimilarityTrackRow> rows;
            nlohmann::json per_track = nlohmann::json::array();
            for (std::size_t i = 0; i < v.track_ids.size(); ++i) {
                if (codes[i] < 0) continue;
                const auto row = Eigen::Index(i);
                nlohmann::json sims = nlohmann::json::object();
                for (std::size_t g = 0; g < genres.size(); ++g)
                    sims[genres[g]] = number(s.similarity(row, Eigen::Index(g)));
                store::SimilarityTrackRow t;
                t.track_id = v.track_ids[i];
                t.genre = genres[std::size_t(codes[i])];
                if (s.nearest_group(row) >= 0) t.nearest_genre = genres[std::size_t(s.nearest_group(row))];
                if (std::isfinite(s.similarity_to_own_group(row)))
                    t.similarity_to_own = s.similarity_to_own_group(row);
                t.similarities_json = sims.dump();
                rows.push_back(t);
                const auto track = lib.track(t.track_id);
                per_track.push_back({{"track_id", t.track_id},
                                     {"filename", track ? track->filename : ""},
                                     {"genre", t.genre},
                                     {"nearest_genre", t.nearest_genre ? nlohmann::json(*t.nearest_genre)
                                                                       : nlohmann::json()},
                                     {"similarity_to_own_genre",
                                      number(s.similarity_to_own_group(row))},
                                     {"similarities", sims}});
            }
            lib.store_similarity(m.model_id, source, label_source, r.dump(), rows);
            print_report(m.model_id, store::source_name(source), r);
            r["tracks"] = per_track;
            all[m.model_id + "/" + store::source_name(source)] = r;
            ++computed;
        }
    }
    if (computed == 0)
        throw InvalidArgument("no model has at least 2 labelled, embedded tracks: run "
                              "preprocess-all first");
    if (!a.json_out.empty()) {
        std::ofstream out(a.json_out);
        out << all.dump(2) << '\n';
        out.close();
        if (!out) throw IoError("cannot write " + a.json_out);
        std::printf("\nwrote %s\n", a.json_out.c_str());
    }
}

}  // namespace

void add_genre_similarity_command(CLI::App& app) {
    auto args = std::make_shared<SimilarityArgs>();
    auto* cmd = app.add_subcommand(
        "compute-genre-similarity",
        "Genre similarity of every model's vectors (centred cosine, leave-one-out centroids)");
    add_db_options(cmd, args->db);
    cmd->add_option("--labels", args->labels_csv,
                    "CSV of filename,genre (else the files' genre tags)");
    cmd->add_option("--json", args->json_out, "Also write every report, with per-track rows");
    cmd->add_option("--models", args->models, "Only these model ids")->delimiter(',');
    cmd->add_option("-k,--neighbors", args->k, "Neighbours for the kNN genre precision")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    cmd->add_option("--threads", args->threads, "0 = all cores")->check(CLI::NonNegativeNumber);
    cmd->callback([args] { run_similarity(*args); });
}

}  // namespace tagmap::cli
