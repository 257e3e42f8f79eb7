// RAII ownership of FFTW real-FFT plans and SIMD-aligned buffers.
//
// FFTW's planner (plan creation and destruction) is not thread-safe, while executing an
// existing plan on new arrays (fftwf_execute_dft_r2c) is. Every tagmap object that owns a
// plan therefore creates and destroys it while holding fftw_planner_mutex(); code outside
// tagmap that plans FFTW transforms in the same process concurrently with tagmap should
// hold the same mutex.
#pragma once

#include <fftw3.h>

#include <complex>
#include <cstddef>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <type_traits>

#include "tagmap/core/error.hpp"

namespace tagmap {

/// The one process-wide lock around FFTW plan creation and destruction.
inline std::mutex& fftw_planner_mutex() {
    static std::mutex mutex;
    return mutex;
}

namespace detail {
struct FftwFree {
    void operator()(void* p) const noexcept { fftwf_free(p); }
};
}  // namespace detail

/// n elements of T allocated with fftwf_malloc (SIMD-aligned like fftw_malloc, so a plan of
/// either precision made on one such buffer may execute on another). Zero-initialised.
template <class T>
class FftwBuffer {
  public:
    FftwBuffer() = default;
    explicit FftwBuffer(std::size_t n) : size_(n) {
        void* p = fftwf_malloc(sizeof(T) * (n == 0 ? 1 : n));
        if (!p) TAGMAP_THROW(std::bad_alloc());
        data_.reset(static_cast<T*>(p));
        for (std::size_t i = 0; i < n; ++i) data_.get()[i] = T{};
    }
    T* data() noexcept { return data_.get(); }
    const T* data() const noexcept { return data_.get(); }
    std::size_t size() const noexcept { return size_; }
    T& operator[](std::size_t i) noexcept { return data_.get()[i]; }
    const T& operator[](std::size_t i) const noexcept { return data_.get()[i]; }

  private:
    std::unique_ptr<T, detail::FftwFree> data_;
    std::size_t size_ = 0;
};

/// A real-to-complex 1-D plan of size n (n/2+1 complex outputs) in float (fftwf) or
/// double (fftw) precision. Planned with FFTW_ESTIMATE: the algorithm, hence every output
/// bit, does not depend on planner timing, and planning never touches the caller's data.
template <class Real>
class RealFftPlan {
    static_assert(std::is_same_v<Real, float> || std::is_same_v<Real, double>);
    using Plan = std::conditional_t<std::is_same_v<Real, float>, fftwf_plan, fftw_plan>;

  public:
    RealFftPlan() = default;
    RealFftPlan(int n, Real* in, std::complex<Real>* out) {
        if (n <= 0)
            TAGMAP_THROW(
                InvalidArgument("RealFftPlan: FFT size must be > 0, got " + std::to_string(n)));
        std::lock_guard lock(fftw_planner_mutex());
        if constexpr (std::is_same_v<Real, float>)
            plan_ =
                fftwf_plan_dft_r2c_1d(n, in, reinterpret_cast<fftwf_complex*>(out), FFTW_ESTIMATE);
        else
            plan_ =
                fftw_plan_dft_r2c_1d(n, in, reinterpret_cast<fftw_complex*>(out), FFTW_ESTIMATE);
        if (!plan_)
            TAGMAP_THROW(Error("RealFftPlan: FFTW could not plan a size-" + std::to_string(n) +
                               " real FFT"));
        n_ = n;
    }
    RealFftPlan(const RealFftPlan&) = delete;
    RealFftPlan& operator=(const RealFftPlan&) = delete;
    RealFftPlan(RealFftPlan&& other) noexcept : plan_(other.plan_), n_(other.n_) {
        other.plan_ = nullptr;
    }
    RealFftPlan& operator=(RealFftPlan&& other) noexcept {
        if (this != &other) {
            destroy();
            plan_ = other.plan_;
            n_ = other.n_;
            other.plan_ = nullptr;
        }
        return *this;
    }
    ~RealFftPlan() { destroy(); }

    int size() const noexcept { return n_; }

    /// Transforms in -> out. Both must be FftwBuffers of the sizes the plan was made for;
    /// thread-safe for distinct buffers (FFTW's new-array execute).
    void execute(Real* in, std::complex<Real>* out) const noexcept {
        if constexpr (std::is_same_v<Real, float>)
            fftwf_execute_dft_r2c(plan_, in, reinterpret_cast<fftwf_complex*>(out));
        else
            fftw_execute_dft_r2c(plan_, in, reinterpret_cast<fftw_complex*>(out));
    }

  private:
    void destroy() noexcept {
        if (!plan_) return;
        std::lock_guard lock(fftw_planner_mutex());
        if constexpr (std::is_same_v<Real, float>)
            fftwf_destroy_plan(plan_);
        else
            fftw_destroy_plan(plan_);
        plan_ = nullptr;
    }

    Plan plan_ = nullptr;
    int n_ = 0;
};

}  // namespace tagmap
