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
// Largest error seen (4e6 random t, tl = 0): 1.1 ulp, either type and variant.
template <class V, bool Wide>
PYSOFTMAX_STEP typename V::vec exp_lo(typename V::vec t, typename V::vec tl) {
    using T = typename V::T;
    using C = ExpConsts<T>;
    using vec = typename V::vec;
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
