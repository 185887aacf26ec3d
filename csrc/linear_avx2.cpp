// AVX2 + FMA microkernels of the fused linear + cross-entropy path (linear_kernels.h): 8 float /
// 4 double lanes. Compiled for that target by pragma, like isa_avx2.cpp; called only when the
// active kernels are AVX2 or AVX-512 (active_linear_kernels in linear.cpp).
#include "linear.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PYSOFTMAX_HAVE_LINEAR_AVX2 1
#include <immintrin.h>

#include <cmath>

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

#include "linear_kernels.h"

namespace pysoftmax {
namespace {

struct Avx2F32 {
    using T = float;
    using vec = __m256;
    static constexpr size_t W = 8;
    static vec zero() { return _mm256_setzero_ps(); }
    static vec set1(T a) { return _mm256_set1_ps(a); }
    static vec loadu(const T* p) { return _mm256_loadu_ps(p); }
    static void storeu(T* p, vec v) { _mm256_storeu_ps(p, v); }
    static vec fmadd(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); }
    static T fma1(T a, T b, T c) { return std::fma(a, b, c); }
    static void prefetch(const T* p) {
        _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0);
    }
    // ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7))
    static T hsum(vec v) {
        __m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        a = _mm_add_ps(a, _mm_movehl_ps(a, a));
        return _mm_cvtss_f32(_mm_add_ss(a, _mm_movehdup_ps(a)));
    }
};

struct Avx2F64 {
    using T = double;
    using vec = __m256d;
    static constexpr size_t W = 4;
    static vec zero() { return _mm256_setzero_pd(); }
    static vec set1(T a) { return _mm256_set1_pd(a); }
    static vec loadu(const T* p) { return _mm256_loadu_pd(p); }
    static void storeu(T* p, vec v) { _mm256_storeu_pd(p, v); }
    static vec fmadd(vec a, vec b, vec c) { return _mm256_fmadd_pd(a, b, c); }
    static T fma1(T a, T b, T c) { return std::fma(a, b, c); }
    static void prefetch(const T* p) {
        _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0);
    }
    // (l0 + l2) + (l1 + l3)
    static T hsum(vec v) {
        const __m128d a = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
        return _mm_cvtsd_f64(_mm_add_sd(a, _mm_unpackhi_pd(a, a)));
    }
};

constexpr LinearKernels kLinearAvx2 = {
    "avx2",
    {&linear::Logits<Avx2F32>::run, &linear::GradW<Avx2F32>::run},
    {&linear::Logits<Avx2F64>::run, &linear::GradW<Avx2F64>::run},
};

}  // namespace
}  // namespace pysoftmax

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif  // x86-64

namespace pysoftmax {
#ifdef PYSOFTMAX_HAVE_LINEAR_AVX2
const LinearKernels* linear_avx2_kernels() { return &kLinearAvx2; }
#else
const LinearKernels* linear_avx2_kernels() { return nullptr; }
#endif
}  // namespace pysoftmax
