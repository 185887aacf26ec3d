// Cross-entropy rows: the loss of one row and, when asked, its gradient, over the row passes
// (simd/row_passes.h). Against a class index without label smoothing, the common case, they are
// the softmax passes with the gradient written over the exp values; against probabilities, or
// with label smoothing, pass 2 also forms the target sums. The formulas are the scalar
// specification's (scalar.cpp); rows it must decide (a maximum that is not finite, a label
// outside the row) go to it.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "kernels.h"
#include "numerics.h"
#include "simd/accumulators.h"
#include "simd/row_passes.h"
#include "simd/vector_math.h"
#include "simd/wrapper.h"

namespace pysoftmax {
namespace simd {

template <class V>
struct CrossEntropyRows {
    using T = typename V::T;
    using vec = typename V::vec;
    using mask = typename V::mask;
    using Pass = RowPasses<V>;
    using Scale = simd::Scale<V>;
    static constexpr size_t W = V::W;
    static constexpr T kInf = Pass::kInf;

    // Whether class index y is one of the row's; the scalar specification decides the others.
    static PYSOFTMAX_STEP bool in_row(int64_t y, size_t k) { return y >= 0 && uint64_t(y) < k; }

    // ---- the others' mass, when the label holds most of it ----
    // Sum of q[0, n), added in exp_sum's order (its accumulators, chunks and tail), so that the
    // sum of stored exp values equals the sum exp_sum forms of them: the loss of a row is the
    // same with and without its gradient.
    static double sum_row(size_t n, const T* q) {
        constexpr size_t chunk = kChunk<V>;
        ChunkTotal<V> total;
        const size_t n4 = n - n % (4 * W);
        size_t i = 0;
        while (i < n4) {
            const size_t stop = (n4 - i > chunk) ? i + chunk : n4;
            Acc<V> a0, a1, a2, a3;
            for (; i < stop; i += 4 * W) {
                a0.add(V::loadu(q + i));
                a1.add(V::loadu(q + i + W));
                a2.add(V::loadu(q + i + 2 * W));
                a3.add(V::loadu(q + i + 3 * W));
            }
            total.add(a0, a1);
            total.add(a2, a3);
        }
        Acc<V> a;
        for (; i + W <= n; i += W) a.add(V::loadu(q + i));
        if (i < n) a.add(V::load_tail(q + i, n - i, T(0)));
        total.add(a);
        return total.value().s;
    }

    // Sum of exp(x - mx) over x[0, n) (a row's part without its label).
    template <bool Masked>
    static double others_exp(size_t n, const T* x, const uint8_t* m, T mx, bool wide) {
        return Pass::template sum_exp<Masked, false, false>(wide, n, x, m, nullptr, mx,
                                                            Scale::unit())
            .s;
    }

    // When the label j holds most of the row's mass (q_y > s / 2), log s - t_y and
    // p_y - 1 = -(s - q_y) / s both cancel. The others' mass is then summed on its own, from the
    // exp values in q when `stored`, else again from x, and the loss is log1p(other / q_y), as
    // the scalar specification does: a confident row keeps its tiny loss. Returns whether the
    // label dominates; nll and other are set then.
    template <bool Masked>
    static PYSOFTMAX_STEP bool dominant_label(size_t k, size_t j, const T* x, const uint8_t* m,
                                              bool stored, const T* q, T mx, bool wide, double s,
                                              double qy, double& nll, double& other) {
        if (!(qy > 0.5 * s)) return false;
        other = stored ? sum_row(j, q) + sum_row(k - j - 1, q + j + 1)
                       : others_exp<Masked>(j, x, m, mx, wide) +
                             others_exp<Masked>(k - j - 1, x + j + 1, Masked ? m + j + 1 : nullptr,
                                                mx, wide);
        nll = std::log1p(other / qy);
        return true;
    }

    // ---- against a class index y without label smoothing ----
    // The softmax passes with the gradient a w[y] (p - onehot(y)) written over q (a = scale).
    // q: where the exp values wait when the gradient streams (else g itself).
    template <bool Masked, bool Stream>
    static double ce_label_row(size_t k, const T* x, int64_t y, const T* weight, const uint8_t* m,
                               T* g, T* q, const CrossEntropyParams& p) {
        if (y == p.ignore_index) {
            if (g) Pass::zero_row(k, g);
            return 0.0;
        }
        T mx, mn;
        Pass::template max_min<Masked>(k, x, m, mx, mn);
        if (!(mx > -kInf && mx < kInf) || !in_row(y, k))
            return cross_entropy_row_scalar<T>(k, x, y, nullptr, weight, m, g, p);
        double hi, lo;  // x[y] - max, read before the gradient may overwrite x
        two_diff(double(x[y]), double(mx), hi, lo);
        const double ty = std::isfinite(hi) ? hi + lo : hi;
        const bool wide = Pass::template needs_wide<Masked>(mx, mn, 1.0);
        const Scale sc = Scale::unit();
        double s;
        if (g)
            s = Pass::template sum_exp<Masked, false, true>(wide, k, x, m, q, mx, sc).s;
        else
            s = Pass::template sum_exp<Masked, false, false>(wide, k, x, m, nullptr, mx, sc).s;
        if (!(s == s)) {  // a NaN that max() skipped
            if (g) Pass::fill_nan(k, m, g, T(0));
            return double(__builtin_nan(""));
        }
        const double wy = weight ? double(weight[y]) : 1.0, qy = std::exp(ty);
        // log s - t_y, and p_y - 1 = -(s - q_y) / s
        double nll = std::log(s) - ty, gy = qy / s - 1.0, other = 0.0;
        if (dominant_label<Masked>(k, size_t(y), x, m, g != nullptr, q, mx, wide, s, qy, nll,
                                   other))
            gy = -other / s;
        if (g) {
            const double c = p.scale * wy;
            if (c == 0.0) {
                Pass::zero_row(k, g);
            } else {
                Pass::template scale_row<Stream>(k, q, g, s / c, size_t(y), T(c * gy));
            }
        }
        return p.scale * wy * nll;
    }

    // ---- against probabilities, or class indices with label smoothing ----
    // The scalar specification's formulas (scalar.cpp), W lanes at a time. Pass 2 forms q, s
    // and the target sums; pass 3 writes grad_j = p_j c1 - a w_j t'_j (probabilities,
    // t' = (1 - e) t + e / K') or p_j c1 - a e w_j / K' (smoothing, the label's entry patched).
    // Sums run in T vectors within chunks of kChunk elements and in double across chunks.
    // s: the sum of q (s.log() = log s, accurate near 0, where the targets sit on the maximum).
    // spilled: x - max overflowed T for a finite x (a float32 row spread beyond FLT_MAX), or
    // the sum of w t' (x - max) in T did: the scalar specification, in double, decides then.
    struct TargetSums {
        RowSum s;
        double wt, wtx, wsum;
        bool spilled;
    };

    // W ones, for the tail of an unweighted row.
    static const T* one_block() {
        alignas(64) static const T ones[16] = {T(1), T(1), T(1), T(1), T(1), T(1), T(1), T(1),
                                               T(1), T(1), T(1), T(1), T(1), T(1), T(1), T(1)};
        return ones;
    }

    template <bool Masked, bool Soft>
    static TargetSums target_sums(size_t k, const T* x, const T* probs, const T* weight,
                                  const uint8_t* m, T* q, T mx, bool wide, T keep_t, T spread) {
        // float64 sums q in one accumulator here, not exp_sum's 4: in chunks, absorbed into
        // `run`, so that the compensation of the lane holding the maximum (a plain sum of the
        // terms after it) stays short
        constexpr size_t chunk = sizeof(T) == 8 ? 16 * W : kChunk<V>;
        const vec vmx = V::set1(mx), one = V::set1(T(1)), ninf = V::set1(-kInf);
        const vec vkeep = V::set1(keep_t), vspread = V::set1(spread), zero = V::set1(T(0));
        const Scale sc{one, zero};
        ChunkTotal<V> s;                      // as exp_sum sums q
        Acc<V> run;                           // float64: the chunks' sums of q
        CompensatedSum wt, wtx, wsum, zmass;  // zmass: target weight on -inf logits
        int far = 0;                          // lanes whose x - max overflowed (wide rows only)
        size_t i = 0;
        while (i < k) {
            const size_t stop = k - i > chunk ? i + chunk : k;
            Acc<V> as, awt, awtx, aws, az;
            for (; i < stop; i += W) {
                const size_t n = stop - i < W ? stop - i : W;
                vec xv = n == W ? V::loadu(x + i) : V::load_tail(x + i, n, -kInf);
                vec wv = weight
                             ? (n == W ? V::loadu(weight + i) : V::load_tail(weight + i, n, T(0)))
                             : (n == W ? one : V::load_tail(one_block(), n, T(0)));
                if (Masked) {
                    const mask mv = n == W ? V::load_mask(m + i) : V::load_mask_tail(m + i, n);
                    xv = V::select(mv, xv, ninf);
                    wv = V::keep(mv, wv);
                }
                vec hi, lo;
                Pass::template shifted<false>(xv, vmx, sc, hi, lo);
                // a partial vector's padding lanes hold -inf, which only the wide exp maps to 0
                const vec qv = (wide || n < W) ? exp_lo<V, true>(hi, lo) : exp_lo<V, false>(hi, lo);
                if (q) {
                    if (n == W)
                        V::storeu(q + i, qv);
                    else
                        V::store_tail(q + i, n, qv);
                }
                as.add(qv, V::not_lt(xv, vmx));
                const mask fin = V::gt(hi, ninf);
                const vec t = V::keep(fin, V::add(hi, V::keep(fin, lo)));  // x - max; 0 at -inf
                if (wide) far |= V::lanes(V::gt(xv, ninf)) & ~V::lanes(fin);
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
            if constexpr (sizeof(T) == 8)
                run.absorb(as);
            else
                s.add(as);
            wtx.add(V::hsum(awtx.value()));
            zmass.add(V::hsum(az.value()));
            if (Soft)
                wt.add(V::hsum(awt.value()));
            else
                wsum.add(V::hsum(aws.value()));
        }
        if constexpr (sizeof(T) == 8) s.add(run);
        double wtx_v = wtx.value();
        const bool spilled = far != 0 || !std::isfinite(wtx_v);
        // a target weight on a -inf logit makes the loss infinite (as w * t in the scalar spec)
        if (const double z = zmass.value(); z != 0.0) wtx_v += z * -double(kInf);
        return {s.value(), wt.value(), wtx_v, wsum.value(), spilled};
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
            return fix - i < W ? Pass::with_lane(v, fix - i, fix_value) : v;
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
            vec r = step(V::load_tail(q + i, n, T(0)), Soft ? V::load_tail(probs + i, n, T(0)) : wv,
                         wv);
            if (Masked) r = V::keep(V::load_mask_tail(m + i, n), r);
            return Soft ? r : patch(r, i);
        }
    };

    template <bool Masked, bool Soft>
    static double ce_target_row(size_t k, const T* x, int64_t y, const T* probs, const T* weight,
                                const uint8_t* m, T* g, const CrossEntropyParams& p) {
        if (!Soft && y == p.ignore_index) {
            if (g) Pass::zero_row(k, g);
            return 0.0;
        }
        T mx, mn;
        Pass::template max_min<Masked>(k, x, m, mx, mn);
        if (!(mx > -kInf && mx < kInf) || (!Soft && !in_row(y, k)))
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
        const bool wide = Pass::template needs_wide<Masked>(mx, mn, 1.0);
        // q: where pass 2 keeps the exp values, g itself unless g is x, which a row whose sums
        // overflow reads again (below)
        T* q = g;
        if (g != nullptr && g == x)
            if (T* scratch = static_cast<T*>(thread_scratch(k * sizeof(T)))) q = scratch;
        const TargetSums r = target_sums<Masked, Soft>(k, x, probs, weight, m, q, mx, wide,
                                                       T(1.0 - e), T(e / double(kin)));
        if (!(r.s.s == r.s.s)) {  // a NaN that max() skipped
            if (g) Pass::fill_nan(k, m, g, T(0));
            return double(__builtin_nan(""));
        }
        const double ls = r.s.log();
        double loss, c1, other_s = 0.0;
        if (Soft) {
            loss = a * (r.wt * ls - r.wtx);
            c1 = a * r.wt;
        } else {
            const double wy = weight ? double(weight[y]) : 1.0, qy = std::exp(ty);
            double nll = ls - ty, other = 0.0;
            other_s = (r.s.s - qy) / r.s.s;
            if (dominant_label<Masked>(k, size_t(y), x, m, g != nullptr, q, mx, wide, r.s.s, qy,
                                       nll, other))
                other_s = other / r.s.s;
            loss = a * (1.0 - e) * wy * nll + a * e / double(kin) * (r.wsum * ls - r.wtx);
            c1 = a * ((1.0 - e) * wy + e / double(kin) * r.wsum);
        }
        // Sums that overflowed T (TargetSums::spilled): the scalar specification decides, from
        // x (still there unless q is x: no scratch memory) in double.
        if (r.spilled && q != x)
            return cross_entropy_row_scalar<T>(k, x, y, probs, weight, m, g, p);
        if (g) {
            T fix_value = T(0);
            if (!Soft) {
                const double wy = weight ? double(weight[y]) : 1.0, py = std::exp(ty) / r.s.s;
                fix_value =
                    T(-a * (1.0 - e) * wy * other_s + a * e / double(kin) * (py * r.wsum - wy));
            }
            const TargetGradOp<Masked, Soft> op{q,
                                                probs,
                                                weight,
                                                m,
                                                k,
                                                V::set1(T(c1 / r.s.s)),
                                                V::set1(T(a * (1.0 - e))),
                                                V::set1(T(a * e / double(kin))),
                                                Soft ? size_t(-1) : size_t(y),
                                                fix_value};
            Pass::template write_row<false>(k, g, op);
        }
        return loss;
    }

    template <bool Masked>
    static double ce_target_row(size_t k, const T* x, int64_t y, const T* probs, const T* weight,
                                const uint8_t* m, T* g, const CrossEntropyParams& p) {
        return probs ? ce_target_row<Masked, true>(k, x, y, probs, weight, m, g, p)
                     : ce_target_row<Masked, false>(k, x, y, probs, weight, m, g, p);
    }
};

}  // namespace simd
}  // namespace pysoftmax
