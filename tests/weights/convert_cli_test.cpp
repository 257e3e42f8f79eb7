// tagmap-convert end to end: converts and lists both real checkpoints, and for each
// refused input exits non-zero with a one-line reason and leaves no output file.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <array>
#include <cstdio>
#include <filesystem>

#include "test_util.hpp"

namespace fs = std::filesystem;

namespace {

struct RunResult {
    int status;
    std::string out;  // stdout and stderr together
};

RunResult run(const std::string& args) {
    const std::string cmd = tagmap::test::binary("tagmap-convert").string() + " " + args + " 2>&1";
    RunResult r{-1, {}};
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return r;
    std::array<char, 4096> buf;
    while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) r.out.append(buf.data(), n);
    const int st = ::pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

fs::path out_dir() {
    auto d = fs::temp_directory_path() / ("tagmap_convert_test_" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
}

std::size_t count_lines(const std::string& s) {
    return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

}  // namespace

TEST(ConvertCli, ConvertsAndListsRealCheckpoints) {
    const auto dir = out_dir();
    for (auto [file, count, probe] :
         {std::tuple{"musicnn-mtat.pth", 72, "layers.0.conv.weight float32 (204, 1, 67, 7)\n"},
          std::tuple{"crepe-tiny.pth", 44, "classifier.weight float32 (360, 256)\n"}}) {
        const auto in = tagmap::test::fixtures_dir() / "weights" / file;
        if (!fs::exists(in)) GTEST_SKIP() << "shared fixture missing: " << in;
        const auto out = dir / (std::string(file) + ".tmw");
        const RunResult conv = run(in.string() + " " + out.string());
        EXPECT_EQ(conv.status, 0) << conv.out;
        const RunResult list = run("--list " + out.string());
        EXPECT_EQ(list.status, 0) << list.out;
        EXPECT_EQ(count_lines(list.out), static_cast<std::size_t>(count) + 1);
        EXPECT_NE(list.out.find(probe), std::string::npos) << list.out;
        EXPECT_NE(list.out.find(std::to_string(count) + " tensors\n"), std::string::npos);
        const RunResult list_pth = run("--list " + in.string());  // .pth lists the same
        EXPECT_EQ(list_pth.out, list.out);
    }
    fs::remove_all(dir);
}

TEST(ConvertCli, RefusalsExitNonZeroWithOneLineAndNoOutput) {
    const auto dir = out_dir();
    for (auto [file, needle] : {
             std::pair{"hostile_os_system_legacy.pth", "not on the allow-list"},
             std::pair{"hostile_eval_stack_global.pth", "builtins.eval"},
             std::pair{"truncated_zip.pth", "truncated"},
             std::pair{"truncated_legacy.pth", "truncated"},
             std::pair{"extent_overrun_zip.pth", "storage 0 has 4 elements"},
             std::pair{"compressed.pth", "compressed entry"},
         }) {
        const auto out = dir / "out.tmw";
        const RunResult r = run(tagmap::test::weights_data(file).string() + " " + out.string());
        EXPECT_EQ(r.status, 1) << file;
        EXPECT_EQ(count_lines(r.out), 1u) << r.out;
        EXPECT_EQ(r.out.rfind("tagmap-convert: error: ", 0), 0u) << r.out;
        EXPECT_NE(r.out.find(needle), std::string::npos) << r.out;
        EXPECT_TRUE(fs::is_empty(dir)) << file << " left a file behind";
    }
    fs::remove_all(dir);
}

TEST(ConvertCli, OptionsAndUsage) {
    const auto dir = out_dir();
    const auto out = dir / "nested.tmw";
    const RunResult r = run("--select state_dict --strip-prefix module. " +
                            tagmap::test::weights_data("nested.pth").string() + " " + out.string());
    EXPECT_EQ(r.status, 0) << r.out;
    const RunResult list = run("--list " + out.string());
    EXPECT_EQ(list.out, "a float32 (2)\nb.weight float32 (1, 1)\nhead float32 (1)\n3 tensors\n");
    EXPECT_EQ(run("").status, 2);
    EXPECT_EQ(run("--bogus a b").status, 2);
    EXPECT_EQ(run("--help").status, 0);
    fs::remove_all(dir);
}

#if __has_include(<tagmap/models/registry.hpp>)
TEST(ConvertCli, ModelCheckAcceptsFittingWeightsAndRefusesOthers) {
    const auto musicnn = tagmap::test::fixtures_dir() / "weights" / "musicnn-mtat.pth";
    const auto crepe = tagmap::test::fixtures_dir() / "weights" / "crepe-tiny.pth";
    if (!fs::exists(musicnn) || !fs::exists(crepe)) GTEST_SKIP() << "shared fixtures missing";
    const auto dir = out_dir();
    EXPECT_EQ(
        run("--model musicnn-mtat " + musicnn.string() + " " + (dir / "m.tmw").string()).status, 0);
    EXPECT_TRUE(fs::exists(dir / "m.tmw"));
    const RunResult bad =
        run("--model musicnn-mtat " + crepe.string() + " " + (dir / "c.tmw").string());
    EXPECT_EQ(bad.status, 1) << bad.out;
    EXPECT_NE(bad.out.find("do not fit model musicnn-mtat"), std::string::npos) << bad.out;
    EXPECT_NE(bad.out.find("classifier.weight"), std::string::npos) << bad.out;
    EXPECT_FALSE(fs::exists(dir / "c.tmw")) << "a refused conversion must not write";
    const RunResult unknown = run("--list --model nope " + (dir / "m.tmw").string());
    EXPECT_EQ(unknown.status, 1);
    EXPECT_NE(unknown.out.find("unknown model id 'nope'"), std::string::npos) << unknown.out;
    fs::remove_all(dir);
}
#endif
