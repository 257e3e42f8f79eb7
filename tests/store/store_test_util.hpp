// What the store's tests share: a temporary folder per test, running the tagmap binary
// (fork/exec, no shell), reading a library with plain SQL, comparing exported trees.
#pragma once

#include <gtest/gtest.h>

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
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
#include "sqlite.hpp"

namespace tagmap::store::test {

namespace fs = std::filesystem;

inline std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

inline void write_file(const fs::path& p, const std::string& bytes) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << bytes;
}

/// A fresh folder below the system's temp folder, named after the running test; removed
/// when the test ends (kept with TAGMAP_KEEP_TEST_DIRS=1, for debugging).
class TempDir {
  public:
    TempDir() {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        std::string name =
            info ? std::string(info->test_suite_name()) + "." + info->name() : std::string("suite");
        for (char& c : name)
            if (c == '/') c = '_';
        path_ =
            fs::temp_directory_path() / ("tagmap-store-" + std::to_string(::getpid()) + "-" + name);
        fs::remove_all(path_);
        fs::create_directories(path_);
    }
    ~TempDir() {
        const char* keep = std::getenv("TAGMAP_KEEP_TEST_DIRS");
        if (!(keep && *keep == '1')) {
            std::error_code ec;
            fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
            fs::remove_all(path_, ec);
        }
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const fs::path& path() const { return path_; }
    fs::path operator/(const std::string& name) const { return path_ / name; }

  private:
    fs::path path_;
};

struct RunResult {
    int code = -1;    ///< exit status, or -1 if killed by a signal
    int signal = 0;   ///< the signal that ended it, if any
    std::string out;  ///< stdout
    std::string err;  ///< stderr
    std::string text() const {
        return "exit " + std::to_string(code) + "\nstdout:\n" + out + "\nstderr:\n" + err;
    }
};

/// Starts `program args...` with stdout/stderr redirected to files; optionally as another
/// user (root only). TAGMAP_FIXTURES is set so that the tag lists are found.
inline pid_t spawn(const fs::path& program, const std::vector<std::string>& args,
                   const fs::path& out_file, const fs::path& err_file,
                   std::optional<uid_t> as_user = std::nullopt) {
    ::setenv("TAGMAP_FIXTURES", tagmap::test::fixtures_dir().c_str(), 1);
    std::vector<std::string> all{program.string()};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string out = out_file.string(), err = err_file.string();
    const pid_t pid = ::fork();
    if (pid < 0) ADD_FAILURE() << "fork failed";
    if (pid == 0) {
        const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
        const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
        if (o < 0 || e < 0) ::_exit(126);
        ::dup2(o, 1);
        ::dup2(e, 2);
        if (as_user) {
            if (::setgroups(0, nullptr) != 0 || ::setgid(gid_t(*as_user)) != 0 ||
                ::setuid(*as_user) != 0)
                ::_exit(125);
        }
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    return pid;
}

inline RunResult wait_for(pid_t pid, const fs::path& out_file, const fs::path& err_file) {
    int status = 0;
    RunResult r;
    if (::waitpid(pid, &status, 0) != pid) {
        ADD_FAILURE() << "waitpid failed";
        return r;
    }
    if (WIFEXITED(status)) r.code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
    r.out = slurp(out_file);
    r.err = slurp(err_file);
    return r;
}

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
