// Placeholder until the owning issue lands: the subcommand exists and says so.
#include <iostream>

#include "commands.hpp"

namespace tagmap::cli {

void add_embed_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("embed", "(not available yet)");
    cmd->allow_extras();
    cmd->callback([] {
        std::cerr << "tagmap embed: not available in this build yet\n";
        std::exit(2);
    });
}

}  // namespace tagmap::cli
