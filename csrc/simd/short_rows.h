// The short-row block kernels: W rows at a time, one row per lane. For short rows the per-row
// costs of the row kernels (horizontal reductions, a scalar log, a reciprocal in double)
// dominate. Here a block of W unmasked rows is transposed into k column vectors (lane r = row r)
// and every step is vertical: max, exp and sum, then the reciprocal and the log of each lane's
// sum with vector code. A block holding a row that is not finite (or a label the caller failed
// to check) is refused, for the row kernels to redo it: they handle those rows exactly as the
// scalar specification says.
//
// Needs the short-row group of the wrapper concept (simd/wrapper.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels.h"
#include "numerics.h"
#include "simd/accumulators.h"
#include "simd/cache_policy.h"
#include "simd/row_passes.h"
#include "simd/vector_math.h"
#include "simd/wrapper.h"

namespace pysoftmax {
namespace simd {

template <class V>
struct ShortRows {
    static_assert(V::kShortRows, "the block kernels need the wrapper's short-row group");
    using T = typename V::T;
    using vec = typename V::vec;
    using mask = typename V::mask;
    using Pass = RowPasses<V>;
    using Scale = simd::Scale<V>;
    using L = simd::Lanes<V>;
    using D = typename V::Wide;
    static constexpr size_t W = V::W, kH = L::kH;
    static constexpr T kInf = Pass::kInf;
    static constexpr int kAllLanes = (1 << W) - 1;

    // Rows of at most kShortK elements take the block kernels: logsumexp up to 127; softmax,
    // log_softmax and cross-entropy, which also write k values per row, up to kShortStoreK
    // (beyond it the row kernels are faster, by up to 25% at 127 floats). The choice depends on
    // k alone, so that a row's result does not depend on the call's size.
    static constexpr size_t kShortK = 127, kShortStoreK = sizeof(T) == 4 ? 100 : 64;

    // ---- blocks: W rows transposed into columns ----
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
                if (w == W)
                    V::storeu(p, r[i]);
                else
                    V::store_tail(p, w, r[i]);
            }
        }
    }

    // U blocks from rows [0, U W) of x; with contiguous rows of at least kSpanRowBytes, the next
    // U W rows are prefetched (the hardware prefetcher alone left the core waiting for them
    // beyond the caches, about 20% of softmax's time at k = 100). Prefetches never fault, even
    // past the end of x.
    template <size_t U>
    static void load_blocks(size_t k, const T* x, ptrdiff_t ldx, Block* b) {
        for (size_t u = 0; u < U; ++u) load_block(k, x + ptrdiff_t(u * W) * ldx, ldx, b[u]);
        if (ldx == ptrdiff_t(k) && k * sizeof(T) >= kSpanRowBytes) {
            const char* next = reinterpret_cast<const char*>(x + ptrdiff_t(U * W) * ldx);
            for (size_t o = 0; o < U * W * k * sizeof(T); o += kLine) V::prefetch(next + o);
        }
    }

    // The blocks' values back into their U W rows of y. Streamed (stream: the call's output is
    // beyond the caches, and its rows contiguous, CachePolicy::stream_blocks): the rows form one
    // span of y, transposed into a scratch span in L1 first and then written with streaming
    // stores, whole cache lines only (the partial lines at its ends with plain stores), as the
    // row kernels stream.
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

    // ---- per-lane doubles (simd/accumulators.h) ----
    // Each operation written out as its own loop: so written, GCC fuses ce_block's
    // lsub(0, lmul(a, b)) into one multiply-add, as the recorded results have it (through a
    // shared helper it did not).
    static L widen(vec v) { return L::widen(v); }
    static L ladd(const L& a, const L& b) {
        L r;
        for (size_t i = 0; i < kH; ++i) r.h[i] = D::add(a.h[i], b.h[i]);
        return r;
    }
    static L lsub(const L& a, const L& b) {
        L r;
        for (size_t i = 0; i < kH; ++i) r.h[i] = D::sub(a.h[i], b.h[i]);
        return r;
    }
    static L lmul(const L& a, const L& b) {
        L r;
        for (size_t i = 0; i < kH; ++i) r.h[i] = D::mul(a.h[i], b.h[i]);
        return r;
    }
    static L ldiv(const L& a, const L& b) {
        L r;
        for (size_t i = 0; i < kH; ++i) r.h[i] = D::div(a.h[i], b.h[i]);
        return r;
    }
    static L llog(const L& a) {
        L r;
        for (size_t i = 0; i < kH; ++i) r.h[i] = log_ge1<D, T>(a.h[i]);
        return r;
    }
    static L llog1p(const L& a) {
        L r;
        for (size_t i = 0; i < kH; ++i) r.h[i] = log1p_ge0<D, T>(a.h[i]);
        return r;
    }
    // a - narrow(a): the part a T cannot hold
    static vec rest(const L& a) { return lsub(a, widen(a.narrow())).narrow(); }

    // The block kernels below take U blocks at once (kGroup in the loops): each block's chains
    // (the max and sum over its k columns, the log and the reciprocal of its sums) are short
    // and serial, so one block alone leaves the core waiting on latencies; U independent ones
    // fill them. Lanes are independent, so a row's result does not depend on U.
    static constexpr size_t kGroup = 2;

    // ---- pass 1 ----
    // Over U blocks: each lane's maximum; ok = every lane's maximum is finite; wide = some lane
    // spreads beyond the fast exp's range.
    template <size_t U>
    static void block_max(size_t k, const Block* b, double temperature, vec* m, bool& ok,
                          bool& wide) {
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
            wide = wide ||
                   V::lanes(V::not_lt(spread, V::set1(T(ExpConsts<T>::fast_min)))) != kAllLanes;
        }
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

    // ---- pass 2 ----
    // Each lane's sum s of q_j = exp((x_j - m) / T), and o = s - 1, its sum without the
    // maximum's term (LaneAcc::other); q_j replaces x_j when Store.
    template <size_t U, bool Wide, bool Temp, bool Store>
    static void block_exp(size_t k, Block* b, const vec* m, const Scale& sc, L* s, L* o) {
        constexpr size_t chunk = kLaneChunk<V>;
        LaneAcc<V> a[U];
        for (size_t j0 = 0; j0 < k; j0 += chunk) {
            const size_t j1 = k - j0 > chunk ? j0 + chunk : k;
            for (size_t j = j0; j < j1; ++j)
                for (size_t u = 0; u < U; ++u) {
                    const vec xv = b[u].col(j);
                    vec hi, lo;
                    Pass::template shifted<Temp>(xv, m[u], sc, hi, lo);
                    const vec q = exp_lo<V, Wide>(hi, lo);
                    a[u].add(q, V::eq(xv, m[u]));  // not NaN lanes: they make the sum NaN
                    if (Store) b[u].set(j, q);
                }
            for (size_t u = 0; u < U; ++u) a[u].flush();
        }
        for (size_t u = 0; u < U; ++u) s[u] = a[u].value(), o[u] = a[u].other();
    }

    template <size_t U>
    static bool all_numbers(const L* s) {
        bool all = true;
        for (size_t u = 0; u < U; ++u) {
            const vec n = s[u].narrow();
            all = all && V::lanes(V::eq(n, n)) == kAllLanes;
        }
        return all;
    }

    // block_exp with the wide exp or the fast one, q stored when `store`; false if some lane's
    // sum is NaN (a NaN that the maxima skipped).
    template <size_t U, bool Temp>
    static bool block_sum(size_t k, Block* b, const vec* m, const Scale& sc, bool wide, bool store,
                          L* s, L* o) {
        if (store) {
            if (wide)
                block_exp<U, true, Temp, true>(k, b, m, sc, s, o);
            else
                block_exp<U, false, Temp, true>(k, b, m, sc, s, o);
        } else {
            if (wide)
                block_exp<U, true, Temp, false>(k, b, m, sc, s, o);
            else
                block_exp<U, false, Temp, false>(k, b, m, sc, s, o);
        }
        return all_numbers<U>(s);
    }

    // Each lane's sum of its column j's values over j != y (y: the lane's label), summed as
    // block_exp sums.
    template <size_t U>
    static void block_others(size_t k, const Block* b, const vec* y, L* s) {
        constexpr size_t chunk = kLaneChunk<V>;
        LaneAcc<V> a[U];
        vec jv = V::set1(T(0));
        for (size_t j0 = 0; j0 < k; j0 += chunk) {
            const size_t j1 = k - j0 > chunk ? j0 + chunk : k;
            for (size_t j = j0; j < j1; ++j, jv = V::add(jv, V::set1(T(1))))
                for (size_t u = 0; u < U; ++u)
                    a[u].add(V::select(V::eq(y[u], jv), V::set1(T(0)), b[u].col(j)));
            for (size_t u = 0; u < U; ++u) a[u].flush();
        }
        for (size_t u = 0; u < U; ++u) s[u] = a[u].value();
    }

    // ---- the block kernels: false if the blocks need the row kernels (nothing written) ----
    // softmax / log_softmax of U W rows.
    template <size_t U, bool Temp>
    static bool softmax_block(size_t k, const T* x, ptrdiff_t ldx, T* y, ptrdiff_t ldy,
                              double temperature, bool log, bool stream) {
        Block b[U];
        vec m[U];
        bool wide;
        if (!load_max<U>(k, x, ldx, temperature, b, m, wide)) return false;
        const Scale sc = Scale::of(temperature);
        L s[U], o[U];
        if (!block_sum<U, Temp>(k, b, m, sc, wide, !log, s, o)) return false;
        if (log && !Temp) {
            // as log_step: (x - c_hi) - c_lo with c_hi + c_lo = m + log s in each lane
            // (log s = log1p(o), accurate near 0)
            vec c_hi[U], c_lo[U];
            for (size_t u = 0; u < U; ++u) {
                const L mw = widen(m[u]), ls = llog1p(o[u]), c = ladd(mw, ls), bb = lsub(c, mw);
                const L err = ladd(lsub(mw, lsub(c, bb)), lsub(ls, bb));  // TwoSum's rounding
                c_hi[u] = c.narrow();
                c_lo[u] = ladd(lsub(c, widen(c_hi[u])), err).narrow();
            }
            for (size_t j = 0; j < k; ++j)
                for (size_t u = 0; u < U; ++u)
                    b[u].set(j, V::sub(V::sub(b[u].col(j), c_hi[u]), c_lo[u]));
        } else if (log) {
            vec ls_hi[U], ls_lo[U];
            for (size_t u = 0; u < U; ++u) {
                const L ls = llog1p(o[u]);
                ls_hi[u] = ls.narrow();
                ls_lo[u] = rest(ls);
            }
            for (size_t j = 0; j < k; ++j)
                for (size_t u = 0; u < U; ++u) {
                    vec hi, lo;
                    Pass::template shifted<Temp>(b[u].col(j), m[u], sc, hi, lo);
                    // (t_hi - log s) + (t_lo - log s's low part); -inf stays -inf
                    const vec lo_k = V::keep(V::gt(hi, V::set1(-kInf)), lo);
                    b[u].set(j, V::add(V::sub(hi, ls_hi[u]), V::sub(lo_k, ls_lo[u])));
                }
        } else {
            vec ih_v[U], il_v[U];
            for (size_t u = 0; u < U; ++u) {
                const L inv = ldiv(widen(V::set1(T(1))), s[u]);
                ih_v[u] = inv.narrow();
                il_v[u] = rest(inv);
            }
            for (size_t j = 0; j < k; ++j)
                for (size_t u = 0; u < U; ++u)
                    b[u].set(j, Pass::div_step(b[u].col(j), ih_v[u], il_v[u]));
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
        L s[U], o[U];
        if (!block_sum<U, false>(k, b, m, Scale::unit(), wide, false, s, o)) return false;
        alignas(64) T r[U * W];
        for (size_t u = 0; u < U; ++u)
            V::storeu(r + u * W, ladd(widen(m[u]), llog1p(o[u])).narrow());
        for (size_t i = 0; i < U * W; ++i) y[ptrdiff_t(i) * incy] = r[i];
        return true;
    }

    // Cross-entropy against class indices without smoothing for U W rows (as ce_label_row):
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
        vec yv[U];
        for (size_t u = 0; u < U; ++u) yv[u] = V::loadu(yl + u * W);
        L s[U], o[U];
        if (!block_sum<U, false>(k, b, m, Scale::unit(), wide, true, s, o)) return false;
        for (size_t i = 0; i < R; ++i) qy[i] = yl[i] < T(0) ? T(1) : b[i / W].c[at[i]];
        // other = s - q_y, summed on its own in lanes where the label holds most of the mass
        L q[U], other[U];
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
            L exact[U];
            block_others<U>(k, b, yv, exact);
            for (size_t u = 0; u < U; ++u)
                for (size_t i = 0; i < kH; ++i)
                    other[u].h[i] = D::select(confident[u][i], exact[u].h[i], other[u].h[i]);
        }
        // loss per lane: log1p(other / q_y) while q_y is normal, else log s - (x_y - m)
        L near[U];
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
            const L far = all_near
                              ? near[u]
                              : lsub(llog(s[u]), lsub(widen(V::loadu(ty + u * W)), widen(m[u])));
            for (size_t i = 0; i < kH; ++i)
                D::storeu(lv + u * W + i * D::W, D::select(is_near[u][i], near[u].h[i], far.h[i]));
        }
        for (size_t i = 0; i < R; ++i) loss[i] = cd[i] * lv[i];
        if (g) {
            vec ch[U], cr[U], gy[U];
            for (size_t u = 0; u < U; ++u) {
                const L cs = ldiv(widen(V::loadu(cl + u * W)), s[u]);
                ch[u] = cs.narrow();
                cr[u] = rest(cs);
                gy[u] = lsub(widen(V::set1(T(0))), lmul(cs, other[u])).narrow();
            }
            vec jv = V::set1(T(0));
            for (size_t j = 0; j < k; ++j, jv = V::add(jv, V::set1(T(1))))
                for (size_t u = 0; u < U; ++u)
                    b[u].set(j, V::select(V::eq(yv[u], jv), gy[u],
                                          Pass::div_step(b[u].col(j), ch[u], cr[u])));
            store_blocks<U>(k, b, g, ldg, stream);
        }
        return true;
    }
};

}  // namespace simd
}  // namespace pysoftmax
