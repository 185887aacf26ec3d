// The floors of the row kernels, over a wrapper V: the least work a kernel must do with its
// logits, timed by the benchmark on the machine it runs on (the FloorSet of kernels.h).
//   stream_copy  y = x with the kernels' non-temporal stores: one read and one write of every
//                byte (the floor of softmax, log_softmax and cross-entropy with gradient)
//   read_max     the maximum of x, 4 accumulators: one read of every byte (logsumexp, the loss)
//   exp_sum      sum of exp(x - shift) by the kernels' own exp (its fast variant), 4
//                accumulators, `repeat` times over x (an L1-resident part): the exp floor
//   exp_store    y = exp(x - shift), `repeat` times: the bare exp beside it
// exp_sum and exp_store are exact to the kernels' exp where shift - fast_min <= x <= shift.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels.h"
#include "simd/vector_math.h"
#include "simd/wrapper.h"

namespace pysoftmax {
namespace simd {

template <class V>
struct Floors {
    using T = typename V::T;
    using vec = typename V::vec;
    static constexpr size_t W = V::W;

    static void stream_copy(size_t n, const T* x, T* y) {
        size_t i = 0;
        const size_t mis = (reinterpret_cast<uintptr_t>(y) / sizeof(T)) % W;
        if (reinterpret_cast<uintptr_t>(y) % sizeof(T) == 0 && mis != 0 && n >= W) {
            i = W - mis;
            V::store_tail(y, i, V::loadu(x));
        }
        if (reinterpret_cast<uintptr_t>(y) % sizeof(T) == 0) {
            for (; i + 4 * W <= n; i += 4 * W) {
                V::stream(y + i, V::loadu(x + i));
                V::stream(y + i + W, V::loadu(x + i + W));
                V::stream(y + i + 2 * W, V::loadu(x + i + 2 * W));
                V::stream(y + i + 3 * W, V::loadu(x + i + 3 * W));
            }
            for (; i + W <= n; i += W) V::stream(y + i, V::loadu(x + i));
        }
        for (; i + W <= n; i += W) V::storeu(y + i, V::loadu(x + i));
        if (i < n) V::store_tail(y + i, n - i, V::load_tail(x + i, n - i, T(0)));
        V::fence();
    }

    static T read_max(size_t n, const T* x) {
        const T inf = T(__builtin_inf());
        vec a0 = V::set1(-inf), a1 = a0, a2 = a0, a3 = a0;
        size_t i = 0;
        for (; i + 4 * W <= n; i += 4 * W) {
            a0 = V::max(V::loadu(x + i), a0);
            a1 = V::max(V::loadu(x + i + W), a1);
            a2 = V::max(V::loadu(x + i + 2 * W), a2);
            a3 = V::max(V::loadu(x + i + 3 * W), a3);
        }
        for (; i + W <= n; i += W) a0 = V::max(V::loadu(x + i), a0);
        if (i < n) a0 = V::max(V::load_tail(x + i, n - i, -inf), a0);
        return V::hmax(V::max(V::max(a0, a1), V::max(a2, a3)));
    }

    static PYSOFTMAX_STEP vec exp_at(const T* x, size_t i, vec shift) {
        return exp_lo<V, false>(V::sub(V::loadu(x + i), shift), V::set1(T(0)));
    }

    // n a multiple of 4 W (the caller's part of an L1-resident buffer)
    static double exp_sum(size_t n, const T* x, T shift, size_t repeat) {
        const vec sh = V::set1(shift);
        double total = 0.0;
        for (size_t r = 0; r < repeat; ++r) {
            vec a0 = V::set1(T(0)), a1 = a0, a2 = a0, a3 = a0;
            for (size_t i = 0; i + 4 * W <= n; i += 4 * W) {
                a0 = V::add(a0, exp_at(x, i, sh));
                a1 = V::add(a1, exp_at(x, i + W, sh));
                a2 = V::add(a2, exp_at(x, i + 2 * W, sh));
                a3 = V::add(a3, exp_at(x, i + 3 * W, sh));
            }
            total += V::hsum(V::add(V::add(a0, a1), V::add(a2, a3)));
        }
        return total;
    }

    static void exp_store(size_t n, const T* x, T shift, T* y, size_t repeat) {
        const vec sh = V::set1(shift);
        for (size_t r = 0; r < repeat; ++r)
            for (size_t i = 0; i + 4 * W <= n; i += 4 * W) {
                V::storeu(y + i, exp_at(x, i, sh));
                V::storeu(y + i + W, exp_at(x, i + W, sh));
                V::storeu(y + i + 2 * W, exp_at(x, i + 2 * W, sh));
                V::storeu(y + i + 3 * W, exp_at(x, i + 3 * W, sh));
            }
    }
};

template <class V>
constexpr FloorSet<typename V::T> floor_set() {
    using F = Floors<V>;
    return {&F::stream_copy, &F::read_max, &F::exp_sum, &F::exp_store};
}

}  // namespace simd
}  // namespace pysoftmax
