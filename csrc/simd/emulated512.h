// The AVX-512 wrappers' lanes emulated with AVX2 + FMA: 16 float / 8 double lanes as two
// 256-bit halves, masks as two vector masks. Every member does what the same member of
// simd/avx512.h does, lane for lane and in the same order of operations (the horizontal
// reductions included), so the kernels built over these wrappers give the AVX-512 kernels'
// results bit for bit, on any CPU with AVX2. Their use is testing: the 16-lane logic of the
// templates (blocks, tails, transposes) then runs, and is checked, where AVX-512 is absent.
// Include inside a target region with "avx2,fma", after simd/avx2.h.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "simd/avx2.h"
#include "simd/wrapper.h"

namespace pysoftmax {
namespace simd {
namespace {

// A 512-bit value as two halves: h[0] holds lanes [0, W / 2), h[1] the rest. AVX2's masks are
// vectors of the same type, so these serve as the masks too.
struct Ps16 {
    __m256 h[2];
};
struct Pd8 {
    __m256d h[2];
};

template <class Half, class Vec>
struct Emulated512Ops {
    using T = typename Half::T;
    using vec = Vec;
    using mask = Vec;
    static constexpr size_t W = 2 * Half::W, H = Half::W;

    static void fence() { _mm_sfence(); }
    static vec set1(T a) { return {{Half::set1(a), Half::set1(a)}}; }
    static vec loadu(const T* p) { return {{Half::loadu(p), Half::loadu(p + H)}}; }
    static void storeu(T* p, vec v) { Half::storeu(p, v.h[0]), Half::storeu(p + H, v.h[1]); }
    static void stream(T* p, vec v) { Half::stream(p, v.h[0]), Half::stream(p + H, v.h[1]); }
    static vec load_tail(const T* p, size_t n, T fill) {  // 0 < n < W
        if (n < H) return {{Half::load_tail(p, n, fill), Half::set1(fill)}};
        if (n == H) return {{Half::loadu(p), Half::set1(fill)}};
        return {{Half::loadu(p), Half::load_tail(p + H, n - H, fill)}};
    }
    static void store_tail(T* p, size_t n, vec v) {
        if (n < H) return Half::store_tail(p, n, v.h[0]);
        Half::storeu(p, v.h[0]);
        if (n > H) Half::store_tail(p + H, n - H, v.h[1]);
    }
    static vec add(vec a, vec b) {
        return {{Half::add(a.h[0], b.h[0]), Half::add(a.h[1], b.h[1])}};
    }
    static vec sub(vec a, vec b) {
        return {{Half::sub(a.h[0], b.h[0]), Half::sub(a.h[1], b.h[1])}};
    }
    static vec mul(vec a, vec b) {
        return {{Half::mul(a.h[0], b.h[0]), Half::mul(a.h[1], b.h[1])}};
    }
    static vec fmadd(vec a, vec b, vec c) {
        return {{Half::fmadd(a.h[0], b.h[0], c.h[0]), Half::fmadd(a.h[1], b.h[1], c.h[1])}};
    }
    static vec max(vec a, vec b) {
        return {{Half::max(a.h[0], b.h[0]), Half::max(a.h[1], b.h[1])}};
    }
    static vec min(vec a, vec b) {
        return {{Half::min(a.h[0], b.h[0]), Half::min(a.h[1], b.h[1])}};
    }
    static vec select(mask m, vec a, vec b) {
        return {{Half::select(m.h[0], a.h[0], b.h[0]), Half::select(m.h[1], a.h[1], b.h[1])}};
    }
    static vec keep(mask m, vec a) {
        return {{Half::keep(m.h[0], a.h[0]), Half::keep(m.h[1], a.h[1])}};
    }
    static mask not_lt(vec a, vec b) {
        return {{Half::not_lt(a.h[0], b.h[0]), Half::not_lt(a.h[1], b.h[1])}};
    }
    static mask gt(vec a, vec b) { return {{Half::gt(a.h[0], b.h[0]), Half::gt(a.h[1], b.h[1])}}; }
    static mask load_mask(const uint8_t* p) {
        return {{Half::load_mask(p), Half::load_mask(p + H)}};
    }
    static mask load_mask_tail(const uint8_t* p, size_t n) {
        const mask none = {{Half::gt(Half::set1(T(0)), Half::set1(T(0))),
                            Half::gt(Half::set1(T(0)), Half::set1(T(0)))}};
        if (n < H) return {{Half::load_mask_tail(p, n), none.h[1]}};
        if (n == H) return {{Half::load_mask(p), none.h[1]}};
        return {{Half::load_mask(p), Half::load_mask_tail(p + H, n - H)}};
    }
    static vec pow2(vec z) { return {{Half::pow2(z.h[0]), Half::pow2(z.h[1])}}; }

    // short-row group
    static constexpr bool kShortRows = true;
    static void prefetch(const void* p) { Half::prefetch(p); }
    static vec div(vec a, vec b) {
        return {{Half::div(a.h[0], b.h[0]), Half::div(a.h[1], b.h[1])}};
    }
    static mask eq(vec a, vec b) { return {{Half::eq(a.h[0], b.h[0]), Half::eq(a.h[1], b.h[1])}}; }
    static int lanes(mask m) { return Half::lanes(m.h[0]) | Half::lanes(m.h[1]) << H; }
    static vec split_exp(vec s, vec& e) {
        return {{Half::split_exp(s.h[0], e.h[0]), Half::split_exp(s.h[1], e.h[1])}};
    }
    // r[i] lane j <-> r[j] lane i: the four H x H quadrants transposed, the off-diagonal ones
    // swapped
    static void transpose(vec* r) {
        typename Half::vec q[2][2][H];  // q[I][J][i] = r[I H + i].h[J]
        for (size_t I = 0; I < 2; ++I)
            for (size_t J = 0; J < 2; ++J) {
                for (size_t i = 0; i < H; ++i) q[I][J][i] = r[I * H + i].h[J];
                Half::transpose(q[I][J]);
            }
        for (size_t I = 0; I < 2; ++I)
            for (size_t J = 0; J < 2; ++J)
                for (size_t j = 0; j < H; ++j) r[J * H + j].h[I] = q[I][J][j];
    }
};

struct Emulated512F64;

struct Emulated512F32 : Emulated512Ops<Avx2F32, Ps16> {
    using Wide = Emulated512F64;
    static constexpr int kExpTableBits = 0;
    // As Avx512F32::hmax: max(upper 8, lower 8), then within 128 bits by halves.
    static __m128 reduce8(__m256 v, bool is_max) {
        const __m128 a = _mm256_extractf128_ps(v, 1), b = _mm256_castps256_ps128(v);
        __m128 c = is_max ? _mm_max_ps(a, b) : _mm_min_ps(a, b);
        const __m128 d = _mm_shuffle_ps(c, c, _MM_SHUFFLE(1, 0, 3, 2));
        c = is_max ? _mm_max_ps(c, d) : _mm_min_ps(c, d);
        const __m128 e = _mm_shuffle_ps(c, c, _MM_SHUFFLE(0, 1, 0, 1));
        return is_max ? _mm_max_ps(c, e) : _mm_min_ps(c, e);
    }
    static T hmax(vec v) { return _mm_cvtss_f32(reduce8(_mm256_max_ps(v.h[1], v.h[0]), true)); }
    static T hmin(vec v) { return _mm_cvtss_f32(reduce8(_mm256_min_ps(v.h[1], v.h[0]), false)); }
    // As Avx512F32::hsum: d_i = l_i + l_(i+8) in double, then ((d0 + d4) + (d2 + d6)) +
    // ((d1 + d5) + (d3 + d7))
    static double hsum(vec v) {
        const __m256d lo = _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v.h[0])),
                                         _mm256_cvtps_pd(_mm256_castps256_ps128(v.h[1])));
        const __m256d hi = _mm256_add_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v.h[0], 1)),
                                         _mm256_cvtps_pd(_mm256_extractf128_ps(v.h[1], 1)));
        return Avx2F64::hsum(_mm256_add_pd(hi, lo));
    }
    static Pd8 widen(vec v, int half) {
        const __m256 h = v.h[half ? 1 : 0];
        return {{_mm256_cvtps_pd(_mm256_castps256_ps128(h)),
                 _mm256_cvtps_pd(_mm256_extractf128_ps(h, 1))}};
    }
    static vec narrow(const Pd8* d) { return {{Avx2F32::narrow(d[0].h), Avx2F32::narrow(d[1].h)}}; }
};

struct Emulated512F64 : Emulated512Ops<Avx2F64, Pd8> {
    using Wide = Emulated512F64;
    // As Avx512F64's table-driven exp: each lane's entry by the low 4 bits of its index
    static constexpr int kExpTableBits = 4;
    static vec lookup(const uint64_t* table, vec z) {
        alignas(32) uint64_t idx[8], out[8];
        _mm256_store_si256(reinterpret_cast<__m256i*>(idx), _mm256_castpd_si256(z.h[0]));
        _mm256_store_si256(reinterpret_cast<__m256i*>(idx + 4), _mm256_castpd_si256(z.h[1]));
        for (int i = 0; i < 8; ++i) out[i] = table[idx[i] & 15];
        return {
            {_mm256_castsi256_pd(_mm256_load_si256(reinterpret_cast<const __m256i*>(out))),
             _mm256_castsi256_pd(_mm256_load_si256(reinterpret_cast<const __m256i*>(out + 4)))}};
    }
    static vec add_exponent(vec a, vec z) {
        vec r;
        for (int i = 0; i < 2; ++i)
            r.h[i] = _mm256_castsi256_pd(_mm256_add_epi64(
                _mm256_castpd_si256(a.h[i]),
                _mm256_slli_epi64(_mm256_castpd_si256(z.h[i]), 52 - kExpTableBits)));
        return r;
    }
    // As Avx512F64::hmax: max(upper 4, lower 4), then within 128 bits
    static __m128d reduce4(__m256d v, bool is_max) {
        const __m128d a = _mm256_extractf128_pd(v, 1), b = _mm256_castpd256_pd128(v);
        const __m128d c = is_max ? _mm_max_pd(a, b) : _mm_min_pd(a, b);
        const __m128d d = _mm_shuffle_pd(c, c, 1);
        return is_max ? _mm_max_pd(c, d) : _mm_min_pd(c, d);
    }
    static T hmax(vec v) { return _mm_cvtsd_f64(reduce4(_mm256_max_pd(v.h[1], v.h[0]), true)); }
    static T hmin(vec v) { return _mm_cvtsd_f64(reduce4(_mm256_min_pd(v.h[1], v.h[0]), false)); }
    static double hsum(vec v) { return Avx2F64::hsum(_mm256_add_pd(v.h[1], v.h[0])); }
    static vec widen(vec v, int) { return v; }
    static vec narrow(const vec* d) { return d[0]; }
};

}  // namespace
}  // namespace simd
}  // namespace pysoftmax
