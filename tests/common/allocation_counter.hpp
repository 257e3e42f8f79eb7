// Counts heap allocations, for the tests that prove a code path allocates nothing.
//
// Include it in exactly one source file of a test program: it replaces the global
// operator new/delete and defines the linker's --wrap functions of the malloc family, so
// the program must link tagmap_test_allocation_counter (tests/CMakeLists.txt), which adds
// the --wrap options. Allocations from C code (libsoxr, FFTW) and Eigen's aligned
// allocations are then counted too, not only operator new.
//
// Every allocation counts for the thread that makes it (allocations_of_this_thread(),
// no system call involved, so usable under seccomp strict mode) and, while
// allocations_during() runs, for the whole process.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace tagmap::test {

inline thread_local long thread_allocation_count = 0;
inline std::atomic<bool> counting_all_threads{false};
inline std::atomic<long> all_threads_allocation_count{0};

inline void note_allocation() {
    ++thread_allocation_count;
    if (counting_all_threads.load(std::memory_order_relaxed))
        all_threads_allocation_count.fetch_add(1, std::memory_order_relaxed);
}

/// Allocations made so far by the calling thread (compare two readings).
inline long allocations_of_this_thread() {
    return thread_allocation_count;
}

/// Allocations made by any thread while `f` runs.
template <class F>
long allocations_during(F&& f) {
    all_threads_allocation_count = 0;
    counting_all_threads = true;
    f();
    counting_all_threads = false;
    return all_threads_allocation_count.load();
}

}  // namespace tagmap::test

extern "C" {
void* __real_malloc(std::size_t);
void* __real_calloc(std::size_t, std::size_t);
void* __real_realloc(void*, std::size_t);
int __real_posix_memalign(void**, std::size_t, std::size_t);
void* __real_aligned_alloc(std::size_t, std::size_t);
void* __wrap_malloc(std::size_t n) {
    tagmap::test::note_allocation();
    return __real_malloc(n);
}
void* __wrap_calloc(std::size_t n, std::size_t size) {
    tagmap::test::note_allocation();
    return __real_calloc(n, size);
}
void* __wrap_realloc(void* p, std::size_t n) {
    tagmap::test::note_allocation();
    return __real_realloc(p, n);
}
int __wrap_posix_memalign(void** p, std::size_t alignment, std::size_t n) {
    tagmap::test::note_allocation();
    return __real_posix_memalign(p, alignment, n);
}
void* __wrap_aligned_alloc(std::size_t alignment, std::size_t n) {
    tagmap::test::note_allocation();
    return __real_aligned_alloc(alignment, n);
}
}

// The replacements pair operator new with malloc and operator delete with free by design
// (the real malloc, so that one allocation counts once); GCC cannot see that pairing.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

void* operator new(std::size_t n) {
    tagmap::test::note_allocation();
    if (void* p = __real_malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
    return operator new(n);
}
void* operator new(std::size_t n, std::align_val_t a) {
    tagmap::test::note_allocation();
    void* p = nullptr;
    const std::size_t alignment =
        static_cast<std::size_t>(a) < sizeof(void*) ? sizeof(void*) : static_cast<std::size_t>(a);
    if (__real_posix_memalign(&p, alignment, n ? n : 1) != 0) throw std::bad_alloc();
    return p;
}
void* operator new[](std::size_t n, std::align_val_t a) {
    return operator new(n, a);
}
// The nothrow forms too (std::stable_sort's temporary buffer uses one): left to the runtime,
// they would allocate with its operator new and be freed here with free().
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    tagmap::test::note_allocation();
    return __real_malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept {
    return operator new(n, t);
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    tagmap::test::note_allocation();
    void* p = nullptr;
    const std::size_t alignment =
        static_cast<std::size_t>(a) < sizeof(void*) ? sizeof(void*) : static_cast<std::size_t>(a);
    return __real_posix_memalign(&p, alignment, n ? n : 1) == 0 ? p : nullptr;
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t& t) noexcept {
    return operator new(n, a, t);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
    std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
    std::free(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
    std::free(p);
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete[](void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
    std::free(p);
}
