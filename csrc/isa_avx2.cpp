// AVX2 + FMA kernels: 8 float / 4 double lanes. This file alone is compiled for that target
// (by pragma, not by a build-wide -m flag), so the module still loads on any x86-64 CPU; the
// dispatcher (runtime.cpp) calls these only when the CPU and the OS support AVX2 and FMA.
#include "kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PYSOFTMAX_HAVE_AVX2 1
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "numerics.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

#include "simd_kernels.h"

namespace pysoftmax {
namespace {

struct Avx2F32 {
    using T = float;
    using vec = __m256;
    using mask = __m256;  // all-ones / all-zeros lanes
    static constexpr size_t W = 8;

    static vec set1(T a) { return _mm256_set1_ps(a); }
    static vec loadu(const T* p) { return _mm256_loadu_ps(p); }
    static void storeu(T* p, vec v) { _mm256_storeu_ps(p, v); }
    static __m256i tail(size_t n) {  // lanes [0, n) set, 0 < n < W
        return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    }
    static vec load_tail(const T* p, size_t n, T fill) {
        const __m256i t = tail(n);
        return _mm256_blendv_ps(set1(fill), _mm256_maskload_ps(p, t), _mm256_castsi256_ps(t));
    }
    static void store_tail(T* p, size_t n, vec v) { _mm256_maskstore_ps(p, tail(n), v); }
    static vec add(vec a, vec b) { return _mm256_add_ps(a, b); }
    static vec sub(vec a, vec b) { return _mm256_sub_ps(a, b); }
    static vec mul(vec a, vec b) { return _mm256_mul_ps(a, b); }
    static vec fmadd(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); }
    static vec max(vec a, vec b) { return _mm256_max_ps(a, b); }
    static vec min(vec a, vec b) { return _mm256_min_ps(a, b); }
    static vec select(mask m, vec a, vec b) { return _mm256_blendv_ps(b, a, m); }
    static vec keep(mask m, vec a) { return _mm256_and_ps(m, a); }
    static mask not_lt(vec a, vec b) { return _mm256_cmp_ps(a, b, _CMP_NLT_UQ); }
    static mask gt(vec a, vec b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
    static mask bytes_to_mask(__m128i b) {
        return _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_cvtepu8_epi32(b), _mm256_setzero_si256()));
    }
    static mask load_mask(const uint8_t* p) { return bytes_to_mask(_mm_loadl_epi64((const __m128i*)p)); }
    static mask load_mask_tail(const uint8_t* p, size_t n) {
        long long b = 0;
        std::memcpy(&b, p, n);
        return bytes_to_mask(_mm_cvtsi64_si128(b));
    }
    static T hmax(vec v) {
        __m128 a = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        a = _mm_max_ps(a, _mm_movehl_ps(a, a));
        return _mm_cvtss_f32(_mm_max_ss(a, _mm_shuffle_ps(a, a, 1)));
    }
    static T hmin(vec v) {
        __m128 a = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        a = _mm_min_ps(a, _mm_movehl_ps(a, a));
        return _mm_cvtss_f32(_mm_min_ss(a, _mm_shuffle_ps(a, a, 1)));
    }
    static double hsum(vec v) {
        const __m256d d = _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)),
                                        _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
        __m128d a = _mm_add_pd(_mm256_castpd256_pd128(d), _mm256_extractf128_pd(d, 1));
        return _mm_cvtsd_f64(_mm_add_sd(a, _mm_unpackhi_pd(a, a)));
    }
    static vec pow2(vec z) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(z), 23)); }
};

struct Avx2F64 {
    using T = double;
    using vec = __m256d;
    using mask = __m256d;
    static constexpr size_t W = 4;

    static vec set1(T a) { return _mm256_set1_pd(a); }
    static vec loadu(const T* p) { return _mm256_loadu_pd(p); }
    static void storeu(T* p, vec v) { _mm256_storeu_pd(p, v); }
    static __m256i tail(size_t n) {
        return _mm256_cmpgt_epi64(_mm256_set1_epi64x((long long)n), _mm256_setr_epi64x(0, 1, 2, 3));
    }
    static vec load_tail(const T* p, size_t n, T fill) {
        const __m256i t = tail(n);
        return _mm256_blendv_pd(set1(fill), _mm256_maskload_pd(p, t), _mm256_castsi256_pd(t));
    }
    static void store_tail(T* p, size_t n, vec v) { _mm256_maskstore_pd(p, tail(n), v); }
    static vec add(vec a, vec b) { return _mm256_add_pd(a, b); }
    static vec sub(vec a, vec b) { return _mm256_sub_pd(a, b); }
    static vec mul(vec a, vec b) { return _mm256_mul_pd(a, b); }
    static vec fmadd(vec a, vec b, vec c) { return _mm256_fmadd_pd(a, b, c); }
    static vec max(vec a, vec b) { return _mm256_max_pd(a, b); }
    static vec min(vec a, vec b) { return _mm256_min_pd(a, b); }
    static vec select(mask m, vec a, vec b) { return _mm256_blendv_pd(b, a, m); }
    static vec keep(mask m, vec a) { return _mm256_and_pd(m, a); }
    static mask not_lt(vec a, vec b) { return _mm256_cmp_pd(a, b, _CMP_NLT_UQ); }
    static mask gt(vec a, vec b) { return _mm256_cmp_pd(a, b, _CMP_GT_OQ); }
    static mask bytes_to_mask(__m128i b) {
        return _mm256_castsi256_pd(_mm256_cmpgt_epi64(_mm256_cvtepu8_epi64(b), _mm256_setzero_si256()));
    }
    static mask load_mask(const uint8_t* p) {
        int b;
        std::memcpy(&b, p, 4);
        return bytes_to_mask(_mm_cvtsi32_si128(b));
    }
    static mask load_mask_tail(const uint8_t* p, size_t n) {
        int b = 0;
        std::memcpy(&b, p, n);
        return bytes_to_mask(_mm_cvtsi32_si128(b));
    }
    static T hmax(vec v) {
        __m128d a = _mm_max_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
        return _mm_cvtsd_f64(_mm_max_sd(a, _mm_unpackhi_pd(a, a)));
    }
    static T hmin(vec v) {
        __m128d a = _mm_min_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
        return _mm_cvtsd_f64(_mm_min_sd(a, _mm_unpackhi_pd(a, a)));
    }
    static double hsum(vec v) {
        __m128d a = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
        return _mm_cvtsd_f64(_mm_add_sd(a, _mm_unpackhi_pd(a, a)));
    }
    static vec pow2(vec z) { return _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_castpd_si256(z), 52)); }
};

constexpr Kernels kAvx2 = {"avx2", PYSOFTMAX_KERNEL_SET(simd::Rows<Avx2F32>),
                           PYSOFTMAX_KERNEL_SET(simd::Rows<Avx2F64>)};

}  // namespace
}  // namespace pysoftmax

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif  // x86-64

namespace pysoftmax {
#ifdef PYSOFTMAX_HAVE_AVX2
const Kernels* avx2_kernels() { return &kAvx2; }
#else
const Kernels* avx2_kernels() { return nullptr; }
#endif
}  // namespace pysoftmax
