// Row kernels written once over a thin SIMD wrapper V; each instruction set's translation unit
// (isa_avx2.cpp, isa_avx512.cpp) defines its wrappers and includes this file after switching
// the compiler's target, so the code below is compiled once per instruction set.
//
// They compute what scalar.cpp specifies, with the same formulas, W lanes at a time:
//   pass 1  max (and min) of the row, 4 accumulators
//   pass 2  q = exp(t) with t = (x - max) / T carried as hi + lo; sum q (and store q for softmax)
//   pass 3  softmax: y = q / s (as q * 1/s, 1/s in hi + lo); log_softmax, re-read from x:
//           y = (x - c_hi) - c_lo with c_hi + c_lo = max + log s (with temperature:
//           y = (t_hi - log s) + t_lo)
// Rows whose maximum is not finite (all -inf, +inf, NaN under max, everything masked) go to the
// scalar specification. A NaN that max() skipped makes s NaN; such rows are filled with NaN.
//
// Loop shape in every pass: an unrolled main loop of 4 vectors, then single vectors, then one
// masked tail that never touches memory past the end of the row.
//
// A translation unit builds its table by constant initialisation, with no code run at load
// time (which could execute instructions the CPU lacks):
//   constexpr Kernels k = {"name", PYSOFTMAX_KERNEL_SET(Rows<F32>), PYSOFTMAX_KERNEL_SET(Rows<F64>)};
//
// V provides (vec = W lanes of T, mask = W booleans):
//   set1 loadu storeu load_tail(p, n, fill) store_tail(p, n, v) add sub mul fmadd(a, b, c)=a*b+c
//   max min select(m, a, b)=m?a:b keep(m, a)=m?a:0 not_lt(a, b) (true for NaN) gt(a, b)
//   load_mask(bytes) load_mask_tail(bytes, n) hmax hmin hsum(->double) pow2(z) = 2^(bits of z)
#pragma once

#include "kernels.h"
#include "numerics.h"

namespace pysoftmax {
namespace simd {

// The per-vector steps of the hot loops: GCC does not always inline them into the large
// kernels (an out-of-line call per vector costs more than the step).
#define PYSOFTMAX_STEP inline __attribute__((always_inline))

// exp constants. Range reduction t = n*ln2 + r, |r| <= ln2/2, ln2 split in hi + lo so that
// n*ln2_hi is exact; then exp(r) ~ 1 + r + r^2 * (c2 + c3 r + ...), minimax for the relative
// error (coefficients from csrc/tools/exp_minimax.py: float32 degree 6, 4.3e-9; float64
// degree 11, 7.7e-18). n is rounded with the "magic number" add, whose low bits then hold the
// biased exponent of 2^n. The wide variant adds `wide_bias` to the exponent and multiplies by
// 2^-wide_bias at the end, so results down to the subnormal range are correctly scaled.
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
    static constexpr double c[] = {0x1.0000000000009p-1,  0x1.5555555555558p-3,
                                   0x1.55555555503f4p-5,  0x1.111111110f808p-7,
                                   0x1.6c16c185fded5p-10, 0x1.a01a01b009b94p-13,
                                   0x1.a01993bebde07p-16, 0x1.71ddf6badec7dp-19,
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
        return V::fmadd(estrin<V, Lo + h, N - h>(c, pw), pw[log2_exact(h)], estrin<V, Lo, h>(c, pw));
    }
}

// exp(t + tl) for t <= 0 and |tl| tiny: 2^n * exp(r + tl). Fast variant: valid when every lane
// has t >= fast_min. Wide variant: any t (0 below the cutoff, including -inf; NaN stays NaN).
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

// log(s) for s >= 1 finite (a softmax's normaliser): s = m 2^e with m in [sqrt(1/2), sqrt(2)),
// log m = 2 atanh(f) = 2f (1 + f^2/3 + f^4/5 + ...) with f = (m - 1) / (m + 1), |f| <= 0.1716,
// truncated where the next term is below the precision of R (the result's type: float32 rows
// take this log in double lanes but need only float's precision, relative error < 2e-9 with 5
// terms); e ln2 in hi + lo.
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
    return V::fmadd(e, V::set1(ExpConsts<T>::ln2_hi), V::fmadd(e, V::set1(ExpConsts<T>::ln2_lo), lm));
}

// log(1 + u) for u >= 0, accurate for tiny u: with v = 1 + u rounded, log(v) * u / (v - 1).
template <class V, class R = typename V::T>
inline typename V::vec log1p_ge0(typename V::vec u) {
    using T = typename V::T;
    const typename V::vec one = V::set1(T(1)), v = V::add(one, u), d = V::sub(v, one);
    return V::select(V::eq(d, V::set1(T(0))), u, V::mul(log_ge1<V, R>(v), V::div(u, d)));
}

template <class V>
struct Rows {
    using T = typename V::T;
    using vec = typename V::vec;
    using mask = typename V::mask;
    static constexpr size_t W = V::W;
    // Elements summed in vectors of T before the chunk's sums go on in double (float32: 4
    // terms per lane of each of exp_sum's 4 accumulators; float64's accumulators are
    // compensated and never leave the row).
    static constexpr size_t kChunk = sizeof(T) == 4 ? 16 * W : ~size_t(0);
    static constexpr T kInf = T(__builtin_inf());

    // x / T as hi + lo, given (x - m) as hi + lo and 1/T as ih + il.
    struct Scale {
        vec ih, il;
    };

    // ---- pass 1: max (and, without a mask, min) of the row; masked elements excluded ----
    template <bool Masked>
    static void max_min(size_t k, const T* x, const uint8_t* m, T& mx, T& mn) {
        vec a0 = V::set1(-kInf), a1 = a0, a2 = a0, a3 = a0;
        vec b0 = V::set1(kInf), b1 = b0, b2 = b0, b3 = b0;
        size_t i = 0;
        for (; i + 4 * W <= k; i += 4 * W) {
            vec x0 = V::loadu(x + i), x1 = V::loadu(x + i + W);
            vec x2 = V::loadu(x + i + 2 * W), x3 = V::loadu(x + i + 3 * W);
            if (Masked) {
                x0 = V::select(V::load_mask(m + i), x0, V::set1(-kInf));
                x1 = V::select(V::load_mask(m + i + W), x1, V::set1(-kInf));
                x2 = V::select(V::load_mask(m + i + 2 * W), x2, V::set1(-kInf));
                x3 = V::select(V::load_mask(m + i + 3 * W), x3, V::set1(-kInf));
            } else {
                b0 = V::min(x0, b0), b1 = V::min(x1, b1), b2 = V::min(x2, b2), b3 = V::min(x3, b3);
            }
            a0 = V::max(x0, a0), a1 = V::max(x1, a1), a2 = V::max(x2, a2), a3 = V::max(x3, a3);
        }
        for (; i + W <= k; i += W) {
            vec x0 = V::loadu(x + i);
            if (Masked) x0 = V::select(V::load_mask(m + i), x0, V::set1(-kInf));
            else b0 = V::min(x0, b0);
            a0 = V::max(x0, a0);
        }
        if (i < k) {
            vec x0 = V::load_tail(x + i, k - i, -kInf);
            if (Masked) x0 = V::select(V::load_mask_tail(m + i, k - i), x0, V::set1(-kInf));
            else b0 = V::min(V::load_tail(x + i, k - i, kInf), b0);
            a0 = V::max(x0, a0);
        }
        mx = V::hmax(V::max(V::max(a0, a1), V::max(a2, a3)));
        mn = V::hmin(V::min(V::min(b0, b1), V::min(b2, b3)));
    }

    // t = (x - mx) / T as hi + lo, exactly up to one rounding of the product.
    template <bool Temp>
    static PYSOFTMAX_STEP void shifted(vec xv, vec vmx, const Scale& sc, vec& hi, vec& lo) {
        hi = V::sub(xv, vmx);
        const vec bb = V::sub(hi, xv);
        lo = V::sub(V::sub(xv, V::sub(hi, bb)), V::add(vmx, bb));
        if (Temp) {
            const vec th = V::mul(hi, sc.ih);
            vec tl = V::fmadd(hi, sc.ih, V::sub(V::set1(T(0)), th));  // the product's rounding
            tl = V::fmadd(hi, sc.il, V::fmadd(lo, sc.ih, tl));
            hi = th;
            lo = tl;
        }
    }

    // ---- pass 2: one vector of q = exp(t); stored when Store ----
    template <bool Masked, bool Wide, bool Temp, bool Store>
    static PYSOFTMAX_STEP vec exp_step(vec xv, const uint8_t* m, size_t i, vec vmx, const Scale& sc,
                               T* y) {
        if (Masked) xv = V::select(V::load_mask(m + i), xv, V::set1(-kInf));
        vec hi, lo;
        shifted<Temp>(xv, vmx, sc, hi, lo);
        const vec f = exp_lo<V, Wide>(hi, lo);
        if (Store) V::storeu(y + i, f);
        return f;
    }

    // A vector accumulator. float64 keeps each lane's rounding errors (TwoSum) and adds them
    // back at the end: its exp is FMA-bound, so these adds run on otherwise idle ports.
    // float32 needs no compensation: its chunks are short and summed on in double.
    struct Acc {
        static constexpr bool kCompensated = sizeof(T) == 8;
        vec s, c;
        // Explicit, always inlined: GCC compiles an implicit constructor without the file's
        // target pragma, which kept the accumulators in memory (a store-forwarding chain).
        PYSOFTMAX_STEP Acc() : s(V::set1(T(0))), c(V::set1(T(0))) {}
        PYSOFTMAX_STEP void add(vec f) {
            if (kCompensated) {
                const vec t = V::add(s, f), bp = V::sub(t, s);
                c = V::add(c, V::add(V::sub(s, V::sub(t, bp)), V::sub(f, bp)));
                s = t;
            } else {
                s = V::add(s, f);
            }
        }
        vec value() const { return kCompensated ? V::add(s, c) : s; }
    };

    // Sum over the row of q = exp((x - mx) / T), accumulated in vectors of T within chunks of
    // kChunk elements and across chunks in double (ChunkTotal).
    template <bool Masked, bool Wide, bool Temp, bool Store>
    static double exp_sum(size_t k, const T* x, const uint8_t* m, T* y, T mx, const Scale& sc) {
        constexpr auto step = exp_step<Masked, Wide, Temp, Store>;
        const vec vmx = V::set1(mx);
        ChunkTotal total;
        const size_t k4 = k - k % (4 * W);
        size_t i = 0;
        while (i < k4) {
            const size_t stop = (k4 - i > kChunk) ? i + kChunk : k4;
            Acc a0, a1, a2, a3;
            for (; i < stop; i += 4 * W) {
                a0.add(step(V::loadu(x + i), m, i, vmx, sc, y));
                a1.add(step(V::loadu(x + i + W), m, i + W, vmx, sc, y));
                a2.add(step(V::loadu(x + i + 2 * W), m, i + 2 * W, vmx, sc, y));
                a3.add(step(V::loadu(x + i + 3 * W), m, i + 3 * W, vmx, sc, y));
            }
            total.add(a0.value(), a1.value());
            total.add(a2.value(), a3.value());
        }
        Acc a;
        for (; i + W <= k; i += W) a.add(step(V::loadu(x + i), m, i, vmx, sc, y));
        if (i < k) {
            // The tail's padding lanes hold -inf, which only the wide exp maps to 0.
            vec xv = V::load_tail(x + i, k - i, -kInf);
            if (Masked) xv = V::select(V::load_mask_tail(m + i, k - i), xv, V::set1(-kInf));
            vec hi, lo;
            shifted<Temp>(xv, vmx, sc, hi, lo);
            const vec f = exp_lo<V, true>(hi, lo);
            if (Store) V::store_tail(y + i, k - i, f);
            a.add(f);
        }
        total.add(a.value());
        return total.value();
    }

    // ---- pass 3 ----
    // Writes y[0, k): op.full(i) gives the vector of elements [i, i + W), op.tail(i) the
    // last, partial one. (Function objects, not lambdas: GCC does not apply the file's target
    // pragma to lambdas.) Streamed (non-temporal) stores skip the read-for-ownership of y's cache
    // lines and leave the caches to the input: worth it when the output is larger than the
    // caches. The unaligned head is a masked store of a full vector.
    template <bool Stream, class Op>
    static inline void write_row(size_t k, T* y, const Op& op) {
        size_t i = 0;
        if (Stream && k >= W && reinterpret_cast<uintptr_t>(y) % sizeof(T) == 0) {
            const size_t mis = (reinterpret_cast<uintptr_t>(y) / sizeof(T)) % W;
            if (mis != 0) {
                i = W - mis;
                V::store_tail(y, i, op.full(0));
            }
            for (; i + W <= k; i += W) V::stream(y + i, op.full(i));
        } else {
            for (; i + 4 * W <= k; i += 4 * W) {
                V::storeu(y + i, op.full(i));
                V::storeu(y + i + W, op.full(i + W));
                V::storeu(y + i + 2 * W, op.full(i + 2 * W));
                V::storeu(y + i + 3 * W, op.full(i + 3 * W));
            }
            for (; i + W <= k; i += W) V::storeu(y + i, op.full(i));
        }
        if (i < k) V::store_tail(y + i, k - i, op.tail(i));
    }

    // v with lane `lane` replaced by a.
    static inline vec with_lane(vec v, size_t lane, T a) {
        alignas(64) T buf[W];
        V::storeu(buf, v);
        buf[lane] = a;
        return V::loadu(buf);
    }

    // y = q / s, as q * (ih + il) with 1/s = ih + il: no rounding of the reciprocal shows.
    // Element `fix` (if < k) gets fix_value instead. q may be y.
    static PYSOFTMAX_STEP vec div_step(vec q, vec ih, vec il) { return V::fmadd(q, ih, V::mul(q, il)); }

    struct ScaleOp {
        const T* q;
        size_t k;
        vec ih, il;
        size_t fix;
        T fix_value;
        vec patch(vec v, size_t i) const { return fix - i < W ? with_lane(v, fix - i, fix_value) : v; }
        vec full(size_t i) const { return patch(div_step(V::loadu(q + i), ih, il), i); }
        vec tail(size_t i) const { return patch(div_step(V::load_tail(q + i, k - i, T(0)), ih, il), i); }
    };

    template <bool Stream>
    static void scale_row(size_t k, const T* q, T* y, double s, size_t fix = size_t(-1),
                          T fix_value = T(0)) {
        T ih, il;
        inverse_hi_lo<T>(s, ih, il);
        write_row<Stream>(k, y, ScaleOp{q, k, V::set1(ih), V::set1(il), fix, fix_value});
    }

    // Without temperature, y = (x - c_hi) - c_lo where c_hi + c_lo = max + log s (formed
    // exactly in double by log_row): two roundings of results of y's size, as in the form below.
    // With temperature (x / T is rounded), y = (t_hi - log s) + t_lo, the quotient's rounding
    // kept in t_lo; -inf where t_hi is -inf (t_lo is NaN there). -inf where masked.
    // a, b: c_hi and c_lo without temperature; the maximum and log s with it.
    template <bool Masked, bool Temp>
    static PYSOFTMAX_STEP vec log_step(vec xv, mask mv, vec a, const Scale& sc, vec b) {
        vec r;
        if (Temp) {
            vec hi, lo;
            shifted<Temp>(xv, a, sc, hi, lo);
            r = V::add(V::sub(hi, b), V::keep(V::gt(hi, V::set1(-kInf)), lo));
        } else {
            r = V::sub(V::sub(xv, a), b);
        }
        return Masked ? V::select(mv, r, V::set1(-kInf)) : r;
    }

    template <bool Masked, bool Temp>
    struct LogOp {
        const T* x;
        const uint8_t* m;
        size_t k;
        vec a;
        Scale sc;
        vec b;
        vec full(size_t i) const {
            const mask mv = Masked ? V::load_mask(m + i) : mask{};
            return log_step<Masked, Temp>(V::loadu(x + i), mv, a, sc, b);
        }
        vec tail(size_t i) const {
            const mask mv = Masked ? V::load_mask_tail(m + i, k - i) : mask{};
            return log_step<Masked, Temp>(V::load_tail(x + i, k - i, T(0)), mv, a, sc, b);
        }
    };

    // ls = log s in double.
    template <bool Masked, bool Temp, bool Stream>
    static void log_row(size_t k, const T* x, const uint8_t* m, T* y, T mx, const Scale& sc,
                        double ls) {
        T a = mx, b = T(ls);
        if (!Temp) {
            double hi, lo;  // max + log s exactly, then as a T plus the rest
            two_diff(double(mx), -ls, hi, lo);
            a = T(hi);
            b = T((hi - double(a)) + lo);
        }
        write_row<Stream>(k, y, LogOp<Masked, Temp>{x, m, k, V::set1(a), sc, V::set1(b)});
    }

    // A row holding an included NaN that max() skipped: NaN where included, else excluded.
    static void fill_nan(size_t k, const uint8_t* m, T* y, T excluded) {
        for (size_t j = 0; j < k; ++j)
            y[j] = (m == nullptr || m[j]) ? T(__builtin_nan("")) : excluded;
    }

    // q: where pass 2 keeps the exp values when the output streams (else y itself).
    template <bool Masked, bool Temp, bool Stream>
    static void softmax_row(size_t k, const T* x, const uint8_t* m, T* y, T* q,
                            double temperature, bool log) {
        T mx, mn;
        max_min<Masked>(k, x, m, mx, mn);
        if (!(mx > -kInf && mx < kInf)) {
            softmax_row_scalar<T>(k, x, m, y, temperature, log);
            return;
        }
        Scale sc;
        T ih, il;
        inverse_hi_lo<T>(temperature, ih, il);
        sc.ih = V::set1(ih);
        sc.il = V::set1(il);
        // Masked rows hold -inf lanes, so they take the wide exp; so do rows spread so far
        // that some exp falls out of the fast variant's range.
        const bool wide = Masked || !((double(mn) - double(mx)) / temperature >= ExpConsts<T>::fast_min);
        double s;
        if (log)
            s = wide ? exp_sum<Masked, true, Temp, false>(k, x, m, nullptr, mx, sc)
                     : exp_sum<false, false, Temp, false>(k, x, m, nullptr, mx, sc);
        else
            s = wide ? exp_sum<Masked, true, Temp, true>(k, x, m, q, mx, sc)
                     : exp_sum<false, false, Temp, true>(k, x, m, q, mx, sc);
        if (!(s == s)) {
            fill_nan(k, m, y, log ? -kInf : T(0));
            return;
        }
        if (log) log_row<Masked, Temp, Stream>(k, x, m, y, mx, sc, std::log(s));
        else scale_row<Stream>(k, q, y, s);
    }

    template <bool Masked>
    static T logsumexp_row(size_t k, const T* x, const uint8_t* m) {
        T mx, mn;
        max_min<Masked>(k, x, m, mx, mn);
        if (!(mx > -kInf && mx < kInf)) return logsumexp_row_scalar<T>(k, x, m);
        Scale sc{V::set1(T(1)), V::set1(T(0))};
        const bool wide = Masked || !(double(mn) - double(mx) >= ExpConsts<T>::fast_min);
        const double s = wide ? exp_sum<Masked, true, false, false>(k, x, m, nullptr, mx, sc)
                              : exp_sum<false, false, false, false>(k, x, m, nullptr, mx, sc);
        return T(double(mx) + std::log(s));
    }

    static void zero_row(size_t k, T* y) {
        for (size_t j = 0; j < k; ++j) y[j] = T(0);
    }

    // Cross-entropy against a class index y without label smoothing, the common case: the
    // softmax passes with the gradient a w[y] (p - onehot(y)) written over q (a = scale).
    // q: where the exp values wait when the gradient streams (else g itself).
    template <bool Masked, bool Stream>
    static double ce_label_row(size_t k, const T* x, int64_t y, const T* weight,
                               const uint8_t* m, T* g, T* q, const CrossEntropyParams& p) {
        if (y == p.ignore_index) {
            if (g) zero_row(k, g);
            return 0.0;
        }
        T mx, mn;
        max_min<Masked>(k, x, m, mx, mn);
        if (!(mx > -kInf && mx < kInf) || y < 0 || uint64_t(y) >= k)
            return cross_entropy_row_scalar<T>(k, x, y, nullptr, weight, m, g, p);
        double hi, lo;  // x[y] - max, read before the gradient may overwrite x
        two_diff(double(x[y]), double(mx), hi, lo);
        const double ty = std::isfinite(hi) ? hi + lo : hi;
        const Scale sc{V::set1(T(1)), V::set1(T(0))};
        const bool wide = Masked || !(double(mn) - double(mx) >= ExpConsts<T>::fast_min);
        double s;
        if (g)
            s = wide ? exp_sum<Masked, true, false, true>(k, x, m, q, mx, sc)
                     : exp_sum<false, false, false, true>(k, x, m, q, mx, sc);
        else
            s = wide ? exp_sum<Masked, true, false, false>(k, x, m, nullptr, mx, sc)
                     : exp_sum<false, false, false, false>(k, x, m, nullptr, mx, sc);
        if (!(s == s)) {  // a NaN that max() skipped
            if (g) fill_nan(k, m, g, T(0));
            return double(__builtin_nan(""));
        }
        const double wy = weight ? double(weight[y]) : 1.0, qy = std::exp(ty);
        // log s - t_y, and p_y - 1 = -(s - q_y) / s; when the label holds most of the mass both
        // cancel, so the others' mass is summed on its own and the loss is log1p(others / q_y),
        // as the scalar specification does: a confident row keeps its tiny loss.
        double nll = std::log(s) - ty, gy = qy / s - 1.0;
        if (qy > 0.5 * s) {
            const size_t j = size_t(y);
            const double other =
                g ? sum_row(j, q) + sum_row(k - j - 1, q + j + 1)
                  : others_exp<Masked>(j, x, m, mx, wide) +
                        others_exp<Masked>(k - j - 1, x + j + 1, Masked ? m + j + 1 : nullptr, mx, wide);
            nll = std::log1p(other / qy);
            gy = -other / s;
        }
        if (g) {
            const double c = p.scale * wy;
            if (c == 0.0) {
                zero_row(k, g);
            } else {
                scale_row<Stream>(k, q, g, s / c, size_t(y), T(c * gy));
            }
        }
        return p.scale * wy * nll;
    }

    // ---- cross-entropy against probabilities, or class indices with label smoothing ----
    // The scalar specification's formulas (scalar.cpp), W lanes at a time. Pass 2 forms q, s
    // and the target sums; pass 3 writes grad_j = p_j c1 - a w_j t'_j (probabilities,
    // t' = (1 - e) t + e / K') or p_j c1 - a e w_j / K' (smoothing, the label's entry patched).
    // Sums run in T vectors within chunks of kChunk elements and in double across chunks.
    struct TargetSums {
        double s, wt, wtx, wsum;
    };

    template <bool Masked, bool Soft>
    static TargetSums target_sums(size_t k, const T* x, const T* probs, const T* weight,
                                  const uint8_t* m, T* q, T mx, bool wide, T keep_t, T spread) {
        const vec vmx = V::set1(mx), one = V::set1(T(1)), ninf = V::set1(-kInf);
        const vec vkeep = V::set1(keep_t), vspread = V::set1(spread), zero = V::set1(T(0));
        const Scale sc{one, zero};
        CompensatedSum s, wt, wtx, wsum, zmass;  // zmass: target weight on -inf logits
        size_t i = 0;
        while (i < k) {
            const size_t stop = k - i > kChunk ? i + kChunk : k;
            Acc as, awt, awtx, aws, az;
            for (; i < stop; i += W) {
                const size_t n = stop - i < W ? stop - i : W;
                vec xv = n == W ? V::loadu(x + i) : V::load_tail(x + i, n, -kInf);
                vec wv = weight ? (n == W ? V::loadu(weight + i) : V::load_tail(weight + i, n, T(0)))
                                : (n == W ? one : V::load_tail(one_block(), n, T(0)));
                if (Masked) {
                    const mask mv = n == W ? V::load_mask(m + i) : V::load_mask_tail(m + i, n);
                    xv = V::select(mv, xv, ninf);
                    wv = V::keep(mv, wv);
                }
                vec hi, lo;
                shifted<false>(xv, vmx, sc, hi, lo);
                // a partial vector's padding lanes hold -inf, which only the wide exp maps to 0
                const vec qv = (wide || n < W) ? exp_lo<V, true>(hi, lo) : exp_lo<V, false>(hi, lo);
                if (q) {
                    if (n == W) V::storeu(q + i, qv);
                    else V::store_tail(q + i, n, qv);
                }
                as.add(qv);
                const mask fin = V::gt(hi, ninf);
                const vec t = V::keep(fin, V::add(hi, V::keep(fin, lo)));  // x - max; 0 at -inf
                if (Soft) {
                    const vec pv = n == W ? V::loadu(probs + i) : V::load_tail(probs + i, n, T(0));
                    const vec tw = V::mul(wv, V::fmadd(pv, vkeep, vspread));
                    awt.add(tw);
                    awtx.add(V::mul(tw, t));
                    az.add(V::select(fin, zero, tw));
                } else {
                    aws.add(wv);
                    awtx.add(V::mul(wv, t));
                    az.add(V::select(fin, zero, wv));
                }
            }
            s.add(V::hsum(as.value()));
            wtx.add(V::hsum(awtx.value()));
            zmass.add(V::hsum(az.value()));
            if (Soft) wt.add(V::hsum(awt.value()));
            else wsum.add(V::hsum(aws.value()));
        }
        double wtx_v = wtx.value();
        // a target weight on a -inf logit makes the loss infinite (as w * t in the scalar spec)
        if (const double z = zmass.value(); z != 0.0) wtx_v += z * -double(kInf);
        return {s.value(), wt.value(), wtx_v, wsum.value()};
    }

    // W ones, for the tail of an unweighted row.
    static const T* one_block() {
        alignas(64) static const T ones[16] = {T(1), T(1), T(1), T(1), T(1), T(1), T(1), T(1),
                                              T(1), T(1), T(1), T(1), T(1), T(1), T(1), T(1)};
        return ones;
    }

    template <bool Masked, bool Soft>
    struct TargetGradOp {
        const T* q;
        const T* probs;
        const T* weight;
        const uint8_t* m;
        size_t k;
        vec c1s, a_keep, a_spread;  // c1 / s; for probabilities a (1 - e) and a e / K'
        size_t fix;
        T fix_value;
        vec step(vec qv, vec pv, vec wv) const {
            const vec tv = Soft ? V::fmadd(pv, a_keep, a_spread) : a_spread;
            return V::sub(V::mul(qv, c1s), V::mul(wv, tv));
        }
        vec patch(vec v, size_t i) const {
            return fix - i < W ? with_lane(v, fix - i, fix_value) : v;
        }
        vec full(size_t i) const {
            const vec wv = weight ? V::loadu(weight + i) : V::set1(T(1));
            vec r = step(V::loadu(q + i), Soft ? V::loadu(probs + i) : wv, wv);
            if (Masked) r = V::keep(V::load_mask(m + i), r);
            return Soft ? r : patch(r, i);
        }
        vec tail(size_t i) const {
            const size_t n = k - i;
            const vec wv = weight ? V::load_tail(weight + i, n, T(0)) : V::set1(T(1));
            vec r = step(V::load_tail(q + i, n, T(0)), Soft ? V::load_tail(probs + i, n, T(0)) : wv, wv);
            if (Masked) r = V::keep(V::load_mask_tail(m + i, n), r);
            return Soft ? r : patch(r, i);
        }
    };

    template <bool Masked, bool Soft>
    static double ce_target_row(size_t k, const T* x, int64_t y, const T* probs, const T* weight,
                                const uint8_t* m, T* g, const CrossEntropyParams& p) {
        if (!Soft && y == p.ignore_index) {
            if (g) zero_row(k, g);
            return 0.0;
        }
        T mx, mn;
        max_min<Masked>(k, x, m, mx, mn);
        if (!(mx > -kInf && mx < kInf) || (!Soft && (y < 0 || uint64_t(y) >= k)))
            return cross_entropy_row_scalar<T>(k, x, y, probs, weight, m, g, p);
        size_t kin = k;
        if (Masked) {
            kin = 0;
            for (size_t j = 0; j < k; ++j) kin += m[j] != 0;
        }
        const double e = p.label_smoothing, a = p.scale;
        double ty = 0.0;  // x[y] - max, read before the gradient may overwrite x
        if (!Soft) {
            double hi, lo;
            two_diff(double(x[y]), double(mx), hi, lo);
            ty = std::isfinite(hi) ? hi + lo : hi;
        }
        const bool wide = Masked || !(double(mn) - double(mx) >= ExpConsts<T>::fast_min);
        const TargetSums r = target_sums<Masked, Soft>(k, x, probs, weight, m, g, mx, wide,
                                                       T(1.0 - e), T(e / double(kin)));
        if (!(r.s == r.s)) {  // a NaN that max() skipped
            if (g) fill_nan(k, m, g, T(0));
            return double(__builtin_nan(""));
        }
        const double ls = std::log(r.s);
        double loss, c1, other_s = 0.0;
        if (Soft) {
            loss = a * (r.wt * ls - r.wtx);
            c1 = a * r.wt;
        } else {
            const double wy = weight ? double(weight[y]) : 1.0, qy = std::exp(ty);
            double nll = ls - ty;
            other_s = (r.s - qy) / r.s;
            if (qy > 0.5 * r.s) {  // as in ce_label_row: the others' mass on its own
                const size_t j = size_t(y);
                const double other =
                    g ? sum_row(j, g) + sum_row(k - j - 1, g + j + 1)
                      : others_exp<Masked>(j, x, m, mx, wide) +
                            others_exp<Masked>(k - j - 1, x + j + 1, Masked ? m + j + 1 : nullptr, mx, wide);
                nll = std::log1p(other / qy);
                other_s = other / r.s;
            }
            loss = a * (1.0 - e) * wy * nll + a * e / double(kin) * (r.wsum * ls - r.wtx);
            c1 = a * ((1.0 - e) * wy + e / double(kin) * r.wsum);
        }
        if (g) {
            T fix_value = T(0);
            if (!Soft) {
                const double wy = weight ? double(weight[y]) : 1.0;
                const double py = std::exp(ty) / r.s;
                fix_value = T(-a * (1.0 - e) * wy * other_s + a * e / double(kin) * (py * r.wsum - wy));
            }
            const TargetGradOp<Masked, Soft> op{
                g, probs, weight, m, k, V::set1(T(c1 / r.s)), V::set1(T(a * (1.0 - e))),
                V::set1(T(a * e / double(kin))), Soft ? size_t(-1) : size_t(y), fix_value};
            write_row<false>(k, g, op);
        }
        return loss;
    }

    template <bool Masked>
    static double ce_target_row(size_t k, const T* x, int64_t y, const T* probs,
                                const T* weight, const uint8_t* m, T* g,
                                const CrossEntropyParams& p) {
        return probs ? ce_target_row<Masked, true>(k, x, y, probs, weight, m, g, p)
                     : ce_target_row<Masked, false>(k, x, y, probs, weight, m, g, p);
    }

    // Sum of q[0, n), in T vectors within chunks and in double across them (as exp_sum).
    static double sum_row(size_t n, const T* q) {
        ChunkTotal total;
        const size_t nw = n - n % W;
        size_t i = 0;
        while (i < nw) {
            const size_t stop = nw - i > kChunk ? i + kChunk : nw;
            Acc a;
            for (; i < stop; i += W) a.add(V::loadu(q + i));
            total.add(a.value());
        }
        if (i < n) total.add(V::load_tail(q + i, n - i, T(0)));
        return total.value();
    }

    // Sum of exp(x - mx) over x[0, n) (a row's part without its label).
    template <bool Masked>
    static double others_exp(size_t n, const T* x, const uint8_t* m, T mx, bool wide) {
        const Scale sc{V::set1(T(1)), V::set1(T(0))};
        return wide ? exp_sum<Masked, true, false, false>(n, x, m, nullptr, mx, sc)
                    : exp_sum<false, false, false, false>(n, x, m, nullptr, mx, sc);
    }

    // ---- short rows: W rows at a time, one row per lane ----
    // For short rows the per-row costs of the row kernels (horizontal reductions, a scalar
    // log, a reciprocal in double) dominate. Here a block of W unmasked rows is transposed into
    // k column vectors (lane r = row r) and every step is vertical: max, exp and sum, then the
    // reciprocal and the log of each lane's sum with vector code. A block holding a row that is
    // not finite (or a label the caller failed to check) is redone by the row kernels, which
    // handle those rows exactly as the scalar specification says.
    // Measured (1 thread, two blocks in flight): logsumexp is faster in blocks up to k = 127;
    // float32 softmax, log_softmax and cross-entropy, which also write k values per row, up to
    // k = 100 (k = 80 and 100: 10-25% whether their output fits the caches, 655360 elements,
    // or streams, 4096000; at 127 the row kernels win beyond the caches); float64's up to 64.
    // The choice depends on k alone, so that a row's result does not depend on the call's size.
    static constexpr size_t kShortK = 127, kShortStoreK = sizeof(T) == 4 ? 100 : 64;

    struct Block {
        // c[j * W + r] = row r, element j; room for whole groups of W columns, so that
        // load_block stores every transposed vector (a variable count became a memcpy)
        alignas(64) T c[(kShortK + W - 1) / W * W * W];
        vec col(size_t j) const { return V::loadu(c + j * W); }
        void set(size_t j, vec v) { V::storeu(c + j * W, v); }
    };

    static void load_block(size_t k, const T* x, ptrdiff_t ldx, Block& b) {
        vec r[W];
        for (size_t j0 = 0; j0 < k; j0 += W) {
            const size_t w = k - j0 < W ? k - j0 : W;
            for (size_t i = 0; i < W; ++i) {
                const T* p = x + ptrdiff_t(i) * ldx + j0;
                r[i] = w == W ? V::loadu(p) : V::load_tail(p, w, T(0));
            }
            V::transpose(r);
            for (size_t j = 0; j < W; ++j) b.set(j0 + j, r[j]);
        }
    }

    static void store_block(size_t k, const Block& b, T* y, ptrdiff_t ldy) {
        vec r[W];
        for (size_t j0 = 0; j0 < k; j0 += W) {
            const size_t w = k - j0 < W ? k - j0 : W;
            for (size_t j = 0; j < W; ++j) r[j] = j < w ? b.col(j0 + j) : V::set1(T(0));
            V::transpose(r);
            for (size_t i = 0; i < W; ++i) {
                T* p = y + ptrdiff_t(i) * ldy + j0;
                if (w == W) V::storeu(p, r[i]);
                else V::store_tail(p, w, r[i]);
            }
        }
    }

    static constexpr int kAllLanes = (1 << W) - 1;

    // W per-lane doubles (float lanes are widened: the per-row sums, logs and reciprocals are
    // computed in double, as the row kernels do).
    using D = typename V::Wide;
    using dvec = typename D::vec;
    static constexpr size_t kH = W / D::W;
    struct Lanes {
        dvec h[kH];
        vec narrow() const { return V::narrow(h); }
    };
    static Lanes widen(vec v) {
        Lanes r;
        for (size_t i = 0; i < kH; ++i) r.h[i] = V::widen(v, int(i));
        return r;
    }

    // A row's total over its chunks (exp_sum, sum_row). float32: each chunk's vector sums are
    // added lane by lane in double (widened), one horizontal sum when the row ends. float64 has
    // one chunk per row (its accumulators are compensated): their horizontal sums are added
    // with compensation, as the scalar specification adds its terms.
    struct ChunkTotal {
        Lanes s;
        CompensatedSum c;
        PYSOFTMAX_STEP ChunkTotal() : s{}, c() {}
        PYSOFTMAX_STEP void add(vec a, vec b) {
            if constexpr (sizeof(T) == 8) {
                c.add(V::hsum(a));
                c.add(V::hsum(b));
            } else {
                for (size_t i = 0; i < kH; ++i)
                    s.h[i] = D::add(s.h[i], D::add(V::widen(a, int(i)), V::widen(b, int(i))));
            }
        }
        PYSOFTMAX_STEP void add(vec a) {
            if constexpr (sizeof(T) == 8) c.add(V::hsum(a));
            else for (size_t i = 0; i < kH; ++i) s.h[i] = D::add(s.h[i], V::widen(a, int(i)));
        }
        double value() const {
            if constexpr (sizeof(T) == 8) return c.value();
            double t = 0.0;
            for (size_t i = 0; i < kH; ++i) t += D::hsum(s.h[i]);
            return t;
        }
    };
    static Lanes ladd(const Lanes& a, const Lanes& b) {
        Lanes r;
        for (size_t i = 0; i < kH; ++i) r.h[i] = D::add(a.h[i], b.h[i]);
        return r;
    }
    static Lanes lsub(const Lanes& a, const Lanes& b) {
        Lanes r;
        for (size_t i = 0; i < kH; ++i) r.h[i] = D::sub(a.h[i], b.h[i]);
        return r;
    }
    static Lanes lmul(const Lanes& a, const Lanes& b) {
        Lanes r;
        for (size_t i = 0; i < kH; ++i) r.h[i] = D::mul(a.h[i], b.h[i]);
        return r;
    }
    static Lanes ldiv(const Lanes& a, const Lanes& b) {
        Lanes r;
        for (size_t i = 0; i < kH; ++i) r.h[i] = D::div(a.h[i], b.h[i]);
        return r;
    }
    static Lanes llog(const Lanes& a) {
        Lanes r;
        for (size_t i = 0; i < kH; ++i) r.h[i] = log_ge1<D, T>(a.h[i]);
        return r;
    }
    static Lanes llog1p(const Lanes& a) {
        Lanes r;
        for (size_t i = 0; i < kH; ++i) r.h[i] = log1p_ge0<D, T>(a.h[i]);
        return r;
    }
    // a - narrow(a): the part a T cannot hold
    static vec rest(const Lanes& a) { return lsub(a, widen(a.narrow())).narrow(); }

    // The block kernels below take U blocks at once (kGroup in the loops): each block's chains
    // (the max and sum over its k columns, the log and the reciprocal of its sums) are short
    // and serial, so one block alone leaves the core waiting on latencies; U independent ones
    // fill them. Lanes are independent, so a row's result does not depend on U.
    static constexpr size_t kGroup = 2;

    // Pass 1 over U blocks: each lane's maximum; ok = every lane's maximum is finite; wide =
    // some lane spreads beyond the fast exp's range.
    template <size_t U>
    static void block_max(size_t k, const Block* b, double temperature, vec* m, bool& ok, bool& wide) {
        vec mn[U];
        for (size_t u = 0; u < U; ++u) m[u] = V::set1(-kInf), mn[u] = V::set1(kInf);
        for (size_t j = 0; j < k; ++j)
            for (size_t u = 0; u < U; ++u) {
                const vec v = b[u].col(j);
                m[u] = V::max(v, m[u]);  // a NaN v leaves m: NaN shows up in the sum instead
                mn[u] = V::min(v, mn[u]);
            }
        ok = true;
        wide = false;
        for (size_t u = 0; u < U; ++u) {
            const mask above = V::gt(m[u], V::set1(-kInf)), below = V::gt(V::set1(kInf), m[u]);
            ok = ok && (V::lanes(above) & V::lanes(below)) == kAllLanes;
            const vec spread = V::mul(V::sub(mn[u], m[u]), V::set1(T(1.0 / temperature)));
            wide = wide || V::lanes(V::not_lt(spread, V::set1(T(ExpConsts<T>::fast_min)))) != kAllLanes;
        }
    }

    // A lane accumulator in double. float lanes add kLaneChunk terms in float (as exp_sum's
    // chunks) and go on in double (a float sum over a short row's lanes would cost
    // log_softmax its bound); double lanes are compensated.
    static constexpr size_t kLaneChunk = sizeof(T) == 4 ? 2 : ~size_t(0);
    struct LaneAcc {
        Lanes s;
        Acc acc;
        vec part;
        PYSOFTMAX_STEP LaneAcc() : s{}, acc(), part(V::set1(T(0))) {}  // explicit, as Acc's
        PYSOFTMAX_STEP void add(vec q) {
            if constexpr (sizeof(T) == 4) part = V::add(part, q);
            else acc.add(q);
        }
        PYSOFTMAX_STEP void flush() {  // after each chunk
            if constexpr (sizeof(T) == 4) {
                for (size_t i = 0; i < kH; ++i) s.h[i] = D::add(s.h[i], V::widen(part, int(i)));
                part = V::set1(T(0));
            }
        }
        Lanes value() const {
            if constexpr (sizeof(T) == 4) return s;
            else return widen(acc.value());
        }
    };

    // Pass 2: each lane's sum s of q_j = exp((x_j - m) / T); q_j replaces x_j when Store.
    template <size_t U, bool Wide, bool Temp, bool Store>
    static void block_exp(size_t k, Block* b, const vec* m, const Scale& sc, Lanes* s) {
        LaneAcc a[U];
        for (size_t j0 = 0; j0 < k; j0 += kLaneChunk) {
            const size_t j1 = k - j0 > kLaneChunk ? j0 + kLaneChunk : k;
            for (size_t j = j0; j < j1; ++j)
                for (size_t u = 0; u < U; ++u) {
                    vec hi, lo;
                    shifted<Temp>(b[u].col(j), m[u], sc, hi, lo);
                    const vec q = exp_lo<V, Wide>(hi, lo);
                    a[u].add(q);
                    if (Store) b[u].set(j, q);
                }
            for (size_t u = 0; u < U; ++u) a[u].flush();
        }
        for (size_t u = 0; u < U; ++u) s[u] = a[u].value();
    }

    // Each lane's sum of its column j's values over j != y (y: the lane's label), summed as
    // block_exp sums.
    template <size_t U>
    static void block_others(size_t k, const Block* b, const vec* y, Lanes* s) {
        LaneAcc a[U];
        vec jv = V::set1(T(0));
        for (size_t j0 = 0; j0 < k; j0 += kLaneChunk) {
            const size_t j1 = k - j0 > kLaneChunk ? j0 + kLaneChunk : k;
            for (size_t j = j0; j < j1; ++j, jv = V::add(jv, V::set1(T(1))))
                for (size_t u = 0; u < U; ++u)
                    a[u].add(V::select(V::eq(y[u], jv), V::set1(T(0)), b[u].col(j)));
            for (size_t u = 0; u < U; ++u) a[u].flush();
        }
        for (size_t u = 0; u < U; ++u) s[u] = a[u].value();
    }

    template <size_t U, bool Temp>
    static void block_sum(size_t k, Block* b, const vec* m, const Scale& sc, bool wide, bool store,
                          Lanes* s) {
        if (store) {
            if (wide) block_exp<U, true, Temp, true>(k, b, m, sc, s);
            else block_exp<U, false, Temp, true>(k, b, m, sc, s);
        } else {
            if (wide) block_exp<U, true, Temp, false>(k, b, m, sc, s);
            else block_exp<U, false, Temp, false>(k, b, m, sc, s);
        }
    }

    template <size_t U>
    static bool all_numbers(const Lanes* s) {
        bool all = true;
        for (size_t u = 0; u < U; ++u) {
            const vec n = s[u].narrow();
            all = all && V::lanes(V::eq(n, n)) == kAllLanes;
        }
        return all;
    }

    // Rows of at least kSpanRowBytes: their blocks prefetch the next rows and stream their
    // output beyond the caches (shorter rows: the hardware prefetcher keeps up, and both cost
    // more than they gain, measured at k = 10).
    static constexpr size_t kSpanRowBytes = 128;

    // U blocks from rows [0, U W) of x; with contiguous rows, the next U W rows are prefetched
    // (the hardware prefetcher alone left the core waiting for them beyond the caches: softmax,
    // 40960 x 100 float32, 1.32 -> 1.06 ns/element, with streamed output). Prefetches never
    // fault, even past the end of x.
    template <size_t U>
    static void load_blocks(size_t k, const T* x, ptrdiff_t ldx, Block* b) {
        for (size_t u = 0; u < U; ++u) load_block(k, x + ptrdiff_t(u * W) * ldx, ldx, b[u]);
        if (ldx == ptrdiff_t(k) && k * sizeof(T) >= kSpanRowBytes) {
            const char* next = reinterpret_cast<const char*>(x + ptrdiff_t(U * W) * ldx);
            for (size_t o = 0; o < U * W * k * sizeof(T); o += kLine) V::prefetch(next + o);
        }
    }
    // The blocks' values back into their U W rows of y. Streamed (stream: the call's output is
    // beyond the caches, and its rows contiguous): the rows form one span of y, transposed into
    // a scratch span in L1 first and then written with streaming stores, whole cache lines
    // only (the partial lines at its ends with plain stores), as the row kernels stream.
    template <size_t U>
    static void store_blocks(size_t k, const Block* b, T* y, ptrdiff_t ldy, bool stream) {
        if (!stream) {
            for (size_t u = 0; u < U; ++u) store_block(k, b[u], y + ptrdiff_t(u * W) * ldy, ldy);
            return;
        }
        alignas(64) T span[U * W * kShortK];
        for (size_t u = 0; u < U; ++u) store_block(k, b[u], span + u * W * k, ptrdiff_t(k));
        const size_t n = U * W * k, line = kLine / sizeof(T);
        const uintptr_t at = reinterpret_cast<uintptr_t>(y);
        size_t i = at % sizeof(T) ? n : (line - at / sizeof(T) % line) % line;  // to the first line
        if (i > n) i = n;
        size_t j = 0;
        for (; j + W <= i; j += W) V::storeu(y + j, V::loadu(span + j));
        if (j < i) V::store_tail(y + j, i - j, V::load_tail(span + j, i - j, T(0)));
        for (; i + line <= n; i += line)
            for (size_t v = 0; v < line; v += W) V::stream(y + i + v, V::loadu(span + i + v));
        for (; i + W <= n; i += W) V::storeu(y + i, V::loadu(span + i));
        if (i < n) V::store_tail(y + i, n - i, V::load_tail(span + i, n - i, T(0)));
    }

    // U blocks from x and their maxima (block_max); false if some lane's maximum is not finite.
    template <size_t U>
    static bool load_max(size_t k, const T* x, ptrdiff_t ldx, double temperature, Block* b, vec* m,
                         bool& wide) {
        load_blocks<U>(k, x, ldx, b);
        bool ok;
        block_max<U>(k, b, temperature, m, ok, wide);
        return ok;
    }

    // softmax / log_softmax of U W rows; false if the blocks need the row kernels (then
    // nothing is written).
    template <size_t U, bool Temp>
    static bool softmax_block(size_t k, const T* x, ptrdiff_t ldx, T* y, ptrdiff_t ldy,
                              double temperature, bool log, bool stream) {
        Block b[U];
        vec m[U];
        bool wide;
        if (!load_max<U>(k, x, ldx, temperature, b, m, wide)) return false;
        T ih, il;
        inverse_hi_lo<T>(temperature, ih, il);
        const Scale sc{V::set1(ih), V::set1(il)};
        Lanes s[U];
        block_sum<U, Temp>(k, b, m, sc, wide, !log, s);
        if (!all_numbers<U>(s)) return false;
        if (log && !Temp) {
            // as log_step: (x - c_hi) - c_lo with c_hi + c_lo = m + log s in each lane
            vec c_hi[U], c_lo[U];
            for (size_t u = 0; u < U; ++u) {
                const Lanes mw = widen(m[u]), ls = llog(s[u]), c = ladd(mw, ls), bb = lsub(c, mw);
                const Lanes err = ladd(lsub(mw, lsub(c, bb)), lsub(ls, bb));  // TwoSum's rounding
                c_hi[u] = c.narrow();
                c_lo[u] = ladd(lsub(c, widen(c_hi[u])), err).narrow();
            }
            for (size_t j = 0; j < k; ++j)
                for (size_t u = 0; u < U; ++u)
                    b[u].set(j, V::sub(V::sub(b[u].col(j), c_hi[u]), c_lo[u]));
        } else if (log) {
            vec ls_hi[U], ls_lo[U];
            for (size_t u = 0; u < U; ++u) {
                const Lanes ls = llog(s[u]);
                ls_hi[u] = ls.narrow();
                ls_lo[u] = rest(ls);
            }
            for (size_t j = 0; j < k; ++j)
                for (size_t u = 0; u < U; ++u) {
                    vec hi, lo;
                    shifted<Temp>(b[u].col(j), m[u], sc, hi, lo);
                    // (t_hi - log s) + (t_lo - log s's low part); -inf stays -inf
                    const vec lo_k = V::keep(V::gt(hi, V::set1(-kInf)), lo);
                    b[u].set(j, V::add(V::sub(hi, ls_hi[u]), V::sub(lo_k, ls_lo[u])));
                }
        } else {
            vec ih_v[U], il_v[U];
            for (size_t u = 0; u < U; ++u) {
                const Lanes inv = ldiv(widen(V::set1(T(1))), s[u]);
                ih_v[u] = inv.narrow();
                il_v[u] = rest(inv);
            }
            for (size_t j = 0; j < k; ++j)
                for (size_t u = 0; u < U; ++u) b[u].set(j, div_step(b[u].col(j), ih_v[u], il_v[u]));
        }
        store_blocks<U>(k, b, y, ldy, stream);
        return true;
    }

    template <size_t U>
    static bool logsumexp_block(size_t k, const T* x, ptrdiff_t ldx, T* y, ptrdiff_t incy) {
        Block b[U];
        vec m[U];
        bool wide;
        if (!load_max<U>(k, x, ldx, 1.0, b, m, wide)) return false;
        const Scale sc{V::set1(T(1)), V::set1(T(0))};
        Lanes s[U];
        block_sum<U, false>(k, b, m, sc, wide, false, s);
        if (!all_numbers<U>(s)) return false;
        alignas(64) T r[U * W];
        for (size_t u = 0; u < U; ++u) V::storeu(r + u * W, ladd(widen(m[u]), llog(s[u])).narrow());
        for (size_t i = 0; i < U * W; ++i) y[ptrdiff_t(i) * incy] = r[i];
        return true;
    }

    // Cross-entropy against class indices without smoothing for U W rows (see ce_label_row):
    // grad = c (p - onehot(y)) with c = scale w[y], the label's entry as -c (s - q_y) / s;
    // loss = c (log s - t_y) = c log1p((s - q_y) / q_y), accurate when p_y is near 1.
    template <size_t U>
    static bool ce_block(size_t k, const T* x, ptrdiff_t ldx, const int64_t* labels,
                         const T* weight, T* g, ptrdiff_t ldg, double* loss,
                         const CrossEntropyParams& p, bool stream) {
        constexpr size_t R = U * W;
        alignas(64) T yl[R], cl[R];
        alignas(64) double cd[R];
        size_t at[R];  // row i's label entry in its block, b[i / W].c[at[i]] (its first if ignored)
        for (size_t i = 0; i < R; ++i) {
            const int64_t lab = labels[i];
            const bool ignored = lab == p.ignore_index;
            if (!ignored && (lab < 0 || uint64_t(lab) >= k)) return false;
            yl[i] = ignored ? T(-1) : T(lab);
            at[i] = (ignored ? 0 : size_t(lab)) * W + i % W;
            cd[i] = ignored ? 0.0 : p.scale * (weight ? double(weight[lab]) : 1.0);
            cl[i] = T(cd[i]);
        }
        Block b[U];
        vec m[U];
        bool wide;
        if (!load_max<U>(k, x, ldx, 1.0, b, m, wide)) return false;
        alignas(64) T ty[R], qy[R];  // x_y, then exp(x_y - m)
        for (size_t i = 0; i < R; ++i) ty[i] = b[i / W].c[at[i]];
        const Scale sc{V::set1(T(1)), V::set1(T(0))};
        vec yv[U];
        for (size_t u = 0; u < U; ++u) yv[u] = V::loadu(yl + u * W);
        Lanes s[U];
        block_sum<U, false>(k, b, m, sc, wide, true, s);
        if (!all_numbers<U>(s)) return false;
        for (size_t i = 0; i < R; ++i) qy[i] = yl[i] < T(0) ? T(1) : b[i / W].c[at[i]];
        // other = s - q_y, summed on its own in lanes where the label holds most of the mass
        Lanes q[U], other[U];
        typename D::mask confident[U][kH];
        bool some_confident = false;
        for (size_t u = 0; u < U; ++u) {
            q[u] = widen(V::loadu(qy + u * W));
            other[u] = lsub(s[u], q[u]);
            for (size_t i = 0; i < kH; ++i) {
                confident[u][i] = D::gt(q[u].h[i], D::mul(D::set1(0.5), s[u].h[i]));
                some_confident = some_confident || D::lanes(confident[u][i]) != 0;
            }
        }
        if (some_confident) {
            Lanes exact[U];
            block_others<U>(k, b, yv, exact);
            for (size_t u = 0; u < U; ++u)
                for (size_t i = 0; i < kH; ++i)
                    other[u].h[i] = D::select(confident[u][i], exact[u].h[i], other[u].h[i]);
        }
        // loss per lane: log1p(other / q_y) while q_y is normal, else log s - (x_y - m)
        Lanes near[U];
        typename D::mask is_near[U][kH];
        bool all_near = true;
        for (size_t u = 0; u < U; ++u) {
            near[u] = llog1p(ldiv(other[u], q[u]));
            for (size_t i = 0; i < kH; ++i) {
                is_near[u][i] = D::gt(q[u].h[i], D::set1(1e-30));
                all_near = all_near && D::lanes(is_near[u][i]) == (1 << D::W) - 1;
            }
        }
        alignas(64) double lv[R];
        for (size_t u = 0; u < U; ++u) {
            // log s - t_y only where some q_y is tiny (rare; it costs a log of each lane)
            const Lanes far = all_near ? near[u] : lsub(llog(s[u]), lsub(widen(V::loadu(ty + u * W)), widen(m[u])));
            for (size_t i = 0; i < kH; ++i)
                D::storeu(lv + u * W + i * D::W, D::select(is_near[u][i], near[u].h[i], far.h[i]));
        }
        for (size_t i = 0; i < R; ++i) loss[i] = cd[i] * lv[i];
        if (g) {
            vec ch[U], cr[U], gy[U];
            for (size_t u = 0; u < U; ++u) {
                const Lanes cs = ldiv(widen(V::loadu(cl + u * W)), s[u]);
                ch[u] = cs.narrow();
                cr[u] = rest(cs);
                gy[u] = lsub(widen(V::set1(T(0))), lmul(cs, other[u])).narrow();
            }
            vec jv = V::set1(T(0));
            for (size_t j = 0; j < k; ++j, jv = V::add(jv, V::set1(T(1))))
                for (size_t u = 0; u < U; ++u)
                    b[u].set(j, V::select(V::eq(yv[u], jv), gy[u], div_step(b[u].col(j), ch[u], cr[u])));
            store_blocks<U>(k, b, g, ldg, stream);
        }
        return true;
    }

    // ---- the table's entry points: loops over rows ----
    // Streaming pays when this call's output is well beyond the caches, a row's exp values
    // fit in L2 to wait there for pass 3, and few output cache lines are partly written: a
    // streamed partial line costs a full memory transaction (measured: 129 floats per row
    // streamed took 2.9x the time of 128). So rows start on cache lines or are long.
    static constexpr size_t kStreamBytes = size_t(2) << 20, kScratchBytes = size_t(256) << 10;
    static constexpr size_t kLine = 64, kLongRowBytes = 4096;

    static bool beyond_caches(size_t n, size_t k) { return n * k * sizeof(T) >= kStreamBytes; }

    // Whether the block kernels' output streams (store_blocks): rows contiguous and at least
    // kSpanRowBytes long, the call's output beyond the caches.
    static bool stream_blocks(size_t n, size_t k, ptrdiff_t ldy) {
        return ldy == ptrdiff_t(k) && k * sizeof(T) >= kSpanRowBytes && beyond_caches(n, k);
    }

    static T* stream_scratch(size_t n, size_t k, const T* y, ptrdiff_t ldy) {
        const bool lines = reinterpret_cast<uintptr_t>(y) % kLine == 0 &&
                           (size_t(ldy) * sizeof(T)) % kLine == 0;
        if (k < 4 * W || !beyond_caches(n, k) || k * sizeof(T) > kScratchBytes ||
            !(lines || k * sizeof(T) >= kLongRowBytes))
            return nullptr;
        return static_cast<T*>(thread_scratch(k * sizeof(T)));
    }

    template <bool Log>
    static void softmax_rows(size_t n, size_t k, const T* x, ptrdiff_t ldx, const uint8_t* m,
                             ptrdiff_t ldm, T* y, ptrdiff_t ldy, double temperature) {
        if constexpr (V::kTranspose) {
            if (m == nullptr && k <= kShortStoreK) {
                // groups of kGroup blocks; a group the block kernels refuse goes block by
                // block, and a block they refuse to the row kernels
                const bool st = stream_blocks(n, k, ldy);
                size_t r = 0;
                for (; r + kGroup * W <= n; r += kGroup * W)
                    if (!softmax_blocks<kGroup, Log>(k, x, ldx, y, ldy, r, temperature, st))
                        for (size_t u = r; u < r + kGroup * W; u += W)
                            softmax_blocks<1, Log>(k, x, ldx, y, ldy, u, temperature, st);
                for (; r + W <= n; r += W) softmax_blocks<1, Log>(k, x, ldx, y, ldy, r, temperature, st);
                if (st) V::fence();
                rows_of<Log, false>(n - r, k, x + ptrdiff_t(r) * ldx, ldx, nullptr, 0,
                                    y + ptrdiff_t(r) * ldy, ldy, nullptr, temperature);
                return;
            }
        }
        T* const q = stream_scratch(n, k, y, ldy);
        if (q) rows_of<Log, true>(n, k, x, ldx, m, ldm, y, ldy, q, temperature);
        else rows_of<Log, false>(n, k, x, ldx, m, ldm, y, ldy, nullptr, temperature);
        if (q) V::fence();
    }

    // Rows [r, r + U W) by the block kernels; U = 1 falls back to the row kernels.
    template <size_t U, bool Log>
    static bool softmax_blocks(size_t k, const T* x, ptrdiff_t ldx, T* y, ptrdiff_t ldy, size_t r,
                               double temperature, bool stream) {
        const T* xr = x + ptrdiff_t(r) * ldx;
        T* yr = y + ptrdiff_t(r) * ldy;
        if (temperature != 1.0 ? softmax_block<U, true>(k, xr, ldx, yr, ldy, temperature, Log, stream)
                               : softmax_block<U, false>(k, xr, ldx, yr, ldy, temperature, Log, stream))
            return true;
        if (U == 1) rows_of<Log, false>(W, k, xr, ldx, nullptr, 0, yr, ldy, nullptr, temperature);
        return false;
    }

    template <bool Log, bool Stream>
    static void rows_of(size_t n, size_t k, const T* x, ptrdiff_t ldx, const uint8_t* m,
                        ptrdiff_t ldm, T* y, ptrdiff_t ldy, T* q, double temperature) {
        const bool temp = temperature != 1.0;
        for (size_t r = 0; r < n; ++r) {
            const T* xr = x + ptrdiff_t(r) * ldx;
            T* yr = y + ptrdiff_t(r) * ldy;
            T* qr = Stream ? q : yr;
            if (m) {
                const uint8_t* mr = m + ptrdiff_t(r) * ldm;
                if (temp) softmax_row<true, true, Stream>(k, xr, mr, yr, qr, temperature, Log);
                else softmax_row<true, false, Stream>(k, xr, mr, yr, qr, temperature, Log);
            } else {
                if (temp) softmax_row<false, true, Stream>(k, xr, nullptr, yr, qr, temperature, Log);
                else softmax_row<false, false, Stream>(k, xr, nullptr, yr, qr, temperature, Log);
            }
        }
    }

    static void logsumexp_rows(size_t n, size_t k, const T* x, ptrdiff_t ldx, const uint8_t* m,
                               ptrdiff_t ldm, T* y, ptrdiff_t incy) {
        size_t r = 0;
        if constexpr (V::kTranspose) {
            if (m == nullptr && k <= kShortK) {
                for (; r + kGroup * W <= n; r += kGroup * W)
                    if (!logsumexp_blocks<kGroup>(k, x, ldx, y, incy, r))
                        for (size_t u = r; u < r + kGroup * W; u += W) logsumexp_blocks<1>(k, x, ldx, y, incy, u);
                for (; r + W <= n; r += W) logsumexp_blocks<1>(k, x, ldx, y, incy, r);
            }
        }
        for (; r < n; ++r) {
            const T* xr = x + ptrdiff_t(r) * ldx;
            y[ptrdiff_t(r) * incy] = m ? logsumexp_row<true>(k, xr, m + ptrdiff_t(r) * ldm)
                                       : logsumexp_row<false>(k, xr, nullptr);
        }
    }

    // as softmax_blocks
    template <size_t U>
    static bool logsumexp_blocks(size_t k, const T* x, ptrdiff_t ldx, T* y, ptrdiff_t incy, size_t r) {
        if (logsumexp_block<U>(k, x + ptrdiff_t(r) * ldx, ldx, y + ptrdiff_t(r) * incy, incy)) return true;
        if (U == 1)
            for (size_t i = r; i < r + W; ++i)
                y[ptrdiff_t(i) * incy] = logsumexp_row<false>(k, x + ptrdiff_t(i) * ldx, nullptr);
        return false;
    }

    static void cross_entropy_rows(size_t n, size_t k, const T* x, ptrdiff_t ldx,
                                   const int64_t* labels, const T* probs, ptrdiff_t ldt,
                                   const T* weight, const uint8_t* m, ptrdiff_t ldm,
                                   double* loss, T* g, ptrdiff_t ldg,
                                   const CrossEntropyParams& p) {
        ce_rows(n, k, x, ldx, labels, probs, ldt, weight, m, ldm, loss, g, ldg, p, true);
    }

    // as softmax_blocks
    template <size_t U>
    static bool ce_blocks(size_t k, const T* x, ptrdiff_t ldx, const int64_t* labels, const T* weight,
                          double* loss, T* g, ptrdiff_t ldg, const CrossEntropyParams& p, size_t r,
                          bool stream) {
        const ptrdiff_t i = ptrdiff_t(r);
        T* const gr = g ? g + i * ldg : nullptr;
        if (ce_block<U>(k, x + i * ldx, ldx, labels + i, weight, gr, ldg, loss + i, p, stream)) return true;
        if (U == 1)
            ce_rows(W, k, x + i * ldx, ldx, labels + i, nullptr, 0, weight, nullptr, 0, loss + i, gr, ldg, p, false);
        return false;
    }

    // blocks: whether short rows may take the block kernels.
    static void ce_rows(size_t n, size_t k, const T* x, ptrdiff_t ldx, const int64_t* labels,
                        const T* probs, ptrdiff_t ldt, const T* weight, const uint8_t* m,
                        ptrdiff_t ldm, double* loss, T* g, ptrdiff_t ldg,
                        const CrossEntropyParams& p, bool blocks) {
        size_t r0 = 0;
        if constexpr (V::kTranspose) {
            if (blocks && labels && p.label_smoothing == 0.0 && m == nullptr && k <= kShortStoreK) {
                const bool st = g && stream_blocks(n, k, ldg);
                for (; r0 + kGroup * W <= n; r0 += kGroup * W)
                    if (!ce_blocks<kGroup>(k, x, ldx, labels, weight, loss, g, ldg, p, r0, st))
                        for (size_t u = r0; u < r0 + kGroup * W; u += W)
                            ce_blocks<1>(k, x, ldx, labels, weight, loss, g, ldg, p, u, st);
                for (; r0 + W <= n; r0 += W) ce_blocks<1>(k, x, ldx, labels, weight, loss, g, ldg, p, r0, st);
                if (st) V::fence();
            }
        }
        T* const q = g ? stream_scratch(n - r0, k, g + ptrdiff_t(r0) * ldg, ldg) : nullptr;
        for (size_t r = r0; r < n; ++r) {
            const ptrdiff_t i = ptrdiff_t(r);
            const T* xr = x + i * ldx;
            const uint8_t* mr = m ? m + i * ldm : nullptr;
            T* gr = g ? g + i * ldg : nullptr;
            if (labels && p.label_smoothing == 0.0) {
                const int64_t y = labels[r];
                if (q)
                    loss[r] = mr ? ce_label_row<true, true>(k, xr, y, weight, mr, gr, q, p)
                                 : ce_label_row<false, true>(k, xr, y, weight, nullptr, gr, q, p);
                else
                    loss[r] = mr ? ce_label_row<true, false>(k, xr, y, weight, mr, gr, gr, p)
                                 : ce_label_row<false, false>(k, xr, y, weight, nullptr, gr, gr, p);
            } else {
                const int64_t y = labels ? labels[r] : 0;
                const T* pr = probs ? probs + i * ldt : nullptr;
                loss[r] = mr ? ce_target_row<true>(k, xr, y, pr, weight, mr, gr, p)
                             : ce_target_row<false>(k, xr, y, pr, weight, nullptr, gr, p);
            }
        }
        if (q) V::fence();
    }
};

}  // namespace simd
}  // namespace pysoftmax

#define PYSOFTMAX_KERNEL_SET(R)                                                     \
    {                                                                               \
        &R::template softmax_rows<false>, &R::template softmax_rows<true>,          \
            &R::logsumexp_rows, &R::cross_entropy_rows                              \
    }
