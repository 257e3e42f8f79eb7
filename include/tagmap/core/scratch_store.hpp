// Storage for what a streamed model has to keep until its input ends (madmom-beats: the
// features and layer outputs of a whole file, for the backward halves of its BLSTMs): a
// growable array of floats written and read in blocks. MemoryScratch keeps it on the heap
// (the default); FileScratch keeps it in a file the application opened, read back with
// pread into the caller's fixed buffers, so it costs page cache (which the kernel may
// write out and reclaim) instead of resident memory. The library never picks a path:
// the application hands over the open file (e.g. std::tmpfile(), already unlinked).
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tagmap/core/error.hpp"

namespace tagmap {

/// A growable array of floats addressed by index. One user at a time.
class ScratchStore {
  public:
    virtual ~ScratchStore() = default;
    /// Hint: about `floats` floats will be written before the next release().
    virtual void reserve(std::size_t floats) { (void)floats; }
    /// Stores `data` at [at, at + data.size()), growing the store as needed.
    virtual void write(std::size_t at, std::span<const float> data) = 0;
    /// Reads [at, at + data.size()), every float of which was written since release().
    virtual void read(std::size_t at, std::span<float> data) const = 0;
    /// Forgets the contents and gives their memory (or file space) back.
    virtual void release() = 0;
};

/// On the heap.
class MemoryScratch final : public ScratchStore {
  public:
    void reserve(std::size_t floats) override { data_.reserve(floats); }
    void write(std::size_t at, std::span<const float> data) override {
        if (data_.size() < at + data.size()) data_.resize(at + data.size());
        std::memcpy(data_.data() + at, data.data(), data.size_bytes());
    }
    void read(std::size_t at, std::span<float> data) const override {
        if (at + data.size() > data_.size())
            throw InvalidArgument("scratch: read past the end of what was written");
        std::memcpy(data.data(), data_.data() + at, data.size_bytes());
    }
    void release() override { data_ = {}; }

  private:
    std::vector<float> data_;
};

/// In a file opened for reading and writing, which it owns and closes; release()
/// truncates it to zero length.
class FileScratch final : public ScratchStore {
  public:
    explicit FileScratch(std::FILE* file) : file_(file) {
        if (!file_) throw IoError("scratch: no file (could not create a temporary file?)");
        fd_ = fileno(file_);
    }
    ~FileScratch() override { std::fclose(file_); }
    FileScratch(const FileScratch&) = delete;
    FileScratch& operator=(const FileScratch&) = delete;

    void write(std::size_t at, std::span<const float> data) override {
        const char* p = reinterpret_cast<const char*>(data.data());
        std::size_t left = data.size_bytes();
        auto offset = static_cast<off_t>(at * sizeof(float));
        while (left > 0) {
            const ssize_t n = ::pwrite(fd_, p, left, offset);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) throw IoError("scratch file: write failed: " + error_text());
            p += n;
            left -= std::size_t(n);
            offset += n;
        }
    }
    void read(std::size_t at, std::span<float> data) const override {
        char* p = reinterpret_cast<char*>(data.data());
        std::size_t left = data.size_bytes();
        auto offset = static_cast<off_t>(at * sizeof(float));
        while (left > 0) {
            const ssize_t n = ::pread(fd_, p, left, offset);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw IoError("scratch file: read failed: " + error_text());
            if (n == 0) throw InvalidArgument("scratch: read past the end of what was written");
            p += n;
            left -= std::size_t(n);
            offset += n;
        }
    }
    void release() override {
        if (::ftruncate(fd_, 0) != 0)
            throw IoError("scratch file: truncate failed: " + error_text());
    }

  private:
    static std::string error_text() { return std::strerror(errno); }
    std::FILE* file_ = nullptr;
    int fd_ = -1;
};

/// A FileScratch in an unlinked temporary file (std::tmpfile()), or MemoryScratch when no
/// temporary file can be created: a full or read-only temporary folder costs memory, not
/// the run.
inline std::unique_ptr<ScratchStore> temporary_file_scratch() {
    if (std::FILE* f = std::tmpfile()) return std::make_unique<FileScratch>(f);
    return std::make_unique<MemoryScratch>();
}

}  // namespace tagmap
