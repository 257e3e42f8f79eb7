// tagmap index-audio [DIR]: records every audio file below the library's folder (new,
// changed, vanished), with its header and tags.
#include <cstdio>
#include <filesystem>

#include "cli_library.hpp"
#include "commands.hpp"
#include "indexer.hpp"

namespace tagmap::cli {

void add_index_audio_command(CLI::App& app) {
    struct Args {
        DbArgs db;
        std::string dir;
        bool quiet = false;
    };
    auto args = std::make_shared<Args>();
    auto* cmd = app.add_subcommand(
        "index-audio", "Index the audio files below DIR (default: the library's folder), "
                       "recursively: new, changed and vanished files");
    add_db_options(cmd, args->db);
    cmd->add_option("dir", args->dir, "Audio folder (the library's root)");
    cmd->add_flag("-q,--quiet", args->quiet, "Only the summary and problems");
    cmd->callback([args] {
        store::Library lib(args->db.db, store::OpenMode::read_write, args->db.busy_timeout_ms);
        std::filesystem::path root;
        const auto recorded = lib.audio_root();
        if (args->dir.empty()) {
            root = require_audio_root(lib);
        } else {
            std::error_code ec;
            if (!std::filesystem::is_directory(args->dir, ec))
                throw IoError("audio folder not found (or not a folder): " + args->dir);
            root = std::filesystem::canonical(args->dir);
            if (recorded && *recorded != root && lib.track_count(true) > 0)
                throw InvalidArgument(
                    "library " + lib.file().string() + " indexes " + recorded->string() +
                    ", not " + root.string() +
                    ": use another --db, or move the library with `tagmap init-db --audio-dir`");
            if (!recorded || *recorded != root) lib.set_audio_root(root);
        }
        store::IndexOptions options;
        options.on_file = [&](const std::string& name, const std::string& problem) {
            if (!problem.empty())
                std::fprintf(stderr, "warning: %s: %s\n", name.c_str(), problem.c_str());
            else if (!args->quiet)
                std::fprintf(stderr, "indexed %s\n", name.c_str());
        };
        const auto s = store::index_audio(lib, root, options);
        std::printf(
            "%s: %lld audio files: %lld new, %lld changed, %lld unchanged, %lld back, %lld "
            "vanished (marked); %lld with an unreadable header\n",
            root.c_str(), (long long)s.found, (long long)s.added, (long long)s.changed,
            (long long)s.unchanged, (long long)s.returned, (long long)s.vanished,
            (long long)s.unreadable);
    });
}

}  // namespace tagmap::cli
