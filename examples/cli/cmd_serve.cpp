// tagmap serve: the library's HTTP server (docs/api.md) on loopback unless --host says
// otherwise. The database is opened read-only; maps missing from the cache are computed
// once, in the background. Ctrl-C (SIGINT) or SIGTERM stops it cleanly.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <thread>

#include "cli_library.hpp"
#include "commands.hpp"
#include "server.hpp"

namespace tagmap::cli {

void add_serve_command(CLI::App& app) {
    struct Args {
        DbArgs db;
        std::string host = "127.0.0.1";
        int port = 5000;
        server::ServerOptions options;
        std::string web_dir;
        std::size_t max_upload_mb = 512;
    };
    auto args = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("serve",
                                   "Serve the library over HTTP (seed routes and "
                                   "/api/v1/, docs/api.md)");
    add_db_options(cmd, args->db);
    cmd->add_option("--host", args->host,
                    "Address to listen on (127.0.0.1: this machine only; 0.0.0.0: every "
                    "interface)")
        ->capture_default_str();
    cmd->add_option("--port", args->port, "TCP port (0: any free port)")
        ->check(CLI::Range(0, 65535))
        ->capture_default_str();
    cmd->add_option("--threads", args->options.threads, "HTTP worker threads")
        ->check(CLI::Range(1, 1024))
        ->capture_default_str();
    cmd->add_option("--map-threads", args->options.map_threads,
                    "Threads of a background map computation (0 = all cores)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cmd->add_option("--seed-wait", args->options.seed_map_wait_seconds,
                    "Seconds the seed routes wait for a map being computed before 202")
        ->check(CLI::Range(0.0, 3600.0))
        ->capture_default_str();
    cmd->add_flag("--log", args->options.log_requests, "Log every request on stderr");
    cmd->add_option("--web-dir", args->web_dir,
                    "Folder of the map page served at / (default: this build's page, else the "
                    "installed one; 'none' serves the API only)");
    cmd->add_option("--max-upload-mb", args->max_upload_mb,
                    "Largest audio file accepted by POST /api/v1/tracks, in MB")
        ->check(CLI::Range(1, 4096))
        ->capture_default_str();
    cmd->callback([args] {
        args->options.busy_timeout_ms = args->db.busy_timeout_ms;
        args->options.max_upload_bytes = args->max_upload_mb << 20;
        if (args->web_dir.empty()) {
            for (const char* dir : {TAGMAP_WEB_BUILD_SITE, TAGMAP_WEB_INSTALL_DIR})
                if (*dir && std::filesystem::is_regular_file(std::filesystem::path(dir) / "index.html")) {
                    args->options.web_dir = dir;
                    break;
                }
            if (args->options.web_dir.empty())
                std::fprintf(stderr, "tagmap serve: the map page is not installed (build target "
                                     "tagmap_web, or --web-dir DIR): serving the API only\n");
        } else if (args->web_dir != "none") {
            if (!std::filesystem::is_regular_file(std::filesystem::path(args->web_dir) / "index.html"))
                throw IoError("--web-dir " + args->web_dir + " has no index.html");
            args->options.web_dir = args->web_dir;
        }
        // Signals go to one thread that stops the server; every other thread (httplib's
        // pool, the map worker) inherits the blocked mask.
        sigset_t stop_signals;
        sigemptyset(&stop_signals);
        sigaddset(&stop_signals, SIGINT);
        sigaddset(&stop_signals, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

        server::Server srv(args->db.db, args->options);
        const int port = srv.bind(args->host, args->port);
        std::fprintf(stderr, "tagmap serve: %s on http://%s:%d/ (Ctrl-C stops)\n",
                     args->db.db.c_str(), args->host.c_str(), port);
        std::thread waiter([&] {
            int sig = 0;
            sigwait(&stop_signals, &sig);
            srv.stop();
        });
        srv.listen();
        // listen() also ends if the socket fails: wake the waiter so that it can finish.
        pthread_kill(waiter.native_handle(), SIGTERM);
        waiter.join();
        std::fprintf(stderr, "tagmap serve: stopped\n");
    });
}

}  // namespace tagmap::cli
