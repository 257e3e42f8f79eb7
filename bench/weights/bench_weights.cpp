// Reading the real checkpoints: .pth parse (both formats), .tmw encode, .tmw open
// (mmap + full validation incl. CRC-32), and raw CRC-32 throughput.
// Peer comparison with torch.load: bench/weights/compare_torch_load.py.
#include <benchmark/benchmark.h>

#include <unistd.h>
#include <cstdlib>
#include <filesystem>

#include "tagmap/weights/crc32.hpp"
#include "tagmap/weights/pth_reader.hpp"
#include "tagmap/weights/tmw_writer.hpp"
#include "tagmap/weights/weight_file.hpp"

namespace tw = tagmap::weights;
namespace fs = std::filesystem;

namespace {

fs::path checkpoint(const char* name) {
    const char* env = std::getenv("TAGMAP_FIXTURES");
    return fs::path(env && *env ? env : TAGMAP_DEFAULT_FIXTURES) / "weights" / name;
}

void BM_ReadPth(benchmark::State& state, const char* name) {
    const auto path = checkpoint(name);
    std::size_t bytes = 0;
    for (auto _ : state) {
        auto t = tw::read_pth(path);
        benchmark::DoNotOptimize(t.data());
        bytes = fs::file_size(path);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}

void BM_EncodeTmw(benchmark::State& state, const char* name) {
    const auto tensors = tw::read_pth(checkpoint(name));
    for (auto _ : state) benchmark::DoNotOptimize(tw::encode_tmw(tensors).data());
}

void BM_OpenTmw(benchmark::State& state, const char* name) {
    const auto out =
        fs::temp_directory_path() / ("tagmap_bench_" + std::to_string(::getpid()) + ".tmw");
    tw::write_tmw_file(tw::read_pth(checkpoint(name)), out);
    for (auto _ : state) {
        auto w = tw::WeightFile::open(out);
        benchmark::DoNotOptimize(w.tensors().data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * fs::file_size(out)));
    fs::remove(out);
}

void BM_Crc32(benchmark::State& state) {
    std::vector<std::byte> buf(static_cast<std::size_t>(state.range(0)), std::byte{0x5A});
    for (auto _ : state) benchmark::DoNotOptimize(tw::crc32(buf));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * buf.size()));
}

}  // namespace

BENCHMARK_CAPTURE(BM_ReadPth, musicnn_legacy, "musicnn-mtat.pth")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ReadPth, crepe_zip, "crepe-tiny.pth")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EncodeTmw, musicnn, "musicnn-mtat.pth")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_OpenTmw, musicnn, "musicnn-mtat.pth")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Crc32)->Arg(1 << 22)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
