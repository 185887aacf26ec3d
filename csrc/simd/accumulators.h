// The sums of the row kernels: vector accumulators within a chunk of a row, the row's total over
// its chunks in double, and per-lane doubles ("Lanes") for the short-row blocks, whose lanes are
// rows. Every sum is formed in one fixed order that depends on the row's length alone.
#pragma once

#include <cstddef>

#include "numerics.h"
#include "simd/wrapper.h"

namespace pysoftmax {
namespace simd {

// Elements summed in vectors of T before the chunk's sums go on in double (float32: 4 terms per
// lane of each of exp_sum's 4 accumulators; float64's accumulators are compensated and never
// leave the row).
template <class V>
constexpr size_t kChunk = sizeof(typename V::T) == 4 ? 16 * V::W : ~size_t(0);

// A vector accumulator. float64 keeps each lane's rounding errors (TwoSum) and adds them back at
// the end: its exp is FMA-bound, so these adds run on otherwise idle ports. float32 needs no
// compensation: its chunks are short and summed on in double.
// The sum of a row's exp values is s = 1 + o, the 1 being the maximum's exp(0) and o the sum over
// the other entries, which may be far below the rounding of 1 (log s = log1p(o) near 0 needs o
// to its own precision). float64 recovers o from the compensated lanes (ChunkTotal); float32
// also sums, in `o`, the terms of the entries below the maximum (add(f, top): top marks the
// lanes equal to the maximum).
template <class V>
struct Acc {
    using T = typename V::T;
    using vec = typename V::vec;
    using mask = typename V::mask;
    static constexpr bool kCompensated = sizeof(T) == 8;
    vec s, c, o;
    // Explicit, always inlined: GCC compiles an implicit constructor without the target region's
    // attributes, which kept the accumulators in memory (a store-forwarding chain).
    PYSOFTMAX_STEP Acc() : s(V::set1(T(0))), c(V::set1(T(0))), o(V::set1(T(0))) {}
    PYSOFTMAX_STEP void add(vec f) {
        if (kCompensated) {
            const vec t = V::add(s, f), bp = V::sub(t, s);
            c = V::add(c, V::add(V::sub(s, V::sub(t, bp)), V::sub(f, bp)));
            s = t;
        } else {
            s = V::add(s, f);
        }
    }
    // f's lanes marked `top` hold the maximum's term (1).
    PYSOFTMAX_STEP void add(vec f, mask top) {
        add(f);
        if (!kCompensated) o = V::add(o, V::select(top, V::set1(T(0)), f));
    }
    // Adds the sums of a (float64: the sums by TwoSum, the compensations added).
    PYSOFTMAX_STEP void absorb(const Acc& a) {
        if (kCompensated) {
            const vec t = V::add(s, a.s), bp = V::sub(t, s);
            c = V::add(c, V::add(a.c, V::add(V::sub(s, V::sub(t, bp)), V::sub(a.s, bp))));
            s = t;
        } else {
            s = V::add(s, a.s);
            o = V::add(o, a.o);
        }
    }
    vec value() const { return kCompensated ? V::add(s, c) : s; }
};

// W per-lane doubles: float lanes widened into W / Wide::W vectors of double, double lanes as
// they are. The short-row blocks form their per-row sums, logs and reciprocals in double, as the
// row kernels do.
template <class V>
struct Lanes {
    using D = typename V::Wide;
    using dvec = typename D::vec;
    static constexpr size_t kH = V::W / D::W;
    dvec h[kH];
    static Lanes widen(typename V::vec v) {
        Lanes r;
        for (size_t i = 0; i < kH; ++i) r.h[i] = V::widen(v, int(i));
        return r;
    }
    typename V::vec narrow() const { return V::narrow(h); }  // rounded to T
};

// A row's total over its chunks (exp_sum, sum_row). float32: each chunk's vector sums are added
// lane by lane in double (widened), one horizontal sum when the row ends; the sums without the
// maximum's term likewise. float64 has one chunk per row (its accumulators are compensated): the
// lanes of their sums, then the sum of their rounding errors, are added with compensation, as
// the scalar specification adds its terms; the sum without the maximum's 1 is then
// (sum - 1) + err, exact in its first part (Sterbenz: 1 <= sum < 2 when it matters).
template <class V>
struct ChunkTotal {
    using T = typename V::T;
    using vec = typename V::vec;
    using D = typename V::Wide;
    static constexpr size_t W = V::W, kH = Lanes<V>::kH;
    static constexpr bool kF64 = sizeof(T) == 8;
    Lanes<V> s, o;
    CompensatedSum c;
    PYSOFTMAX_STEP ChunkTotal() : s{}, o{}, c() {}
    PYSOFTMAX_STEP void add(const Acc<V>& a) {
        if constexpr (kF64) {
            alignas(64) T lane[W];
            V::storeu(lane, a.s);
            for (size_t i = 0; i < W; ++i) c.add(lane[i]);
            c.add(V::hsum(a.c));
        } else {
            for (size_t i = 0; i < kH; ++i) {
                s.h[i] = D::add(s.h[i], V::widen(a.s, int(i)));
                o.h[i] = D::add(o.h[i], V::widen(a.o, int(i)));
            }
        }
    }
    PYSOFTMAX_STEP void add(const Acc<V>& a, const Acc<V>& b) {
        add(a);
        add(b);
    }
    // The row's sum (only `s` is meaningful for a sum without the maximum, as sum_row's).
    RowSum value() const {
        if constexpr (kF64) return {c.value(), (c.sum - 1.0) + c.err};
        double t = 0.0, to = 0.0;
        for (size_t i = 0; i < kH; ++i) t += D::hsum(s.h[i]), to += D::hsum(o.h[i]);
        // o sums every entry below the maximum: s - 1 exactly when the maximum is unique, which
        // it is when s < 2; beyond, s - 1 is as accurate as s
        return {t, t < 2.0 ? to : t - 1.0};
    }
};

// A lane accumulator in double, for the short-row blocks. float lanes add kLaneChunk terms in
// float (as exp_sum's chunks) and go on in double (a float sum over a short row's lanes would
// cost log_softmax its bound); double lanes are compensated, within chunks of kLaneChunk terms
// and across them (TwoSum of the chunks' sums): once a lane's maximum (1) is in, the smaller
// terms live in the compensation, a plain sum, which is so kept short.
template <class V>
constexpr size_t kLaneChunk = sizeof(typename V::T) == 4 ? 2 : 8;

template <class V>
struct LaneAcc {
    using T = typename V::T;
    using vec = typename V::vec;
    using mask = typename V::mask;
    using D = typename V::Wide;
    static constexpr size_t kH = Lanes<V>::kH;
    // float: s sums the terms not marked top (as a chunk's part, then in double) and n counts the
    // marked ones (exactly, in float); the lane's sum is n + s. double: s.h[0] + c.h[0] (sum and
    // compensation) over the chunks.
    Lanes<V> s, c;
    Acc<V> acc;
    vec part, n;
    PYSOFTMAX_STEP LaneAcc() : s{}, c{}, acc(), part(V::set1(T(0))), n(V::set1(T(0))) {}
    PYSOFTMAX_STEP void add(vec q) {
        if constexpr (sizeof(T) == 4)
            part = V::add(part, q);
        else
            acc.add(q);
    }
    // q's lanes marked `top` hold their row's maximum's term (1).
    PYSOFTMAX_STEP void add(vec q, mask top) {
        if constexpr (sizeof(T) == 4) {
            part = V::add(part, V::select(top, V::set1(T(0)), q));
            n = V::add(n, V::keep(top, V::set1(T(1))));
        } else {
            acc.add(q);
        }
    }
    // double: the chunk's compensated sum goes to s.h[0] + c.h[0] by TwoSum.
    PYSOFTMAX_STEP void flush() {  // after each chunk
        if constexpr (sizeof(T) == 4) {
            for (size_t i = 0; i < kH; ++i) s.h[i] = D::add(s.h[i], V::widen(part, int(i)));
            part = V::set1(T(0));
        } else {
            const vec hs = s.h[0], t = V::add(hs, acc.s), bp = V::sub(t, hs);
            const vec e = V::add(V::sub(hs, V::sub(t, bp)), V::sub(acc.s, bp));
            c.h[0] = V::add(c.h[0], V::add(acc.c, e));
            s.h[0] = t;
            acc = Acc<V>();
        }
    }
    Lanes<V> value() const {  // after flush()
        if constexpr (sizeof(T) == 4) {
            Lanes<V> r;
            for (size_t i = 0; i < kH; ++i) r.h[i] = D::add(V::widen(n, int(i)), s.h[i]);
            return r;
        } else {
            return Lanes<V>::widen(V::add(s.h[0], c.h[0]));
        }
    }
    // Each lane's sum without (one occurrence of) its maximum's term, as ChunkTotal::value's
    // `other` (after add(q, top)): float (n - 1) + s, double (sum - 1) + compensation.
    Lanes<V> other() const {
        if constexpr (sizeof(T) == 4) {
            Lanes<V> r;
            const vec m1 = V::sub(n, V::set1(T(1)));
            for (size_t i = 0; i < kH; ++i) r.h[i] = D::add(V::widen(m1, int(i)), s.h[i]);
            return r;
        } else {
            return Lanes<V>::widen(V::add(V::sub(s.h[0], V::set1(T(1))), c.h[0]));
        }
    }
};

}  // namespace simd
}  // namespace pysoftmax
