// tagmap init-db: creates the library database (or migrates an older schema); with
// --audio-dir, records (or moves) the library's audio folder.
#include <cstdio>
#include <filesystem>

#include "cli_library.hpp"
#include "commands.hpp"
#include "schema.hpp"

namespace tagmap::cli {

void add_init_db_command(CLI::App& app) {
    struct Args {
        DbArgs db;
        std::string audio_dir;
    };
    auto args = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("init-db", "Create the library database (idempotent; an "
                                              "older schema is migrated)");
    add_db_options(cmd, args->db);
    cmd->add_option("--audio-dir", args->audio_dir, "The library's audio folder (its root)");
    cmd->callback([args] {
        std::error_code ec;
        const bool existed = std::filesystem::exists(args->db.db, ec);
        int before = 0;
        if (existed) {
            store::Database probe(args->db.db, store::OpenMode::read_only,
                                  args->db.busy_timeout_ms);
            before = store::schema_version(probe);
        }
        auto lib = store::Library::create(args->db.db, args->db.busy_timeout_ms);
        if (!args->audio_dir.empty()) {
            if (!std::filesystem::is_directory(args->audio_dir, ec))
                throw IoError("audio folder not found: " + args->audio_dir);
            lib.set_audio_root(std::filesystem::canonical(args->audio_dir));
        }
        const auto root = lib.audio_root();
        if (!existed || before == 0)
            std::printf("created library %s (schema %d)\n", args->db.db.c_str(),
                        store::kSchemaVersion);
        else if (before < store::kSchemaVersion)
            std::printf("migrated library %s from schema %d to %d\n", args->db.db.c_str(), before,
                        store::kSchemaVersion);
        else
            std::printf("library %s is up to date (schema %d)\n", args->db.db.c_str(),
                        store::kSchemaVersion);
        std::printf("audio folder: %s\n", root ? root->c_str() : "(not set: give --audio-dir or "
                                                                 "index-audio DIR)");
    });
}

}  // namespace tagmap::cli
