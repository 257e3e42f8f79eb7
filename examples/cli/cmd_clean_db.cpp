// tagmap clean-db: empties the library (keeping its schema and audio folder), or drops
// every table with --drop-tables.
#include <cstdio>

#include "cli_library.hpp"
#include "commands.hpp"

namespace tagmap::cli {

void add_clean_db_command(CLI::App& app) {
    struct Args {
        DbArgs db;
        bool drop = false;
    };
    auto args = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("clean-db", "Remove every row of the library (the schema and "
                                               "audio folder stay), or drop the tables");
    add_db_options(cmd, args->db);
    cmd->add_flag("--drop-tables", args->drop, "Drop the tables too (init-db recreates them)");
    cmd->callback([args] {
        store::Library lib(args->db.db, store::OpenMode::read_write, args->db.busy_timeout_ms);
        const auto tracks = lib.track_count(true);
        lib.clean(args->drop);
        std::printf("%s: removed %lld track(s) and their results%s\n", args->db.db.c_str(),
                    (long long)tracks, args->drop ? "; tables dropped" : "");
    });
}

}  // namespace tagmap::cli
