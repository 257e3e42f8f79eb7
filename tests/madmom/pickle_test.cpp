// The unpickler's madmom allow-list: a hand-made network pickle reads into exactly its
// arrays (names by attribute path, shapes, values), every truncation and every hostile
// or malformed variant is refused with a reason, the two allow-lists stay apart, and
// the shared model pickles read into madmom's 140 arrays each.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "madmom_test_util.hpp"
#include "tagmap/weights/pth_reader.hpp"

namespace {

using namespace tagmap;
namespace fs = std::filesystem;

std::vector<std::byte> bytes_of(const fs::path& p) {
    return weights::read_file_bytes(p);
}

const weights::Tensor* find(const weights::TensorSet& ts, const std::string& name) {
    for (const auto& t : ts)
        if (t.name == name) return &t;
    return nullptr;
}

std::string refusal(const std::string& file) {
    try {
        (void)weights::read_madmom_pickle(test::madmom_data() / file);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(MadmomPickle, TinyNetworkReadsIntoItsArrays) {
    const auto ts = weights::read_madmom_pickle(test::madmom_data() / "tiny_blstm.pkl");
    // 2 LSTMs x (3 gates x 6 arrays + cell 5) + dense 2
    ASSERT_EQ(ts.size(), 2u * 23u + 2u);
    const auto* w = find(ts, "layers.0.fwd_layer.input_gate.weights");
    ASSERT_NE(w, nullptr);
    EXPECT_EQ(w->shape, (std::vector<std::int64_t>{6, 4}));
    EXPECT_EQ(w->dtype, weights::DType::float32);
    EXPECT_EQ(w->data.size(), 6u * 4u * 4u);
    ASSERT_NE(find(ts, "layers.0.bwd_layer.cell.recurrent_weights"), nullptr);
    EXPECT_EQ(find(ts, "layers.0.bwd_layer.cell.peephole_weights"), nullptr);  // None
    ASSERT_NE(find(ts, "layers.0.fwd_layer.output_gate._tmp"), nullptr);
    const auto* ff = find(ts, "layers.1.weights");
    ASSERT_NE(ff, nullptr);
    EXPECT_EQ(ff->shape, (std::vector<std::int64_t>{8, 2}));
    // Attribute order is kept: madmom stores bwd_layer before fwd_layer.
    EXPECT_TRUE(ts.front().name.starts_with("layers.0.bwd_layer."));
    // A prefix goes in front of every name.
    const auto pre = weights::read_madmom_pickle(test::madmom_data() / "tiny_blstm.pkl", "nets.3");
    for (std::size_t i = 0; i < ts.size(); ++i) EXPECT_EQ(pre[i].name, "nets.3." + ts[i].name);
}

TEST(MadmomPickle, EveryTruncationIsRefused) {
    const auto full = bytes_of(test::madmom_data() / "tiny_blstm.pkl");
    for (std::size_t n = 0; n < full.size(); ++n) {
        const std::span<const std::byte> part(full.data(), n);
        EXPECT_THROW((void)weights::read_madmom_pickle_bytes(part, "<truncated>"), FormatError)
            << "prefix of " << n << " bytes";
    }
    // Trailing bytes after STOP are refused too.
    auto longer = full;
    longer.push_back(std::byte{'N'});
    EXPECT_THROW((void)weights::read_madmom_pickle_bytes(longer, "<long>"), FormatError);
}

TEST(MadmomPickle, HostileFilesAreRefusedByName) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"hostile_os_system.pkl", "'os.system', which is not on the madmom allow-list"},
        {"hostile_builtins_eval.pkl", "'__builtin__.eval', which is not on the madmom allow-list"},
        {"hostile_torch_global.pkl",
         "'torch._utils._rebuild_tensor_v2', which is not on the madmom"},
        {"hostile_swapped_global.pkl", "'subprocess.Popen', which is not on the madmom allow-list"},
        {"hostile_reduce_layer.pkl", "madmom.ml.nn.layers.LSTMLayer cannot be called"},
        {"hostile_newobj_ndarray.pkl", "NEWOBJ of a global 'numpy.ndarray', not a madmom layer"},
        {"hostile_cycle.pkl", "nested deeper than 32 levels"},
        {"malformed_big_endian.pkl", "byte order '>' is not supported"},
        {"malformed_fortran.pkl", "Fortran-order arrays are not supported"},
        {"malformed_bad_size.pkl", "holds 60 bytes, expected 64"},
    };
    for (const auto& [file, why] : cases) {
        const std::string msg = refusal(file);
        EXPECT_NE(msg.find(why), std::string::npos) << file << ": " << msg;
        EXPECT_NE(msg.find(file), std::string::npos) << "message names the file: " << msg;
    }
}

TEST(MadmomPickle, AllowListsStayApart) {
    // The torch reader refuses a madmom pickle by its first global...
    const auto pkl = test::madmom_data() / "tiny_blstm.pkl";
    try {
        (void)weights::read_pth(pkl);
        FAIL() << "read_pth accepted a madmom pickle";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("madmom.ml.nn.NeuralNetwork"), std::string::npos)
            << e.what();
    }
    // ...and the madmom list holds no torch name, the torch list no madmom or numpy name.
    using namespace weights::pickle;
    EXPECT_FALSE(is_allowed_madmom_global("collections.OrderedDict"));
    EXPECT_FALSE(is_allowed_madmom_global("torch.FloatStorage"));
    EXPECT_FALSE(is_allowed_global("numpy.core.multiarray._reconstruct"));
    EXPECT_FALSE(is_allowed_global("madmom.ml.nn.layers.LSTMLayer"));
    EXPECT_FALSE(is_madmom_class("madmom.ml.nn.activations.sigmoid"));  // a value, not a class
}

TEST(MadmomPickle, RootMustBeANetwork) {
    // A bare list of arrays is a valid pickle but not a madmom network.
    const std::string raw = "\x80\x02]q\x00.";
    const std::span<const std::byte> b(reinterpret_cast<const std::byte*>(raw.data()), raw.size());
    EXPECT_THROW((void)weights::read_madmom_pickle_bytes(b, "<list>"), FormatError);
}

TEST(MadmomPickle, SharedModelPicklesReadInFull) {
    TAGMAP_REQUIRE_MADMOM();
    std::set<std::string> first_names;
    for (const auto& file : test::madmom_pickles()) {
        const auto ts = weights::read_madmom_pickle(file);
        ASSERT_EQ(ts.size(), 140u) << file;  // the README's 140 arrays per file
        std::size_t floats = 0;
        for (const auto& t : ts) {
            EXPECT_EQ(t.dtype, weights::DType::float32);
            if (!t.name.ends_with("._tmp") && !t.name.ends_with("_gate.cell") &&
                !t.name.ends_with("cell.cell"))
                floats += std::size_t(t.numel());
        }
        EXPECT_EQ(floats, 89301u) << file;  // madmom's parameter count per network
        std::set<std::string> names;
        for (const auto& t : ts) names.insert(t.name);
        if (first_names.empty()) first_names = names;
        EXPECT_EQ(names, first_names) << "all 8 networks share one layout";
        const auto* w = find(ts, "layers.0.fwd_layer.input_gate.weights");
        ASSERT_NE(w, nullptr);
        EXPECT_EQ(w->shape, (std::vector<std::int64_t>{266, 25}));
        const auto* d = find(ts, "layers.3.weights");
        ASSERT_NE(d, nullptr);
        EXPECT_EQ(d->shape, (std::vector<std::int64_t>{50, 1}));
    }
}

}  // namespace
