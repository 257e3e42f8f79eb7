// Subcommands of the tagmap CLI. Each lives in its own cmd_<name>.cpp and adds
// itself to the application; main.cpp only calls these.
#pragma once

#include <CLI/CLI.hpp>

namespace tagmap::cli {

void add_tag_command(CLI::App& app);      // cmd_tag.cpp: top-N tags per file
void add_embed_command(CLI::App& app);    // cmd_embed.cpp: embeddings and taggrams to .npy
void add_project_command(CLI::App& app);  // cmd_project.cpp: UMAP / t-SNE of an .npy matrix

}  // namespace tagmap::cli
