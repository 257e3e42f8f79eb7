// What end-to-end tests share: reading and writing whole files, a temporary folder per
// test, and running a built program of the project (fork/exec, no shell) with its
// stdout and stderr captured.
#pragma once

#include <gtest/gtest.h>

#include <fcntl.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "fixtures.hpp"

namespace tagmap::test {

inline std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

inline void write_file(const std::filesystem::path& p, const std::string& bytes) {
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << bytes;
}

/// `s` as one word for sh (single quotes, embedded quotes escaped).
inline std::string shell_quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

/// Splits a command line at spaces (test arguments built from paths without spaces).
inline std::vector<std::string> words(const std::string& line) {
    std::vector<std::string> out;
    std::istringstream in(line);
    for (std::string w; in >> w;) out.push_back(w);
    return out;
}

/// A fresh folder below the system's temp folder, named after `prefix`, the process and
/// the running test; removed when the test ends (kept with TAGMAP_KEEP_TEST_DIRS=1).
class TempDir {
  public:
    explicit TempDir(const std::string& prefix = "tagmap-test") {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        std::string name =
            info ? std::string(info->test_suite_name()) + "." + info->name() : std::string("suite");
        for (char& c : name)
            if (c == '/') c = '_';
        path_ = std::filesystem::temp_directory_path() /
                (prefix + "-" + std::to_string(::getpid()) + "-" + name);
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        const char* keep = std::getenv("TAGMAP_KEEP_TEST_DIRS");
        if (!(keep && *keep == '1')) {
            std::error_code ec;  // a test may have made it read-only
            std::filesystem::permissions(path_, std::filesystem::perms::owner_all,
                                         std::filesystem::perm_options::add, ec);
            std::filesystem::remove_all(path_, ec);
        }
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

  private:
    std::filesystem::path path_;
};

struct RunResult {
    int code = -1;    ///< exit status, or -1 if killed by a signal
    int signal = 0;   ///< the signal that ended it, if any
    std::string out;  ///< stdout
    std::string err;  ///< stderr
    /// stdout then stderr, for checks that do not care which stream a line went to.
    std::string output() const { return out + err; }
    std::string text() const {
        return "exit " + std::to_string(code) + "\nstdout:\n" + out + "\nstderr:\n" + err;
    }
};

/// Starts `program args...` with stdout/stderr redirected to files; optionally as another
/// user (root only). TAGMAP_FIXTURES is set so that the programs find the tag lists.
inline pid_t spawn(const std::filesystem::path& program, const std::vector<std::string>& args,
                   const std::filesystem::path& out_file, const std::filesystem::path& err_file,
                   std::optional<uid_t> as_user = std::nullopt) {
    ::setenv("TAGMAP_FIXTURES", fixtures_dir().c_str(), 1);
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

inline RunResult wait_for(pid_t pid, const std::filesystem::path& out_file,
                          const std::filesystem::path& err_file) {
    int status = 0;
    RunResult r;
    if (::waitpid(pid, &status, 0) != pid) {
        ADD_FAILURE() << "waitpid failed";
        return r;
    }
    if (WIFEXITED(status)) r.code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
    r.out = read_file(out_file);
    r.err = read_file(err_file);
    return r;
}

/// Runs build/bin/`program` with `args`; its stdout and stderr land in `dir`.
inline RunResult run_program(const char* program, const std::vector<std::string>& args,
                             const std::filesystem::path& dir,
                             std::optional<uid_t> as_user = std::nullopt) {
    const auto out = dir / (std::string(program) + ".stdout");
    const auto err = dir / (std::string(program) + ".stderr");
    return wait_for(spawn(binary(program), args, out, err, as_user), out, err);
}

}  // namespace tagmap::test
