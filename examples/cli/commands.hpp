// Subcommands of the tagmap CLI. Each lives in its own cmd_<name>.cpp and adds
// itself to the application; main.cpp only calls these.
#pragma once

#include <CLI/CLI.hpp>

namespace tagmap::cli {

void add_tag_command(CLI::App& app);      // cmd_tag.cpp: top-N tags per file
void add_embed_command(CLI::App& app);    // cmd_embed.cpp: embeddings and taggrams to .npy
void add_project_command(CLI::App& app);  // cmd_project.cpp: UMAP / t-SNE of a matrix or library

// The music library (docs/database.md): one SQLite file.
void add_init_db_command(CLI::App& app);      // cmd_init_db.cpp
void add_index_audio_command(CLI::App& app);  // cmd_index_audio.cpp
void add_preprocess_commands(CLI::App& app);  // cmd_preprocess.cpp: preprocess-all, -track
void add_genre_similarity_command(CLI::App& app);  // cmd_genre_similarity.cpp
void add_clean_db_command(CLI::App& app);     // cmd_clean_db.cpp
void add_merge_db_command(CLI::App& app);     // cmd_merge_db.cpp: shard databases into one
void add_export_command(CLI::App& app);       // cmd_export.cpp
void add_serve_command(CLI::App& app);        // cmd_serve.cpp: the JSON API and the map page
void add_plot_command(CLI::App& app);         // cmd_plot.cpp: PNG/SVG of a cached 2D map

}  // namespace tagmap::cli
