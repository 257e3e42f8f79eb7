// What the store's tests share: a temporary folder per test, running the tagmap binary
// (fork/exec, no shell), reading a library with plain SQL, comparing exported trees.
#pragma once

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "program.hpp"
#include "sqlite.hpp"

namespace tagmap::store::test {

namespace fs = std::filesystem;

// The generic helpers (tests/common/program.hpp), under the names the store tests use.
using tagmap::test::RunResult;
using tagmap::test::spawn;
using tagmap::test::wait_for;
using tagmap::test::write_file;
inline std::string slurp(const fs::path& p) {
    return tagmap::test::read_file(p);
}

/// A fresh folder per test (tagmap-store-<pid>-<test>), removed when the test ends.
class TempDir : public tagmap::test::TempDir {
  public:
    TempDir() : tagmap::test::TempDir("tagmap-store") {}
};

/// Runs build/bin/tagmap with `args` (stdout and stderr land in `dir`).
inline RunResult run_tagmap(const fs::path& dir, const std::vector<std::string>& args,
                            std::optional<uid_t> as_user = std::nullopt) {
    const auto out = dir / "tagmap.stdout", err = dir / "tagmap.stderr";
    return wait_for(spawn(tagmap::test::binary("tagmap"), args, out, err, as_user), out, err);
}

/// One integer from a query (the first column of the first row).
inline std::int64_t scalar(Database& db, const std::string& sql) {
    auto q = db.prepare(sql);
    if (!q.step()) throw std::runtime_error("no row: " + sql);
    return q.int64(0);
}

inline std::string text_scalar(Database& db, const std::string& sql) {
    auto q = db.prepare(sql);
    if (!q.step()) throw std::runtime_error("no row: " + sql);
    return q.text(0);
}

/// Every regular file below `root`, by relative path, with its bytes.
inline std::map<std::string, std::string> tree(const fs::path& root) {
    std::map<std::string, std::string> out;
    if (!fs::exists(root)) return out;
    for (const auto& e : fs::recursive_directory_iterator(root))
        if (e.is_regular_file())
            out[e.path().lexically_relative(root).generic_string()] = slurp(e.path());
    return out;
}

/// Files of two trees must be the same set with the same bytes; says which differ.
inline ::testing::AssertionResult same_tree(const fs::path& a, const fs::path& b) {
    const auto ta = tree(a), tb = tree(b);
    std::string problems;
    for (const auto& [name, bytes] : ta) {
        const auto it = tb.find(name);
        if (it == tb.end())
            problems += "  only in " + a.string() + ": " + name + "\n";
        else if (it->second != bytes)
            problems += "  differs: " + name + "\n";
    }
    for (const auto& [name, bytes] : tb)
        if (!ta.count(name)) problems += "  only in " + b.string() + ": " + name + "\n";
    if (ta.empty()) problems += "  " + a.string() + " holds no files\n";
    if (!problems.empty()) return ::testing::AssertionFailure() << "\n" << problems;
    return ::testing::AssertionSuccess() << ta.size() << " files equal";
}

/// Converts the shared MusiCNN checkpoint once into `dir`/musicnn-mtat.tmw.
inline fs::path convert_weights(const fs::path& dir) {
    fs::create_directories(dir);
    const auto tmw = dir / "musicnn-mtat.tmw";
    const auto out = dir / "convert.stdout", err = dir / "convert.stderr";
    const auto r =
        wait_for(spawn(tagmap::test::binary("tagmap-convert"),
                       {(tagmap::test::fixtures_dir() / "weights" / "musicnn-mtat.pth").string(),
                        tmw.string()},
                       out, err),
                 out, err);
    EXPECT_EQ(r.code, 0) << r.text();
    return tmw;
}

/// The shared clips (every audio file of ../shared/audio), sorted by name.
inline std::vector<fs::path> shared_clips() {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(tagmap::test::fixtures_dir() / "audio")) {
        const auto ext = e.path().extension().string();
        if (ext != ".md" && ext != ".csv") out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

/// Copies `from` to `to` (creating folders); the copy is writable, the original untouched.
inline void copy_clip(const fs::path& from, const fs::path& to) {
    fs::create_directories(to.parent_path());
    fs::copy_file(from, to, fs::copy_options::overwrite_existing);
    fs::permissions(to, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                            fs::perms::others_read);
}

}  // namespace tagmap::store::test
