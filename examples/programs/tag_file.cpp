// Tag one audio file: weights -> model -> top tags. This is the README's "Using the library"
// snippet as a whole program, so the snippet is compiled and run by the test suite.
//   tag_file WEIGHTS(.tmw|.pth) AUDIO [TAG_NAMES.txt]
#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include <tagmap/audio/read_resampled.hpp>
#include <tagmap/models/musicnn.hpp>

int main(int argc, char** argv) try {
    if (argc < 3) {
        std::fprintf(stderr, "usage: tag_file WEIGHTS AUDIO [TAG_NAMES.txt]\n");
        return 2;
    }
    // The audio at 16 kHz mono; its first 3 s are one model input.
    std::vector<float> samples;
    tagmap::audio::read_resampled(argv[2], [&](std::span<const float> block) {
        samples.insert(samples.end(), block.begin(), block.end());
    });
    std::vector<float> chunk_of_48000_samples_at_16kHz(48000, 0.0f);
    std::copy_n(samples.begin(), std::min<std::size_t>(samples.size(), 48000),
                chunk_of_48000_samples_at_16kHz.begin());

    // --- README snippet ---
    auto weights = tagmap::weights::WeightFile::load(argv[1]);  // mmap + checks
    tagmap::models::MusicnnMtat model;                          // shapes checked at compile time
    model.bind(weights);  // BindError names every missing/mis-shaped tensor
    std::array<float, 50> tags;
    std::array<float, 200> embedding;
    model.forward(chunk_of_48000_samples_at_16kHz, tags, embedding);  // no heap allocation
    // --- end of snippet ---

    std::vector<std::string> names;
    if (argc > 3)
        for (std::ifstream in(argv[3]); in;)
            if (std::string line; std::getline(in, line) && !line.empty()) names.push_back(line);
    std::array<int, 50> order;
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + 5, order.end(),
                      [&](int a, int b) { return tags[a] > tags[b]; });
    for (int r = 0; r < 5; ++r) {
        const int t = order[r];
        const std::string name = t < int(names.size()) ? names[t] : "tag " + std::to_string(t);
        std::printf("%-20s %.3f\n", name.c_str(), tags[t]);
    }
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "tag_file: %s\n", e.what());
    return 1;
}
