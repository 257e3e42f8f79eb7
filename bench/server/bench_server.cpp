// Load driver of the library server: builds a synthetic library (10,000 tracks, random
// vectors, a cached 2D map), starts the Server in-process on a free loopback port and runs
// 64 client threads (one keep-alive connection each) against /api/v1/maps for N seconds.
// Prints requests/s, p50/p99 latency and the error count.
//
//   bench_server [--seconds 30] [--tracks 10000] [--clients 64] [--server-threads 64]
//                [--format json|f32] [--map-cache SECONDS] [--db FILE]
// --map-cache 0 turns off the server's reuse of encoded maps (every request reads the map
// from SQLite and encodes it).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "http.hpp"

#include "server.hpp"
#include "synthetic_library.hpp"

namespace {

int usage() {
    std::fprintf(stderr,
                 "usage: bench_server [--seconds N] [--tracks N] [--clients N] "
                 "[--server-threads N] [--format json|f32] [--map-cache S] [--db FILE]\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    namespace fs = std::filesystem;
    double seconds = 30;
    int tracks = 10000, clients = 64, server_threads = 64;
    std::string format = "json";
    double map_cache = 2;
    fs::path db =
        fs::temp_directory_path() / ("tagmap-bench-server-" + std::to_string(::getpid()) + ".db");
    bool own_db = true;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (i + 1 >= argc) return usage();
        const char* v = argv[++i];
        if (a == "--seconds")
            seconds = std::atof(v);
        else if (a == "--tracks")
            tracks = std::atoi(v);
        else if (a == "--clients")
            clients = std::atoi(v);
        else if (a == "--server-threads")
            server_threads = std::atoi(v);
        else if (a == "--map-cache")
            map_cache = std::atof(v);
        else if (a == "--format")
            format = v;
        else if (a == "--db")
            db = v, own_db = false;
        else
            return usage();
    }
    if (seconds <= 0 || tracks < 3 || clients < 1 || server_threads < 1) return usage();

    try {
        auto t0 = std::chrono::steady_clock::now();
        tagmap::bench::make_synthetic_library(db, tracks);
        std::printf("synthetic library: %d tracks in %.1f s\n", tracks,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

        tagmap::server::ServerOptions options;
        options.threads = server_threads;
        options.map_cache_seconds = map_cache;
        tagmap::server::Server server(db, options);
        const int port = server.bind("127.0.0.1", 0);
        std::thread listener([&] { server.listen(); });

        const std::string path =
            "/api/v1/maps?model=musicnn-mtat&source=embedding&method=umap"
            "&dims=2&format=" +
            format;
        std::size_t body_bytes = 0;
        std::string encoding;
        {
            httplib::Client warm("127.0.0.1", port);
            const auto r = warm.Get(path.c_str());
            if (!r || r->status != 200) {
                std::fprintf(stderr, "bench_server: warm-up request failed (%d)\n",
                             r ? r->status : -1);
                server.stop();
                listener.join();
                return 1;
            }
            body_bytes = r->body.size();
            encoding = r->get_header_value("Content-Encoding");
        }

        std::atomic<bool> go{false};
        std::atomic<std::int64_t> errors{0};
        std::vector<std::vector<double>> latencies(static_cast<std::size_t>(clients));
        std::vector<std::thread> threads;
        const auto duration = std::chrono::duration<double>(seconds);
        for (int c = 0; c < clients; ++c)
            threads.emplace_back([&, c] {
                httplib::Client client("127.0.0.1", port);
                client.set_keep_alive(true);
                client.set_read_timeout(60, 0);
                while (!go) std::this_thread::yield();
                const auto end = std::chrono::steady_clock::now() + duration;
                auto& lat = latencies[std::size_t(c)];
                while (std::chrono::steady_clock::now() < end) {
                    const auto s = std::chrono::steady_clock::now();
                    const auto r = client.Get(path.c_str());
                    const auto e = std::chrono::steady_clock::now();
                    if (!r || r->status != 200 || r->body.size() != body_bytes) ++errors;
                    lat.push_back(std::chrono::duration<double, std::milli>(e - s).count());
                }
            });
        t0 = std::chrono::steady_clock::now();
        go = true;
        for (auto& t : threads) t.join();
        const double wall =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        server.stop();
        listener.join();

        std::vector<double> all;
        for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
        std::sort(all.begin(), all.end());
        auto pct = [&](double p) {
            return all.empty() ? 0.0
                               : all[std::min(all.size() - 1, std::size_t(p * double(all.size())))];
        };
        std::printf("GET %s\n", path.c_str());
        std::printf("  %d clients, %d server threads, %.1f s, response %zu bytes (%s), %u cores\n",
                    clients, server_threads, wall, body_bytes,
                    encoding.empty() ? "identity" : encoding.c_str(),
                    std::thread::hardware_concurrency());
        std::printf("  requests: %zu (%.1f/s)\n", all.size(), double(all.size()) / wall);
        std::printf("  latency: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", pct(0.50), pct(0.99),
                    all.empty() ? 0.0 : all.back());
        std::printf("  errors: %lld\n", (long long)errors.load());
        if (own_db) {
            fs::remove(db);
            fs::remove(fs::path(db.string() + "-wal"));
            fs::remove(fs::path(db.string() + "-shm"));
        }
        return errors == 0 ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_server: %s\n", e.what());
        return 1;
    }
}
