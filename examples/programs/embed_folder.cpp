// Embed a folder: every audio file under DIR -> MusiCNN (MTAT) -> one row of OUT.npy (the
// track's mean embedding, 200 floats), rows in sorted path order, one "row path" line each.
// Uses the library's pipeline (embed/pipeline.hpp) only: decode, resample, chunk, aggregate.
//   embed_folder WEIGHTS(.tmw|.pth) DIR OUT.npy
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <tagmap/embed/pipeline.hpp>
#include <tagmap/models/musicnn.hpp>  // one model type only: registry.hpp would compile them all

namespace fs = std::filesystem;

// A float32 matrix as NumPy's .npy (format 1.0): a padded text header, then the data.
void write_npy(const fs::path& path, const std::vector<float>& data, std::size_t rows,
               std::size_t cols) {
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" +
                         std::to_string(rows) + ", " + std::to_string(cols) + "), }";
    header.append(63 - (10 + header.size()) % 64, ' ') += '\n';  // data starts 64-aligned
    std::ofstream out(path, std::ios::binary);
    const unsigned short length = static_cast<unsigned short>(header.size());
    out.write("\x93NUMPY\x01\x00", 8).write(reinterpret_cast<const char*>(&length), 2) << header;
    out.write(reinterpret_cast<const char*>(data.data()), std::streamsize(data.size() * 4));
    if (!out) throw std::runtime_error(path.string() + ": cannot write");
}

int main(int argc, char** argv) try {
    if (argc != 4) {
        std::fprintf(stderr, "usage: embed_folder WEIGHTS DIR OUT.npy\n");
        return 2;
    }
    tagmap::models::MusicnnMtat model;
    model.bind(tagmap::weights::WeightFile::load(argv[1]));  // the model copies what it needs

    // Sorted, so that the rows do not depend on the file system's listing order.
    std::vector<fs::path> files;
    for (const auto& entry : fs::recursive_directory_iterator(argv[2])) {
        std::string ext = entry.path().extension().string();
        for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
        for (const char* audio : {".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a"})
            if (entry.is_regular_file() && ext == audio) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());

    std::vector<float> rows;
    std::size_t count = 0;
    for (const auto& file : files) {
        try {
            // Decoded and resampled in one streamed pass; 3 s chunks; mean and max per track.
            const auto track = tagmap::embed::embed_file_track(file, model);
            const auto mean = track.embedding_mean();
            rows.insert(rows.end(), mean.begin(), mean.end());
            std::printf("%zu %s (%zu chunks)\n", count++, file.string().c_str(), track.chunks());
        } catch (const std::exception& e) {  // a broken file is reported, not fatal
            std::fprintf(stderr, "skipped %s: %s\n", file.string().c_str(), e.what());
        }
    }
    write_npy(argv[3], rows, count, model.embedding_dim);
    std::printf("%zu tracks x %zu -> %s\n", count, model.embedding_dim, argv[3]);
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "embed_folder: %s\n", e.what());
    return 1;
}
