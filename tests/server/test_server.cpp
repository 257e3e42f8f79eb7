// The library server over real HTTP: a four-clip library built by the tagmap binary
// (init-db, index-audio, preprocess-all with MusiCNN-MTAT, project for the embedding maps,
// compute-genre-similarity), the Server in-process on a free port, httplib::Client.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include <nlohmann/json.hpp>
#include "http.hpp"

#include "fixtures.hpp"
#include "library.hpp"
#include "projection_cache.hpp"
#include "server.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

class ServerTest : public ::testing::Test {
  protected:
    static void run(const std::string& program, const std::string& args) {
        const auto log = dir_ / "log.txt";
        const std::string cmd =
            "export TAGMAP_FIXTURES=" + quote(tagmap::test::fixtures_dir().string()) + "; " +
            quote(tagmap::test::binary(program.c_str()).string()) + " " + args + " > " +
            quote(log.string()) + " 2>&1";
        const int status = std::system(cmd.c_str());
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
            << program << " " << args << ":\n"
            << slurp(log);
    }

    static void SetUpTestSuite() {
        dir_ = fs::temp_directory_path() / ("tagmap-server-" + std::to_string(::getpid()));
        fs::remove_all(dir_);
        fs::create_directories(dir_ / "music" / "sub");
        fs::create_directories(dir_ / "weights");
        const auto audio = tagmap::test::fixtures_dir() / "audio";
        // Copies (the server refuses symlinks that leave the root), one in a sub-folder.
        fs::copy_file(audio / "hedgewars-rock.mp3", dir_ / "music" / "hedgewars-rock.mp3");
        fs::copy_file(audio / "hedgewars-oriental.ogg", dir_ / "music" / "hedgewars-oriental.ogg");
        fs::copy_file(audio / "lincity-city-blues.mp3",
                      dir_ / "music" / "sub" / "lincity-city-blues.mp3");
        fs::copy_file(audio / "wesnoth-battle-epic.ogg",
                      dir_ / "music" / "wesnoth-battle-epic.ogg");
        std::ofstream(dir_ / "secret.txt") << "outside the library";

        db_ = dir_ / "library.db";
        const auto db = quote(db_.string());
        ASSERT_NO_FATAL_FAILURE(
            run("tagmap-convert",
                quote((tagmap::test::fixtures_dir() / "weights" / "musicnn-mtat.pth").string()) +
                    " " + quote((dir_ / "weights" / "musicnn-mtat.tmw").string())));
        ASSERT_NO_FATAL_FAILURE(run(
            "tagmap", "init-db --db " + db + " --audio-dir " + quote((dir_ / "music").string())));
        ASSERT_NO_FATAL_FAILURE(run("tagmap", "index-audio --db " + db));
        ASSERT_NO_FATAL_FAILURE(run("tagmap", "preprocess-all -q --db " + db + " --weights-dir " +
                                                  quote((dir_ / "weights").string())));
        // Embedding maps only: the taggram maps are left for the server to compute.
        ASSERT_NO_FATAL_FAILURE(run("tagmap", "project --db " + db + " --source embedding"));
        ASSERT_NO_FATAL_FAILURE(run("tagmap", "compute-genre-similarity --db " + db + " --labels " +
                                                  quote((audio / "labels.csv").string())));
        // An indexed file that became a symlink out of the root: must never be served.
        fs::remove(dir_ / "music" / "wesnoth-battle-epic.ogg");
        fs::create_symlink(audio / "wesnoth-battle-epic.ogg",
                           dir_ / "music" / "wesnoth-battle-epic.ogg");

        {
            tagmap::store::Library lib(db_, tagmap::store::OpenMode::read_only);
            for (const auto& t : lib.tracks()) ids_[t.filename] = t.id;
        }
        ASSERT_NO_FATAL_FAILURE(add_series());
        tagmap::server::ServerOptions options;
        options.threads = 8;
        options.seed_map_wait_seconds = 60;
        server_ = std::make_unique<tagmap::server::Server>(db_, options);
        port_ = server_->bind("127.0.0.1", 0);
        thread_ = std::thread([] { server_->listen(); });
    }

    /// Time series of the sequence models for one track, written through the store (the
    /// models themselves are tested in tests/crepe, tests/madmom and tests/store).
    static void add_series() {
        tagmap::store::Library lib(db_, tagmap::store::OpenMode::read_write);
        tagmap::store::SeriesModelRecord crepe{
            "crepe-tiny", 16000, 100, 2, {"hz", "confidence"}, "dc", "/w/crepe-tiny.tmw", "MIT"};
        tagmap::store::SeriesModelRecord beats{
            "madmom-beats",   44100, 100, 1, {"activation"}, "db", "/w/madmom-beats.tmw",
            "CC BY-NC-SA 4.0"};
        lib.upsert_series_model(crepe);
        lib.upsert_series_model(beats);
        const auto t = lib.track(ids_.at("hedgewars-rock.mp3"));
        ASSERT_TRUE(t);
        tagmap::store::TrackSeries p{"crepe-tiny",
                                     "dc",
                                     t->size_bytes,
                                     t->mtime_ns,
                                     0.03,
                                     100,
                                     3,
                                     2,
                                     {220.5f, 0.875f, 0.0f, 0.0123f, 1e-3f, 1.0f / 3.0f}};
        tagmap::store::TrackSeries b{"madmom-beats",
                                     "db",
                                     t->size_bytes,
                                     t->mtime_ns,
                                     0.04,
                                     100,
                                     4,
                                     1,
                                     {0.01f, 0.9f, 0.25f, 0.0f}};
        lib.store_track(t->id, {}, {p, b}, {}, false);
        pitch_ = p.values;
        beats_ = b.values;
    }

    static void TearDownTestSuite() {
        if (server_) server_->stop();
        if (thread_.joinable()) thread_.join();
        server_.reset();
        fs::remove_all(dir_);
    }

    void SetUp() override { ASSERT_TRUE(server_) << "fixture library was not built"; }

    static httplib::Client client() {
        httplib::Client c("127.0.0.1", port_);
        c.set_read_timeout(120, 0);
        c.set_connection_timeout(10, 0);
        return c;
    }
    static httplib::Result get(const std::string& path, const httplib::Headers& h = {}) {
        auto c = client();
        return c.Get(path.c_str(), h);
    }
    static json get_json(const std::string& path, int status = 200) {
        auto r = get(path);
        EXPECT_TRUE(r) << path;
        if (!r) return {};
        EXPECT_EQ(r->status, status) << path << ": " << r->body;
        EXPECT_EQ(r->get_header_value("Content-Type"), "application/json") << path;
        return json::parse(r->body, nullptr, false);
    }
    /// A JSON error with this status; its text names no server path.
    static void expect_error(const httplib::Result& r, int status, const std::string& what) {
        ASSERT_TRUE(r) << what;
        EXPECT_EQ(r->status, status) << what << ": " << r->body;
        const auto j = json::parse(r->body, nullptr, false);
        ASSERT_TRUE(j.is_object()) << what << ": " << r->body;
        EXPECT_TRUE(j.contains("error") && j["error"].is_string()) << r->body;
        EXPECT_TRUE(j.contains("detail") && j["detail"].is_string()) << r->body;
        EXPECT_EQ(r->body.find(dir_.string()), std::string::npos) << r->body;
        EXPECT_EQ(r->body.find("/etc"), std::string::npos) << r->body;
        EXPECT_EQ(r->body.find("secret"), std::string::npos) << r->body;
    }
    static void expect_error(const std::string& path, int status) {
        expect_error(get(path), status, path);
    }
    static std::int64_t id(const std::string& filename) { return ids_.at(filename); }
    static std::string audio_url(const std::string& filename) {
        return "/api/v1/tracks/" + std::to_string(id(filename)) + "/audio";
    }

    static fs::path dir_, db_;
    static std::map<std::string, std::int64_t> ids_;
    static std::vector<float> pitch_, beats_;
    static std::unique_ptr<tagmap::server::Server> server_;
    static std::thread thread_;
    static int port_;
};

fs::path ServerTest::dir_, ServerTest::db_;
std::map<std::string, std::int64_t> ServerTest::ids_;
std::vector<float> ServerTest::pitch_, ServerTest::beats_;
std::unique_ptr<tagmap::server::Server> ServerTest::server_;
std::thread ServerTest::thread_;
int ServerTest::port_ = 0;

const std::set<std::string> kFiles = {"hedgewars-oriental.ogg", "hedgewars-rock.mp3",
                                      "sub/lincity-city-blues.mp3", "wesnoth-battle-epic.ogg"};

}  // namespace

TEST_F(ServerTest, HealthAndModels) {
    const auto h = get_json("/api/v1/health");
    EXPECT_EQ(h["status"], "ok");
    EXPECT_EQ(h["tracks"], 4);
    EXPECT_EQ(h["models"], json::array({"musicnn-mtat"}));

    const auto m = get_json("/api/v1/models");
    ASSERT_EQ(m["models"].size(), 1u);
    const auto& model = m["models"][0];
    EXPECT_EQ(model["model_id"], "musicnn-mtat");
    EXPECT_EQ(model["model"], "musicnn");
    EXPECT_EQ(model["dataset"], "mtat");
    EXPECT_EQ(model["n_tags"], 50);
    EXPECT_EQ(model["tags"].size(), 50u);
    EXPECT_FALSE(model.contains("weights_file"));  // a server path
    EXPECT_EQ(get_json("/api/v1/")["version"], 1);
}

TEST_F(ServerTest, SeedAudiosAndTags) {
    const auto a = get_json("/audios");
    ASSERT_TRUE(a.is_array());
    EXPECT_EQ(a.get<std::set<std::string>>(), kFiles);
    // Labels from labels.csv (by unique file name): one per game.
    const auto t = get_json("/tags");
    EXPECT_EQ(t.get<std::set<std::string>>(),
              (std::set<std::string>{"hedgewars", "lincity", "wesnoth"}));
}

TEST_F(ServerTest, SeedEmbeddingsShape) {
    for (const auto& [query, dims, name] :
         {std::tuple<std::string, int, std::string>{"", 2, "embeddings_musicnn_mtat_umap_2"},
          {"?red=musicnn&dataset=mtat&metodo=umap&dimensions=3", 3,
           "embeddings_musicnn_mtat_umap_3"},
          {"?red=musicnn&dataset=mtat&metodo=tsne&dimensiones=2", 2,
           "embeddings_musicnn_mtat_tsne_2"}}) {
        const auto j = get_json("/embeddings" + query);
        EXPECT_EQ(j["name"], name);
        ASSERT_EQ(j["data"].size(), 4u) << query;
        std::set<std::string> audios;
        for (const auto& p : j["data"]) {
            audios.insert(p["audio"].get<std::string>());
            ASSERT_EQ(p["coords"].size(), std::size_t(dims));
            for (const auto& c : p["coords"]) EXPECT_TRUE(c.is_number());
            EXPECT_TRUE(p["name"].is_string());
            EXPECT_TRUE(p["tag"].is_string());
            EXPECT_FALSE(p["tag"].get<std::string>().empty());
        }
        EXPECT_EQ(audios, kFiles);
    }
    // The seed's tag: the genre label.
    const auto j = get_json("/embeddings");
    for (const auto& p : j["data"])
        if (p["audio"] == "hedgewars-rock.mp3") {
            EXPECT_EQ(p["tag"], "hedgewars");
        }
}

TEST_F(ServerTest, SeedTaggramsAreComputedOnDemand) {
    // Not in the cache: the seed route waits for the background job.
    const auto j = get_json("/taggrams?red=musicnn&dataset=mtat&metodo=umap&dimensions=2");
    EXPECT_EQ(j["name"], "taggrams_musicnn_mtat_umap_2");
    EXPECT_EQ(j["data"].size(), 4u);
}

TEST_F(ServerTest, SeedBadParameters) {
    expect_error("/embeddings?red=resnet", 400);
    expect_error("/embeddings?dataset=imagenet", 400);
    expect_error("/embeddings?dataset=msd", 400);  // known model, not in this library
    expect_error("/embeddings?metodo=pca", 400);
    expect_error("/embeddings?dimensions=7", 400);
    expect_error("/taggrams?dimensiones=x", 400);
}

TEST_F(ServerTest, SeedAudioServesIndexedFilesOnly) {
    auto r = get("/audio/hedgewars-rock.mp3");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->get_header_value("Content-Type"), "audio/mpeg");
    EXPECT_EQ(r->get_header_value("Accept-Ranges"), "bytes");
    EXPECT_TRUE(r->body == slurp(dir_ / "music" / "hedgewars-rock.mp3"));
    r = get("/audio/sub/lincity-city-blues.mp3");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->body == slurp(dir_ / "music" / "sub" / "lincity-city-blues.mp3"));
    r = get("/audio/hedgewars-oriental.ogg", {{"Range", "bytes=10-19"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 206);
    EXPECT_EQ(r->get_header_value("Content-Type"), "audio/ogg");
    EXPECT_EQ(r->body, slurp(dir_ / "music" / "hedgewars-oriental.ogg").substr(10, 10));
    expect_error("/audio/missing.mp3", 404);
    expect_error("/audio/", 404);
}

TEST_F(ServerTest, PathTraversalIsRefused) {
    for (const char* path :
         {"/audio/../secret.txt", "/audio/..%2fsecret.txt", "/audio/%2e%2e/secret.txt",
          "/audio/%2e%2e%2fsecret.txt", "/audio/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
          "/audio/../../../../etc/passwd", "/audio//etc/passwd", "/audio/%2fetc%2fpasswd",
          "/audio/sub/../hedgewars-rock.mp3", "/audio/./hedgewars-rock.mp3",
          "/audio/sub/..%5c..%5csecret.txt", "/../secret.txt", "/%2e%2e/secret.txt",
          "/api/v1/tracks/../../secret.txt", "/api/v1/tracks/..%2f..%2fsecret.txt/audio"}) {
        const auto r = get(path);
        ASSERT_TRUE(r) << path;
        EXPECT_TRUE(r->status == 404 || r->status == 400) << path << " -> " << r->status;
        expect_error(r, r->status, path);
    }
    // Indexed, but its real path (through a symlink) is outside the root.
    expect_error("/audio/wesnoth-battle-epic.ogg", 403);
    expect_error(audio_url("wesnoth-battle-epic.ogg"), 403);
    expect_error(audio_url("wesnoth-battle-epic.ogg") + "?x=1", 403);
}

TEST_F(ServerTest, RangeRequests) {
    const auto file = slurp(dir_ / "music" / "hedgewars-rock.mp3");
    const auto size = file.size();
    const auto url = audio_url("hedgewars-rock.mp3");
    auto r = get(url);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->get_header_value("Accept-Ranges"), "bytes");
    EXPECT_EQ(r->get_header_value("Content-Length"), std::to_string(size));
    EXPECT_TRUE(r->body == file);

    struct Case {
        std::string range;
        std::size_t first, length;
    };
    for (const auto& c :
         {Case{"bytes=0-99", 0, 100}, Case{"bytes=1000-", 1000, size - 1000},
          Case{"bytes=-500", size - 500, 500}, Case{"bytes=100-100", 100, 1},
          Case{"bytes=" + std::to_string(size - 10) + "-99999999", size - 10, 10},
          Case{"bytes=-99999999", 0, size}, Case{"bytes=12345-23456", 12345, 11112}}) {
        r = get(url, {{"Range", c.range}});
        ASSERT_TRUE(r) << c.range;
        EXPECT_EQ(r->status, 206) << c.range;
        EXPECT_EQ(r->get_header_value("Content-Range"), "bytes " + std::to_string(c.first) + "-" +
                                                            std::to_string(c.first + c.length - 1) +
                                                            "/" + std::to_string(size))
            << c.range;
        EXPECT_EQ(r->get_header_value("Content-Length"), std::to_string(c.length)) << c.range;
        EXPECT_EQ(r->get_header_value("Content-Type"), "audio/mpeg");
        EXPECT_TRUE(r->body == file.substr(c.first, c.length)) << c.range;
    }
    for (const std::string& range :
         {"bytes=" + std::to_string(size) + "-", std::string("bytes=99999999-"),
          std::string("bytes=500-100"), std::string("bytes=-0"), std::string("bytes=abc"),
          std::string("items=0-10")}) {
        r = get(url, {{"Range", range}});
        ASSERT_TRUE(r) << range;
        EXPECT_EQ(r->status, 416) << range;
        EXPECT_EQ(r->get_header_value("Content-Range"), "bytes */" + std::to_string(size));
        expect_error(r, 416, range);
    }
    // Several ranges: the whole file (allowed by RFC 9110), never a mangled body.
    r = get(url, {{"Range", "bytes=0-1,5-6"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->body == file);
    // A Range header on a JSON route changes nothing, even a malformed one.
    for (const char* range : {"bytes=0-3", "bytes=x"}) {
        r = get("/api/v1/health", {{"Range", range}});
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200) << range;
        EXPECT_TRUE(json::parse(r->body, nullptr, false).is_object()) << r->body;
    }
    // HEAD: headers only.
    auto c = client();
    r = c.Head(url.c_str());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->body.empty());
}

TEST_F(ServerTest, TracksPaged) {
    const auto all = get_json("/api/v1/tracks");
    EXPECT_EQ(all["total"], 4);
    EXPECT_EQ(all["model"], "musicnn-mtat");
    ASSERT_EQ(all["tracks"].size(), 4u);
    const std::string tags = slurp(tagmap::test::fixtures_dir() / "tags" / "mtat.txt");
    std::set<std::string> files;
    for (const auto& t : all["tracks"]) {
        files.insert(t["filename"].get<std::string>());
        EXPECT_EQ(t["id"], id(t["filename"]));
        EXPECT_TRUE(t["name"].is_string());
        EXPECT_TRUE(t["genre"].is_string());  // labelled
        ASSERT_EQ(t["top_tags"].size(), 3u);
        for (const auto& tag : t["top_tags"]) {
            EXPECT_NE(tags.find(tag["tag"].get<std::string>() + "\n"), std::string::npos);
            EXPECT_GT(tag["score"].get<double>(), 0.0);
        }
        EXPECT_GE(t["top_tags"][0]["score"].get<double>(), t["top_tags"][1]["score"].get<double>());
    }
    EXPECT_EQ(files, kFiles);
    const auto page = get_json("/api/v1/tracks?offset=1&limit=2&model=musicnn-mtat");
    ASSERT_EQ(page["tracks"].size(), 2u);
    EXPECT_EQ(page["tracks"][0], all["tracks"][1]);
    EXPECT_EQ(page["tracks"][1], all["tracks"][2]);
    EXPECT_EQ(get_json("/api/v1/tracks?offset=3")["tracks"].size(), 1u);
    EXPECT_EQ(get_json("/api/v1/tracks?offset=400")["tracks"].size(), 0u);
    EXPECT_EQ(get_json("/api/v1/tracks?limit=1000")["tracks"].size(), 4u);
    for (const char* bad : {"limit=0", "limit=1001", "limit=-1", "limit=abc", "offset=-1",
                            "offset=1e3", "limit=99999999999999999999999", "model=nope"})
        expect_error(std::string("/api/v1/tracks?") + bad, 400);
}

// The summary's columns say what /tracks says of each track, in one response.
TEST_F(ServerTest, SummaryColumnsMatchTheTrackList) {
    const auto all = get_json("/api/v1/tracks?model=musicnn-mtat");
    const auto s = get_json("/api/v1/summary?model=musicnn-mtat");
    EXPECT_EQ(s["model"], "musicnn-mtat");
    ASSERT_EQ(s["count"], 4);
    ASSERT_EQ(s["n"], 3);
    ASSERT_EQ(s["ids"].size(), 4u);
    ASSERT_EQ(s["top_tags"].size(), 12u);
    ASSERT_EQ(s["top_scores"].size(), 12u);
    ASSERT_EQ(s["tag_names"].size(), 50u);
    for (std::size_t i = 0; i < 4; ++i) {
        const auto& t = all["tracks"][i];
        EXPECT_EQ(s["ids"][i], t["id"]);
        EXPECT_EQ(s["names"][i], t["name"]);
        EXPECT_EQ(s["genres"][s["genre"][i].get<int>()], t["genre"]);
        for (std::size_t k = 0; k < 3; ++k) {
            EXPECT_EQ(s["tag_names"][s["top_tags"][i * 3 + k].get<int>()], t["top_tags"][k]["tag"]);
            EXPECT_FLOAT_EQ(s["top_scores"][i * 3 + k].get<float>(),
                            t["top_tags"][k]["score"].get<float>());
        }
    }
    EXPECT_EQ(get_json("/api/v1/summary?model=musicnn-mtat&n=0")["top_tags"].size(), 0u);
    for (const char* bad : {"n=11", "n=-1", "model=nope"})
        expect_error(std::string("/api/v1/summary?") + bad, 400);
}

// One tag's score for every track: the same number /tracks reports where the tag is among
// a track's top 3, and no more than its third score where it is not.
TEST_F(ServerTest, TagScoresForEveryTrack) {
    const auto all = get_json("/api/v1/tracks?model=musicnn-mtat");
    const std::string tag = all["tracks"][0]["top_tags"][0]["tag"];
    std::string query_tag;  // MTAT has tags with spaces ("no vocals")
    for (const char c : tag) query_tag += c == ' ' ? std::string("%20") : std::string(1, c);
    const auto j = get_json("/api/v1/tag-scores?model=musicnn-mtat&tag=" + query_tag);
    EXPECT_EQ(j["tag"], tag);
    ASSERT_EQ(j["ids"].size(), 4u);
    ASSERT_EQ(j["scores"].size(), 4u);
    for (std::size_t i = 0; i < 4; ++i) {
        const auto& t = all["tracks"][i];
        ASSERT_EQ(j["ids"][i], t["id"]);
        const float score = j["scores"][i].get<float>();
        bool among = false;
        for (const auto& x : t["top_tags"])
            if (x["tag"] == tag) {
                among = true;
                EXPECT_FLOAT_EQ(score, x["score"].get<float>());
            }
        if (!among) {
            EXPECT_LE(score, t["top_tags"][2]["score"].get<float>());
        }
        EXPECT_GT(score, 0.0f);
    }
    expect_error("/api/v1/tag-scores?model=musicnn-mtat", 400);
    expect_error("/api/v1/tag-scores?model=musicnn-mtat&tag=no%20such%20tag", 400);
    expect_error("/api/v1/tag-scores?model=nope&tag=" + query_tag, 400);
}

TEST_F(ServerTest, OneTrack) {
    const auto rock = id("hedgewars-rock.mp3");
    const auto t = get_json("/api/v1/tracks/" + std::to_string(rock));
    EXPECT_EQ(t["id"], rock);
    EXPECT_EQ(t["filename"], "hedgewars-rock.mp3");
    EXPECT_EQ(t["label"], "hedgewars");
    EXPECT_EQ(t["top_tags"].size(), 3u);
    EXPECT_EQ(t["audio_url"], audio_url("hedgewars-rock.mp3"));
    for (const char* bad : {"abc", "-1", "0", "1.5", "1e3", "0x10", "99999999999999999999999"})
        expect_error(std::string("/api/v1/tracks/") + bad, 400);
    expect_error("/api/v1/tracks/999999", 404);
    expect_error("/api/v1/tracks/999999/audio", 404);
    expect_error("/api/v1/tracks/abc/audio", 400);
}

TEST_F(ServerTest, MapsJsonAndF32) {
    std::set<std::int64_t> ids;
    for (const auto& [f, i] : ids_) ids.insert(i);
    for (const auto& [method, dims] :
         {std::pair<std::string, int>{"umap", 2}, {"umap", 3}, {"tsne", 2}, {"tsne", 3}}) {
        const std::string q = "/api/v1/maps?model=musicnn-mtat&source=embedding&method=" + method +
                              "&dims=" + std::to_string(dims);
        const auto j = get_json(q);
        EXPECT_EQ(j["model"], "musicnn-mtat");
        EXPECT_EQ(j["method"], method);
        EXPECT_EQ(j["dims"], dims);
        ASSERT_EQ(j["points"].size(), 4u);
        std::set<std::int64_t> seen;
        for (const auto& p : j["points"]) {
            seen.insert(p["track_id"].get<std::int64_t>());
            EXPECT_EQ(p["coords"].size(), std::size_t(dims));
        }
        EXPECT_EQ(seen, ids);

        const auto r = get(q + "&format=f32");
        ASSERT_TRUE(r);
        ASSERT_EQ(r->status, 200);
        EXPECT_EQ(r->get_header_value("Content-Type"), "application/octet-stream");
        EXPECT_EQ(r->get_header_value("X-Tagmap-Shape"), "4," + std::to_string(dims));
        ASSERT_EQ(r->body.size(), 4 * 8 + 4 * std::size_t(dims) * 4);
        for (std::size_t i = 0; i < 4; ++i) {
            std::int64_t tid = 0;
            std::memcpy(&tid, r->body.data() + 8 * i, 8);
            EXPECT_EQ(tid, j["points"][i]["track_id"].get<std::int64_t>());
            for (int d = 0; d < dims; ++d) {
                float v = 0;
                std::memcpy(&v, r->body.data() + 32 + 4 * (i * std::size_t(dims) + std::size_t(d)),
                            4);
                EXPECT_EQ(v, j["points"][i]["coords"][d].get<float>());  // shortest float text
            }
        }
    }
    EXPECT_EQ(get_json("/api/v1/maps")["points"].size(), 4u);  // defaults: first model, umap 2D
    // Clients that accept brotli get gzip (httplib's brotli runs at quality 11: too slow).
    const auto br = get("/api/v1/maps", {{"Accept-Encoding", "br, gzip"}});
    ASSERT_TRUE(br);
    EXPECT_EQ(br->status, 200);
    EXPECT_NE(br->get_header_value("Content-Encoding"), "br");
    EXPECT_EQ(json::parse(br->body)["points"].size(), 4u);
    for (const char* bad : {"dims=7", "dims=1", "dims=two", "method=pca", "source=audio",
                            "model=nope", "format=xml", "timeout=-1", "timeout=1e9", "timeout=nan"})
        expect_error(std::string("/api/v1/maps?") + bad, 400);
}

TEST_F(ServerTest, MissingMapIsComputedOnceInTheBackground) {
    const std::string q = "/api/v1/maps?source=taggram&method=tsne&dims=3";
    const auto before = server_->stats().map_jobs_started;
    // Many clients at once: one job.
    std::vector<std::thread> clients;
    std::atomic<int> accepted{0}, other{0};
    for (int i = 0; i < 8; ++i)
        clients.emplace_back([&] {
            const auto r = get(q);
            if (r && (r->status == 202 || r->status == 200))
                ++accepted;
            else
                ++other;
        });
    for (auto& t : clients) t.join();
    EXPECT_EQ(accepted, 8);
    EXPECT_EQ(other, 0);
    auto r = get(q);
    ASSERT_TRUE(r);
    if (r->status == 202) {
        const auto j = json::parse(r->body);
        EXPECT_EQ(j["status"], "computing");
        EXPECT_TRUE(j["progress"].contains("state"));
        EXPECT_EQ(r->get_header_value("Retry-After"), "1");
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (r && r->status == 202 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        r = get(q);
    }
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(json::parse(r->body)["points"].size(), 4u);
    EXPECT_EQ(server_->stats().map_jobs_started - before, 1);
    // Cached now: no new job.
    EXPECT_EQ(get(q)->status, 200);
    EXPECT_EQ(server_->stats().map_jobs_started - before, 1);

    // The first response can also wait for the job: timeout.
    const std::string q2 = "/api/v1/maps?source=taggram&method=umap&dims=3&timeout=120";
    const auto j = get_json(q2);
    EXPECT_EQ(j["source"], "taggram");
    EXPECT_EQ(j["points"].size(), 4u);
}

TEST_F(ServerTest, Neighbors) {
    const auto rock = id("hedgewars-rock.mp3");
    const std::string base = "/api/v1/tracks/" + std::to_string(rock) + "/neighbors";
    const auto j = get_json(base + "?k=2");
    EXPECT_EQ(j["track_id"], rock);
    ASSERT_EQ(j["neighbors"].size(), 2u);
    tagmap::store::Library lib(db_, tagmap::store::OpenMode::read_only);
    const auto expected = lib.neighbors(rock, "musicnn-mtat", tagmap::store::Source::embedding, 2);
    for (std::size_t i = 0; i < 2; ++i) {
        EXPECT_EQ(j["neighbors"][i]["track_id"], expected[i].track_id);
        EXPECT_DOUBLE_EQ(j["neighbors"][i]["similarity"].get<double>(), expected[i].similarity);
        EXPECT_NE(j["neighbors"][i]["track_id"], rock);
    }
    EXPECT_EQ(get_json(base)["neighbors"].size(), 3u);  // k=10 default, 3 others
    EXPECT_EQ(get_json(base + "?source=taggram&k=100&model=musicnn-mtat")["neighbors"].size(), 3u);
    for (const char* bad :
         {"k=0", "k=101", "k=1000000000", "k=-5", "k=ten", "source=x", "model=vgg-msd"})
        expect_error(base + "?" + bad, 400);
    expect_error("/api/v1/tracks/999999/neighbors", 404);
    expect_error("/api/v1/tracks/x/neighbors", 400);
}

TEST_F(ServerTest, Search) {
    const auto j = get_json("/api/v1/search?q=HEDGEWARS&limit=10");
    std::set<std::string> found;
    for (const auto& t : j["results"]) found.insert(t["filename"].get<std::string>());
    EXPECT_EQ(found, (std::set<std::string>{"hedgewars-rock.mp3", "hedgewars-oriental.ogg"}));
    EXPECT_EQ(get_json("/api/v1/search?q=city&limit=1")["results"].size(), 1u);
    EXPECT_EQ(get_json("/api/v1/search?q=zzzz-no-such-thing")["results"].size(), 0u);
    expect_error("/api/v1/search", 400);
    expect_error("/api/v1/search?q=", 400);
    expect_error("/api/v1/search?q=a&limit=0", 400);
    expect_error("/api/v1/search?q=a&limit=5000", 400);
    expect_error("/api/v1/search?q=" + std::string(300, 'a'), 400);
}

namespace {
std::string lowered(std::string s) {
    for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}
}  // namespace

// The order and the limit of search, recomputed here from the track list: first the tracks
// whose filename, title, artist, album, file genre or label contains the query (ASCII
// case-insensitive, no wildcards), by filename; then those that match only by a top-3 tag
// of the model, by filename; the first `limit` of that. The same through HTTP, through
// Library::search with and without the snapshot (search_index), and without a model (no
// tag matches).
TEST_F(ServerTest, SearchOrderLimitAndModel) {
    const auto all = get_json("/api/v1/tracks?limit=100")["tracks"];
    ASSERT_EQ(all.size(), 4u);
    auto expected = [&](const std::string& q, int limit, bool with_tags) {
        const auto needle = lowered(q);
        std::vector<std::pair<std::string, std::int64_t>> fields, tag_only;
        for (const auto& t : all) {
            bool field = false;
            for (const char* k : {"filename", "title", "artist", "album", "file_genre", "label"})
                field =
                    field || (t[k].is_string() &&
                              lowered(t[k].get<std::string>()).find(needle) != std::string::npos);
            bool tag = false;
            for (const auto& x : t["top_tags"])
                tag = tag || lowered(x["tag"].get<std::string>()).find(needle) != std::string::npos;
            const std::pair key{t["filename"].get<std::string>(), t["id"].get<std::int64_t>()};
            if (field)
                fields.push_back(key);
            else if (tag && with_tags)
                tag_only.push_back(key);
        }
        std::sort(fields.begin(), fields.end());
        std::sort(tag_only.begin(), tag_only.end());
        fields.insert(fields.end(), tag_only.begin(), tag_only.end());
        std::vector<std::int64_t> ids;
        for (const auto& f : fields)
            if (int(ids.size()) < limit) ids.push_back(f.second);
        return ids;
    };
    std::vector<std::string> queries = {"HEDGEWARS",         "mp3", "/", ".", "e", "%", "_", "a%",
                                        "zzzz-no-such-thing"};
    for (const auto& t : all)  // every top tag: queries with tag-only matches
        for (const auto& x : t["top_tags"]) queries.push_back(x["tag"].get<std::string>());
    // The server's in-memory snapshot (which HTTP search uses once built): wait for it.
    get_json("/api/v1/search?q=x");
    for (int i = 0; i < 600 && server_->stats().details_builds < 1; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_GE(server_->stats().details_builds, 1);
    tagmap::store::Library lib(db_, tagmap::store::OpenMode::read_only);
    const auto index = lib.search_index("musicnn-mtat");
    int tag_only_seen = 0;
    for (const auto& q : queries)
        for (const int limit : {1, 2, 3, 10}) {
            const auto want = expected(q, limit, true);
            std::string path =
                "/api/v1/search?model=musicnn-mtat&limit=" + std::to_string(limit) + "&q=";
            for (const unsigned char c : q) {  // percent-encoded
                char hex[4];
                std::snprintf(hex, sizeof hex, "%%%02X", c);
                path += hex;
            }
            const auto j = get_json(path);
            std::vector<std::int64_t> got;
            for (const auto& t : j["results"]) got.push_back(t["id"].get<std::int64_t>());
            EXPECT_EQ(got, want) << "HTTP, q=" << q << " limit=" << limit;
            EXPECT_EQ(j["count"], want.size()) << q;
            for (const auto* tags :
                 {static_cast<const tagmap::store::SearchIndex*>(nullptr), &index}) {
                std::vector<std::int64_t> lib_ids;
                for (const auto& t : lib.search(q, "musicnn-mtat", limit, tags))
                    lib_ids.push_back(t.id);
                EXPECT_EQ(lib_ids, want) << "Library, q=" << q << " limit=" << limit
                                         << (tags ? " (tag index)" : " (taggram scan)");
            }
            std::vector<std::int64_t> no_model;
            for (const auto& t : lib.search(q, "", limit)) no_model.push_back(t.id);
            EXPECT_EQ(no_model, expected(q, limit, false)) << "no model, q=" << q;
            if (expected(q, 10, true).size() > expected(q, 10, false).size()) ++tag_only_seen;
        }
    EXPECT_GT(tag_only_seen, 0) << "no query had tag-only matches: the tag part went untested";
}

TEST_F(ServerTest, GenreSimilarity) {
    const auto j = get_json("/api/v1/genre-similarity?model=musicnn-mtat&source=embedding");
    EXPECT_TRUE(j.is_object());
    EXPECT_FALSE(j.empty());
    expect_error("/api/v1/genre-similarity?model=nope", 400);
    expect_error("/api/v1/genre-similarity?source=x", 400);
}

TEST_F(ServerTest, UnknownRoutesAndMethods) {
    expect_error("/nope", 404);
    expect_error("/api/v2/tracks", 404);
    expect_error("/api/v1/tracks/1/nope", 404);
    expect_error("/" + std::string(5000, 'a'), 414);
    auto c = client();
    // POST /api/v1/tracks is the upload route: a body that is not a multipart file is a 400.
    expect_error(c.Post("/api/v1/tracks", "{}", "application/json"), 400, "POST tracks");
    expect_error(c.Post("/api/v1/maps", "{}", "application/json"), 405, "POST maps");
    const auto r = c.Post("/audios", "x", "text/plain");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->get_header_value("Allow"), "GET, HEAD");
    expect_error(c.Delete("/api/v1/tracks/1"), 405, "DELETE track");
    expect_error(c.Put("/api/v1/maps", "", "text/plain"), 405, "PUT maps");
    expect_error(c.Patch("/tags", "", "text/plain"), 405, "PATCH tags");
    expect_error(c.Options("/tags"), 405, "OPTIONS tags");
    expect_error(c.Post("/nope", "", "text/plain"), 404, "POST nope");
    // The connection is still usable after refused bodies (keep-alive).
    EXPECT_EQ(c.Get("/api/v1/health")->status, 200);
}

TEST_F(ServerTest, ConcurrentRequests) {
    const auto rock = std::to_string(id("hedgewars-rock.mp3"));
    const std::vector<std::string> paths = {"/api/v1/tracks",
                                            "/api/v1/maps?method=umap&dims=2",
                                            "/api/v1/maps?method=tsne&dims=3&format=f32",
                                            "/api/v1/tracks/" + rock + "/neighbors?k=3",
                                            "/api/v1/tracks/" + rock,
                                            "/api/v1/search?q=wesnoth",
                                            "/audios",
                                            "/embeddings?metodo=tsne",
                                            "/api/v1/health",
                                            "/api/v1/tracks/" + rock + "/audio"};
    std::atomic<int> ok{0}, failed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 16; ++t)
        threads.emplace_back([&, t] {
            auto c = client();  // one keep-alive connection per thread
            for (int i = 0; i < 20; ++i) {
                const auto& p = paths[std::size_t(t + i) % paths.size()];
                const auto r = c.Get(p.c_str());
                (r && r->status == 200) ? ++ok : ++failed;
            }
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok, 16 * 20);
    EXPECT_EQ(failed, 0);
    // Connections are pooled: at most one per HTTP thread (8) plus a few early ones.
    EXPECT_LE(server_->stats().connections_opened, 16);
}

TEST_F(ServerTest, SeriesOfATrack) {
    const auto base = "/api/v1/tracks/" + std::to_string(id("hedgewars-rock.mp3")) + "/series";
    const auto index = get_json("/api/v1");
    EXPECT_NE(index["routes"].dump().find("tracks/<id>/series"), std::string::npos) << index;
    // Without a model: which series the track has, with their frame rates and licenses.
    const auto list = get_json(base);
    ASSERT_EQ(list["series"].size(), 2u) << list;
    EXPECT_EQ(list["series"][0]["model"], "crepe-tiny");
    EXPECT_EQ(list["series"][0]["fps"], 100);
    EXPECT_EQ(list["series"][0]["columns"], json({"hz", "confidence"}));
    EXPECT_EQ(list["series"][0]["license"], "MIT");
    EXPECT_EQ(list["series"][0]["url"], base + "?model=crepe-tiny");
    EXPECT_EQ(list["series"][1]["model"], "madmom-beats");
    EXPECT_EQ(list["series"][1]["license"], "CC BY-NC-SA 4.0");
    EXPECT_EQ(list["series"][1]["columns"], json({"activation"}));
    EXPECT_EQ(list["series"][0].count("weights_file"), 0u);  // a server path: not shown

    // JSON: rows of (Hz, confidence), floats in their shortest round-trip form.
    const auto pitch = get_json(base + "?model=crepe-tiny");
    EXPECT_EQ(pitch["track_id"], id("hedgewars-rock.mp3"));
    EXPECT_EQ(pitch["frames"], 3);
    ASSERT_EQ(pitch["values"].size(), 3u) << pitch;
    for (std::size_t t = 0; t < 3; ++t)
        for (std::size_t c = 0; c < 2; ++c)
            EXPECT_EQ(float(pitch["values"][t][c].get<double>()), pitch_[2 * t + c]) << t << c;
    const auto beats = get_json(base + "?model=madmom-beats&format=json");
    ASSERT_EQ(beats["values"].size(), 4u) << beats;
    EXPECT_TRUE(beats["values"][1].is_number());  // one column: a flat array
    EXPECT_EQ(float(beats["values"][1].get<double>()), 0.9f);

    // f32: the stored bytes, with the shape and frame rate in headers.
    for (const auto& [model, values, shape] :
         std::vector<std::tuple<std::string, std::vector<float>, std::string>>{
             {"crepe-tiny", pitch_, "3,2"}, {"madmom-beats", beats_, "4,1"}}) {
        const auto r = get(base + "?model=" + model + "&format=f32");
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200) << r->body;
        EXPECT_EQ(r->get_header_value("Content-Type"), "application/octet-stream");
        EXPECT_EQ(r->get_header_value("X-Tagmap-Shape"), shape);
        EXPECT_EQ(std::stod(r->get_header_value("X-Tagmap-Fps")), 100.0);
        ASSERT_EQ(r->body.size(), values.size() * 4);
        EXPECT_EQ(std::memcmp(r->body.data(), values.data(), r->body.size()), 0) << model;
    }

    // 404: a track without series, an unknown track, a model the library has no series of.
    const auto other = "/api/v1/tracks/" + std::to_string(id("hedgewars-oriental.ogg")) + "/series";
    EXPECT_TRUE(get_json(other)["series"].empty());
    expect_error(other + "?model=crepe-tiny", 404);
    expect_error("/api/v1/tracks/999999/series", 404);
    expect_error("/api/v1/tracks/999999/series?model=crepe-tiny", 404);
    expect_error(base + "?model=openl3", 404);
    // 400: malformed ids and parameters, and a tagging model.
    expect_error("/api/v1/tracks/abc/series", 400);
    expect_error("/api/v1/tracks/0/series?model=crepe-tiny", 400);
    expect_error(base + "?model=musicnn-mtat", 400);
    expect_error(base + "?model=..%2Fetc", 400);
    expect_error(base + "?model=", 400);
    expect_error(base + "?model=crepe-tiny&format=xml", 400);
    expect_error("/api/v1/tracks/999999/series?format=xml", 400);
}

// ---------------------------------------------------------------------------------------
// Large maps: /api/v1/maps/points (level-of-detail order, box and id queries) on a
// synthetic library of 6,000 tracks whose maps are written through the store (no models
// run): clustered 2D and 3D coordinates with exact duplicates.

struct LodPoint {
    std::int64_t id = 0;
    std::vector<float> c;
};

/// Decodes a points answer (uint32 or int64 ids, then float32 coordinates).
std::vector<LodPoint> decode_points(const httplib::Result& r, int dims) {
    std::vector<LodPoint> out;
    EXPECT_TRUE(r);
    if (!r) return out;
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/octet-stream");
    const auto layout = r->get_header_value("X-Tagmap-Layout");
    const std::size_t idb = layout.starts_with("ids:uint32le[N]") ? 4 : 8;
    EXPECT_TRUE(layout.ends_with(",coords:float32le[N*dims]")) << layout;
    const std::size_t n = r->body.size() / (idb + 4 * std::size_t(dims));
    EXPECT_EQ(r->body.size(), n * (idb + 4 * std::size_t(dims)));
    EXPECT_EQ(r->get_header_value("X-Tagmap-Shape"),
              std::to_string(n) + "," + std::to_string(dims));
    for (std::size_t i = 0; i < n; ++i) {
        LodPoint p;
        if (idb == 4) {
            std::uint32_t v = 0;
            std::memcpy(&v, r->body.data() + 4 * i, 4);
            p.id = v;
        } else {
            std::memcpy(&p.id, r->body.data() + 8 * i, 8);
        }
        p.c.resize(std::size_t(dims));
        std::memcpy(p.c.data(), r->body.data() + idb * n + 4 * std::size_t(dims) * i,
                    4 * std::size_t(dims));
        out.push_back(p);
    }
    return out;
}

class LodServerTest : public ::testing::Test {
  protected:
    static constexpr int kTracks = 6000;

    static void SetUpTestSuite() {
        dir_ = fs::temp_directory_path() / ("tagmap-server-lod-" + std::to_string(::getpid()));
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        db_ = dir_ / "library.db";
        {
            auto lib = tagmap::store::Library::create(db_);
            lib.set_audio_root(dir_);
            lib.db().exec("PRAGMA synchronous = OFF");
            tagmap::store::ModelRecord m;
            m.model_id = "musicnn-mtat";
            m.model = "musicnn";
            m.dataset = "mtat";
            m.n_tags = 50;
            m.embedding_dim = 200;
            m.input_samples = 48000;
            m.weights_digest = "synthetic";
            m.weights_file = "synthetic.tmw";
            lib.upsert_model(m);
            std::vector<std::int64_t> ids;
            lib.db().exec("BEGIN");
            for (int i = 0; i < kTracks; ++i) {
                tagmap::store::TrackRecord t;
                t.filename = "synthetic/t" + std::to_string(i) + ".mp3";
                t.size_bytes = 1000;
                t.title = "Track " + std::to_string(i);
                if (i % 3) t.genre = i % 3 == 1 ? "rock" : "jazz";
                ids.push_back(lib.upsert_track(t));
            }
            lib.db().exec("COMMIT");
            std::mt19937_64 rng(5);
            std::normal_distribution<float> normal;
            for (int dims : {2, 3}) {
                tagmap::store::MapSpec spec;
                spec.model_id = m.model_id;
                spec.dims = dims;
                tagmap::store::Projection p;
                p.key = {spec.model_id, spec.source, spec.method, dims,
                         tagmap::store::map_params(spec)};
                p.track_ids = ids;
                p.fitted_rows = kTracks;
                p.input_digest = "synthetic";
                p.coords = tagmap::store::RowMatrixF(kTracks, dims);
                for (int i = 0; i < kTracks; ++i)
                    for (int d = 0; d < dims; ++d)  // 5 blobs; every 50th point a duplicate
                        p.coords(i, d) = i % 50 == 0 && i ? p.coords(i - 1, d)
                                                          : 20.0f * float((i * 7 + d) % 5) +
                                                                normal(rng) * (1.0f + float(i % 4));
                lib.store_projection(p);
            }
        }
        tagmap::server::ServerOptions options;
        options.threads = 4;
        server_ = std::make_unique<tagmap::server::Server>(db_, options);
        port_ = server_->bind("127.0.0.1", 0);
        thread_ = std::thread([] { server_->listen(); });
    }
    static void TearDownTestSuite() {
        if (server_) server_->stop();
        if (thread_.joinable()) thread_.join();
        server_.reset();
        fs::remove_all(dir_);
    }
    static httplib::Result get(const std::string& path) {
        httplib::Client c("127.0.0.1", port_);
        c.set_read_timeout(60, 0);
        return c.Get(path.c_str());
    }
    static std::string base(int dims) {
        return "/api/v1/maps/points?model=musicnn-mtat&dims=" + std::to_string(dims);
    }
    /// The whole map as the f32 maps route gives it, by track id.
    static std::map<std::int64_t, std::vector<float>> full_map(int dims) {
        const auto r =
            get("/api/v1/maps?model=musicnn-mtat&format=f32&dims=" + std::to_string(dims));
        std::map<std::int64_t, std::vector<float>> out;
        EXPECT_TRUE(r && r->status == 200);
        if (!r) return out;
        const std::size_t n = r->body.size() / (8 + 4 * std::size_t(dims));
        for (std::size_t i = 0; i < n; ++i) {
            std::int64_t id = 0;
            std::memcpy(&id, r->body.data() + 8 * i, 8);
            std::vector<float> c(static_cast<std::size_t>(dims));
            std::memcpy(c.data(), r->body.data() + 8 * n + 4 * std::size_t(dims) * i,
                        4 * std::size_t(dims));
            out[id] = c;
        }
        return out;
    }

    static fs::path dir_, db_;
    static std::unique_ptr<tagmap::server::Server> server_;
    static std::thread thread_;
    static int port_;
};

fs::path LodServerTest::dir_, LodServerTest::db_;
std::unique_ptr<tagmap::server::Server> LodServerTest::server_;
std::thread LodServerTest::thread_;
int LodServerTest::port_ = 0;

TEST_F(LodServerTest, OrderIsAStratifiedPermutationOfTheMap) {
    for (int dims : {2, 3}) {
        const auto full = full_map(dims);
        ASSERT_EQ(full.size(), std::size_t(kTracks));
        const auto r = get(base(dims) + "&limit=100000");
        const auto all = decode_points(r, dims);
        ASSERT_EQ(all.size(), full.size());
        EXPECT_EQ(r->get_header_value("X-Tagmap-Total"), std::to_string(kTracks));
        std::set<std::int64_t> seen;
        std::vector<float> lo(std::size_t(dims), INFINITY), hi(std::size_t(dims), -INFINITY);
        for (const auto& p : all) {
            EXPECT_TRUE(seen.insert(p.id).second) << "twice: " << p.id;
            ASSERT_TRUE(full.count(p.id));
            EXPECT_EQ(p.c, full.at(p.id)) << p.id;  // bitwise the map's coordinates
            for (std::size_t d = 0; d < std::size_t(dims); ++d) {
                lo[d] = std::min(lo[d], p.c[d]);
                hi[d] = std::max(hi[d], p.c[d]);
            }
        }
        // The bounds header: min then max of every axis, as float text.
        std::vector<float> b;
        std::stringstream bs(r->get_header_value("X-Tagmap-Bounds"));
        for (std::string part; std::getline(bs, part, ',');) b.push_back(std::stof(part));
        ASSERT_EQ(b.size(), 2 * std::size_t(dims));
        for (std::size_t d = 0; d < std::size_t(dims); ++d) {
            EXPECT_EQ(b[d], lo[d]);
            EXPECT_EQ(b[std::size_t(dims) + d], hi[d]);
        }
        // Prefixes and slices are the same order.
        for (const auto& [after, limit] : {std::pair{0, 1}, {0, 700}, {1234, 500}, {5900, 500}}) {
            const auto part = decode_points(get(base(dims) + "&after=" + std::to_string(after) +
                                                "&limit=" + std::to_string(limit)),
                                            dims);
            ASSERT_EQ(part.size(), std::size_t(std::min(limit, kTracks - after)));
            for (std::size_t i = 0; i < part.size(); ++i)
                EXPECT_EQ(part[i].id, all[std::size_t(after) + i].id);
        }
        // Stratified: for each grid of 2^L cells per axis over the bounds, the first C points
        // (C = the occupied cells) hold exactly one point of every occupied cell.
        for (int L = 1; L <= 4; ++L) {
            const double side = double(1 << L);
            auto cell = [&](const LodPoint& p) {
                std::int64_t c = 0;
                for (std::size_t d = 0; d < std::size_t(dims); ++d) {
                    const double t = (double(p.c[d]) - lo[d]) / (double(hi[d]) - lo[d]);
                    c = c * (1 << L) + std::int64_t(std::clamp(t * side, 0.0, side - 1));
                }
                return c;
            };
            std::set<std::int64_t> occupied;
            for (const auto& p : all) occupied.insert(cell(p));
            std::set<std::int64_t> first;
            for (std::size_t i = 0; i < occupied.size(); ++i)
                EXPECT_TRUE(first.insert(cell(all[i])).second) << "level " << L << ", rank " << i;
            EXPECT_EQ(first, occupied) << "level " << L;
        }
    }
}

TEST_F(LodServerTest, BoxReturnsThePointsInsideUpToTheBudget) {
    for (int dims : {2, 3}) {
        const auto all = decode_points(get(base(dims) + "&limit=100000"), dims);
        ASSERT_EQ(all.size(), std::size_t(kTracks));
        std::mt19937 rng(dims);
        std::uniform_real_distribution<float> u(-10, 100);
        for (int trial = 0; trial < 6; ++trial) {
            std::vector<float> a(static_cast<std::size_t>(dims)), b(a);
            for (std::size_t d = 0; d < std::size_t(dims); ++d) {
                a[d] = u(rng);
                b[d] = a[d] + (trial == 5 ? 0.0f : std::abs(u(rng)) / 2);
            }
            if (trial == 5) a = b = all[417].c;  // a degenerate box: one point (and its twins)
            std::string box;
            for (const auto& v : {a, b})
                for (float x : v) {
                    char t[32];
                    std::snprintf(t, sizeof t, "%.17g", double(x));  // exact
                    box += (box.empty() ? "" : ",") + std::string(t);
                }
            const int after = trial % 2 ? 300 : 0;
            std::vector<std::int64_t> inside;  // in LOD order, ranks >= after
            for (std::size_t i = std::size_t(after); i < all.size(); ++i) {
                bool in = true;
                for (std::size_t d = 0; d < std::size_t(dims); ++d)
                    in = in && all[i].c[d] >= a[d] && all[i].c[d] <= b[d];
                if (in) inside.push_back(all[i].id);
            }
            for (const int limit : {1000000, 50, 0}) {
                const auto q = base(dims) + "&box=" + box + "&after=" + std::to_string(after) +
                               "&limit=" + std::to_string(limit);
                const auto r = get(q);
                const auto got = decode_points(r, dims);
                EXPECT_EQ(r->get_header_value("X-Tagmap-In-Box"), std::to_string(inside.size()))
                    << q;
                ASSERT_EQ(got.size(), std::min<std::size_t>(inside.size(), std::size_t(limit)))
                    << q;
                for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].id, inside[i]) << q;
            }
            if (trial == 5) {
                EXPECT_GE(inside.size(), 1u);
            }
        }
    }
}

TEST_F(LodServerTest, PointsById) {
    const auto all = decode_points(get(base(2) + "&limit=100000"), 2);
    ASSERT_EQ(all.size(), std::size_t(kTracks));
    const auto q =
        base(2) + "&ids=" + std::to_string(all[4000].id) + ",999999," + std::to_string(all[3].id);
    const auto got = decode_points(get(q), 2);
    ASSERT_EQ(got.size(), 2u);  // the unknown id is left out
    EXPECT_EQ(got[0].id, all[4000].id);
    EXPECT_EQ(got[0].c, all[4000].c);
    EXPECT_EQ(got[1].id, all[3].id);
}

TEST_F(LodServerTest, SummaryOfThePoints) {
    const auto all = decode_points(get(base(2) + "&after=10&limit=40"), 2);
    const auto r = get(base(2) + "&after=10&limit=40&format=summary");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const auto j = json::parse(r->body);
    ASSERT_EQ(j["count"], 40);
    ASSERT_EQ(j["ids"].size(), 40u);
    EXPECT_EQ(j["n"], 3);
    for (std::size_t i = 0; i < 40; ++i) {
        const auto id = j["ids"][i].get<std::int64_t>();
        EXPECT_EQ(id, all[i].id);
        EXPECT_EQ(j["names"][i], "Track " + std::to_string(id - 1));  // ids start at 1
        const int g = j["genre"][i];
        const int k = int((id - 1) % 3);
        if (k == 0) {
            EXPECT_EQ(g, -1);
        } else {
            EXPECT_EQ(j["genres"][std::size_t(g)], k == 1 ? "rock" : "jazz");
        }
        EXPECT_EQ(j["top_tags"][3 * i], -1);  // no results in this library
    }
}

TEST_F(LodServerTest, BadParameters) {
    for (const char* bad :
         {"box=1,2,3",     "box=1,2,3,4,5", "box=0,0,a,1", "box=0,0,1,nan", "box=2,0,1,1",
          "box=",          "box=0,0,1,1,",  "limit=-1",    "limit=x",       "limit=20000000",
          "after=-3",      "ids=abc",       "ids=1,,2",    "ids=0",         "ids=1&box=0,0,1,1",
          "ids=1&limit=3", "format=xml",    "dims=4",      "method=pca",    "model=nope",
          "timeout=-1"}) {
        const auto r = get(std::string("/api/v1/maps/points?") + bad);
        ASSERT_TRUE(r) << bad;
        EXPECT_EQ(r->status, 400) << bad << ": " << r->body.substr(0, 200);
        EXPECT_EQ(r->get_header_value("Content-Type"), "application/json") << bad;
    }
    EXPECT_EQ(get(base(3) + "&box=0,0,1,1")->status, 400);  // 3D takes 6 numbers
    std::string many = base(2) + "&ids=1";
    for (int i = 2; i <= 1001; ++i) {
        many += ',';  // (not "," + ...: GCC 12 warns falsely, -Wrestrict)
        many += std::to_string(i);
    }
    EXPECT_EQ(get(many)->status, 400);
    // A map the library cannot have (no results to fit on) is a 404, not a 500.
    const auto missing = get(base(2) + "&method=tsne&timeout=60");
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 404) << missing->body;
}

TEST_F(ServerTest, MapPointsSummaryMatchesTheSummaryRoute) {
    const auto summary = get_json("/api/v1/summary?model=musicnn-mtat");
    const auto lod = get_json("/api/v1/maps/points?model=musicnn-mtat&format=summary");
    ASSERT_EQ(lod["count"], 4);
    for (std::size_t i = 0; i < 4; ++i) {
        std::size_t k = 0;
        while (k < 4 && summary["ids"][k] != lod["ids"][i]) ++k;
        ASSERT_LT(k, 4u);
        EXPECT_EQ(lod["names"][i], summary["names"][k]);
        const int g = lod["genre"][i], h = summary["genre"][k];
        EXPECT_EQ(g < 0 ? json() : lod["genres"][std::size_t(g)],
                  h < 0 ? json() : summary["genres"][std::size_t(h)]);
        for (std::size_t r = 0; r < 3; ++r) {
            const int t = lod["top_tags"][3 * i + r];
            EXPECT_EQ(lod["tag_names"][std::size_t(t)],
                      summary["tag_names"][std::size_t(summary["top_tags"][3 * k + r].get<int>())]);
            EXPECT_EQ(lod["top_scores"][3 * i + r], summary["top_scores"][3 * k + r]);
        }
    }
}
