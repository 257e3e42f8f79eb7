// A network of your own from nn:: layers: the architecture is a type, so every connection's
// shape is checked by the compiler; weights are bound by name from a weight file (here a
// tiny .tmw the program writes with seeded values, as tagmap-convert would from a .pth).
//   custom_net [OUT.tmw]     (default: custom_net.tmw in the current folder)
#include <array>
#include <cstdio>
#include <type_traits>
#include <vector>

#include <tagmap/core/random.hpp>
#include <tagmap/nn/conv.hpp>
#include <tagmap/nn/linear.hpp>
#include <tagmap/nn/pool.hpp>
#include <tagmap/nn/sequential.hpp>
#include <tagmap/weights/tmw_writer.hpp>
#include <tagmap/weights/weight_file.hpp>

namespace nn = tagmap::nn;

// torch: Conv1d(1, 4, 5, padding=2) -> ReLU -> [max_t | mean_t] -> Linear(8, 3) -> sigmoid.
// The tensor names ("conv.weight", "fc.bias", ...) are the PyTorch module's.
using Net = nn::Sequential<nn::Conv1d<"conv", 1, 4, 5, 1, 2, nn::post::ReLU>,
                           nn::GlobalMaxMeanPool,  // (4, 1, 64) -> (8, 1, 1)
                           nn::Linear<"fc", 8, 3, nn::post::Sigmoid>>::on<tagmap::Shape<1, 1, 64>>;
static_assert(std::is_same_v<Net::Out, tagmap::Shape<3, 1, 1>>);
// Linear<"fc", 9, 3> instead would not compile: "Linear: input features differ ...".

// The file's tensors as binder input (zero-copy views of the mapped file).
std::vector<nn::TensorView> views(const tagmap::weights::WeightFile& file) {
    std::vector<nn::TensorView> out;
    for (const auto& t : file.tensors())
        out.push_back(
            {t.name, std::string(tagmap::weights::dtype_name(t.dtype)), t.shape, t.bytes});
    return out;
}

int main(int argc, char** argv) try {
    const char* path = argc > 1 ? argv[1] : "custom_net.tmw";
    // Seeded weights, written as a .tmw file.
    using Shape = std::vector<std::int64_t>;
    const std::pair<const char*, Shape> wanted[] = {
        {"conv.weight", {4, 1, 5}}, {"conv.bias", {4}}, {"fc.weight", {3, 8}}, {"fc.bias", {3}}};
    tagmap::Rng rng(7);
    tagmap::weights::TensorSet tensors;
    for (const auto& [name, shape] : wanted) {
        auto& t = tensors.emplace_back(
            tagmap::weights::Tensor{name, tagmap::weights::DType::float32, shape, {}});
        for (auto n = t.numel(); n > 0; --n) {
            const float v = float(0.5 * rng.normal());
            const auto* bytes = reinterpret_cast<const std::byte*>(&v);  // little-endian hosts
            t.data.insert(t.data.end(), bytes, bytes + sizeof v);
        }
    }
    tagmap::weights::write_tmw_file(tensors, path);

    // Bind: every tensor is checked by name, dtype and shape; all problems are collected.
    const auto file = tagmap::weights::WeightFile::open(path);
    Net net;
    std::vector<float> params(Net::param_floats);  // the layers keep pointers into this
    nn::ParamBinder binder(views(file), params);
    net.bind(binder);
    binder.throw_if_problems("custom_net");

    // Forward on a ramp; `work` holds the intermediates (the GEMMs want it 64-byte aligned).
    alignas(64) std::array<float, Net::work_floats + 16> work{};
    std::array<float, Net::In::size> in;
    for (std::size_t t = 0; t < in.size(); ++t) in[t] = float(t % 16) / 16 - 0.5f;
    std::array<float, Net::Out::size> out;
    net.forward(in.data(), out.data(), work.data());
    std::printf("%zu parameters; output %.6f %.6f %.6f\n", Net::param_floats, out[0], out[1],
                out[2]);

    // A network that expects other shapes is refused, with every mismatch named.
    nn::Sequential<nn::Conv1d<"conv", 1, 6, 5, 1, 2>>::on<tagmap::Shape<1, 1, 64>> wider;
    std::vector<float> other(decltype(wider)::param_floats);
    nn::ParamBinder strict(views(file), other);
    wider.bind(strict);
    for (const auto& problem : strict.problems()) std::printf("refused: %s\n", problem.c_str());
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "custom_net: %s\n", e.what());
    return 1;
}
