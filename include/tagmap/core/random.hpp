// Small, fast, seedable and splittable random numbers (used by project/ for determinism).
//
// Why not <random>: the standard distributions are implementation-defined, so the same seed
// gives different maps with libstdc++ and libc++. Everything here is exact integer or
// IEEE arithmetic, identical on every platform and compiler.
//
// API (namespace tagmap):
//   std::uint64_t splitmix64(std::uint64_t& state)   next value of a splitmix64 sequence
//   std::uint64_t derive_seed(seed, a, b = 0, c = 0)  a well-mixed seed for the stream named
//                                                     by (seed, a, b, c), e.g. (seed, block, epoch)
//   class Rng                                          PCG32 (XSH-RR 64/32), 16 bytes
//     Rng(std::uint64_t seed, std::uint64_t stream = 0)
//     Rng::for_stream(seed, a, b = 0, c = 0)          = Rng(derive_seed(seed, a, b, c), a)
//     std::uint32_t next_u32(); std::uint64_t next_u64();
//     std::uint32_t below(std::uint32_t n)            uniform in [0, n), unbiased (Lemire), n > 0
//     double uniform()                                uniform in [0, 1), 53 bits
//     float uniform_float()                           uniform in [0, 1), 24 bits
//     double normal()                                 standard normal (Marsaglia polar method)
//     operator()(), min(), max()                      UniformRandomBitGenerator, so std::shuffle
//                                                     works (its result is libstdc++-specific;
//                                                     use shuffle() below for portable results)
//   void shuffle(std::span<T> items, Rng& rng)        portable Fisher-Yates
//
// Determinism recipe for parallel code: split the work into fixed-size blocks that do not
// depend on the thread count and give block b of epoch e its own Rng::for_stream(seed, b, e).
#pragma once

#include <cmath>
#include <cstdint>
#include <span>
#include <utility>

namespace tagmap {

/// Advances `state` and returns the next splitmix64 output (Steele, Lea & Flood 2014).
inline std::uint64_t splitmix64(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/// A seed for the independent stream named by (seed, a, b, c); nearby names give unrelated
/// seeds because every component passes through the splitmix64 finaliser.
inline std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t a, std::uint64_t b = 0,
                                 std::uint64_t c = 0) {
    std::uint64_t state = seed;
    std::uint64_t h = splitmix64(state);
    state = h ^ a;
    h = splitmix64(state);
    state = h ^ b;
    h = splitmix64(state);
    state = h ^ c;
    return splitmix64(state);
}

/// PCG32 (O'Neill 2014): 64-bit LCG state, 32-bit permuted output, 2^63 selectable streams.
class Rng {
  public:
    using result_type = std::uint32_t;

    explicit Rng(std::uint64_t seed = 42, std::uint64_t stream = 0) {
        std::uint64_t mixer = seed;
        increment_ = (splitmix64(mixer) ^ stream) << 1u | 1u;
        state_ = 0;
        next_u32();
        state_ += splitmix64(mixer);
        next_u32();
    }

    /// The generator for block/epoch-style stream names (see derive_seed).
    static Rng for_stream(std::uint64_t seed, std::uint64_t a, std::uint64_t b = 0,
                          std::uint64_t c = 0) {
        return Rng(derive_seed(seed, a, b, c), a);
    }

    std::uint32_t next_u32() {
        const std::uint64_t old = state_;
        state_ = old * 6364136223846793005ull + increment_;
        const auto xorshifted = static_cast<std::uint32_t>(((old >> 18u) ^ old) >> 27u);
        const auto rot = static_cast<std::uint32_t>(old >> 59u);
        return (xorshifted >> rot) | (xorshifted << ((32u - rot) & 31u));
    }

    std::uint64_t next_u64() {
        const std::uint64_t hi = next_u32();
        return (hi << 32) | next_u32();
    }

    /// Uniform integer in [0, n) without modulo bias (Lemire 2019). Requires n > 0.
    std::uint32_t below(std::uint32_t n) {
        std::uint64_t m = std::uint64_t{next_u32()} * n;
        auto low = static_cast<std::uint32_t>(m);
        if (low < n) {
            const std::uint32_t threshold = (0u - n) % n;
            while (low < threshold) {
                m = std::uint64_t{next_u32()} * n;
                low = static_cast<std::uint32_t>(m);
            }
        }
        return static_cast<std::uint32_t>(m >> 32);
    }

    /// Uniform double in [0, 1) with 53 random bits.
    double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

    /// Uniform float in [0, 1) with 24 random bits.
    float uniform_float() { return static_cast<float>(next_u32() >> 8) * 0x1.0p-24f; }

    /// Standard normal deviate; exact IEEE operations only, so portable bit for bit where
    /// std::log/std::sqrt are correctly rounded (glibc's are for these inputs in practice).
    double normal() {
        if (has_spare_) {
            has_spare_ = false;
            return spare_;
        }
        double u, v, s;
        do {
            u = 2.0 * uniform() - 1.0;
            v = 2.0 * uniform() - 1.0;
            s = u * u + v * v;
        } while (s >= 1.0 || s == 0.0);
        const double scale = std::sqrt(-2.0 * std::log(s) / s);
        spare_ = v * scale;
        has_spare_ = true;
        return u * scale;
    }

    result_type operator()() { return next_u32(); }
    static constexpr result_type min() { return 0; }
    static constexpr result_type max() { return 0xFFFFFFFFu; }

  private:
    std::uint64_t state_ = 0;
    std::uint64_t increment_ = 1;
    double spare_ = 0.0;
    bool has_spare_ = false;
};

/// Fisher-Yates shuffle with Rng::below, identical on every standard library.
template <class T>
void shuffle(std::span<T> items, Rng& rng) {
    for (std::size_t i = items.size(); i > 1; --i) {
        const std::size_t j = rng.below(static_cast<std::uint32_t>(i));
        using std::swap;
        swap(items[i - 1], items[j]);
    }
}

}  // namespace tagmap
