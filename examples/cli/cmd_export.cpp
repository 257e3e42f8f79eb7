// tagmap export: the library's results as files. --format npy (default) writes exactly
// the layout of `tagmap embed` (OUT/<model id>/<relative path>.{embedding,taggram}.npy,
// track-level means unless --per-chunk, and the sequence models' series as
// OUT/<model id>/<relative path>.npy), byte for byte; projector writes the TensorFlow
// Embedding Projector's TSV pair, csv one table per model with metadata, top tags and the
// vector, m3u playlists (all tracks, and one per genre).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "cli_library.hpp"
#include "cli_npy.hpp"
#include "commands.hpp"

namespace tagmap::cli {
namespace {

struct ExportArgs {
    DbArgs db;
    std::string out;
    std::string format = "npy";
    std::string source = "embedding";
    bool per_chunk = false;
    std::vector<std::string> models;
};

std::string tsv_field(std::string s) {
    for (char& c : s)
        if (c == '\t' || c == '\n' || c == '\r') c = ' ';
    return s;
}

std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
}

std::string display_name(const store::TrackRecord& t) {
    if (t.title && t.artist) return *t.artist + " - " + *t.title;
    if (t.title) return *t.title;
    return std::filesystem::path(t.filename).filename().string();
}

std::ofstream open_out(const std::filesystem::path& p) {
    std::ofstream out(p, std::ios::binary);
    if (!out) throw IoError("cannot write " + p.string());
    return out;
}

void close_out(std::ofstream& out, const std::filesystem::path& p) {
    out.close();
    if (!out) throw IoError("cannot write " + p.string() + " (disk full?)");
}

void run_export(const ExportArgs& a) {
    namespace fs = std::filesystem;
    store::Library lib(a.db.db, store::OpenMode::read_only, a.db.busy_timeout_ms);
    const fs::path out(a.out);
    std::error_code ec;
    fs::create_directories(out, ec);
    if (ec) throw IoError("cannot create " + out.string() + ": " + ec.message());
    const auto source = store::parse_source(a.source);

    std::map<std::int64_t, store::TrackRecord> tracks;
    for (auto& t : lib.tracks()) tracks[t.id] = t;
    std::vector<store::ModelRecord> models;
    for (auto& m : lib.models())
        if (a.models.empty() ||
            std::find(a.models.begin(), a.models.end(), m.model_id) != a.models.end())
            models.push_back(m);
    std::vector<store::SeriesModelRecord> series;
    for (auto& m : lib.series_models())
        if (a.models.empty() ||
            std::find(a.models.begin(), a.models.end(), m.model_id) != a.models.end())
            series.push_back(m);
    // Time series have no vectors: only the npy layout holds them.
    if (models.empty() && (series.empty() || a.format != "npy"))
        throw InvalidArgument("no embedded model to export in " + a.db.db);

    if (a.format == "m3u") {
        const auto root = lib.audio_root().value_or(fs::path());
        std::map<std::string, std::vector<const store::TrackRecord*>> lists;
        for (const auto& [id, t] : tracks) {
            lists["all"].push_back(&t);
            if (const auto g = t.label ? t.label : t.genre) lists["genre-" + *g].push_back(&t);
        }
        for (const auto& [name, list] : lists) {
            std::string safe = name;
            for (char& c : safe)
                if (c == '/' || c == '\\' || c == ':') c = '_';
            const auto path = out / (safe + ".m3u");
            auto f = open_out(path);
            f << "#EXTM3U\n";
            for (const auto* t : list)
                f << "#EXTINF:" << long(t->duration.value_or(-1)) << ',' << display_name(*t) << '\n'
                  << (root / t->filename).string() << '\n';
            close_out(f, path);
        }
        std::printf("wrote %zu playlist(s) to %s\n", lists.size(), out.c_str());
        return;
    }

    for (const auto& m : models) {
        std::size_t written = 0;
        if (a.format == "npy" && a.per_chunk) {
            for (const auto id : lib.vectors(m.model_id, store::Source::embedding).track_ids) {
                const auto c = lib.chunk_outputs(id, m.model_id);
                if (!c) continue;
                const auto base = (out / m.model_id / tracks.at(id).filename).string();
                write_npy_atomic(base + ".taggram.npy", c->taggrams,
                                 {std::size_t(c->chunks), std::size_t(c->n_tags)});
                write_npy_atomic(base + ".embedding.npy", c->embeddings,
                                 {std::size_t(c->chunks), std::size_t(c->embedding_dim)});
                ++written;
            }
        } else if (a.format == "npy") {
            const auto emb = lib.vectors(m.model_id, store::Source::embedding);
            const auto tag = lib.vectors(m.model_id, store::Source::taggram);
            auto row = [](const store::RowMatrixF& rows, std::size_t i) {
                return std::span<const float>(rows.row(Eigen::Index(i)).data(),
                                              std::size_t(rows.cols()));
            };
            for (std::size_t i = 0; i < emb.track_ids.size(); ++i) {
                const auto base =
                    (out / m.model_id / tracks.at(emb.track_ids[i]).filename).string();
                write_npy_atomic(base + ".taggram.npy", row(tag.rows, i),
                                 {std::size_t(tag.rows.cols())});
                write_npy_atomic(base + ".embedding.npy", row(emb.rows, i),
                                 {std::size_t(emb.rows.cols())});
                ++written;
            }
        } else {
            const auto v = lib.vectors(m.model_id, source);
            const std::string stem = m.model_id + "." + a.source;
            if (a.format == "projector") {
                const auto vec_path = out / (stem + ".vectors.tsv");
                const auto meta_path = out / (stem + ".metadata.tsv");
                auto vec = open_out(vec_path);
                auto meta = open_out(meta_path);
                meta << "name\tfilename\tartist\talbum\tgenre\ttop_tag\n";
                char buf[32];
                for (std::size_t i = 0; i < v.track_ids.size(); ++i) {
                    const auto& t = tracks.at(v.track_ids[i]);
                    for (Eigen::Index j = 0; j < v.rows.cols(); ++j) {
                        std::snprintf(buf, sizeof buf, "%.9g", double(v.rows(Eigen::Index(i), j)));
                        vec << (j ? "\t" : "") << buf;
                    }
                    vec << '\n';
                    const auto top = lib.top_tags(t.id, m.model_id, 1);
                    meta << tsv_field(display_name(t)) << '\t' << tsv_field(t.filename) << '\t'
                         << tsv_field(t.artist.value_or("")) << '\t'
                         << tsv_field(t.album.value_or("")) << '\t'
                         << tsv_field(t.label.value_or(t.genre.value_or(""))) << '\t'
                         << tsv_field(top.empty() ? "" : top[0].tag) << '\n';
                    ++written;
                }
                close_out(vec, vec_path);
                close_out(meta, meta_path);
            } else {  // csv
                const auto path = out / (stem + ".csv");
                auto f = open_out(path);
                f << "track_id,filename,title,artist,album,genre,label,duration,top_tags";
                for (Eigen::Index j = 0; j < v.rows.cols(); ++j) f << ",v" << j;
                f << '\n';
                char buf[32];
                for (std::size_t i = 0; i < v.track_ids.size(); ++i) {
                    const auto& t = tracks.at(v.track_ids[i]);
                    std::string top;
                    for (const auto& tag : lib.top_tags(t.id, m.model_id, 3))
                        top += (top.empty() ? "" : ";") + tag.tag;
                    f << t.id << ',' << csv_field(t.filename) << ','
                      << csv_field(t.title.value_or("")) << ',' << csv_field(t.artist.value_or(""))
                      << ',' << csv_field(t.album.value_or("")) << ','
                      << csv_field(t.genre.value_or("")) << ',' << csv_field(t.label.value_or(""))
                      << ',';
                    if (t.duration) f << *t.duration;
                    f << ',' << csv_field(top);
                    for (Eigen::Index j = 0; j < v.rows.cols(); ++j) {
                        std::snprintf(buf, sizeof buf, "%.9g", double(v.rows(Eigen::Index(i), j)));
                        f << ',' << buf;
                    }
                    f << '\n';
                    ++written;
                }
                close_out(f, path);
            }
        }
        std::printf("%s: exported %zu track(s) (%s) to %s\n", m.model_id.c_str(), written,
                    a.format.c_str(), out.c_str());
    }
    if (a.format != "npy") return;
    // As `tagmap embed` writes them: OUT/<model id>/<relative path>.npy, T x columns, or
    // (T,) for one column.
    for (const auto& m : series) {
        std::size_t written = 0;
        for (const auto id : lib.series_track_ids(m.model_id)) {
            const auto s = lib.series(id, m.model_id);
            if (!s) continue;
            const auto rows = std::size_t(s->frames), cols = std::size_t(s->columns);
            write_npy_atomic(
                out / m.model_id / (tracks.at(id).filename + ".npy"), s->values,
                cols == 1 ? std::vector<std::size_t>{rows} : std::vector<std::size_t>{rows, cols});
            ++written;
        }
        std::printf("%s: exported %zu track(s) (npy series) to %s\n", m.model_id.c_str(), written,
                    out.c_str());
    }
}

}  // namespace

void add_export_command(CLI::App& app) {
    auto args = std::make_shared<ExportArgs>();
    auto* cmd = app.add_subcommand("export",
                                   "Write the library's results as files (the layout "
                                   "of tagmap embed, projector TSV, CSV or M3U)");
    add_db_options(cmd, args->db);
    cmd->add_option("-o,--out", args->out, "Output folder")->required();
    cmd->add_option("--format", args->format, "npy, projector, csv or m3u")
        ->check(CLI::IsMember({"npy", "projector", "csv", "m3u"}))
        ->capture_default_str();
    cmd->add_option("--source", args->source, "projector/csv: embedding or taggram vectors")
        ->check(CLI::IsMember({"embedding", "taggram"}))
        ->capture_default_str();
    cmd->add_flag("--per-chunk", args->per_chunk, "npy: one row per chunk, as embed --per-chunk");
    cmd->add_option("--models", args->models, "Only these model ids")->delimiter(',');
    cmd->callback([args] { run_export(*args); });
}

}  // namespace tagmap::cli
