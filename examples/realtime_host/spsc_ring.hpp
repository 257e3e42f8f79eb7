// A bounded lock-free single-producer / single-consumer ring of trivially copyable
// values: one thread pushes, one pops, no lock, no allocation after construction, no
// system call. Capacity is a power of two; indices grow without wrapping (64-bit).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>

namespace realtime {

template <class T, std::size_t Capacity>
class SpscRing {
    static_assert(std::is_trivially_copyable_v<T>);
    static_assert(Capacity >= 2 && (Capacity & (Capacity - 1)) == 0, "power of two");
    static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

  public:
    static constexpr std::size_t capacity = Capacity;

    /// Producer: copies up to n values in; returns how many fitted.
    std::size_t push(const T* values, std::size_t n) noexcept {
        const std::uint64_t head = head_.load(std::memory_order_relaxed);
        const std::uint64_t tail = tail_.load(std::memory_order_acquire);
        n = std::min<std::size_t>(n, Capacity - static_cast<std::size_t>(head - tail));
        for (std::size_t i = 0; i < n; ++i) slots_[(head + i) & (Capacity - 1)] = values[i];
        head_.store(head + n, std::memory_order_release);
        return n;
    }
    bool push(const T& value) noexcept { return push(&value, 1) == 1; }

    /// Consumer: copies up to n values out; returns how many there were.
    std::size_t pop(T* out, std::size_t n) noexcept {
        const std::uint64_t tail = tail_.load(std::memory_order_relaxed);
        const std::uint64_t head = head_.load(std::memory_order_acquire);
        n = std::min<std::size_t>(n, static_cast<std::size_t>(head - tail));
        for (std::size_t i = 0; i < n; ++i) out[i] = slots_[(tail + i) & (Capacity - 1)];
        tail_.store(tail + n, std::memory_order_release);
        return n;
    }
    bool pop(T& out) noexcept { return pop(&out, 1) == 1; }

    /// Free slots as the producer sees them (exact on the producer thread).
    std::size_t free_space() const noexcept {
        return Capacity - static_cast<std::size_t>(head_.load(std::memory_order_relaxed) -
                                                   tail_.load(std::memory_order_acquire));
    }

  private:
    alignas(64) std::atomic<std::uint64_t> head_{0};  // written by the producer
    alignas(64) std::atomic<std::uint64_t> tail_{0};  // written by the consumer
    alignas(64) T slots_[Capacity];
};

}  // namespace realtime
