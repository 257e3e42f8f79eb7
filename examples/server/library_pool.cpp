#include "library_pool.hpp"

namespace tagmap::server {

LibraryPool::LibraryPool(std::filesystem::path db, int busy_timeout_ms)
    : db_(std::move(db)), busy_timeout_ms_(busy_timeout_ms) {}

LibraryPool::Lease::~Lease() {
    if (lib_) pool_->give_back(std::move(lib_));
}

LibraryPool::Lease LibraryPool::lease() {
    {
        std::lock_guard lock(mutex_);
        if (!idle_.empty()) {
            auto lib = std::move(idle_.back());
            idle_.pop_back();
            return Lease(*this, std::move(lib));
        }
    }
    auto lib = std::make_unique<store::Library>(db_, store::OpenMode::read_only, busy_timeout_ms_);
    ++opened_;
    return Lease(*this, std::move(lib));
}

void LibraryPool::give_back(std::unique_ptr<store::Library> lib) {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(lib));
}

}  // namespace tagmap::server
