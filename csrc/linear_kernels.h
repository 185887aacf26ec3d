// The fused linear + cross-entropy microkernels (linear.h), written once over a thin vector
// wrapper V and compiled once per instruction set: with a one-lane scalar V for the scalar
// table, and in isa_avx2.cpp with 8 float / 4 double lanes, the AVX2 wrappers' linear group
// (simd/wrapper.h, simd/linear_table.h).
//
// V provides: T, vec, W (lanes), zero(), set1(a), loadu(p), storeu(p, v), fmadd(a, b, c) = a*b+c
// on vectors and fma1(a, b, c) on scalars (both one rounding where the target has FMA),
// hsum(v) -> T (lanes added in a fixed order), prefetch(p) (a hint; may point anywhere).
//
// Register tiles (AVX2 has 16 vector registers):
//   logits  R rows x C classes of dot products, each a W-lane accumulator over d; per step of
//           W features: R loads of x, then per class one load of w and R fmadds. The first
//           class tile of a row group prefetches the next R rows (the x rows come from memory,
//           w stays in the caches).
//   grad_w  C classes x V vectors of W columns of dw held in registers over all the rows; per
//           row: V loads of x, then per class one broadcast of g and V fmadds
// Results never depend on the tiling: a logit is hsum(lane sums over the full vectors of its
// row) + the scalar tail, each dw element one fmadd chain over the rows in order.
#pragma once

#include <cmath>
#include <cstddef>

namespace pysoftmax {
namespace linear {

#define PYSOFTMAX_LINEAR_STEP inline __attribute__((always_inline))

// z[r, c] = bias[c] + sum_j x[r, j] w[c, j] for r < R, c < C.
// `next`: rows to prefetch (nullptr: none).
template <class V, int R, int C>
PYSOFTMAX_LINEAR_STEP void logits_tile(size_t d, const typename V::T* x, ptrdiff_t ldx,
                                       const typename V::T* w, ptrdiff_t ldw,
                                       const typename V::T* bias, typename V::T* z, ptrdiff_t ldz,
                                       const typename V::T* next) {
    using T = typename V::T;
    using vec = typename V::vec;
    constexpr size_t line = 64 / sizeof(T);  // elements per cache line
    vec acc[R][C];
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c) acc[r][c] = V::zero();
    size_t j = 0;
    for (; j + V::W <= d; j += V::W) {
        if (next && j % line == 0)
            for (int r = 0; r < R; ++r) V::prefetch(next + r * ldx + j);
        vec xv[R];
        for (int r = 0; r < R; ++r) xv[r] = V::loadu(x + r * ldx + j);
        for (int c = 0; c < C; ++c) {
            const vec wv = V::loadu(w + c * ldw + j);
            for (int r = 0; r < R; ++r) acc[r][c] = V::fmadd(xv[r], wv, acc[r][c]);
        }
    }
    for (int r = 0; r < R; ++r) {
        for (int c = 0; c < C; ++c) {
            T s = V::hsum(acc[r][c]);
            for (size_t t = j; t < d; ++t) s = V::fma1(x[r * ldx + t], w[c * ldw + t], s);
            z[r * ldz + c] = bias ? s + bias[c] : s;
        }
    }
}

// Rows [0, R) against every class, C classes at a time (the last group narrower).
template <class V, int R, int C>
PYSOFTMAX_LINEAR_STEP void logits_rows(size_t k, size_t d, const typename V::T* x, ptrdiff_t ldx,
                                       const typename V::T* w, ptrdiff_t ldw,
                                       const typename V::T* bias, typename V::T* z, ptrdiff_t ldz) {
    using T = typename V::T;
    const T* next = x + R * ldx;  // past the stripe's end too: prefetches never fault
    size_t c = 0;
    for (; c + C <= k; c += C)
        logits_tile<V, R, C>(d, x, ldx, w + c * ldw, ldw, bias ? bias + c : nullptr, z + c, ldz,
                             c == 0 ? next : nullptr);
    const T* b = bias ? bias + c : nullptr;
    const T* pf = c == 0 ? next : nullptr;
    switch (k - c) {
        case 0:
            break;
        case 1:
            logits_tile<V, R, 1>(d, x, ldx, w + c * ldw, ldw, b, z + c, ldz, pf);
            break;
        case 2:
            logits_tile<V, R, 2>(d, x, ldx, w + c * ldw, ldw, b, z + c, ldz, pf);
            break;
        default:
            logits_tile<V, R, 3>(d, x, ldx, w + c * ldw, ldw, b, z + c, ldz, pf);
            break;
    }
}

// Tile shape of logits: 4 rows x 3 classes (12 accumulators + 4 x + 1 w registers; a row group
// divides the stripes, multiples of 16 rows).
constexpr int kLogitRows = 4, kLogitClasses = 3;
static_assert(kLogitClasses <= 4, "logits_rows handles remainders of up to 3 classes");

template <class V>
struct Logits {
    using T = typename V::T;
    static void run(size_t rows, size_t k, size_t d, const T* x, ptrdiff_t ldx, const T* w,
                    ptrdiff_t ldw, const T* bias, T* z, ptrdiff_t ldz) {
        size_t r = 0;
        for (; r + kLogitRows <= rows; r += kLogitRows)
            logits_rows<V, kLogitRows, kLogitClasses>(k, d, x + r * ldx, ldx, w, ldw, bias,
                                                      z + r * ldz, ldz);
        for (; r < rows; ++r)
            logits_rows<V, 1, kLogitClasses>(k, d, x + r * ldx, ldx, w, ldw, bias, z + r * ldz,
                                             ldz);
    }
};

// dw[c, j0 + v*W + l] += sum_r g[r, c] x[r, j0 + v*W + l] for c < C, v < NV, lane l: the tile
// stays in registers over all the rows.
template <class V, int C, int NV>
PYSOFTMAX_LINEAR_STEP void grad_w_tile(size_t rows, const typename V::T* g, ptrdiff_t ldg,
                                       const typename V::T* x, ptrdiff_t ldx, typename V::T* dw,
                                       ptrdiff_t lddw) {
    using vec = typename V::vec;
    vec acc[C][NV];
    for (int c = 0; c < C; ++c)
        for (int v = 0; v < NV; ++v) acc[c][v] = V::loadu(dw + c * lddw + v * ptrdiff_t(V::W));
    for (size_t r = 0; r < rows; ++r) {
        vec xv[NV];
        for (int v = 0; v < NV; ++v) xv[v] = V::loadu(x + r * ldx + v * ptrdiff_t(V::W));
        for (int c = 0; c < C; ++c) {
            const vec gb = V::set1(g[r * ldg + c]);
            for (int v = 0; v < NV; ++v) acc[c][v] = V::fmadd(gb, xv[v], acc[c][v]);
        }
    }
    for (int c = 0; c < C; ++c)
        for (int v = 0; v < NV; ++v) V::storeu(dw + c * lddw + v * ptrdiff_t(V::W), acc[c][v]);
}

// Columns [j, d) not covered by full vectors: one scalar chain per element.
template <class V, class T = typename V::T>
void grad_w_columns(size_t rows, size_t k, size_t j, size_t d, const T* g, ptrdiff_t ldg,
                    const T* x, ptrdiff_t ldx, T* dw, ptrdiff_t lddw) {
    for (size_t c = 0; c < k; ++c) {
        for (size_t t = j; t < d; ++t) {
            T acc = dw[c * lddw + t];
            for (size_t r = 0; r < rows; ++r) acc = V::fma1(g[r * ldg + c], x[r * ldx + t], acc);
            dw[c * lddw + t] = acc;
        }
    }
}

// Classes [0, k) for the NV-vector column block at x, dw: C classes at a time.
template <class V, int C, int NV>
PYSOFTMAX_LINEAR_STEP void grad_w_block(size_t rows, size_t k, const typename V::T* g,
                                        ptrdiff_t ldg, const typename V::T* x, ptrdiff_t ldx,
                                        typename V::T* dw, ptrdiff_t lddw) {
    size_t c = 0;
    for (; c + C <= k; c += C) grad_w_tile<V, C, NV>(rows, g + c, ldg, x, ldx, dw + c * lddw, lddw);
    switch (k - c) {
        case 0:
            break;
        case 1:
            grad_w_tile<V, 1, NV>(rows, g + c, ldg, x, ldx, dw + c * lddw, lddw);
            break;
        case 2:
            grad_w_tile<V, 2, NV>(rows, g + c, ldg, x, ldx, dw + c * lddw, lddw);
            break;
        default:
            grad_w_tile<V, 3, NV>(rows, g + c, ldg, x, ldx, dw + c * lddw, lddw);
            break;
    }
}

// Tile shape of grad_w: 4 classes x 3 vectors (12 accumulators + 3 x + 1 broadcast registers).
constexpr int kGradClasses = 4, kGradVectors = 3;
static_assert(kGradClasses <= 4, "grad_w_block handles remainders of up to 3 classes");

template <class V>
struct GradW {
    using T = typename V::T;
    static void run(size_t rows, size_t k, size_t d, const T* g, ptrdiff_t ldg, const T* x,
                    ptrdiff_t ldx, T* dw, ptrdiff_t lddw) {
        constexpr size_t block = kGradVectors * V::W;
        size_t j = 0;
        for (; j + block <= d; j += block)
            grad_w_block<V, kGradClasses, kGradVectors>(rows, k, g, ldg, x + j, ldx, dw + j, lddw);
        for (; j + V::W <= d; j += V::W)
            grad_w_block<V, kGradClasses, 1>(rows, k, g, ldg, x + j, ldx, dw + j, lddw);
        grad_w_columns<V>(rows, k, j, d, g, ldg, x, ldx, dw, lddw);
    }
};

}  // namespace linear
}  // namespace pysoftmax
