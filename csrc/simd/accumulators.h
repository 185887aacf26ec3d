// The sums of the row kernels: vector accumulators within a chunk of a row, the row's total over
// its chunks in double, and per-lane doubles ("Lanes") for the short-row blocks, whose lanes are
// rows. Every sum is formed in one fixed order that depends on the row's length alone.
#pragma once

#include <cstddef>

#include "numerics.h"
#include "simd/wrapper.h"

namespace pysoftmax {
namespace simd {

// Elements summed in vectors of T before the chunk's sums go on in double (4 terms per lane of
// each of exp_sum's 4 accumulators). Within a chunk the terms of these sums (exp values, all
// >= 0) are added plainly: a relative error of at most 3 eps per lane. float32's chunks are
// then summed on in double lanes, float64's with compensation (ChunkTotal).
template <class V>
constexpr size_t kChunk = 16 * V::W;

// A vector accumulator. Compensated (float64's default, for sums of either sign): each lane's
// rounding errors are kept (TwoSum) and added back at the end. Plain: the chunks of exp_sum
// (PositiveAcc).
template <class V, bool Compensated = sizeof(typename V::T) == 8>
struct Acc {
    using T = typename V::T;
    using vec = typename V::vec;
    static constexpr bool kCompensated = Compensated;
    vec s, c;
    // Explicit, always inlined: GCC compiles an implicit constructor without the target region's
    // attributes, which kept the accumulators in memory (a store-forwarding chain).
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

// The accumulator of a chunk of exp_sum's (and sum_row's) terms, which are >= 0.
template <class V>
using PositiveAcc = Acc<V, false>;

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
// lane by lane in double (widened), one horizontal sum when the row ends. float64: each chunk's
// horizontal sums are added with compensation, as the scalar specification adds its terms.
template <class V>
struct ChunkTotal {
    using vec = typename V::vec;
    using D = typename V::Wide;
    static constexpr size_t kH = Lanes<V>::kH;
    static constexpr bool kF64 = sizeof(typename V::T) == 8;
    Lanes<V> s;
    CompensatedSum c;
    PYSOFTMAX_STEP ChunkTotal() : s{}, c() {}
    PYSOFTMAX_STEP void add(vec a, vec b) {
        if constexpr (kF64) {
            c.add(V::hsum(a));
            c.add(V::hsum(b));
        } else {
            for (size_t i = 0; i < kH; ++i)
                s.h[i] = D::add(s.h[i], D::add(V::widen(a, int(i)), V::widen(b, int(i))));
        }
    }
    PYSOFTMAX_STEP void add(vec a) {
        if constexpr (kF64)
            c.add(V::hsum(a));
        else
            for (size_t i = 0; i < kH; ++i) s.h[i] = D::add(s.h[i], V::widen(a, int(i)));
    }
    double value() const {
        if constexpr (kF64) return c.value();
        double t = 0.0;
        for (size_t i = 0; i < kH; ++i) t += D::hsum(s.h[i]);
        return t;
    }
};

// A lane accumulator in double, for the short-row blocks. float lanes add kLaneChunk terms in
// float (as exp_sum's chunks) and go on in double (a float sum over a short row's lanes would
// cost log_softmax its bound); double lanes are compensated.
template <class V>
constexpr size_t kLaneChunk = sizeof(typename V::T) == 4 ? 2 : ~size_t(0);

template <class V>
struct LaneAcc {
    using T = typename V::T;
    using vec = typename V::vec;
    using D = typename V::Wide;
    static constexpr size_t kH = Lanes<V>::kH;
    Lanes<V> s;
    Acc<V> acc;
    vec part;
    PYSOFTMAX_STEP LaneAcc() : s{}, acc(), part(V::set1(T(0))) {}  // explicit, as Acc's
    PYSOFTMAX_STEP void add(vec q) {
        if constexpr (sizeof(T) == 4)
            part = V::add(part, q);
        else
            acc.add(q);
    }
    PYSOFTMAX_STEP void flush() {  // after each chunk
        if constexpr (sizeof(T) == 4) {
            for (size_t i = 0; i < kH; ++i) s.h[i] = D::add(s.h[i], V::widen(part, int(i)));
            part = V::set1(T(0));
        }
    }
    Lanes<V> value() const {
        if constexpr (sizeof(T) == 4)
            return s;
        else
            return Lanes<V>::widen(acc.value());
    }
};

}  // namespace simd
}  // namespace pysoftmax
