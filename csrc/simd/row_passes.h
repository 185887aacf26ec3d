// The row kernels: one row at a time, W lanes of it at a time. They compute what scalar.cpp
// specifies, with the same formulas:
//   pass 1  max (and min) of the row, 4 accumulators
//   pass 2  q = exp(t) with t = (x - max) / T carried as hi + lo; sum q (and store q for softmax),
//           and the sum without the maximum's q = 1, for log s = log1p(s - 1) (accumulators.h)
//   pass 3  softmax: y = q / s (as q * 1/s, 1/s in hi + lo); log_softmax, re-read from x:
//           y = (x - c_hi) - c_lo with c_hi + c_lo = max + log s (with temperature:
//           y = (t_hi - log s) + t_lo)
// Rows whose maximum is not finite (all -inf, +inf, NaN under max, everything masked) go to the
// scalar specification. A NaN that max() skipped makes s NaN; such rows are filled with NaN.
//
// Loop shape in every pass: an unrolled main loop of 4 vectors, then single vectors, then one
// masked tail that never touches memory past the end of the row.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "kernels.h"
#include "numerics.h"
#include "simd/accumulators.h"
#include "simd/vector_math.h"
#include "simd/wrapper.h"

namespace pysoftmax {
namespace simd {

// 1 / temperature as ih + il, which pass 2 multiplies (x - max) by.
template <class V>
struct Scale {
    using T = typename V::T;
    typename V::vec ih, il;
    static PYSOFTMAX_STEP Scale unit() { return {V::set1(T(1)), V::set1(T(0))}; }
    static PYSOFTMAX_STEP Scale of(double temperature) {
        T hi, lo;
        inverse_hi_lo<T>(temperature, hi, lo);
        return {V::set1(hi), V::set1(lo)};
    }
    // Whether of(temperature) holds 1 / temperature: ih finite and large enough that il is a
    // normal number too. Otherwise (1 / T overflows T, as 1e-40 in float32 or 1e-320 in
    // float64, or underflows it) (x - max) ih would be NaN or lose the row, and the row
    // kernels send every row to the scalar specification, which divides by T in double.
    static bool holds(double temperature) {
        // the smallest normal T over T's epsilon, and the largest finite T
        constexpr double least = sizeof(T) == 4 ? 0x1p-103 : 0x1p-970;
        constexpr double most = sizeof(T) == 4 ? 0x1.fffffep127 : 0x1.fffffffffffffp1023;
        const double ih = 1.0 / temperature;
        return ih >= least && ih <= most;
    }
};

template <class V>
struct RowPasses {
    using T = typename V::T;
    using vec = typename V::vec;
    using mask = typename V::mask;
    using Scale = simd::Scale<V>;
    static constexpr size_t W = V::W;
    static constexpr T kInf = T(__builtin_inf());

    // ---- pass 1: max (and, without a mask, min) of the row; masked elements excluded ----
    // Every row kernel then sends a row whose maximum is not finite to the scalar specification:
    // `if (!(mx > -kInf && mx < kInf))`, written out at each (through a helper, GCC lays the row
    // kernels out differently).
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
            if (Masked)
                x0 = V::select(V::load_mask(m + i), x0, V::set1(-kInf));
            else
                b0 = V::min(x0, b0);
            a0 = V::max(x0, a0);
        }
        if (i < k) {
            vec x0 = V::load_tail(x + i, k - i, -kInf);
            if (Masked)
                x0 = V::select(V::load_mask_tail(m + i, k - i), x0, V::set1(-kInf));
            else
                b0 = V::min(V::load_tail(x + i, k - i, kInf), b0);
            a0 = V::max(x0, a0);
        }
        mx = V::hmax(V::max(V::max(a0, a1), V::max(a2, a3)));
        mn = V::hmin(V::min(V::min(b0, b1), V::min(b2, b3)));
    }

    // Whether pass 2 takes the wide exp: masked rows hold -inf lanes, and rows spread so far
    // that some exp falls out of the fast variant's range.
    template <bool Masked>
    static PYSOFTMAX_STEP bool needs_wide(T mx, T mn, double temperature) {
        return Masked || !((double(mn) - double(mx)) / temperature >= ExpConsts<T>::fast_min);
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
    // top: the lanes holding the maximum (q = 1 there), for the sum without it (Acc::add).
    template <bool Masked, bool Wide, bool Temp, bool Store>
    static PYSOFTMAX_STEP vec exp_step(vec xv, const uint8_t* m, size_t i, vec vmx, const Scale& sc,
                                       T* y, mask& top) {
        if (Masked) xv = V::select(V::load_mask(m + i), xv, V::set1(-kInf));
        top = V::not_lt(xv, vmx);  // x == max (NaN lanes too: they make the row NaN anyway)
        vec hi, lo;
        shifted<Temp>(xv, vmx, sc, hi, lo);
        const vec f = exp_lo<V, Wide>(hi, lo);
        if (Store) V::storeu(y + i, f);
        return f;
    }

    // Sum over the row of q = exp((x - mx) / T), and the sum without the maximum's term,
    // accumulated in vectors of T within chunks of kChunk elements and across chunks in double
    // (ChunkTotal). float32 sums the terms below the maximum apart (Others) only where they are
    // needed to their own precision, when s < 2: a second pass then, with the same sum s (the
    // same terms in the same order). float64's come from its compensation.
    template <bool Masked, bool Wide, bool Temp, bool Store, bool Others = false>
    static RowSum exp_sum(size_t k, const T* x, const uint8_t* m, T* y, T mx, const Scale& sc) {
        constexpr auto step = exp_step<Masked, Wide, Temp, Store>;
        constexpr size_t chunk = kChunk<V>;
        const vec vmx = V::set1(mx);
        ChunkTotal<V> total;
        const size_t k4 = k - k % (4 * W);
        size_t i = 0;
        while (i < k4) {
            const size_t stop = (k4 - i > chunk) ? i + chunk : k4;
            Acc<V> a0, a1, a2, a3;
            for (; i < stop; i += 4 * W) {
                mask t0, t1, t2, t3;
                const vec f0 = step(V::loadu(x + i), m, i, vmx, sc, y, t0);
                const vec f1 = step(V::loadu(x + i + W), m, i + W, vmx, sc, y, t1);
                const vec f2 = step(V::loadu(x + i + 2 * W), m, i + 2 * W, vmx, sc, y, t2);
                const vec f3 = step(V::loadu(x + i + 3 * W), m, i + 3 * W, vmx, sc, y, t3);
                if (Others) {
                    a0.add(f0, t0), a1.add(f1, t1), a2.add(f2, t2), a3.add(f3, t3);
                } else {
                    a0.add(f0), a1.add(f1), a2.add(f2), a3.add(f3);
                }
            }
            total.add(a0, a1);
            total.add(a2, a3);
        }
        Acc<V> a;
        for (; i + W <= k; i += W) {
            mask t0;
            const vec f0 = step(V::loadu(x + i), m, i, vmx, sc, y, t0);
            if (Others)
                a.add(f0, t0);
            else
                a.add(f0);
        }
        if (i < k) {
            // The tail's padding lanes hold -inf, which only the wide exp maps to 0.
            vec xv = V::load_tail(x + i, k - i, -kInf);
            if (Masked) xv = V::select(V::load_mask_tail(m + i, k - i), xv, V::set1(-kInf));
            vec hi, lo;
            shifted<Temp>(xv, vmx, sc, hi, lo);
            const vec f = exp_lo<V, true>(hi, lo);
            if (Store) V::store_tail(y + i, k - i, f);
            if (Others)
                a.add(f, V::not_lt(xv, vmx));
            else
                a.add(f);
        }
        total.add(a);
        RowSum r = total.value();
        if constexpr (sizeof(T) == 4 && !Others) {
            if (!(r.s >= 2.0)) {
                // Stored: from the values in y (x may be y); the maximum's is the only 1 there
                // when s < 2. Else from x again.
                if (Store) return {r.s, below_one(k, y)};
                return exp_sum<Masked, Wide, Temp, false, true>(k, x, m, y, mx, sc);
            }
            r.other = r.s - 1.0;
        }
        return r;
    }

    // Sum of the stored exp values q[0, k) below 1 (all but a unique maximum's), as exp_sum's
    // sum without the maximum.
    static double below_one(size_t k, const T* q) {
        const vec one = V::set1(T(1));
        ChunkTotal<V> total;
        size_t i = 0;
        while (i + W <= k) {
            const size_t stop = (k - i > kChunk<V>) ? i + kChunk<V> : k;
            Acc<V> a;
            for (; i + W <= stop; i += W) {
                const vec f = V::loadu(q + i);
                a.add(f, V::not_lt(f, one));
            }
            total.add(a);
        }
        double tail = 0.0;
        for (; i < k; ++i) tail += q[i] < T(1) ? double(q[i]) : 0.0;
        const RowSum r = total.value();
        return (r.s < 2.0 ? r.other : r.s - 1.0) + tail;
    }

    // exp_sum with the wide exp or the fast one (needs_wide); the fast exp is never masked:
    // masked rows take the wide one.
    template <bool Masked, bool Temp, bool Store>
    static PYSOFTMAX_STEP RowSum sum_exp(bool wide, size_t k, const T* x, const uint8_t* m, T* y,
                                         T mx, const Scale& sc) {
        return wide ? exp_sum<Masked, true, Temp, Store>(k, x, m, y, mx, sc)
                    : exp_sum<false, false, Temp, Store>(k, x, m, y, mx, sc);
    }

    // ---- pass 3 ----
    // Writes y[0, k): op.full(i) gives the vector of elements [i, i + W), op.tail(i) the last,
    // partial one. (Function objects, not lambdas: GCC does not apply a target region to
    // lambdas.) Streamed stores (cache_policy.h) go on whole vectors aligned in y; the unaligned
    // head is a masked store of a full vector.
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
    static PYSOFTMAX_STEP vec div_step(vec q, vec ih, vec il) {
        return V::fmadd(q, ih, V::mul(q, il));
    }

    // Element `fix` (if < k) gets fix_value instead. q may be y.
    struct ScaleOp {
        const T* q;
        size_t k;
        vec ih, il;
        size_t fix;
        T fix_value;
        vec patch(vec v, size_t i) const {
            return fix - i < W ? with_lane(v, fix - i, fix_value) : v;
        }
        vec full(size_t i) const { return patch(div_step(V::loadu(q + i), ih, il), i); }
        vec tail(size_t i) const {
            return patch(div_step(V::load_tail(q + i, k - i, T(0)), ih, il), i);
        }
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

    static void zero_row(size_t k, T* y) {
        for (size_t j = 0; j < k; ++j) y[j] = T(0);
    }

    // ---- the row kernels ----
    // q: where pass 2 keeps the exp values when the output streams (else y itself).
    template <bool Masked, bool Temp, bool Stream>
    static void softmax_row(size_t k, const T* x, const uint8_t* m, T* y, T* q, double temperature,
                            bool log) {
        T mx, mn;
        max_min<Masked>(k, x, m, mx, mn);
        if (!(mx > -kInf && mx < kInf)) {
            softmax_row_scalar<T>(k, x, m, y, temperature, log);
            return;
        }
        const Scale sc = Scale::of(temperature);
        const bool wide = needs_wide<Masked>(mx, mn, temperature);
        RowSum s;
        if (log)
            s = sum_exp<Masked, Temp, false>(wide, k, x, m, nullptr, mx, sc);
        else
            s = sum_exp<Masked, Temp, true>(wide, k, x, m, q, mx, sc);
        if (!(s.s == s.s)) {
            fill_nan(k, m, y, log ? -kInf : T(0));
            return;
        }
        if (log)
            log_row<Masked, Temp, Stream>(k, x, m, y, mx, sc, s.log());
        else
            scale_row<Stream>(k, q, y, s.s);
    }

    template <bool Masked>
    static T logsumexp_row(size_t k, const T* x, const uint8_t* m) {
        T mx, mn;
        max_min<Masked>(k, x, m, mx, mn);
        if (!(mx > -kInf && mx < kInf)) return logsumexp_row_scalar<T>(k, x, m);
        const bool wide = needs_wide<Masked>(mx, mn, 1.0);
        const RowSum s = sum_exp<Masked, false, false>(wide, k, x, m, nullptr, mx, Scale::unit());
        return T(double(mx) + s.log());
    }
};

}  // namespace simd
}  // namespace pysoftmax
