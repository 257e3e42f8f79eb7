// tagmap-convert end to end: converts and lists both real checkpoints, and for each
// refused input exits non-zero with a one-line reason and leaves no output file.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "program.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;

namespace {

// stdout and stderr together: errors are checked by text, wherever they were printed.
tagmap::test::RunResult run(const std::string& args) {
    static const tagmap::test::TempDir logs("tagmap-convert-test-logs");
    return tagmap::test::run_program("tagmap-convert", tagmap::test::words(args), logs.path());
}

fs::path out_dir() {
    auto d = fs::temp_directory_path() / ("tagmap-convert-test-" + std::to_string(::getpid()));
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
        const auto conv = run(in.string() + " " + out.string());
        EXPECT_EQ(conv.code, 0) << conv.output();
        const auto list = run("--list " + out.string());
        EXPECT_EQ(list.code, 0) << list.output();
        EXPECT_EQ(count_lines(list.output()), static_cast<std::size_t>(count) + 1);
        EXPECT_NE(list.output().find(probe), std::string::npos) << list.output();
        EXPECT_NE(list.output().find(std::to_string(count) + " tensors\n"), std::string::npos);
        const auto list_pth = run("--list " + in.string());  // .pth lists the same
        EXPECT_EQ(list_pth.output(), list.output());
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
        const auto r = run(tagmap::test::weights_data(file).string() + " " + out.string());
        EXPECT_EQ(r.code, 1) << file;
        EXPECT_EQ(count_lines(r.output()), 1u) << r.output();
        EXPECT_EQ(r.output().rfind("tagmap-convert: error: ", 0), 0u) << r.output();
        EXPECT_NE(r.output().find(needle), std::string::npos) << r.output();
        EXPECT_TRUE(fs::is_empty(dir)) << file << " left a file behind";
    }
    fs::remove_all(dir);
}

TEST(ConvertCli, OptionsAndUsage) {
    const auto dir = out_dir();
    const auto out = dir / "nested.tmw";
    const auto r = run("--select state_dict --strip-prefix module. " +
                       tagmap::test::weights_data("nested.pth").string() + " " + out.string());
    EXPECT_EQ(r.code, 0) << r.output();
    const auto list = run("--list " + out.string());
    EXPECT_EQ(list.output(),
              "a float32 (2)\nb.weight float32 (1, 1)\nhead float32 (1)\n3 tensors\n");
    EXPECT_EQ(run("").code, 2);
    EXPECT_EQ(run("--bogus a b").code, 2);
    EXPECT_EQ(run("--help").code, 0);
    fs::remove_all(dir);
}

#if __has_include(<tagmap/models/registry.hpp>)
TEST(ConvertCli, ModelCheckAcceptsFittingWeightsAndRefusesOthers) {
    const auto musicnn = tagmap::test::fixtures_dir() / "weights" / "musicnn-mtat.pth";
    const auto crepe = tagmap::test::fixtures_dir() / "weights" / "crepe-tiny.pth";
    if (!fs::exists(musicnn) || !fs::exists(crepe)) GTEST_SKIP() << "shared fixtures missing";
    const auto dir = out_dir();
    EXPECT_EQ(run("--model musicnn-mtat " + musicnn.string() + " " + (dir / "m.tmw").string()).code,
              0);
    EXPECT_TRUE(fs::exists(dir / "m.tmw"));
    const auto bad = run("--model musicnn-mtat " + crepe.string() + " " + (dir / "c.tmw").string());
    EXPECT_EQ(bad.code, 1) << bad.output();
    EXPECT_NE(bad.output().find("do not fit model musicnn-mtat"), std::string::npos)
        << bad.output();
    EXPECT_NE(bad.output().find("classifier.weight"), std::string::npos) << bad.output();
    EXPECT_FALSE(fs::exists(dir / "c.tmw")) << "a refused conversion must not write";
    const auto unknown = run("--list --model nope " + (dir / "m.tmw").string());
    EXPECT_EQ(unknown.code, 1);
    EXPECT_NE(unknown.output().find("unknown model id 'nope'"), std::string::npos)
        << unknown.output();
    fs::remove_all(dir);
}
#endif
