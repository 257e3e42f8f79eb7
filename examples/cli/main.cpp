// tagmap: embeddings, tags and maps of a music collection, from the command line.
#include <exception>
#include <iostream>

#include <tagmap/core/error.hpp>
#include <tagmap/nn/gemm.hpp>
#include "commands.hpp"

#ifdef TAGMAP_WITH_FFMPEG
extern "C" {
#include <libavutil/log.h>
}
#endif

int main(int argc, char** argv) {
#ifdef TAGMAP_WITH_FFMPEG
    // FFmpeg logs to stderr by default; decoding problems reach the user as typed errors.
    av_log_set_level(AV_LOG_QUIET);
#endif
    // Every command that runs a model runs one instance per worker (--jobs).
    tagmap::nn::gemm::set_backend_threads(1);
    CLI::App app{"tagmap: music embeddings, tags and maps"};
    app.require_subcommand(1);
    tagmap::cli::add_tag_command(app);
    tagmap::cli::add_embed_command(app);
    tagmap::cli::add_project_command(app);
    tagmap::cli::add_init_db_command(app);
    tagmap::cli::add_index_audio_command(app);
    tagmap::cli::add_preprocess_commands(app);
    tagmap::cli::add_genre_similarity_command(app);
    tagmap::cli::add_clean_db_command(app);
    tagmap::cli::add_merge_db_command(app);
    tagmap::cli::add_export_command(app);
    tagmap::cli::add_serve_command(app);
    tagmap::cli::add_plot_command(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    } catch (const tagmap::Error& e) {
        std::cerr << "tagmap: " << e.what() << '\n';
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "tagmap: unexpected error: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
