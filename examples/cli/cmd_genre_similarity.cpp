// placeholder: filled in below once the label-similarity API lands
#include "commands.hpp"
namespace tagmap::cli {
void add_genre_similarity_command(CLI::App&) {}
}  // namespace tagmap::cli
