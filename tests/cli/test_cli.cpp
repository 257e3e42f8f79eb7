// Runs the tagmap binary: `tag` and `embed` on real clips with the real MusiCNN weights,
// failures that do not stop the run, --skip-existing, the output layout and shapes.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xnpy.hpp>

#include "fixtures.hpp"

namespace fs = std::filesystem;

namespace {

struct RunResult {
    int code = -1;
    std::string out;  // stdout
    std::string err;  // stderr
};

std::string quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    return {std::istreambuf_iterator<char>(in), {}};
}

class Cli : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("tagmap-cli-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_ / "music" / "sub");
    }
    void TearDown() override { fs::remove_all(dir_); }

    RunResult run(const std::string& args, const std::string& env = "") {
        // Like ctest, point the tag-list lookup at the shared data (callers may override).
        const std::string cmd =
            "export TAGMAP_FIXTURES=" + quote(tagmap::test::fixtures_dir().string()) + "; " + env +
            " " + quote(tagmap::test::binary("tagmap").string()) + " " + args + " > " +
            quote((dir_ / "stdout").string()) + " 2> " + quote((dir_ / "stderr").string());
        const int status = std::system(cmd.c_str());
        RunResult r;
        r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        r.out = slurp(dir_ / "stdout");
        r.err = slurp(dir_ / "stderr");
        return r;
    }
    // A small library: two real clips (one in a sub-folder), the near-silent one, and a
    // corrupt FLAC; symlinks, so the shared data is not copied.
    void make_library() {
        const auto audio = tagmap::test::fixtures_dir() / "audio";
        fs::create_symlink(audio / "wesnoth-knalgan-theme.wav", dir_ / "music" / "knalgan.wav");
        fs::create_symlink(audio / "wesnoth-silence-short.ogg",
                           dir_ / "music" / "sub" / "quiet.OGG");
        fs::create_symlink(audio / "hedgewars-rock.mp3", dir_ / "music" / "knalgan.mp3");
        std::ifstream flac(audio / "etr-freezingpoint.flac", std::ios::binary);
        std::string head(3000, '\0');
        flac.read(head.data(), 3000);
        std::ofstream(dir_ / "music" / "broken.flac", std::ios::binary) << head;
        std::ofstream(dir_ / "music" / "notes.txt") << "not audio, and skipped by extension";
    }
    std::string weights() const {
        return quote((tagmap::test::fixtures_dir() / "weights" / "musicnn-mtat.pth").string());
    }
    fs::path dir_;
};

}  // namespace

TEST_F(Cli, TagPrintsTopTagsNamedFromTheTagList) {
    const auto clip = tagmap::test::fixtures_dir() / "audio" / "hedgewars-rock.mp3";
    const auto r =
        run("tag --model musicnn-mtat --weights " + weights() + " --top 3 " + quote(clip.string()));
    ASSERT_EQ(r.code, 0) << r.err;
    // Three indented "name score" lines, every name from mtat.txt.
    const std::string tags = slurp(tagmap::test::fixtures_dir() / "tags" / "mtat.txt");
    std::istringstream lines(r.out);
    std::string line;
    std::getline(lines, line);
    EXPECT_EQ(line, clip.string());
    int n = 0;
    while (std::getline(lines, line)) {
        std::istringstream fields(line);
        std::string name;
        double score = -1;
        fields >> name >> score;
        EXPECT_NE(tags.find(name + "\n"), std::string::npos) << name;
        EXPECT_GT(score, 0.0);
        EXPECT_LT(score, 1.0);
        ++n;
    }
    EXPECT_EQ(n, 3);

    const auto j = run("tag --json --top 5 --weights " + weights() + " " + quote(clip.string()));
    ASSERT_EQ(j.code, 0) << j.err;
    const auto parsed = nlohmann::json::parse(j.out);
    ASSERT_EQ(parsed.size(), 1u);
    EXPECT_EQ(parsed[0]["tags"].size(), 5u);
    EXPECT_EQ(parsed[0]["chunks"].get<int>(), 6);  // 20 s: floor(320000 / 48000)
    // Scores are sorted.
    for (int k = 1; k < 5; ++k)
        EXPECT_GE(parsed[0]["tags"][k - 1]["score"].get<double>(),
                  parsed[0]["tags"][k]["score"].get<double>());
}

TEST_F(Cli, MissingTagListNamesThePathsTried) {
    const auto clip = tagmap::test::fixtures_dir() / "audio" / "hedgewars-rock.mp3";
    const auto r = run(
        "tag --weights " + weights() + " --tags-dir " + quote((dir_ / "none").string()) + " " +
            quote(clip.string()),
        "cd " + quote(dir_.string()) + " && TAGMAP_FIXTURES=" + quote((dir_ / "nofix").string()));
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find((dir_ / "none" / "mtat.txt").string()), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("nofix"), std::string::npos) << r.err;
}

TEST_F(Cli, EmbedFolderReportsFailuresAndEmbedsTheRest) {
    make_library();
    const auto out = dir_ / "out";
    const std::string args = "embed --model musicnn-mtat --weights " + weights() +
                             " --per-chunk --out " + quote(out.string()) + " " +
                             quote((dir_ / "music").string());
    const auto r = run(args);
    EXPECT_EQ(r.code, 1) << r.err;  // one file failed
    EXPECT_NE(r.err.find("broken.flac"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("near-silent"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("musicnn-mtat: 3 ok, 1 failed, 0 skipped"), std::string::npos) << r.err;
    const auto m = out / "musicnn-mtat";
    // a.wav and a.mp3 do not collide: the extension stays in the name.
    const auto wav_tag = xt::load_npy<float>((m / "knalgan.wav.taggram.npy").string());
    const auto wav_emb = xt::load_npy<float>((m / "knalgan.wav.embedding.npy").string());
    const auto mp3_emb = xt::load_npy<float>((m / "knalgan.mp3.embedding.npy").string());
    EXPECT_EQ(wav_tag.shape(), (std::vector<std::size_t>{4, 50}));  // 12.0 s -> 192029 samples
    EXPECT_EQ(wav_emb.shape(), (std::vector<std::size_t>{4, 200}));
    EXPECT_EQ(mp3_emb.shape(), (std::vector<std::size_t>{6, 200}));
    const auto quiet = xt::load_npy<float>((m / "sub" / "quiet.OGG.taggram.npy").string());
    EXPECT_EQ(quiet.shape(), (std::vector<std::size_t>{1, 50}));  // one padded chunk
    EXPECT_FALSE(fs::exists(m / "broken.flac.taggram.npy"));
    EXPECT_FALSE(fs::exists(m / "notes.txt.taggram.npy"));
    // The CLI's numbers are the reference pipeline's (tools/make_audio_fixtures.py).
    const auto ref = xt::load_npy<float>((tagmap::test::test_data_dir() / "audio" /
                                          "wesnoth-knalgan-theme.wav.musicnn-mtat.taggram.npy")
                                             .string());
    ASSERT_EQ(ref.size(), wav_tag.size());
    for (std::size_t i = 0; i < ref.size(); ++i) EXPECT_NEAR(wav_tag.flat(i), ref.flat(i), 1e-4);
    for (const auto& e : fs::recursive_directory_iterator(out))
        EXPECT_EQ(e.path().string().find(".partial"), std::string::npos) << e.path();

    // Second run: everything complete is skipped, the broken file fails again.
    const auto again = run(args + " --skip-existing");
    EXPECT_EQ(again.code, 1);
    EXPECT_NE(again.err.find("musicnn-mtat: 0 ok, 1 failed, 3 skipped"), std::string::npos)
        << again.err;
    // An incomplete output (one of the two files missing) is redone.
    fs::remove(m / "knalgan.wav.embedding.npy");
    const auto redo = run(args + " --skip-existing");
    EXPECT_NE(redo.err.find("musicnn-mtat: 1 ok, 1 failed, 2 skipped"), std::string::npos)
        << redo.err;
}

// Files on several workers (each with its own model instances) give the same bytes as one
// worker, and the failure of one file is still reported once.
TEST_F(Cli, EmbedJobsGiveTheSameBytes) {
    make_library();
    const auto base = "embed --model musicnn-mtat --weights " + weights() + " --per-chunk ";
    const auto music = quote((dir_ / "music").string());
    const auto one = run(base + "--jobs 1 --out " + quote((dir_ / "j1").string()) + " " + music);
    const auto two = run(base + "--jobs 3 --out " + quote((dir_ / "j3").string()) + " " + music);
    EXPECT_EQ(one.code, 1) << one.err;
    EXPECT_EQ(two.code, 1) << two.err;
    EXPECT_NE(two.err.find("musicnn-mtat: 3 ok, 1 failed, 0 skipped"), std::string::npos)
        << two.err;
    std::size_t compared = 0;
    for (const auto& e : fs::recursive_directory_iterator(dir_ / "j1")) {
        if (!e.is_regular_file()) continue;
        const auto rel = fs::relative(e.path(), dir_ / "j1");
        ASSERT_TRUE(fs::exists(dir_ / "j3" / rel)) << rel;
        EXPECT_EQ(slurp(e.path()), slurp(dir_ / "j3" / rel)) << rel;
        ++compared;
    }
    EXPECT_EQ(compared, 6u);  // 3 files x (taggram, embedding)
    EXPECT_NE(run(base + "--jobs -1 " + music).code, 0);
}

TEST_F(Cli, TrackLevelOutputIsOneVector) {
    const auto clip = tagmap::test::fixtures_dir() / "audio" / "wesnoth-knalgan-theme.wav";
    const auto out = dir_ / "out";
    const auto r =
        run("embed --model musicnn-mtat --weights " + weights() + " --aggregate meanmax --out " +
            quote(out.string()) + " " + quote(clip.string()));
    ASSERT_EQ(r.code, 0) << r.err;
    const auto emb = xt::load_npy<float>(
        (out / "musicnn-mtat" / "wesnoth-knalgan-theme.wav.embedding.npy").string());
    EXPECT_EQ(emb.shape(), (std::vector<std::size_t>{400}));  // mean then max of 200
    // Mean and max of the reference chunks.
    const auto ref = xt::load_npy<float>((tagmap::test::test_data_dir() / "audio" /
                                          "wesnoth-knalgan-theme.wav.musicnn-mtat.embedding.npy")
                                             .string());
    for (std::size_t j = 0; j < 200; ++j) {
        float mean = 0, mx = ref(0, j);
        for (std::size_t k = 0; k < 4; ++k) {
            mean += ref(k, j) / 4;
            mx = std::max(mx, ref(k, j));
        }
        EXPECT_NEAR(emb(j), mean, 1e-4);
        EXPECT_NEAR(emb(200 + j), mx, 1e-4);
    }
}

TEST_F(Cli, BadArgumentsGiveClearErrors) {
    const auto clip = tagmap::test::fixtures_dir() / "audio" / "hedgewars-rock.mp3";
    auto r = run("embed --models musicnn-mtat,vgg-mtat --weights " + weights() + " " +
                 quote(clip.string()));
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("--weights FILE needs exactly one model"), std::string::npos) << r.err;
    r = run("embed --model musicnn-mtat --weights-dir " + quote(dir_.string()) + " " +
            quote(clip.string()));
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("musicnn-mtat.tmw"), std::string::npos) << r.err;
    r = run("embed --model no-such-model --weights " + weights() + " " + quote(clip.string()));
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("unknown model id"), std::string::npos) << r.err;
    r = run("embed --model musicnn-mtat --weights " + weights() + " /no/such/file.wav");
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("/no/such/file.wav"), std::string::npos) << r.err;
    // Same file name from two folders: the second would overwrite the first's outputs.
    fs::create_symlink(clip, dir_ / "music" / "hedgewars-rock.mp3");
    r = run("embed --model musicnn-mtat --weights " + weights() + " --out " +
            quote((dir_ / "o").string()) + " " + quote(clip.string()) + " " +
            quote((dir_ / "music" / "hedgewars-rock.mp3").string()));
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("would overwrite"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("1 ok, 1 failed"), std::string::npos) << r.err;
}

// tag on a pool of workers: the same stdout, text and JSON, at --jobs 1 and 3, files in
// input order (sorted walk), the failure reported once.
TEST_F(Cli, TagJobsGiveTheSameOutputInInputOrder) {
    make_library();
    const auto base = "tag --weights " + weights() + " --top 4 ";
    const auto music = quote((dir_ / "music").string());
    const auto one = run(base + "--jobs 1 " + music);
    const auto three = run(base + "--jobs 3 " + music);
    EXPECT_EQ(one.code, 1) << one.err;  // broken.flac
    EXPECT_EQ(three.code, 1) << three.err;
    EXPECT_EQ(one.out, three.out);
    const auto a = one.out.find("knalgan.mp3"), b = one.out.find("knalgan.wav"),
               c = one.out.find("quiet.OGG");
    ASSERT_NE(c, std::string::npos) << one.out;
    EXPECT_LT(a, b);
    EXPECT_LT(b, c);
    std::size_t failed = 0;
    for (auto p = three.err.find("FAILED"); p != std::string::npos;
         p = three.err.find("FAILED", p + 1))
        ++failed;
    EXPECT_EQ(failed, 1u) << three.err;
    const auto j1 = run(base + "--json --jobs 1 " + music);
    const auto j3 = run(base + "--json --jobs 3 " + music);
    EXPECT_EQ(j1.out, j3.out);
    const auto parsed = nlohmann::json::parse(j3.out);
    ASSERT_EQ(parsed.size(), 4u);
    EXPECT_TRUE(parsed[0].contains("error"));  // broken.flac sorts first
    EXPECT_EQ(parsed[1]["chunks"].get<int>(), 6);
    EXPECT_NE(run(base + "--jobs -1 " + music).code, 0);
}

// One file's chunks spread over the workers (it is the only file): per-chunk and
// track-level outputs, of `embed` and `tag`, are the same bytes at --jobs 1, 2 and 3.
TEST_F(Cli, ChunksOfOneFileGiveTheSameBytesAtAnyJobs) {
    const auto clip = quote((tagmap::test::fixtures_dir() / "audio" / "etr-race1.opus").string());
    std::vector<std::string> per_chunk, track, tags;
    for (const char* jobs : {"1", "2", "3"}) {
        const auto out = dir_ / (std::string("j") + jobs);
        const auto base = "embed --model musicnn-mtat --weights " + weights() + " --jobs " + jobs +
                          " --overlap 0.5 --out ";
        ASSERT_EQ(run(base + quote((out / "c").string()) + " --per-chunk " + clip).code, 0);
        ASSERT_EQ(run(base + quote((out / "t").string()) + " --aggregate meanmax " + clip).code, 0);
        per_chunk.push_back(slurp(out / "c" / "musicnn-mtat" / "etr-race1.opus.embedding.npy") +
                            slurp(out / "c" / "musicnn-mtat" / "etr-race1.opus.taggram.npy"));
        track.push_back(slurp(out / "t" / "musicnn-mtat" / "etr-race1.opus.embedding.npy") +
                        slurp(out / "t" / "musicnn-mtat" / "etr-race1.opus.taggram.npy"));
        const auto t = run("tag --json --weights " + weights() + " --jobs " + jobs + " " + clip);
        ASSERT_EQ(t.code, 0) << t.err;
        tags.push_back(t.out);
    }
    const auto shape =
        xt::load_npy<float>(
            (dir_ / "j2" / "c" / "musicnn-mtat" / "etr-race1.opus.taggram.npy").string())
            .shape();
    EXPECT_EQ(shape, (std::vector<std::size_t>{12, 50}));  // 20 s, hop 24000: 12 windows
    for (std::size_t k = 1; k < 3; ++k) {
        EXPECT_EQ(per_chunk[k], per_chunk[0]) << "--jobs " << k + 1;
        EXPECT_EQ(track[k], track[0]) << "--jobs " << k + 1;
        EXPECT_EQ(tags[k], tags[0]) << "--jobs " << k + 1;
    }
}
