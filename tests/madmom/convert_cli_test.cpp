// tagmap-convert on madmom pickles: the 8 model files -> one .tmw whose tensors are
// named nets.<i>.<layer path> and fit --model madmom-beats; one file keeps its bare
// names; hostile or mixed inputs exit 1 with a reason and leave no output file.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <set>
#include <sstream>

#include "madmom_test_util.hpp"
#include "program.hpp"

namespace {

namespace fs = std::filesystem;
using namespace tagmap;

// stdout and stderr together: errors are checked by text, wherever they were printed.
tagmap::test::RunResult run(const std::string& args) {
    static const tagmap::test::TempDir logs("tagmap-madmom-convert-logs");
    return tagmap::test::run_program("tagmap-convert", tagmap::test::words(args), logs.path());
}

fs::path out_dir() {
    auto d = fs::temp_directory_path() / ("tagmap-madmom-convert-" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
}

TEST(MadmomConvert, EnsembleToOneFile) {
    TAGMAP_REQUIRE_MADMOM();
    std::string in;
    for (const auto& f : test::madmom_pickles()) in += f.string() + " ";
    const auto out = out_dir() / "madmom-beats.tmw";
    const auto r = run("--model madmom-beats " + in + out.string());
    ASSERT_EQ(r.code, 0) << r.output();
    EXPECT_NE(r.output().find("tensors fit model madmom-beats"), std::string::npos) << r.output();
    const auto w = weights::WeightFile::open(out);
    ASSERT_EQ(w.tensors().size(), 8u * 140u);
    // Network i holds exactly the names of one pickle under nets.<i>.
    std::set<std::string> one;
    for (const auto& t : weights::read_madmom_pickle(test::madmom_pickles()[0])) one.insert(t.name);
    for (std::size_t i = 0; i < 8; ++i) {
        std::set<std::string> names;
        const std::string prefix = "nets." + std::to_string(i) + ".";
        for (const auto& t : w.tensors())
            if (t.name.starts_with(prefix)) names.insert(t.name.substr(prefix.size()));
        EXPECT_EQ(names, one) << prefix;
    }
    EXPECT_EQ(w.tensors().front().name, "nets.0.layers.0.bwd_layer.input_gate.peephole_weights");
    EXPECT_EQ(w.tensors().back().name, "nets.7.layers.3.weights");
    // Listing the pickles gives the same table.
    const auto list = run("--list " + in);
    EXPECT_EQ(list.code, 0) << list.output();
    EXPECT_NE(list.output().find("nets.3.layers.1.fwd_layer.cell.weights float32 (50, 25)\n"),
              std::string::npos);
    EXPECT_NE(list.output().find("1120 tensors\n"), std::string::npos);
    fs::remove_all(out.parent_path());
}

TEST(MadmomConvert, SingleFileAndRefusals) {
    const auto dir = out_dir();
    const auto data = test::madmom_data();
    const auto ok = run((data / "tiny_blstm.pkl").string() + " " + (dir / "tiny.tmw").string());
    ASSERT_EQ(ok.code, 0) << ok.output();
    const auto w = weights::WeightFile::open(dir / "tiny.tmw");
    EXPECT_EQ(w.tensors().size(), 48u);
    EXPECT_EQ(w.tensors().back().name, "layers.1.weights");
    for (const std::string bad :
         {"hostile_os_system.pkl", "hostile_swapped_global.pkl", "malformed_bad_size.pkl"}) {
        const auto out = dir / (bad + ".tmw");
        const auto r = run((data / bad).string() + " " + out.string());
        const std::string text = r.output();
        EXPECT_EQ(r.code, 1) << bad << ": " << text;
        EXPECT_NE(text.find("tagmap-convert: error: "), std::string::npos) << text;
        EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
        EXPECT_FALSE(fs::exists(out)) << bad;
    }
    // .pkl and .pth inputs do not mix; --select is for .pth only.
    const auto mixed =
        run((data / "tiny_blstm.pkl").string() + " x.pth " + (dir / "m.tmw").string());
    EXPECT_EQ(mixed.code, 1) << mixed.output();
    const auto sel = run("--select state_dict " + (data / "tiny_blstm.pkl").string() + " " +
                         (dir / "s.tmw").string());
    EXPECT_EQ(sel.code, 1) << sel.output();
    EXPECT_FALSE(fs::exists(dir / "m.tmw"));
    fs::remove_all(dir);
}

}  // namespace
