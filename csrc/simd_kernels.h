// Row kernels written once over a thin SIMD wrapper V; each instruction set's translation unit
// (isa_avx2.cpp, isa_avx512.cpp) defines its wrappers and includes this file after switching
// the compiler's target, so the code below is compiled once per instruction set.
//
// They compute what scalar.cpp specifies, with the same formulas, W lanes at a time:
//   pass 1  max (and min) of the row, 4 accumulators
//   pass 2  q = exp(t) with t = (x - max) / T carried as hi + lo; sum q (and store q for softmax)
//   pass 3  softmax: y = q / s (as q * 1/s, 1/s in hi + lo); log_softmax: y = (t_hi - log s) + t_lo, re-read from x
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

// exp(t + tl) for t <= 0 and |tl| tiny: 2^n * exp(r + tl). Fast variant: valid when every lane
// has t >= fast_min. Wide variant: any t (0 below the cutoff, including -inf; NaN stays NaN).
template <class V, bool Wide>
inline typename V::vec exp_lo(typename V::vec t, typename V::vec tl) {
    using T = typename V::T;
    using C = ExpConsts<T>;
    using vec = typename V::vec;
    const vec magic = V::set1(Wide ? C::magic_wide : C::magic);
    const vec z = V::fmadd(t, V::set1(C::log2e), magic);
    const vec n = V::sub(z, magic);
    vec r = V::fmadd(n, V::set1(-C::ln2_hi), t);
    r = V::fmadd(n, V::set1(-C::ln2_lo), V::add(r, tl));
    vec q = V::set1(C::c[C::degree - 2]);
    for (int i = C::degree - 3; i >= 0; --i) q = V::fmadd(q, r, V::set1(C::c[i]));
    const vec p = V::add(V::fmadd(V::mul(r, r), q, r), V::set1(T(1)));
    vec f = V::mul(p, V::pow2(z));
    if (Wide) f = V::keep(V::not_lt(t, V::set1(C::cutoff)), V::mul(f, V::set1(C::wide_scale)));
    return f;
}

template <class V>
struct Rows {
    using T = typename V::T;
    using vec = typename V::vec;
    using mask = typename V::mask;
    static constexpr size_t W = V::W;
    static constexpr size_t kChunk = 16 * W;  // elements summed in vectors before double
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
    static inline void shifted(vec xv, vec vmx, const Scale& sc, vec& hi, vec& lo) {
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
    static inline vec exp_step(vec xv, const uint8_t* m, size_t i, vec vmx, const Scale& sc,
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
        vec s = V::set1(T(0)), c = V::set1(T(0));
        void add(vec f) {
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
    // kChunk elements and across chunks in double with compensation.
    template <bool Masked, bool Wide, bool Temp, bool Store>
    static double exp_sum(size_t k, const T* x, const uint8_t* m, T* y, T mx, const Scale& sc) {
        constexpr auto step = exp_step<Masked, Wide, Temp, Store>;
        const vec vmx = V::set1(mx);
        CompensatedSum total;
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
            total.add(V::hsum(a0.value()) + V::hsum(a1.value()));
            total.add(V::hsum(a2.value()) + V::hsum(a3.value()));
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
        total.add(V::hsum(a.value()));
        return total.value();
    }

    // ---- pass 3 ----
    // y = q / s, as q * (ih + il) with 1/s = ih + il: no rounding of the reciprocal shows.
    static inline vec div_step(vec q, vec ih, vec il) { return V::fmadd(q, ih, V::mul(q, il)); }

    static void scale_row(size_t k, T* y, double s) {
        T ih_, il_;
        inverse_hi_lo<T>(s, ih_, il_);
        const vec ih = V::set1(ih_), il = V::set1(il_);
        size_t i = 0;
        for (; i + 4 * W <= k; i += 4 * W) {
            V::storeu(y + i, div_step(V::loadu(y + i), ih, il));
            V::storeu(y + i + W, div_step(V::loadu(y + i + W), ih, il));
            V::storeu(y + i + 2 * W, div_step(V::loadu(y + i + 2 * W), ih, il));
            V::storeu(y + i + 3 * W, div_step(V::loadu(y + i + 3 * W), ih, il));
        }
        for (; i + W <= k; i += W) V::storeu(y + i, div_step(V::loadu(y + i), ih, il));
        if (i < k) V::store_tail(y + i, k - i, div_step(V::load_tail(y + i, k - i, T(0)), ih, il));
    }

    // y = (t_hi - log s) + t_lo; -inf where t_hi is -inf (t_lo is NaN there) or masked.
    template <bool Masked, bool Temp>
    static inline vec log_step(vec xv, mask mv, vec vmx, const Scale& sc, vec vls) {
        vec hi, lo;
        shifted<Temp>(xv, vmx, sc, hi, lo);
        const vec r = V::add(V::sub(hi, vls), V::keep(V::gt(hi, V::set1(-kInf)), lo));
        return Masked ? V::select(mv, r, V::set1(-kInf)) : r;
    }

    template <bool Masked, bool Temp>
    static void log_row(size_t k, const T* x, const uint8_t* m, T* y, T mx, const Scale& sc,
                        T ls) {
        const vec vmx = V::set1(mx), vls = V::set1(ls);
        mask none{};
        size_t i = 0;
        for (; i + W <= k; i += W) {
            const mask mv = Masked ? V::load_mask(m + i) : none;
            V::storeu(y + i, log_step<Masked, Temp>(V::loadu(x + i), mv, vmx, sc, vls));
        }
        if (i < k) {
            const mask mv = Masked ? V::load_mask_tail(m + i, k - i) : none;
            const vec xv = V::load_tail(x + i, k - i, T(0));
            V::store_tail(y + i, k - i, log_step<Masked, Temp>(xv, mv, vmx, sc, vls));
        }
    }

    // A row holding an included NaN that max() skipped: NaN where included, else excluded.
    static void fill_nan(size_t k, const uint8_t* m, T* y, T excluded) {
        for (size_t j = 0; j < k; ++j)
            y[j] = (m == nullptr || m[j]) ? T(__builtin_nan("")) : excluded;
    }

    template <bool Masked, bool Temp>
    static void softmax_row(size_t k, const T* x, const uint8_t* m, T* y, double temperature,
                            bool log) {
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
            s = wide ? exp_sum<Masked, true, Temp, false>(k, x, m, y, mx, sc)
                     : exp_sum<false, false, Temp, false>(k, x, m, y, mx, sc);
        else
            s = wide ? exp_sum<Masked, true, Temp, true>(k, x, m, y, mx, sc)
                     : exp_sum<false, false, Temp, true>(k, x, m, y, mx, sc);
        if (!(s == s)) {
            fill_nan(k, m, y, log ? -kInf : T(0));
            return;
        }
        if (log) log_row<Masked, Temp>(k, x, m, y, mx, sc, T(std::log(s)));
        else scale_row(k, y, s);
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
    template <bool Masked>
    static double ce_label_row(size_t k, const T* x, int64_t y, const T* weight,
                               const uint8_t* m, T* g, const CrossEntropyParams& p) {
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
            s = wide ? exp_sum<Masked, true, false, true>(k, x, m, g, mx, sc)
                     : exp_sum<false, false, false, true>(k, x, m, g, mx, sc);
        else
            s = wide ? exp_sum<Masked, true, false, false>(k, x, m, nullptr, mx, sc)
                     : exp_sum<false, false, false, false>(k, x, m, nullptr, mx, sc);
        if (!(s == s)) {  // a NaN that max() skipped
            if (g) fill_nan(k, m, g, T(0));
            return double(__builtin_nan(""));
        }
        const double wy = weight ? double(weight[y]) : 1.0;
        if (g) {
            const double c = p.scale * wy;
            if (c == 0.0) {
                zero_row(k, g);
            } else {
                scale_row(k, g, s / c);
                g[y] = T(c * (std::exp(ty) / s - 1.0));
            }
        }
        return p.scale * wy * (std::log(s) - ty);
    }

    // ---- the table's entry points: loops over rows ----
    template <bool Log>
    static void softmax_rows(size_t n, size_t k, const T* x, ptrdiff_t ldx, const uint8_t* m,
                             ptrdiff_t ldm, T* y, ptrdiff_t ldy, double temperature) {
        const bool temp = temperature != 1.0;
        for (size_t r = 0; r < n; ++r) {
            const T* xr = x + ptrdiff_t(r) * ldx;
            T* yr = y + ptrdiff_t(r) * ldy;
            if (m) {
                const uint8_t* mr = m + ptrdiff_t(r) * ldm;
                if (temp) softmax_row<true, true>(k, xr, mr, yr, temperature, Log);
                else softmax_row<true, false>(k, xr, mr, yr, temperature, Log);
            } else {
                if (temp) softmax_row<false, true>(k, xr, nullptr, yr, temperature, Log);
                else softmax_row<false, false>(k, xr, nullptr, yr, temperature, Log);
            }
        }
    }

    static void logsumexp_rows(size_t n, size_t k, const T* x, ptrdiff_t ldx, const uint8_t* m,
                               ptrdiff_t ldm, T* y, ptrdiff_t incy) {
        for (size_t r = 0; r < n; ++r) {
            const T* xr = x + ptrdiff_t(r) * ldx;
            y[ptrdiff_t(r) * incy] = m ? logsumexp_row<true>(k, xr, m + ptrdiff_t(r) * ldm)
                                       : logsumexp_row<false>(k, xr, nullptr);
        }
    }

    static void cross_entropy_rows(size_t n, size_t k, const T* x, ptrdiff_t ldx,
                                   const int64_t* labels, const T* probs, ptrdiff_t ldt,
                                   const T* weight, const uint8_t* m, ptrdiff_t ldm,
                                   double* loss, T* g, ptrdiff_t ldg,
                                   const CrossEntropyParams& p) {
        for (size_t r = 0; r < n; ++r) {
            const ptrdiff_t i = ptrdiff_t(r);
            const T* xr = x + i * ldx;
            const uint8_t* mr = m ? m + i * ldm : nullptr;
            T* gr = g ? g + i * ldg : nullptr;
            if (labels && p.label_smoothing == 0.0)
                loss[r] = mr ? ce_label_row<true>(k, xr, labels[r], weight, mr, gr, p)
                             : ce_label_row<false>(k, xr, labels[r], weight, nullptr, gr, p);
            else
                loss[r] = cross_entropy_row_scalar<T>(k, xr, labels ? labels[r] : 0,
                                                      probs ? probs + i * ldt : nullptr,
                                                      weight, mr, gr, p);
        }
    }
};

}  // namespace simd
}  // namespace pysoftmax

#define PYSOFTMAX_KERNEL_SET(R)                                                     \
    {                                                                               \
        &R::template softmax_rows<false>, &R::template softmax_rows<true>,          \
            &R::logsumexp_rows, &R::cross_entropy_rows                              \
    }
