// The AVX-512 (F, DQ, BW, VL) wrappers: 16 float / 8 double lanes in 512-bit registers, mask
// registers for the tails. The row-kernel members of the wrapper concept (simd/wrapper.h) and its
// short-row group; not the linear group (the linear microkernels run on AVX2 there).
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
    // max(upper 8 lanes, lower 8), then within 128 bits by halves; written out rather than
    // _mm512_reduce_max_ps, whose order is the compiler's (simd/emulated512.h follows this one)
    static __m128 reduce4(__m128 c, bool is_max) {
        const __m128 d = _mm_shuffle_ps(c, c, _MM_SHUFFLE(1, 0, 3, 2));
        c = is_max ? _mm_max_ps(c, d) : _mm_min_ps(c, d);
        const __m128 e = _mm_shuffle_ps(c, c, _MM_SHUFFLE(0, 1, 0, 1));
        return is_max ? _mm_max_ps(c, e) : _mm_min_ps(c, e);
    }
    static T hmax(vec v) {
        const __m256 a = _mm256_max_ps(_mm512_extractf32x8_ps(v, 1), _mm512_castps512_ps256(v));
        return _mm_cvtss_f32(
            reduce4(_mm_max_ps(_mm256_extractf128_ps(a, 1), _mm256_castps256_ps128(a)), true));
    }
    static T hmin(vec v) {
        const __m256 a = _mm256_min_ps(_mm512_extractf32x8_ps(v, 1), _mm512_castps512_ps256(v));
        return _mm_cvtss_f32(
            reduce4(_mm_min_ps(_mm256_extractf128_ps(a, 1), _mm256_castps256_ps128(a)), false));
    }
    // d_i = l_i + l_(i+8) in double, then ((d0 + d4) + (d2 + d6)) + ((d1 + d5) + (d3 + d7))
    static double hsum(vec v) {
        const __m512d d = _mm512_add_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)),
                                        _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)));
        const __m256d a = _mm256_add_pd(_mm512_extractf64x4_pd(d, 1), _mm512_castpd512_pd256(d));
        const __m128d c = _mm_add_pd(_mm256_extractf128_pd(a, 1), _mm256_castpd256_pd128(a));
        return _mm_cvtsd_f64(_mm_add_sd(c, _mm_unpackhi_pd(c, c)));
    }
    static constexpr int kExpTableBits = 0;  // the polynomial exp (vector_math.h)
    static vec pow2(vec z) {
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_castps_si512(z), 23));
    }
    static __m512d widen(vec v, int half) {
        return _mm512_cvtps_pd(half ? _mm512_extractf32x8_ps(v, 1) : _mm512_castps512_ps256(v));
    }

    // ---- short-row group ----
    static constexpr bool kShortRows = true;
    static void prefetch(const void* p) {
        _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0);
    }
    static vec narrow(const __m512d* h) {
        return _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(h[0])),
                                  _mm512_cvtpd_ps(h[1]), 1);
    }
    static vec div(vec a, vec b) { return _mm512_div_ps(a, b); }
    static mask eq(vec a, vec b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
    static int lanes(mask m) { return int(m); }  // bit i = lane i
    // m in [1, 2) and e with s = m * 2^e, for s > 0 normal (the same operations as AVX2's)
    static vec split_exp(vec s, vec& e) {
        const __m512i b = _mm512_castps_si512(s);
        e = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srli_epi32(b, 23), _mm512_set1_epi32(127)));
        return _mm512_castsi512_ps(_mm512_or_si512(
            _mm512_and_si512(b, _mm512_set1_epi32(0x007FFFFF)), _mm512_set1_epi32(0x3F800000)));
    }
    // r[i] lane j <-> r[j] lane i: 4 x 4 transposes within each 128-bit lane (unpack, shuffle),
    // then a 4 x 4 transpose of the 128-bit lanes (two rounds of shuffle_f32x4)
    static void transpose(vec* r) {
        vec t[16], u[16];
        for (int i = 0; i < 16; i += 2) {
            t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
            t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
        }
        for (int i = 0; i < 16; i += 4) {
            u[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
            u[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
            u[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
            u[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
        }
        // u[4 i + c], 128-bit lane l: rows 4 i .. 4 i + 3 of column 4 l + c
        for (int c = 0; c < 4; ++c) {
            const vec v0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44);
            const vec v1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xEE);
            const vec v2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44);
            const vec v3 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xEE);
            r[c] = _mm512_shuffle_f32x4(v0, v2, 0x88);
            r[4 + c] = _mm512_shuffle_f32x4(v0, v2, 0xDD);
            r[8 + c] = _mm512_shuffle_f32x4(v1, v3, 0x88);
            r[12 + c] = _mm512_shuffle_f32x4(v1, v3, 0xDD);
        }
    }
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
    // max(upper 4 lanes, lower 4), then within 128 bits (as Avx512F32's)
    static T hmax(vec v) {
        const __m256d a = _mm256_max_pd(_mm512_extractf64x4_pd(v, 1), _mm512_castpd512_pd256(v));
        const __m128d c = _mm_max_pd(_mm256_extractf128_pd(a, 1), _mm256_castpd256_pd128(a));
        return _mm_cvtsd_f64(_mm_max_pd(c, _mm_shuffle_pd(c, c, 1)));
    }
    static T hmin(vec v) {
        const __m256d a = _mm256_min_pd(_mm512_extractf64x4_pd(v, 1), _mm512_castpd512_pd256(v));
        const __m128d c = _mm_min_pd(_mm256_extractf128_pd(a, 1), _mm256_castpd256_pd128(a));
        return _mm_cvtsd_f64(_mm_min_pd(c, _mm_shuffle_pd(c, c, 1)));
    }
    // (upper 4 lanes + lower 4), then ((s0 + s2) + (s1 + s3))
    static double hsum(vec v) {
        const __m256d a = _mm256_add_pd(_mm512_extractf64x4_pd(v, 1), _mm512_castpd512_pd256(v));
        const __m128d c = _mm_add_pd(_mm256_extractf128_pd(a, 1), _mm256_castpd256_pd128(a));
        return _mm_cvtsd_f64(_mm_add_sd(c, _mm_unpackhi_pd(c, c)));
    }
    // the table-driven exp (vector_math.h): vpermi2pd/vpermt2pd picks from the 16 entries held
    // in two registers by the low 4 bits of each lane's index
    static constexpr int kExpTableBits = 4;
    static vec lookup(const uint64_t* table, vec z) {
        return _mm512_permutex2var_pd(_mm512_load_pd(reinterpret_cast<const double*>(table)),
                                      _mm512_castpd_si512(z),
                                      _mm512_load_pd(reinterpret_cast<const double*>(table + 8)));
    }
    static vec add_exponent(vec a, vec z) {
        return _mm512_castsi512_pd(_mm512_add_epi64(
            _mm512_castpd_si512(a), _mm512_slli_epi64(_mm512_castpd_si512(z), 52 - kExpTableBits)));
    }
    static vec pow2(vec z) {
        return _mm512_castsi512_pd(_mm512_slli_epi64(_mm512_castpd_si512(z), 52));
    }
    static vec widen(vec v, int) { return v; }

    // ---- short-row group ----
    static constexpr bool kShortRows = true;
    static void prefetch(const void* p) {
        _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0);
    }
    static vec narrow(const vec* h) { return h[0]; }
    static vec div(vec a, vec b) { return _mm512_div_pd(a, b); }
    static mask eq(vec a, vec b) { return _mm512_cmp_pd_mask(a, b, _CMP_EQ_OQ); }
    static int lanes(mask m) { return int(m); }
    static vec split_exp(vec s, vec& e) {
        const __m512i b = _mm512_castpd_si512(s);
        const __m512i two52 = _mm512_castpd_si512(_mm512_set1_pd(0x1p52));
        // the biased exponent (< 2^11) as a double: OR it into 2^52's mantissa, subtract
        e = _mm512_sub_pd(_mm512_castsi512_pd(_mm512_or_si512(_mm512_srli_epi64(b, 52), two52)),
                          _mm512_set1_pd(0x1p52 + 1023));
        return _mm512_castsi512_pd(
            _mm512_or_si512(_mm512_and_si512(b, _mm512_set1_epi64(0x000FFFFFFFFFFFFFLL)),
                            _mm512_set1_epi64(0x3FF0000000000000LL)));
    }
    // r[i] lane j <-> r[j] lane i: 2 x 2 transposes within each 128-bit lane, then a 4 x 4
    // transpose of the 128-bit lanes
    static void transpose(vec* r) {
        vec t[8];
        for (int i = 0; i < 8; i += 2) {
            t[i] = _mm512_unpacklo_pd(r[i], r[i + 1]);
            t[i + 1] = _mm512_unpackhi_pd(r[i], r[i + 1]);
        }
        // t[2 i + c], 128-bit lane l: rows 2 i, 2 i + 1 of column 2 l + c
        for (int c = 0; c < 2; ++c) {
            const vec v0 = _mm512_shuffle_f64x2(t[c], t[2 + c], 0x44);
            const vec v1 = _mm512_shuffle_f64x2(t[c], t[2 + c], 0xEE);
            const vec v2 = _mm512_shuffle_f64x2(t[4 + c], t[6 + c], 0x44);
            const vec v3 = _mm512_shuffle_f64x2(t[4 + c], t[6 + c], 0xEE);
            r[c] = _mm512_shuffle_f64x2(v0, v2, 0x88);
            r[2 + c] = _mm512_shuffle_f64x2(v0, v2, 0xDD);
            r[4 + c] = _mm512_shuffle_f64x2(v1, v3, 0x88);
            r[6 + c] = _mm512_shuffle_f64x2(v1, v3, 0xDD);
        }
    }
};

}  // namespace
}  // namespace simd
}  // namespace pysoftmax
