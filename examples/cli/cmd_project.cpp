// tagmap project: UMAP or t-SNE map of an N x D .npy matrix (float32 or float64) to an
// N x dims .npy matrix of the same dtype. Options and timing go to stderr.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <Eigen/Core>
#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xnpy.hpp>
#include <xtensor/xview.hpp>

#include <tagmap/core/error.hpp>
#include "cli_library.hpp"
#include "commands.hpp"
#include "map_algorithms.hpp"
#include "projection_cache.hpp"
#include "shard.hpp"

namespace tagmap::cli {
namespace {

struct ProjectArgs {
    std::string method = "umap";
    int dims = 2;
    std::string in, out;
    std::uint64_t seed = 42;
    int threads = 0;
    std::string metric = "euclidean";
    int n_neighbors = 15;
    double min_dist = 0.1;
    double spread = 1.0;
    int epochs = 0;
    double perplexity = 30;
    int iterations = 750;
    int pca_dims = 50;
    bool quiet = false;
    // --db: maps of a library, stored in its projection cache
    std::string db;
    std::vector<std::string> models;
    std::vector<std::string> sources;
    bool method_given = false, dims_given = false;
    bool place_new = false, refit = false;
    std::int64_t fit_sample = 0;
    std::int64_t transform_batch = store::kTransformBatch;
    // the map placed as array tasks (docs/scale.md): fit once, place shards, merge-db
    bool fit_only = false;
    std::string place_shard, out_db;
};

/// The dtype of an .npy file ("<f4", "<f8", ...) from its header, checked before loading so
/// that a wrong type gets a clear message instead of xtensor's.
std::string npy_dtype(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw IoError("cannot open " + path);
    char magic[10] = {};
    in.read(magic, 10);
    if (in.gcount() != 10 || std::string(magic + 1, 5) != "NUMPY")
        throw FormatError(path + " is not an .npy file");
    std::size_t header_len = static_cast<unsigned char>(magic[8]) |
                             (std::size_t(static_cast<unsigned char>(magic[9])) << 8);
    if (magic[6] >= 2) {  // version 2/3: 4-byte header length
        char more[2] = {};
        in.read(more, 2);
        header_len |= (std::size_t(static_cast<unsigned char>(more[0])) << 16) |
                      (std::size_t(static_cast<unsigned char>(more[1])) << 24);
    }
    std::string header(header_len, '\0');
    in.read(header.data(), std::streamsize(header_len));
    const auto key = header.find("'descr'");
    if (key == std::string::npos) throw FormatError(path + ": .npy header has no descr");
    const auto open = header.find('\'', header.find(':', key) + 1);
    const auto close = header.find('\'', open + 1);
    if (open == std::string::npos || close == std::string::npos)
        throw FormatError(path + ": malformed .npy header");
    return header.substr(open + 1, close - open - 1);
}

template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

template <class T>
RowMatrix<T> load_matrix(const std::string& path) {
    xt::xarray<T> array;
    try {
        array = xt::load_npy<T>(path);
    } catch (const std::exception& e) {
        throw FormatError(path + ": cannot read .npy: " + e.what());
    }
    if (array.dimension() != 2)
        throw FormatError(path + ": expected a 2-D matrix (points x features), got " +
                          std::to_string(array.dimension()) + " dimensions");
    RowMatrix<T> X(array.shape()[0], array.shape()[1]);
    for (std::size_t i = 0; i < array.shape()[0]; ++i)
        for (std::size_t j = 0; j < array.shape()[1]; ++j)
            X(Eigen::Index(i), Eigen::Index(j)) = array(i, j);
    return X;
}

/// Stacks the `*.embedding.npy` files that `tagmap embed` wrote below `dir` (sorted,
/// recursive) into one matrix: a track-level vector is one row, a per-chunk matrix gives
/// one row per chunk. `names` receives one label per row (relative path, and #chunk).
RowMatrix<float> load_embedding_dir(const std::filesystem::path& dir,
                                    std::vector<std::string>& names) {
    namespace fs = std::filesystem;
    const std::string suffix = ".embedding.npy";
    std::vector<fs::path> files;
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
        const std::string name = entry.path().filename().string();
        if (entry.is_regular_file() && name.size() > suffix.size() &&
            name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
            files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    if (files.empty())
        throw InvalidArgument("no *" + suffix + " files below " + dir.string() +
                              " (write them with tagmap embed)");
    std::vector<std::vector<float>> rows;
    for (const auto& file : files) {
        if (npy_dtype(file.string()) != "<f4")
            throw FormatError(file.string() + ": expected float32 embeddings");
        const std::string label = fs::relative(file, dir).string();
        const std::string stem = label.substr(0, label.size() - suffix.size());
        xt::xarray<float> a = xt::load_npy<float>(file.string());
        if (a.dimension() == 1) {
            rows.emplace_back(a.begin(), a.end());
            names.push_back(stem);
        } else if (a.dimension() == 2) {
            for (std::size_t i = 0; i < a.shape()[0]; ++i) {
                auto row = xt::row(a, static_cast<std::ptrdiff_t>(i));
                rows.emplace_back(row.begin(), row.end());
                names.push_back(stem + "#" + std::to_string(i));
            }
        } else {
            throw FormatError(file.string() + ": expected a vector or a chunks x dims matrix");
        }
        if (rows.back().size() != rows.front().size())
            throw FormatError(file.string() + ": embedding length " +
                              std::to_string(rows.back().size()) + " differs from " +
                              std::to_string(rows.front().size()) + " (mixed models?)");
    }
    RowMatrix<float> X(Eigen::Index(rows.size()), Eigen::Index(rows.front().size()));
    for (std::size_t i = 0; i < rows.size(); ++i)
        for (std::size_t j = 0; j < rows[i].size(); ++j)
            X(Eigen::Index(i), Eigen::Index(j)) = rows[i][j];
    return X;
}

template <class T>
void save_matrix(const std::string& path,
                 const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>& Y) {
    std::vector<std::size_t> shape = {std::size_t(Y.rows()), std::size_t(Y.cols())};
    xt::xarray<T> array = xt::zeros<T>(shape);
    for (Eigen::Index i = 0; i < Y.rows(); ++i)
        for (Eigen::Index j = 0; j < Y.cols(); ++j) array(std::size_t(i), std::size_t(j)) = Y(i, j);
    // Write beside the target, then rename: a failed run never leaves a half-written file.
    const std::string tmp = path + ".partial";
    try {
        xt::dump_npy(tmp, array);
    } catch (const std::exception& e) {
        std::error_code ignored;
        std::filesystem::remove(tmp, ignored);
        throw IoError("cannot write " + path + ": " + e.what());
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        std::filesystem::remove(tmp, ec);
        throw IoError("cannot write " + path + ": " + ec.message());
    }
}

project::Metric parse_metric(const std::string& name) {
    if (name == "euclidean") return project::Metric::euclidean;
    if (name == "cosine") return project::Metric::cosine;
    throw InvalidArgument("unknown metric " + name);
}

template <class T>
void run_project(const ProjectArgs& args) {
    std::vector<std::string> names;
    const RowMatrix<T> X = std::filesystem::is_directory(args.in)
                               ? RowMatrix<T>(load_embedding_dir(args.in, names).template cast<T>())
                               : load_matrix<T>(args.in);
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> Y;
    std::cerr << "tagmap project: " << args.in << " (" << X.rows() << " x " << X.cols() << ", "
              << (sizeof(T) == 4 ? "float32" : "float64") << ") method=" << args.method
              << " dims=" << args.dims << " metric=" << args.metric << " seed=" << args.seed
              << " threads=" << tagmap::resolve_threads(args.threads);
    if (args.method == "umap") {
        project::UmapOptions o;
        o.dims = args.dims;
        o.n_neighbors = args.n_neighbors;
        o.min_dist = args.min_dist;
        o.spread = args.spread;
        o.knn.metric = parse_metric(args.metric);
        o.seed = args.seed;
        o.threads = args.threads;
        if (args.epochs != 0) o.n_epochs = args.epochs;  // 0 on the command line = automatic
        std::cerr << " n_neighbors=" << o.n_neighbors << " min_dist=" << o.min_dist
                  << " spread=" << o.spread
                  << " epochs=" << (o.n_epochs ? std::to_string(*o.n_epochs) : std::string("auto"))
                  << '\n';
        if (!args.quiet)
            o.progress = [](int epoch, int total) {
                if (epoch == total || epoch % 50 == 0)
                    std::cerr << "  epoch " << epoch << " / " << total << '\n';
            };
        Y = store::maps::umap(X, o);
    } else {
        project::TsneOptions o;
        o.dims = args.dims;
        o.perplexity = args.perplexity;
        o.n_iter = args.iterations;
        o.pca_dims = args.pca_dims;
        o.knn.metric = parse_metric(args.metric);
        o.seed = args.seed;
        o.threads = args.threads;
        std::cerr << " perplexity=" << o.perplexity << " iterations=" << o.n_iter
                  << " pca-dims=" << o.pca_dims << '\n';
        if (!args.quiet)
            o.progress = [](int iter, double kl) {
                std::cerr << "  iteration " << iter << "  KL " << kl << '\n';
            };
        Y = store::maps::tsne(X, o);
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    save_matrix<T>(args.out, Y);
    if (!names.empty()) {  // a stacked folder: also a CSV of row labels and coordinates
        const std::string csv_path = args.out + ".csv";
        std::ofstream csv(csv_path);
        csv << "row" << (Y.cols() == 3 ? ",x,y,z\n" : ",x,y\n");
        for (Eigen::Index i = 0; i < Y.rows(); ++i) {
            csv << names[std::size_t(i)];
            for (Eigen::Index j = 0; j < Y.cols(); ++j) csv << ',' << Y(i, j);
            csv << '\n';
        }
        if (!csv) throw IoError("cannot write " + csv_path);
        std::cerr << "tagmap project: wrote " << csv_path << " (row labels and coordinates)\n";
    }
    std::cerr << "tagmap project: wrote " << args.out << " (" << Y.rows() << " x " << Y.cols()
              << ") in " << seconds << " s\n";
}

/// The maps --db names: every (model, source, method, dims) unless narrowed.
std::vector<store::MapSpec> map_specs(store::Library& lib, const ProjectArgs& args) {
    std::vector<std::string> models = args.models;
    if (models.empty())
        for (const auto& m : lib.models()) models.push_back(m.model_id);
    if (models.empty())
        throw InvalidArgument("library " + args.db + " has no embedded model: run preprocess-all");
    const std::vector<std::string> sources =
        args.sources.empty() ? std::vector<std::string>{"embedding", "taggram"} : args.sources;
    // A placement in steps is UMAP's (t-SNE has no sample fit).
    const bool in_steps = args.fit_only || !args.place_shard.empty();
    const std::vector<std::string> methods = args.method_given
                                                 ? std::vector<std::string>{args.method}
                                             : in_steps ? std::vector<std::string>{"umap"}
                                                        : std::vector<std::string>{"umap", "tsne"};
    const std::vector<int> dims =
        args.dims_given ? std::vector<int>{args.dims} : std::vector<int>{2, 3};
    std::vector<store::MapSpec> specs;
    for (const auto& model : models) {
        if (!lib.model(model))
            throw InvalidArgument("model " + model + " has no results in " + args.db);
        for (const auto& source : sources)
            for (const auto& method : methods)
                for (const int d : dims) {
                    store::MapSpec spec;
                    spec.model_id = model;
                    spec.source = store::parse_source(source);
                    spec.method = method;
                    spec.dims = d;
                    spec.seed = args.seed;
                    spec.n_neighbors = args.n_neighbors;
                    spec.min_dist = args.min_dist;
                    spec.perplexity = args.perplexity;
                    spec.fit_sample = args.fit_sample;
                    spec.transform_batch = args.transform_batch;
                    specs.push_back(spec);
                }
    }
    return specs;
}

/// --db: every requested map of the library, from its cache.
void run_project_db(const ProjectArgs& args) {
    store::Library lib(args.db, store::OpenMode::read_write);
    for (const auto& spec : map_specs(lib, args)) {
        const auto r =
            store::update_map(lib, spec, args.place_new, args.refit, args.threads, args.fit_only);
        std::printf("%s %s %s %dD: %s (%lld points%s) %.2f s%s%s\n", spec.model_id.c_str(),
                    store::source_name(spec.source), spec.method.c_str(), spec.dims,
                    store::map_update_name(r.update), (long long)r.points,
                    r.new_points ? (", " + std::to_string(r.new_points) + " new").c_str() : "",
                    r.seconds, r.note.empty() ? "" : ": ", r.note.c_str());
    }
}

/// --db --place-shard K/N --out-db S.db: shard K's transform batches of every requested
/// sample-fitted map, written to S.db (the library is only read); merge-db adds them.
void run_place_shard(const ProjectArgs& args) {
    const auto shard = store::parse_shard(args.place_shard);
    store::Library lib(args.db, store::OpenMode::read_only);
    const auto specs = map_specs(lib, args);
    auto out = store::open_place_shard_db(lib, args.out_db, shard);
    for (const auto& spec : specs) {
        const auto start = std::chrono::steady_clock::now();
        const auto placed = store::place_map_shard(lib, spec, shard, args.threads);
        store::store_placement(out, lib, placed);
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::printf(
            "%s %s %s %dD: shard %s placed %lld of %lld track(s) (%lld of %lld batch(es)) "
            "%.2f s\n",
            spec.model_id.c_str(), store::source_name(spec.source), spec.method.c_str(), spec.dims,
            shard.text().c_str(), (long long)placed.track_ids.size(), (long long)placed.to_place,
            (long long)(placed.batches > shard.index
                            ? (placed.batches - shard.index + shard.count - 1) / shard.count
                            : 0),
            (long long)placed.batches, seconds);
    }
    store::mark_place_shard_complete(out);
}

}  // namespace

void add_project_command(CLI::App& app) {
    auto args = std::make_shared<ProjectArgs>();
    auto* cmd = app.add_subcommand(
        "project", "UMAP or t-SNE map of an N x D .npy matrix (float32/float64) to N x dims");
    cmd->add_option("--method", args->method, "umap or tsne")
        ->check(CLI::IsMember({"umap", "tsne"}))
        ->capture_default_str();
    cmd->add_option("--dims", args->dims, "output dimensions")
        ->check(CLI::IsMember({2, 3}))
        ->capture_default_str();
    cmd->add_option("--in", args->in,
                    "input .npy (rows are points), or a folder of tagmap embed outputs "
                    "(*.embedding.npy, stacked; labels and coordinates also go to OUT.csv)");
    cmd->add_option("--out", args->out, "output .npy (N x dims, input dtype)");
    cmd->add_option("--db", args->db,
                    "instead of --in/--out: the maps of a library database, kept in its "
                    "projection cache (every model, source, method and dims unless given)");
    cmd->add_option("--model", args->models, "--db: model ids (default: all)")->delimiter(',');
    cmd->add_option("--source", args->sources, "--db: embedding and/or taggram (default: both)")
        ->delimiter(',')
        ->check(CLI::IsMember({"embedding", "taggram"}));
    cmd->add_flag("--place-new", args->place_new,
                  "--db: put tracks added since the fit on the existing map without moving "
                  "the old points (UMAP transform(); t-SNE: from the nearest tracks)");
    cmd->add_flag("--refit", args->refit, "--db: refit even if the cached map is current");
    cmd->add_option("--fit-sample", args->fit_sample,
                    "--db, UMAP: fit on a seeded sample of this many tracks and place the "
                    "others with transform(), in parallel batches (large libraries; "
                    "docs/scale.md); 0 = fit on all")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cmd->add_option("--transform-batch", args->transform_batch,
                    "--fit-sample: tracks placed per transform() call (a batch's positions "
                    "depend on its members, so this is part of the map's options)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    cmd->add_flag("--fit-only", args->fit_only,
                  "--db --fit-sample: store the sample's fit and place no other track "
                  "(then --place-shard K/N on many machines and merge-db)");
    cmd->add_option("--place-shard", args->place_shard,
                    "--db --fit-sample: place the transform batches of shard K/N of a map "
                    "fitted with --fit-only into --out-db (the library is only read)");
    cmd->add_option("--out-db", args->out_db,
                    "--place-shard: the shard's own database (merge it with tagmap merge-db "
                    "LIBRARY S.db...)");
    cmd->add_option("--seed", args->seed, "random seed (same seed, same map)")
        ->capture_default_str();
    cmd->add_option("--threads", args->threads,
                    "worker threads, 0 = all cores (the map does "
                    "not depend on it)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cmd->add_option("--metric", args->metric, "input metric")
        ->check(CLI::IsMember({"euclidean", "cosine"}))
        ->capture_default_str();
    cmd->add_option("--n-neighbors", args->n_neighbors, "UMAP: neighbours (counting the point)")
        ->check(CLI::Range(2, 1000))
        ->capture_default_str();
    cmd->add_option("--min-dist", args->min_dist, "UMAP: minimum distance in the map")
        ->check(CLI::Range(0.0, 100.0))
        ->capture_default_str();
    cmd->add_option("--spread", args->spread, "UMAP: scale of the map")->capture_default_str();
    cmd->add_option("--epochs", args->epochs,
                    "UMAP: SGD epochs, 0 = 500 up to 10,000 points, else 200")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cmd->add_option("--perplexity", args->perplexity, "t-SNE: perplexity")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    cmd->add_option("--iterations", args->iterations, "t-SNE: iterations")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    cmd->add_option("--pca-dims", args->pca_dims,
                    "t-SNE: search neighbour candidates among the top principal components "
                    "of Euclidean input (then re-ranked in the input), 0 = off")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cmd->add_flag("--quiet", args->quiet, "no progress on stderr");
    auto* method_opt = cmd->get_option("--method");
    auto* dims_opt = cmd->get_option("--dims");
    cmd->callback([args, method_opt, dims_opt] {
        if (!args->db.empty()) {
            if (!args->in.empty() || !args->out.empty())
                throw InvalidArgument("give either --db or --in/--out, not both");
            args->method_given = method_opt->count() > 0;
            args->dims_given = dims_opt->count() > 0;
            const bool placing = !args->place_shard.empty();
            if ((args->fit_only || placing) && args->fit_sample <= 0)
                throw InvalidArgument("--fit-only and --place-shard need --fit-sample M");
            if ((args->fit_only || placing) && args->method_given && args->method != "umap")
                throw InvalidArgument("--fit-only and --place-shard are for UMAP maps");
            if (args->fit_only && placing)
                throw InvalidArgument(
                    "give --fit-only (the first step) or --place-shard K/N "
                    "(the second), not both");
            if (placing != !args->out_db.empty())
                throw InvalidArgument(placing ? "--place-shard needs --out-db S.db (its own file)"
                                              : "--out-db is for --place-shard K/N");
            if (placing && (args->refit || args->place_new))
                throw InvalidArgument("--place-shard reads the library: no --refit/--place-new");
            return placing ? run_place_shard(*args) : run_project_db(*args);
        }
        if (args->fit_only || !args->place_shard.empty() || !args->out_db.empty())
            throw InvalidArgument("--fit-only, --place-shard and --out-db need --db LIBRARY");
        if (args->in.empty() || args->out.empty())
            throw InvalidArgument("tagmap project needs --in FILE --out FILE (or --db LIBRARY)");
        if (!std::filesystem::exists(args->in)) throw IoError("no such file: " + args->in);
        if (std::filesystem::is_directory(args->in)) return run_project<float>(*args);
        const std::string dtype = npy_dtype(args->in);
        if (dtype == "<f4")
            run_project<float>(*args);
        else if (dtype == "<f8")
            run_project<double>(*args);
        else
            throw FormatError(args->in + " has dtype " + dtype +
                              "; expected float32 (<f4) or float64 (<f8)");
    });
}

}  // namespace tagmap::cli
