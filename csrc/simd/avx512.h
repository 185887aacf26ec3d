// The AVX-512 (F, DQ, BW, VL) wrappers: 16 float / 8 double lanes in 512-bit registers, mask
// registers for the tails. The row-kernel members of the wrapper concept (simd/wrapper.h); not
// the short-row group, which each wrapper declares it lacks (kShortRows = false: short rows take
// the row kernels), nor the linear group (the linear microkernels run on AVX2 there).
// Include inside a target region with "avx512f,avx512dq,avx512bw,avx512vl,fma".
//
// Defined in an unnamed namespace, as simd/avx2.h is.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "simd/wrapper.h"

namespace pysoftmax {
namespace simd {
namespace {

struct Avx512F64;

struct Avx512F32 {
    // ---- row kernels ----
    using T = float;
    using Wide = Avx512F64;  // the row totals in double (ChunkTotal)
    using vec = __m512;
    using mask = __mmask16;
    static constexpr size_t W = 16;
    static void fence() { _mm_sfence(); }

    static mask tail(size_t n) { return mask((1u << n) - 1u); }  // 0 < n < W
    static vec set1(T a) { return _mm512_set1_ps(a); }
    static vec loadu(const T* p) { return _mm512_loadu_ps(p); }
    static void storeu(T* p, vec v) { _mm512_storeu_ps(p, v); }
    static void stream(T* p, vec v) { _mm512_stream_ps(p, v); }  // p aligned to W elements
    static vec load_tail(const T* p, size_t n, T fill) {
        return _mm512_mask_loadu_ps(set1(fill), tail(n), p);
    }
    static void store_tail(T* p, size_t n, vec v) { _mm512_mask_storeu_ps(p, tail(n), v); }
    static vec add(vec a, vec b) { return _mm512_add_ps(a, b); }
    static vec sub(vec a, vec b) { return _mm512_sub_ps(a, b); }
    static vec mul(vec a, vec b) { return _mm512_mul_ps(a, b); }
    static vec fmadd(vec a, vec b, vec c) { return _mm512_fmadd_ps(a, b, c); }
    static vec max(vec a, vec b) { return _mm512_max_ps(a, b); }
    static vec min(vec a, vec b) { return _mm512_min_ps(a, b); }
    static vec select(mask m, vec a, vec b) { return _mm512_mask_blend_ps(m, b, a); }
    static vec keep(mask m, vec a) { return _mm512_maskz_mov_ps(m, a); }
    static mask not_lt(vec a, vec b) { return _mm512_cmp_ps_mask(a, b, _CMP_NLT_UQ); }
    static mask gt(vec a, vec b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
    static mask load_mask(const uint8_t* p) {
        const __m128i b = _mm_loadu_si128((const __m128i*)p);
        return _mm_test_epi8_mask(b, b);
    }
    static mask load_mask_tail(const uint8_t* p, size_t n) {
        const __m128i b = _mm_maskz_loadu_epi8(__mmask16((1u << n) - 1u), p);
        return _mm_test_epi8_mask(b, b);
    }
    static T hmax(vec v) { return _mm512_reduce_max_ps(v); }
    static T hmin(vec v) { return _mm512_reduce_min_ps(v); }
    static double hsum(vec v) {
        return _mm512_reduce_add_pd(_mm512_add_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)),
                                                  _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1))));
    }
    static vec pow2(vec z) {
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_castps_si512(z), 23));
    }
    static __m512d widen(vec v, int half) {
        return _mm512_cvtps_pd(half ? _mm512_extractf32x8_ps(v, 1) : _mm512_castps512_ps256(v));
    }

    // ---- short-row group: not provided ----
    // Providing it (simd/wrapper.h lists its members) and setting this to true is all it takes
    // for short rows to use the block kernels here too.
    static constexpr bool kShortRows = false;
};

struct Avx512F64 {
    // ---- row kernels ----
    using T = double;
    using Wide = Avx512F64;
    using vec = __m512d;
    using mask = __mmask8;
    static constexpr size_t W = 8;
    static void fence() { _mm_sfence(); }

    static mask tail(size_t n) { return mask((1u << n) - 1u); }
    static vec set1(T a) { return _mm512_set1_pd(a); }
    static vec loadu(const T* p) { return _mm512_loadu_pd(p); }
    static void storeu(T* p, vec v) { _mm512_storeu_pd(p, v); }
    static void stream(T* p, vec v) { _mm512_stream_pd(p, v); }
    static vec load_tail(const T* p, size_t n, T fill) {
        return _mm512_mask_loadu_pd(set1(fill), tail(n), p);
    }
    static void store_tail(T* p, size_t n, vec v) { _mm512_mask_storeu_pd(p, tail(n), v); }
    static vec add(vec a, vec b) { return _mm512_add_pd(a, b); }
    static vec sub(vec a, vec b) { return _mm512_sub_pd(a, b); }
    static vec mul(vec a, vec b) { return _mm512_mul_pd(a, b); }
    static vec fmadd(vec a, vec b, vec c) { return _mm512_fmadd_pd(a, b, c); }
    static vec max(vec a, vec b) { return _mm512_max_pd(a, b); }
    static vec min(vec a, vec b) { return _mm512_min_pd(a, b); }
    static vec select(mask m, vec a, vec b) { return _mm512_mask_blend_pd(m, b, a); }
    static vec keep(mask m, vec a) { return _mm512_maskz_mov_pd(m, a); }
    static mask not_lt(vec a, vec b) { return _mm512_cmp_pd_mask(a, b, _CMP_NLT_UQ); }
    static mask gt(vec a, vec b) { return _mm512_cmp_pd_mask(a, b, _CMP_GT_OQ); }
    static mask load_mask(const uint8_t* p) {
        const __m128i b = _mm_loadl_epi64((const __m128i*)p);
        return mask(_mm_test_epi8_mask(b, b));
    }
    static mask load_mask_tail(const uint8_t* p, size_t n) {
        const __m128i b = _mm_maskz_loadu_epi8(__mmask16((1u << n) - 1u), p);
        return mask(_mm_test_epi8_mask(b, b));
    }
    static T hmax(vec v) { return _mm512_reduce_max_pd(v); }
    static T hmin(vec v) { return _mm512_reduce_min_pd(v); }
    static double hsum(vec v) { return _mm512_reduce_add_pd(v); }
    static vec pow2(vec z) {
        return _mm512_castsi512_pd(_mm512_slli_epi64(_mm512_castpd_si512(z), 52));
    }
    static vec widen(vec v, int) { return v; }

    // ---- short-row group: not provided (as Avx512F32's) ----
    static constexpr bool kShortRows = false;
};

}  // namespace
}  // namespace simd
}  // namespace pysoftmax
