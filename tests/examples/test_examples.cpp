// The example programs (examples/programs/) build, run and print what they promise:
// map_matrix steps UMAP and t-SNE from one kNN graph to their last epoch / iteration and
// places a new point near its cluster on both maps; tag_file (the README's snippet) tags a
// real clip with the real MusiCNN weights (skipped without the shared fixtures).
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>

#include "fixtures.hpp"

namespace {

struct Output {
    int status = -1;
    std::string out;
};

Output run(const std::string& command) {
    Output r;
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen((command + " 2>&1").c_str(), "r"), pclose);
    if (!pipe) return r;
    std::array<char, 4096> buffer;
    while (std::fgets(buffer.data(), buffer.size(), pipe.get())) r.out += buffer.data();
    r.status = pclose(pipe.release());
    return r;
}

std::string program(const char* name) {
    return (tagmap::test::binary("examples") / name).string();
}

TEST(Examples, MapMatrixStepsBothMapsFromOneGraph) {
    const Output r = run(program("map_matrix") + " 900");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("kNN graph: 900 points x 91 neighbours"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("UMAP epoch 100 / 500"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("UMAP epoch 500 / 500"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("t-SNE iteration 750 / 750"), std::string::npos) << r.out;
    // The new point (cluster 0's centre) lands within a few units of a cluster-0 point.
    double u[2], t[2], cu[2], ct[2];
    ASSERT_EQ(
        std::sscanf(r.out.substr(r.out.find("new point:")).c_str(),
                    "new point: UMAP (%lf, %lf), t-SNE (%lf, %lf)", &u[0], &u[1], &t[0], &t[1]),
        4);
    ASSERT_EQ(std::sscanf(r.out.substr(r.out.find("a cluster-0 point:")).c_str(),
                          "a cluster-0 point: UMAP (%lf, %lf), t-SNE (%lf, %lf)", &cu[0], &cu[1],
                          &ct[0], &ct[1]),
              4);
    EXPECT_LT(std::hypot(u[0] - cu[0], u[1] - cu[1]), 3.0) << r.out;
    EXPECT_LT(std::hypot(t[0] - ct[0], t[1] - ct[1]), 10.0) << r.out;
}

TEST(Examples, TagFileIsTheReadmeSnippet) {
    const auto weights = tagmap::test::fixtures_dir() / "weights/musicnn-mtat.pth";
    const auto clip = tagmap::test::fixtures_dir() / "audio/hedgewars-rock.mp3";
    if (!std::filesystem::exists(weights) || !std::filesystem::exists(clip))
        GTEST_SKIP() << "needs TAGMAP_FIXTURES (weights/musicnn-mtat.pth, audio/)";
    const Output r = run(program("tag_file") + " " + weights.string() + " " + clip.string() + " " +
                      (tagmap::test::fixtures_dir() / "tags/mtat.txt").string());
    ASSERT_EQ(r.status, 0) << r.out;
    // Five tags, best first, with probabilities in (0, 1).
    std::istringstream lines(r.out);
    double previous = 1;
    int count = 0;
    for (std::string line; std::getline(lines, line);) {
        const double p = std::stod(line.substr(line.find_last_of(' ') + 1));  // "name  0.123"
        EXPECT_GT(p, 0.0);
        EXPECT_LE(p, previous) << r.out;
        previous = p;
        ++count;
    }
    EXPECT_EQ(count, 5) << r.out;
    EXPECT_NE(run(program("tag_file")).status, 0);  // usage
}

}  // namespace
