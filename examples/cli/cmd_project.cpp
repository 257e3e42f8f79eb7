// Placeholder until the owning issue lands: the subcommand exists and says so.
#include <iostream>

#include "commands.hpp"

namespace tagmap::cli {

void add_project_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("project", "(not available yet)");
    cmd->allow_extras();
    cmd->callback([] {
        std::cerr << "tagmap project: not available in this build yet\n";
        std::exit(2);
    });
}

}  // namespace tagmap::cli
