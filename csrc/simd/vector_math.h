// Vector exp, log and log1p over a wrapper V (simd/wrapper.h), W lanes at a time. Each states
// the arguments it is valid for and its largest error, measured against long double by
// csrc/tools/vector_math_error.cc on the AVX2 wrappers (in units in the last place, ulp).
#pragma once

#include "simd/wrapper.h"

namespace pysoftmax {
namespace simd {

// exp constants. Range reduction t = n*ln2 + r, |r| <= ln2/2, ln2 split in hi + lo so that
// n*ln2_hi is exact; then exp(r) ~ 1 + r + r^2 * (c2 + c3 r + ...), minimax for the relative
// error: coefficients from csrc/tools/exp_minimax.py (float32 degree 6, float64 degree 11).
// n is rounded with the "magic number" add, whose low bits then hold the biased
// exponent of 2^n. The wide variant biases that exponent up (magic_wide) and scales back by
// wide_scale at the end, so that results down to the subnormal range are correctly scaled.
template <class T>
struct ExpConsts;

template <>
struct ExpConsts<float> {
    static constexpr float log2e = 0x1.715476p+0f;
    static constexpr float magic = 0x1.8000FEp23f;       // 1.5 * 2^23 + 127
    static constexpr float magic_wide = 0x1.80017Ep23f;  // 1.5 * 2^23 + 127 + 64
    static constexpr float wide_scale = 0x1p-64f;
    static constexpr float ln2_hi = 0x1.62E400p-1f;
    static constexpr float ln2_lo = 0x1.7F7D1Cp-20f;
    static constexpr int degree = 6;
    static constexpr float c[] = {0x1.fffffep-2f, 0x1.55547ep-3f, 0x1.555638p-5f, 0x1.1246dap-7f,
                                  0x1.6c350cp-10f};
    static constexpr double fast_min = -80.0;  // every t >= fast_min: 2^n and all terms normal
    static constexpr float cutoff = -104.0f;   // exp(t) < 2^-150 rounds to 0 below this
};

template <>
struct ExpConsts<double> {
    static constexpr double log2e = 0x1.71547652b82fep+0;
    static constexpr double magic = 0x1.80000000003ffp52;       // 1.5 * 2^52 + 1023
    static constexpr double magic_wide = 0x1.8000000000657p52;  // 1.5 * 2^52 + 1023 + 600
    static constexpr double wide_scale = 0x1p-600;
    static constexpr double ln2_hi = 0x1.62e42feep-1;
    static constexpr double ln2_lo = 0x1.a39ef35793c76p-33;
    static constexpr int degree = 11;
    static constexpr double c[] = {
        0x1.0000000000009p-1,  0x1.5555555555558p-3,  0x1.55555555503f4p-5,  0x1.111111110f808p-7,
        0x1.6c16c185fded5p-10, 0x1.a01a01b009b94p-13, 0x1.a01993bebde07p-16, 0x1.71ddf6badec7dp-19,
        0x1.28b40639f7187p-22, 0x1.af631dc77317bp-26};
    static constexpr double fast_min = -700.0;
    static constexpr double cutoff = -746.0;  // exp(t) < 2^-1075 rounds to 0 below this
};

// The table-driven float64 exp of a wrapper with kExpTableBits = 4 (AVX-512): t = (n/16) ln2 + r
// with |r| <= ln2/32, n = 16 k + j, exp(t) = 2^k 2^(j/16) exp(r). 2^(j/16) comes from a table
// of 16 (two registers: one permute per lookup) as hi_j (1 + rel_j); exp(r) needs degree 6
// only (minimax, csrc/tools/exp_minimax.py, which prints these constants). hi holds the bits of
// hi_j minus 1023 << 52 and minus j << 48, so that adding z's bits shifted left by 48 (1023 + k
// above j: magic's bias) gives the bits of hi_j 2^k. The wide variant biases k up by 600 as
// ExpConsts' does.
struct ExpTable16 {
    static constexpr int bits = 4;
    static constexpr double log2e_n = 0x1.71547652b82fep+4;     // 16 / ln2
    static constexpr double magic = 0x1.8000000003ff0p52;       // 1.5 * 2^52 + 1023 * 16
    static constexpr double magic_wide = 0x1.8000000006570p52;  // + 600 * 16
    static constexpr double ln2_hi_n = 0x1.62e42feep-5;         // ln2 / 16 in hi + lo
    static constexpr double ln2_lo_n = 0x1.a39ef35793c76p-37;
    static constexpr int degree = 6;
    static constexpr double c[] = {0x1.fffffffffffecp-2, 0x1.555555547d38ap-3, 0x1.5555555639738p-5,
                                   0x1.111246f0263f7p-7, 0x1.6c16df6937f3ap-10};
    alignas(64) static constexpr uint64_t hi[16] = {
        0x0000000000000000ULL, 0xffffb5586cf9890fULL, 0xffff72b83c7d517bULL, 0xffff387a6e756238ULL,
        0xffff06fe0a31b715ULL, 0xfffedea64c123422ULL, 0xfffebfdad5362a27ULL, 0xfffeab07dd485429ULL,
        0xfffea09e667f3bcdULL, 0xfffea11473eb0187ULL, 0xfffeace5422aa0dbULL, 0xfffec49182a3f090ULL,
        0xfffee89f995ad3adULL, 0xffff199bdd85529cULL, 0xffff5818dcfba487ULL, 0xffffa4afa2a490daULL};
    alignas(64) static constexpr uint64_t rel[16] = {
        0x0000000000000000ULL, 0x3c979aa65d837b6dULL, 0xbc801b15eaa59348ULL, 0x3c968efde3a8a894ULL,
        0x3c834d754db0abb6ULL, 0x3c859f48a72a4c6dULL, 0x3c7690cebb7aafb0ULL, 0x3c9063e1e21c5409ULL,
        0xbc93b3efbf5e2228ULL, 0xbc7b32dcb94da51dULL, 0x3c8db72fc1f0eab4ULL, 0x3c71affc2b91ce27ULL,
        0x3c8c1a7792cb3387ULL, 0x3c736eae30af0cb3ULL, 0x3c74a385a63d07a7ULL, 0xbc8ff7128fd391f0ULL};
};

// c[Lo] + c[Lo+1] r + ... + c[Lo+N-1] r^(N-1) by Estrin's scheme: split at the largest power
// of two h < N, P = P_low + r^h P_high, with pw[i] = r^(2^i). The dependency chain is about
// log2(N) FMAs instead of N - 1 (float64's exp has N = 10), for a few more multiplications.
constexpr int estrin_split(int n) { return n <= 2 ? 1 : 2 * estrin_split((n + 1) / 2); }
constexpr int log2_exact(int h) { return h <= 1 ? 0 : 1 + log2_exact(h / 2); }

template <class V, int Lo, int N>
PYSOFTMAX_STEP typename V::vec estrin(const typename V::T* c, const typename V::vec* pw) {
    if constexpr (N == 1) {
        return V::set1(c[Lo]);
    } else {
        constexpr int h = estrin_split(N);
        return V::fmadd(estrin<V, Lo + h, N - h>(c, pw), pw[log2_exact(h)],
                        estrin<V, Lo, h>(c, pw));
    }
}

// exp(t + tl) for t <= 0 and |tl| <= ulp(t) / 2: 2^n * exp(r + tl).
//   fast (Wide = false): valid when every lane has fast_min <= t <= 0.
//   wide (Wide = true):  any t <= 0, -inf included: 0 below the cutoff; NaN stays NaN.
// Largest error seen (4e6 random t, tl = 0): 1.1 ulp, either type and variant, by the
// polynomial; by the float64 table (ExpTable16), 0.64 ulp fast and 0.81 ulp wide (near the
// subnormals). AVX2 keeps the polynomial: there a 4-entry table (vpermps) and degree 8 timed
// the same as degree 11, and a gather of 16 entries 1.5x slower (exp + sum in L1, Zen 3).
template <class V, bool Wide>
PYSOFTMAX_STEP typename V::vec exp_lo(typename V::vec t, typename V::vec tl) {
    using T = typename V::T;
    using C = ExpConsts<T>;
    using vec = typename V::vec;
    if constexpr (V::kExpTableBits == ExpTable16::bits) {
        using X = ExpTable16;
        const vec magic = V::set1(Wide ? X::magic_wide : X::magic);
        const vec z = V::fmadd(t, V::set1(X::log2e_n), magic);
        const vec n = V::sub(z, magic);
        vec r = V::fmadd(n, V::set1(-X::ln2_hi_n), t);
        r = V::fmadd(n, V::set1(-X::ln2_lo_n), V::add(r, tl));
        const vec pw[3] = {r, V::mul(r, r), V::mul(V::mul(r, r), V::mul(r, r))};
        const vec p = V::fmadd(pw[1], estrin<V, 0, X::degree - 1>(X::c, pw), r);  // exp(r) - 1
        // hi_j 2^k (1 + (p + rel_j)): one rounding, as exp(r) 2^(j/16) 2^k
        const vec s = V::add_exponent(V::lookup(X::hi, z), z);
        vec f = V::fmadd(s, V::add(p, V::lookup(X::rel, z)), s);
        if (Wide) f = V::keep(V::not_lt(t, V::set1(C::cutoff)), V::mul(f, V::set1(C::wide_scale)));
        return f;
    } else {
        static_assert(V::kExpTableBits == 0, "an exp table of 16 entries, or none");
        const vec magic = V::set1(Wide ? C::magic_wide : C::magic);
        const vec z = V::fmadd(t, V::set1(C::log2e), magic);
        const vec n = V::sub(z, magic);
        vec r = V::fmadd(n, V::set1(-C::ln2_hi), t);
        r = V::fmadd(n, V::set1(-C::ln2_lo), V::add(r, tl));
        vec pw[4] = {r, V::mul(r, r)};
        for (int i = 2; i < 4; ++i) pw[i] = V::mul(pw[i - 1], pw[i - 1]);
        const vec r2 = pw[1];
        const vec q = estrin<V, 0, C::degree - 1>(C::c, pw);
        // (1 + u) 2^n as u 2^n + 2^n: one rounding, as (1 + u) times the exact power of two
        const vec s = V::pow2(z);
        vec f = V::fmadd(V::fmadd(r2, q, r), s, s);
        if (Wide) f = V::keep(V::not_lt(t, V::set1(C::cutoff)), V::mul(f, V::set1(C::wide_scale)));
        return f;
    }
}

// log(s) for 1 <= s < inf (a softmax's normaliser): s = m 2^e with m in [sqrt(1/2), sqrt(2)),
// log m = 2 atanh(f) = 2f (1 + f^2/3 + f^4/5 + ...) with f = (m - 1) / (m + 1), |f| <= 0.1716,
// truncated where the next term is below the precision of R, the result's type: float32 rows
// take this log in double lanes but need only float's precision (5 terms); e ln2 in hi + lo.
// Largest error seen (4e6 random s): R = float, 0.03 ulp of float; R = double, 2.9 ulp.
template <class V, class R = typename V::T>
inline typename V::vec log_ge1(typename V::vec s) {
    using T = typename V::T;
    using vec = typename V::vec;
    constexpr int terms = sizeof(R) == 4 ? 5 : 11;
    const vec one = V::set1(T(1));
    vec e;
    vec m = V::split_exp(s, e);
    const auto big = V::gt(m, V::set1(T(1.4142135623730951)));
    m = V::select(big, V::mul(m, V::set1(T(0.5))), m);
    e = V::select(big, V::add(e, one), e);
    const vec f = V::div(V::sub(m, one), V::add(m, one));
    const vec z = V::mul(f, f);
    vec p = V::set1(T(1) / T(2 * terms - 1));
    for (int i = terms - 2; i >= 0; --i) p = V::fmadd(p, z, V::set1(T(1) / T(2 * i + 1)));
    const vec lm = V::mul(V::add(f, f), p);
    return V::fmadd(e, V::set1(ExpConsts<T>::ln2_hi),
                    V::fmadd(e, V::set1(ExpConsts<T>::ln2_lo), lm));
}

// log(1 + u) for 0 <= u < inf, accurate for tiny u: with v = 1 + u rounded, log(v) u / (v - 1).
// Largest error seen (4e6 random u): R = float, 0.03 ulp of float; R = double, 3.9 ulp.
template <class V, class R = typename V::T>
inline typename V::vec log1p_ge0(typename V::vec u) {
    using T = typename V::T;
    const typename V::vec one = V::set1(T(1)), v = V::add(one, u), d = V::sub(v, one);
    return V::select(V::eq(d, V::set1(T(0))), u, V::mul(log_ge1<V, R>(v), V::div(u, d)));
}

}  // namespace simd
}  // namespace pysoftmax
