// The AVX2 + FMA wrappers: 8 float / 4 double lanes in 256-bit registers. Every member of the
// wrapper concept (simd/wrapper.h): the row kernels, the short-row group and the linear group.
// Include inside a target region with "avx2,fma" (simd/target_begin.h).
//
// Defined in an unnamed namespace: the one translation unit that includes this header
// (isa_avx2.cpp) gets its own copy, and every kernel instantiated over these wrappers stays
// local to it, free for the compiler to specialise.
#pragma once

#include <immintrin.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "simd/wrapper.h"

namespace pysoftmax {
namespace simd {
namespace {

struct Avx2F64;

// The first n (0 < n < 8) floats / (0 < n < 4) doubles of v, by at most three plain stores
// from registers.
inline void store_part(float* p, size_t n, __m256 v) {
    __m128 h = _mm256_castps256_ps128(v);
    if (n & 4) {
        _mm_storeu_ps(p, h);
        h = _mm256_extractf128_ps(v, 1);
        p += 4;
    }
    if (n & 2) {
        _mm_storel_pi(reinterpret_cast<__m64*>(p), h);
        h = _mm_movehl_ps(h, h);
        p += 2;
    }
    if (n & 1) _mm_store_ss(p, h);
}
inline void store_part(double* p, size_t n, __m256d v) {
    __m128d h = _mm256_castpd256_pd128(v);
    if (n & 2) {
        _mm_storeu_pd(p, h);
        h = _mm256_extractf128_pd(v, 1);
        p += 2;
    }
    if (n & 1) _mm_store_sd(p, h);
}

struct Avx2F32 {
    // ---- row kernels ----
    using T = float;
    using Wide = Avx2F64;  // float lanes widened to double, W / 4 vectors of them
    using vec = __m256;
    using mask = __m256;  // all-ones / all-zeros lanes
    static constexpr size_t W = 8;
    static void fence() { _mm_sfence(); }

    static vec set1(T a) { return _mm256_set1_ps(a); }
    static vec loadu(const T* p) { return _mm256_loadu_ps(p); }
    static void storeu(T* p, vec v) { _mm256_storeu_ps(p, v); }
    static void stream(T* p, vec v) { _mm256_stream_ps(p, v); }  // p aligned to W elements
    static __m256i tail(size_t n) {                              // lanes [0, n) set, 0 < n < W
        return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)),
                                  _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    }
    static vec load_tail(const T* p, size_t n, T fill) {
        const __m256i t = tail(n);
        return _mm256_blendv_ps(set1(fill), _mm256_maskload_ps(p, t), _mm256_castsi256_ps(t));
    }
    // Not vmaskmovps: its store form is microcoded on AMD (about 10x a plain store).
    static void store_tail(T* p, size_t n, vec v) { store_part(p, n, v); }
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
        return _mm256_castsi256_ps(
            _mm256_cmpgt_epi32(_mm256_cvtepu8_epi32(b), _mm256_setzero_si256()));
    }
    static mask load_mask(const uint8_t* p) {
        return bytes_to_mask(_mm_loadl_epi64((const __m128i*)p));
    }
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
    // ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)) in double
    static double hsum(vec v) {
        const __m256d d = _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)),
                                        _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
        __m128d a = _mm_add_pd(_mm256_castpd256_pd128(d), _mm256_extractf128_pd(d, 1));
        return _mm_cvtsd_f64(_mm_add_sd(a, _mm_unpackhi_pd(a, a)));
    }
    static constexpr int kExpTableBits = 0;  // the polynomial exp (vector_math.h)
    static vec pow2(vec z) {
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(z), 23));
    }
    static __m256d widen(vec v, int half) {
        return _mm256_cvtps_pd(half ? _mm256_extractf128_ps(v, 1) : _mm256_castps256_ps128(v));
    }

    // ---- short-row group ----
    static constexpr bool kShortRows = true;
    static void prefetch(const void* p) {
        _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0);
    }
    static vec narrow(const __m256d* h) {
        return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps(h[0])),
                                    _mm256_cvtpd_ps(h[1]), 1);
    }
    static vec div(vec a, vec b) { return _mm256_div_ps(a, b); }
    static mask eq(vec a, vec b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
    static int lanes(mask m) { return _mm256_movemask_ps(m); }  // bit i = lane i
    // m in [1, 2) and e with s = m * 2^e, for s > 0 normal
    static vec split_exp(vec s, vec& e) {
        const __m256i b = _mm256_castps_si256(s);
        e = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(b, 23), _mm256_set1_epi32(127)));
        return _mm256_castsi256_ps(_mm256_or_si256(
            _mm256_and_si256(b, _mm256_set1_epi32(0x007FFFFF)), _mm256_set1_epi32(0x3F800000)));
    }
    // r[i] lane j <-> r[j] lane i
    static void transpose(vec* r) {
        vec t[8], u[8];
        for (int i = 0; i < 8; i += 2) {
            t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
            t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
        }
        for (int i = 0; i < 8; i += 4) {
            u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
            u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
            u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
            u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
        }
        for (int i = 0; i < 4; ++i) {
            r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
            r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
        }
    }

    // ---- linear group ----
    static vec zero() { return _mm256_setzero_ps(); }
    static T fma1(T a, T b, T c) { return std::fma(a, b, c); }
    // ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)) in float
    static T hsum_t(vec v) {
        __m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        a = _mm_add_ps(a, _mm_movehl_ps(a, a));
        return _mm_cvtss_f32(_mm_add_ss(a, _mm_movehdup_ps(a)));
    }
};

struct Avx2F64 {
    // ---- row kernels ----
    using T = double;
    using Wide = Avx2F64;
    using vec = __m256d;
    using mask = __m256d;
    static constexpr size_t W = 4;
    static void fence() { _mm_sfence(); }

    static vec set1(T a) { return _mm256_set1_pd(a); }
    static vec loadu(const T* p) { return _mm256_loadu_pd(p); }
    static void storeu(T* p, vec v) { _mm256_storeu_pd(p, v); }
    static void stream(T* p, vec v) { _mm256_stream_pd(p, v); }
    static __m256i tail(size_t n) {
        return _mm256_cmpgt_epi64(_mm256_set1_epi64x((long long)n), _mm256_setr_epi64x(0, 1, 2, 3));
    }
    static vec load_tail(const T* p, size_t n, T fill) {
        const __m256i t = tail(n);
        return _mm256_blendv_pd(set1(fill), _mm256_maskload_pd(p, t), _mm256_castsi256_pd(t));
    }
    static void store_tail(T* p, size_t n, vec v) { store_part(p, n, v); }
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
        return _mm256_castsi256_pd(
            _mm256_cmpgt_epi64(_mm256_cvtepu8_epi64(b), _mm256_setzero_si256()));
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
    // (l0 + l2) + (l1 + l3)
    static double hsum(vec v) {
        __m128d a = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
        return _mm_cvtsd_f64(_mm_add_sd(a, _mm_unpackhi_pd(a, a)));
    }
    static constexpr int kExpTableBits = 0;  // the polynomial exp (vector_math.h)
    static vec pow2(vec z) {
        return _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_castpd_si256(z), 52));
    }
    static vec widen(vec v, int) { return v; }

    // ---- short-row group ----
    static constexpr bool kShortRows = true;
    static void prefetch(const void* p) {
        _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0);
    }
    static vec narrow(const vec* h) { return h[0]; }
    static vec div(vec a, vec b) { return _mm256_div_pd(a, b); }
    static mask eq(vec a, vec b) { return _mm256_cmp_pd(a, b, _CMP_EQ_OQ); }
    static int lanes(mask m) { return _mm256_movemask_pd(m); }
    static vec split_exp(vec s, vec& e) {
        const __m256i b = _mm256_castpd_si256(s);
        const __m256i two52 = _mm256_castpd_si256(_mm256_set1_pd(0x1p52));
        // the biased exponent (< 2^11) as a double: OR it into 2^52's mantissa, subtract
        e = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64(b, 52), two52)),
                          _mm256_set1_pd(0x1p52 + 1023));
        return _mm256_castsi256_pd(
            _mm256_or_si256(_mm256_and_si256(b, _mm256_set1_epi64x(0x000FFFFFFFFFFFFFLL)),
                            _mm256_set1_epi64x(0x3FF0000000000000LL)));
    }
    static void transpose(vec* r) {
        const vec t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
        const vec t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
        r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
        r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
        r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
        r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
    }

    // ---- linear group ----
    static vec zero() { return _mm256_setzero_pd(); }
    static T fma1(T a, T b, T c) { return std::fma(a, b, c); }
    static T hsum_t(vec v) { return hsum(v); }  // the same order, in double already
};

}  // namespace
}  // namespace simd
}  // namespace pysoftmax
