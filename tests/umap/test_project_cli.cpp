// `tagmap project` end to end: .npy in, .npy out, dtype kept, determinism across --threads,
// clear failures on bad input that leave no output behind.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>

#include <unistd.h>

#include <xtensor/xarray.hpp>
#include <xtensor/xnpy.hpp>

#include "fixtures.hpp"
#include "umap_test_util.hpp"

namespace fs = std::filesystem;

namespace {

fs::path scratch_dir() {
    return fs::temp_directory_path() / ("tagmap_project_cli_" + std::to_string(::getpid()));
}

// Removes the scratch directory after all tests.
struct ScratchCleanup : ::testing::Environment {
    void TearDown() override {
        std::error_code ignored;
        fs::remove_all(scratch_dir(), ignored);
    }
};
const auto* const kCleanup = ::testing::AddGlobalTestEnvironment(new ScratchCleanup);

fs::path scratch(const std::string& name) {
    const fs::path dir = scratch_dir();
    fs::create_directories(dir);
    return dir / name;
}

int run(const std::string& arguments) {
    const std::string command = tagmap::test::binary("tagmap").string() + " project " + arguments +
                                " --quiet 2>" + scratch("stderr.txt").string();
    return std::system(command.c_str());
}

std::string file_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

template <class T>
fs::path write_clusters(const std::string& name) {
    const auto data = tagmap::test::gaussian_clusters(400, 4, 10, 4.0, 9);
    xt::xarray<T> array = xt::zeros<T>({std::size_t(400), std::size_t(10)});
    for (std::size_t i = 0; i < 400; ++i)
        for (std::size_t j = 0; j < 10; ++j)
            array(i, j) = T(data.points(Eigen::Index(i), Eigen::Index(j)));
    const auto path = scratch(name);
    xt::dump_npy(path.string(), array);
    return path;
}

}  // namespace

TEST(ProjectCli, UmapFloat32In2DIsDeterministicAcrossThreads) {
    const auto in = write_clusters<float>("x32.npy");
    const auto out1 = scratch("y1.npy"), out2 = scratch("y2.npy");
    ASSERT_EQ(run("--method umap --dims 2 --in " + in.string() + " --out " + out1.string() +
                  " --seed 7 --threads 1 --epochs 60"),
              0);
    ASSERT_EQ(run("--method umap --dims 2 --in " + in.string() + " --out " + out2.string() +
                  " --seed 7 --threads 2 --epochs 60"),
              0);
    const auto y = xt::load_npy<float>(out1.string());
    ASSERT_EQ(y.dimension(), 2u);
    EXPECT_EQ(y.shape()[0], 400u);
    EXPECT_EQ(y.shape()[1], 2u);
    EXPECT_EQ(file_bytes(out1), file_bytes(out2));
}

TEST(ProjectCli, UmapFloat64In3DKeepsDtype) {
    const auto in = write_clusters<double>("x64.npy");
    const auto out = scratch("y3.npy");
    ASSERT_EQ(run("--dims 3 --in " + in.string() + " --out " + out.string() + " --epochs 30"), 0);
    const auto y = xt::load_npy<double>(out.string());
    EXPECT_EQ(y.shape()[0], 400u);
    EXPECT_EQ(y.shape()[1], 3u);
}

TEST(ProjectCli, BadInputFailsClearlyAndWritesNothing) {
    xt::xarray<int> ints = xt::zeros<int>({std::size_t(10), std::size_t(3)});
    const auto in = scratch("ints.npy");
    xt::dump_npy(in.string(), ints);
    const auto out = scratch("never.npy");
    fs::remove(out);
    EXPECT_NE(run("--in " + in.string() + " --out " + out.string()), 0);
    EXPECT_NE(file_bytes(scratch("stderr.txt")).find("dtype"), std::string::npos);
    EXPECT_NE(run("--in " + scratch("missing.npy").string() + " --out " + out.string()), 0);
    EXPECT_NE(run("--dims 5 --in " + in.string() + " --out " + out.string()), 0);
    EXPECT_FALSE(fs::exists(out));
}

TEST(ProjectCli, ANonFiniteValueIsReportedAtItsRow) {
    // Issue 17: a NaN in row 3 was reported as "row 0" (the NaN column mean had spread to
    // every centred row; t-SNE's PCA spread it likewise).
    const auto data = tagmap::test::gaussian_clusters(400, 4, 10, 4.0, 9);
    xt::xarray<float> array = xt::zeros<float>({std::size_t(400), std::size_t(10)});
    for (std::size_t i = 0; i < 400; ++i)
        for (std::size_t j = 0; j < 10; ++j)
            array(i, j) = data.points(Eigen::Index(i), Eigen::Index(j));
    array(3, 4) = std::numeric_limits<float>::quiet_NaN();
    const auto in = scratch("nan_row3.npy");
    xt::dump_npy(in.string(), array);
    const auto out = scratch("never_nan.npy");
    for (const std::string method : {"umap", "tsne"}) {
        fs::remove(out);
        EXPECT_NE(run("--method " + method + " --in " + in.string() + " --out " + out.string()), 0);
        const std::string message = file_bytes(scratch("stderr.txt"));
        EXPECT_NE(message.find("row 3 "), std::string::npos) << method << ": " << message;
        EXPECT_EQ(message.find("row 0 "), std::string::npos) << method << ": " << message;
        EXPECT_FALSE(fs::exists(out));
    }
}
