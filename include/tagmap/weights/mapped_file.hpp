// A read-only POSIX memory mapping of a whole file (Linux, macOS). Movable, not copyable.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tagmap/core/error.hpp"

namespace tagmap::weights {

class MappedFile {
  public:
    MappedFile() = default;

    /// Maps `path` read-only; IoError naming the file and the system's reason on failure.
    static MappedFile open(const std::filesystem::path& path) {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) throw IoError(path.string() + ": cannot open: " + std::strerror(errno));
        struct stat st {};
        if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            const int err = errno;
            ::close(fd);
            throw IoError(path.string() + ": not a regular file" +
                          (err ? std::string(": ") + std::strerror(err) : ""));
        }
        MappedFile m;
        m.size_ = static_cast<std::size_t>(st.st_size);
        if (m.size_ > 0) {
            void* p = ::mmap(nullptr, m.size_, PROT_READ, MAP_PRIVATE, fd, 0);
            if (p == MAP_FAILED) {
                const int err = errno;
                ::close(fd);
                throw IoError(path.string() + ": cannot map: " + std::strerror(err));
            }
            m.data_ = static_cast<const std::byte*>(p);
        }
        ::close(fd);  // the mapping stays valid without the descriptor
        return m;
    }

    MappedFile(MappedFile&& o) noexcept
        : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
    MappedFile& operator=(MappedFile&& o) noexcept {
        if (this != &o) {
            unmap();
            data_ = std::exchange(o.data_, nullptr);
            size_ = std::exchange(o.size_, 0);
        }
        return *this;
    }
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    ~MappedFile() { unmap(); }

    std::span<const std::byte> bytes() const { return {data_, size_}; }

  private:
    const std::byte* data_ = nullptr;
    std::size_t size_ = 0;

    void unmap() {
        if (data_) ::munmap(const_cast<std::byte*>(data_), size_);
        data_ = nullptr;
    }
};

}  // namespace tagmap::weights
