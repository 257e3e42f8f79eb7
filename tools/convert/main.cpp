// tagmap-convert: converts a PyTorch checkpoint to a .tmw weight file without Python
// and without executing anything from the checkpoint; lists the tensors of either.
//
//   tagmap-convert [--select KEY] [--strip-prefix P] [--model ID] IN.pth OUT.tmw
//   tagmap-convert --list [--select KEY] [--strip-prefix P] [--model ID] FILE
//   tagmap-convert [--model ID] NET.pkl [NET.pkl ...] OUT.tmw   (madmom networks; several
//                  files are one ensemble, network i named nets.<i>.)
//   tagmap-convert --emit-header [--namespace N] IN.{pth,tmw} OUT.hpp   (weights as code)
//
// Exit status: 0 success, 1 the input was refused or the model check failed (one line
// on stderr says why; no output file is left behind), 2 bad command line.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "emit_header.hpp"
#include "tagmap/core/error.hpp"
#include "tagmap/weights/madmom_reader.hpp"
#include "tagmap/weights/pth_reader.hpp"
#include "tagmap/weights/tmw_writer.hpp"
#include "tagmap/weights/weight_file.hpp"

#if __has_include(<tagmap/models/registry.hpp>)
#include <tagmap/models/registry.hpp>
#include <tagmap/models/sequence_model.hpp>
#define TAGMAP_CONVERT_HAS_MODELS 1
#else
#define TAGMAP_CONVERT_HAS_MODELS 0
#endif

namespace {

using namespace tagmap::weights;

constexpr const char* usage =
    "usage: tagmap-convert [options] IN.pth OUT.tmw   convert a PyTorch checkpoint\n"
    "       tagmap-convert --list [options] FILE      list tensors of a .pth or .tmw\n"
    "       tagmap-convert [--model ID] A.pkl [B.pkl ...] OUT.tmw\n"
    "                      convert madmom network pickles (several: one ensemble, nets.<i>.);\n"
    "                      madmom's models are CC BY-NC-SA 4.0 (non-commercial)\n"
    "options:\n"
    "  --select KEY        take the tensors of a nested dict (e.g. state_dict; a/b for deeper)\n"
    "  --strip-prefix P    remove P from tensor names that start with it (e.g. module.)\n"
    "  --model ID          check the tensors against a known architecture\n"
    "  --emit-header       write IN (.pth or .tmw) as a C++ header OUT.hpp (constexpr arrays)\n"
    "  --namespace N       namespace of the emitted header (default tagmap_weights)\n"
    "  -h, --help          show this help\n";

struct Args {
    bool list = false;
    bool emit_header = false;
    std::string ns = "tagmap_weights";
    PthOptions pth;
    std::string model;
    std::vector<std::string> files;
};

bool is_tmw(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return false;
    unsigned char head[8] = {};
    const bool ok = std::fread(head, 1, 8, f) == 8 && std::memcmp(head, tmw::magic.data(), 8) == 0;
    std::fclose(f);
    return ok;
}

void print_list(const WeightFile& w) {
    for (const TensorRef& t : w.tensors())
        std::cout << t.name << ' ' << dtype_name(t.dtype) << ' ' << shape_string(t.shape) << '\n';
    std::cout << w.tensors().size() << " tensors\n";
}

/// Runs the --model check; returns false (after printing the problems) if it fails.
bool check_model([[maybe_unused]] const std::string& model, [[maybe_unused]] const WeightFile& w) {
#if TAGMAP_CONVERT_HAS_MODELS
    const std::vector<std::string> problems = tagmap::models::is_sequence_model(model)
                                                  ? tagmap::models::check_sequence_weights(model, w)
                                                  : tagmap::models::check_weights(model, w);
    if (problems.empty()) {
        std::cerr << "tagmap-convert: tensors fit model " << model << '\n';
        return true;
    }
    std::cerr << "tagmap-convert: tensors do not fit model " << model << " (" << problems.size()
              << " problems):\n";
    for (const auto& p : problems) std::cerr << "  " << p << '\n';
    return false;
#else
    throw tagmap::UnsupportedError("--model needs tagmap/models/registry.hpp, not in this build");
#endif
}

bool is_pkl(const std::string& path) {
    return path.ends_with(".pkl");
}

/// The tensors of the input files: one .pth, or one or more madmom .pkl networks.
TensorSet read_inputs(const std::vector<std::string>& in, const PthOptions& pth) {
    const auto pkls = static_cast<std::size_t>(std::count_if(in.begin(), in.end(), is_pkl));
    if (pkls == 0) {
        if (in.size() != 1) throw tagmap::InvalidArgument("only .pkl inputs can be combined");
        return read_pth(in[0], pth);
    }
    if (pkls != in.size()) throw tagmap::InvalidArgument(".pkl and other inputs cannot be mixed");
    if (!pth.select_key.empty() || !pth.strip_prefix.empty())
        throw tagmap::InvalidArgument("--select and --strip-prefix apply to .pth input only");
    if (in.size() == 1) return read_madmom_pickle(in[0]);
    return read_madmom_ensemble(std::vector<std::filesystem::path>(in.begin(), in.end()));
}

int run(const Args& a) {
    if (a.emit_header) {
        const TensorSet tensors = tagmap::convert::read_tensors(a.files[0], a.pth);
        tagmap::convert::write_header_file(tensors, a.ns, a.files[0], a.files[1]);
        std::cerr << "tagmap-convert: wrote " << tensors.size() << " tensors to " << a.files[1]
                  << '\n';
        return 0;
    }
    if (a.list) {
        const std::string& in = a.files[0];
        WeightFile w = a.files.size() == 1 && is_tmw(in)
                           ? WeightFile::open(in)
                           : WeightFile::from_bytes(encode_tmw(read_inputs(a.files, a.pth)));
        print_list(w);
        return a.model.empty() || check_model(a.model, w) ? 0 : 1;
    }
    const std::string& out = a.files.back();
    const TensorSet tensors =
        read_inputs(std::vector<std::string>(a.files.begin(), a.files.end() - 1), a.pth);
    if (!a.model.empty()) {
        // Check before writing, so a mismatch leaves no output file either.
        if (!check_model(a.model, WeightFile::from_bytes(encode_tmw(tensors)))) return 1;
    }
    write_tmw_file(tensors, out);
    std::cerr << "tagmap-convert: wrote " << tensors.size() << " tensors to " << out << '\n';
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::cerr << "tagmap-convert: " << arg << " needs a value\n" << usage;
                std::exit(2);
            }
            return argv[++i];
        };
        if (arg == "-h" || arg == "--help") {
            std::cout << usage;
            return 0;
        } else if (arg == "--list") {
            a.list = true;
        } else if (arg == "--emit-header") {
            a.emit_header = true;
        } else if (arg == "--namespace") {
            a.ns = value();
        } else if (arg == "--select") {
            a.pth.select_key = value();
        } else if (arg == "--strip-prefix") {
            a.pth.strip_prefix = value();
        } else if (arg == "--model") {
            a.model = value();
        } else if (arg.size() > 1 && arg[0] == '-') {
            std::cerr << "tagmap-convert: unknown option " << arg << '\n' << usage;
            return 2;
        } else {
            a.files.push_back(arg);
        }
    }
    // --list: FILE or several .pkl; convert: inputs then OUT; --emit-header: IN OUT.
    const bool files_ok = a.list ? !a.files.empty() && (a.files.size() == 1 || is_pkl(a.files[0]))
                          : a.emit_header ? a.files.size() == 2
                                          : a.files.size() >= 2;
    if (!files_ok) {
        std::cerr << usage;
        return 2;
    }
    try {
        return run(a);
    } catch (const std::exception& e) {
        std::string msg = e.what();
        for (char& c : msg)
            if (c == '\n') c = ' ';
        std::cerr << "tagmap-convert: error: " << msg << '\n';
        return 1;
    }
}
