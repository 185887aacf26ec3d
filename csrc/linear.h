// Fused linear + cross-entropy for a small number of classes: the logits of a few rows at a time,
// their loss and gradient, and the weight gradient, without the (n, k) logits in memory.
//
// Dimensions:
//   n  rows (examples)      d  features      k  classes
// Layout: row i of x starts at x + i*ldx and its d elements are contiguous; likewise the rows of
// w (ldw), of probs (ldt) and of dw (lddw).
//
// The maths (per row i, z = the row's logits):
//   z_i   = W x_i + b                                  (k,)
//   loss_i, g_i = the cross-entropy kernel's loss and d loss / d z on z_i (kernels.h), times
//                 sample_weight[i] when given
//   dW    = sum_i g_i x_i^T   (k, d)     db = sum_i g_i   (k,)
// The large-k path (BLAS GEMMs on chunks of rows) lives in Python (pysoftmax/_linear.py); its
// blocks run on the runtime's parallel_for too (runtime.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels.h"

namespace pysoftmax {

// Microkernels, one table per instruction set, each the linear getter of a row of the runtime's
// registry (runtime.h): scalar.cpp's for "scalar", isa_avx2.cpp's (AVX2+FMA) for "avx2" and
// "avx512". The active row gives the cross-entropy kernel and these together.
//
// logits: z (rows, k) OUT, row stride ldz = x (rows, d) IN times w (k, d) IN transposed, plus
//         bias (k,) IN or nullptr. Each z[r, c] is one dot product whose summation order
//         depends only on d (never on rows, k or where the tile falls).
// grad_w: dw (k, d) IN/OUT += g (rows, k) IN transposed times x (rows, d) IN. Each dw[c, j] is
//         one chain of fused multiply-adds over the rows in order, the same in every tile.
template <class T>
struct LinearKernelSet {
    void (*logits)(size_t rows, size_t k, size_t d, const T* x, ptrdiff_t ldx, const T* w,
                   ptrdiff_t ldw, const T* bias, T* z, ptrdiff_t ldz);
    void (*grad_w)(size_t rows, size_t k, size_t d, const T* g, ptrdiff_t ldg, const T* x,
                   ptrdiff_t ldx, T* dw, ptrdiff_t lddw);
};

struct LinearKernels {
    const char* name;  // the instruction set it was written for: "scalar", "avx2"
    LinearKernelSet<float> f32;
    LinearKernelSet<double> f64;
};

const LinearKernels* linear_scalar_kernels();
const LinearKernels* linear_avx2_kernels();  // nullptr when not compiled (non-x86 targets)

// One call of the fused path, on the active instruction set. The rows are cut into stripes of
// `stripe_rows` rows (a multiple of 16, so the cross-entropy kernel groups rows as it does
// everywhere); slot q takes the contiguous stripes [n_stripes * q / slots,
// n_stripes * (q + 1) / slots) and adds their loss, db and dW in its own partial sums, stripe
// after stripe, on one thread; the slots' sums are added in slot order at the end. The slots
// are the tasks of one parallel_for (the threads take them one at a time), and the final dW sum
// a second one (one row of dW per task). The result depends on n, d, k, stripe_rows and slots,
// never on the thread count. A stop (runtime.h's InterruptScope) ends the slots between
// stripes; the call then returns 0 with dW, db and loss_rows partly written.
// What the dense and the sparse problem (sparse.h) share: the dimensions, the weights, the
// targets and the outputs.
template <class T>
struct LinearTerms {
    size_t n, d, k;
    const T* w;  // (k, d), row stride ldw
    ptrdiff_t ldw;
    const T* bias;          // (k,) or nullptr
    const int64_t* labels;  // (n,) or nullptr (then probs)
    const T* probs;         // (n, k), row stride ldt, or nullptr (then labels)
    ptrdiff_t ldt;
    const T* weight;            // (k,) class weights or nullptr
    const T* sample_weight;     // (n,) or nullptr
    CrossEntropyParams params;  // ignore_index, label_smoothing, scale (the reduction's factor)
    double* loss_rows;          // (n,) OUT per-row losses (times sample_weight), or nullptr
    T* dw;                      // (k, d) OUT, row stride lddw, or nullptr: no gradient
    ptrdiff_t lddw;
    T* db;  // (k,) OUT or nullptr
};

template <class T>
struct LinearCrossEntropyProblem : LinearTerms<T> {
    const T* x;  // (n, d), row stride ldx
    ptrdiff_t ldx;
    T* partials;         // (slots, k, d) workspace when dw is given
    size_t slots;        // >= 1
    size_t stripe_rows;  // multiple of 16
};

// Returns the sum of the per-row losses (each already times scale and sample_weight).
template <class T>
double run_linear_cross_entropy(const LinearCrossEntropyProblem<T>& p);

}  // namespace pysoftmax
