// The solvers' vector arithmetic over a wrapper V (the VectorSet of kernels.h): the dot products
// and linear combinations of a few long vectors that an L-BFGS iteration needs, each vector read
// once per call.
//   dots     out[j r + i] = sum_t vecs[j][t] rows[i][t]: the c vectors (c <= kMaxDotVectors) are
//            taken a block of kBlock elements at a time, which stays in cache while every row's
//            block streams past it once; each block's sums are added to out in block order
//   combine  out[t] = sum_i coef[i] rows[i][t], the terms added in row order by FMA; out may be
//            one of the rows (each element is read before it is written)
// scalar.cpp holds the same arithmetic on one lane, the readable form.
#pragma once

#include <cstddef>

#include "kernels.h"
#include "simd/wrapper.h"

namespace pysoftmax {
namespace simd {

template <class V>
struct VectorOps {
    using T = typename V::T;
    using vec = typename V::vec;
    static constexpr size_t W = V::W;
    static constexpr size_t kBlock = 2048;  // 16 KB of each vector: L1 or L2

    // c vectors at once; c a constant, so that the accumulators stay in registers
    template <size_t C>
    static void dots_of(size_t n, const T* const* rows, size_t r, const T* const* vecs,
                        double* out) {
        for (size_t j = 0; j < C * r; ++j) out[j] = 0.0;
        for (size_t b = 0; b < n; b += kBlock) {
            const size_t e = b + kBlock < n ? b + kBlock : n;
            for (size_t i = 0; i < r; ++i) {
                vec a[C][2];
                for (size_t j = 0; j < C; ++j) a[j][0] = a[j][1] = V::set1(T(0));
                const T* row = rows[i];
                size_t t = b;
                for (; t + 2 * W <= e; t += 2 * W) {
                    const vec x0 = V::loadu(row + t), x1 = V::loadu(row + t + W);
                    for (size_t j = 0; j < C; ++j) {
                        a[j][0] = V::fmadd(x0, V::loadu(vecs[j] + t), a[j][0]);
                        a[j][1] = V::fmadd(x1, V::loadu(vecs[j] + t + W), a[j][1]);
                    }
                }
                for (; t + W <= e; t += W) {
                    const vec x0 = V::loadu(row + t);
                    for (size_t j = 0; j < C; ++j)
                        a[j][0] = V::fmadd(x0, V::loadu(vecs[j] + t), a[j][0]);
                }
                if (t < e) {
                    const vec x0 = V::load_tail(row + t, e - t, T(0));
                    for (size_t j = 0; j < C; ++j)
                        a[j][1] = V::fmadd(x0, V::load_tail(vecs[j] + t, e - t, T(0)), a[j][1]);
                }
                for (size_t j = 0; j < C; ++j) out[j * r + i] += V::hsum(V::add(a[j][0], a[j][1]));
            }
        }
    }

    static void dots(size_t n, const T* const* rows, size_t r, const T* const* vecs, size_t c,
                     double* out) {
        switch (c) {
            case 1:
                return dots_of<1>(n, rows, r, vecs, out);
            case 2:
                return dots_of<2>(n, rows, r, vecs, out);
            case 3:
                return dots_of<3>(n, rows, r, vecs, out);
            default:
                return dots_of<4>(n, rows, r, vecs, out);
        }
    }

    // a block at a time: out's block takes each row's block in turn (each row read in runs of
    // kBlock elements, not 2 W), the sums in row order as the rows were taken together
    static void combine(size_t n, const T* const* rows, size_t r, const T* coef, T* out) {
        T buf[kBlock];
        for (size_t b = 0; b < n; b += kBlock) {
            const size_t e = b + kBlock < n ? b + kBlock : n, m = e - b;
            for (size_t t = 0; t < m; ++t) buf[t] = T(0);
            for (size_t i = 0; i < r; ++i) {
                const vec ci = V::set1(coef[i]);
                const T* row = rows[i] + b;
                size_t t = 0;
                for (; t + 2 * W <= m; t += 2 * W) {
                    V::storeu(buf + t, V::fmadd(ci, V::loadu(row + t), V::loadu(buf + t)));
                    V::storeu(buf + t + W,
                              V::fmadd(ci, V::loadu(row + t + W), V::loadu(buf + t + W)));
                }
                for (; t + W <= m; t += W)
                    V::storeu(buf + t, V::fmadd(ci, V::loadu(row + t), V::loadu(buf + t)));
                if (t < m)
                    V::store_tail(buf + t, m - t,
                                  V::fmadd(ci, V::load_tail(row + t, m - t, T(0)),
                                           V::load_tail(buf + t, m - t, T(0))));
            }
            for (size_t t = 0; t < m; ++t) out[b + t] = buf[t];
        }
    }
};

template <class V>
constexpr VectorSet<typename V::T> vector_set() {
    return {&VectorOps<V>::dots, &VectorOps<V>::combine};
}

}  // namespace simd
}  // namespace pysoftmax
