// Fused linear + cross-entropy on a sparse X in CSR form: the logits of a block of rows from
// their nonzeros, their loss and gradient in place, and the weight gradient from the same
// nonzeros, without the (n, k) logits or a dense X in memory.
//
// Dimensions:
//   n  rows (examples)      d  features      k  classes      nnz  stored entries of X
// X in CSR: row i's entries are data[p] at column indices[p] for p in [indptr[i], indptr[i+1]).
// Within a row the columns may come in any order and repeat (repeats add up); explicit zeros
// are entries like any other. The row kernels work on the transposed weights:
//   wt (d, k): wt[j, c] = W[c, j]        dwt (d, k): dwt[j, c] = dW[c, j]
// so that each nonzero reads (and, for the gradient, updates) one contiguous row of k values
// (README, "Sparse input", has the measurements that chose this layout over W's own (k, d)).
//
// The maths (per row i, z = its logits):
//   z_i   = sum_p data[p] wt[indices[p], :] + b           (k,)
//   loss_i, g_i = the cross-entropy kernel's (kernels.h) on z_i, times sample_weight[i]
//   dwt[j, :] += data[p] g_i   for every entry p of row i with column j
//   db    = sum_i g_i
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels.h"
#include "linear.h"

namespace pysoftmax {

// The row kernels of the sparse path, one table per instruction set (sparse_kernels.h holds
// the code; sparse.cpp compiles it for the baseline, sparse_avx2.cpp for AVX2 + FMA).
//
// logits: z (rows, k) OUT = for each row r in [0, rows) of the CSR block (indptr[0..rows],
//         offsets into indices / data), bias (k,) IN or 0 plus the sum over its entries of
//         data[p] * wt[indices[p], :] (wt (d, k) IN), the entries added in stored order.
//         Returns false (and skips the entry) when a column index is outside [0, d).
// grad:   dwt (d, k) IN/OUT += data[p] * g[r, :] (g (rows, k) IN) for the entries p of each
//         row r whose column is in [j0, j1), rows in order and a row's entries in stored
//         order: each dwt element is one chain, whatever [j0, j1) is. sorted: each row's
//         columns are non-decreasing (the range is then found by binary search).
template <class T, class I>
struct SparseKernelSet {
    bool (*logits)(size_t rows, size_t k, size_t d, const I* indptr, const I* indices,
                   const T* data, const T* wt, const T* bias, T* z);
    void (*grad)(size_t rows, size_t k, size_t j0, size_t j1, bool sorted, const I* indptr,
                 const I* indices, const T* data, const T* g, T* dwt);
};

template <class T>
struct SparseKernelsOf {
    SparseKernelSet<T, int32_t> i32;
    SparseKernelSet<T, int64_t> i64;
};

struct SparseKernels {
    const char* name;  // the instruction set it was written for: "scalar", "avx2"
    SparseKernelsOf<float> f32;
    SparseKernelsOf<double> f64;
};

const SparseKernels* sparse_scalar_kernels();
const SparseKernels* sparse_avx2_kernels();  // nullptr when not compiled (non-x86 targets)

// One call of the sparse path on the active instruction set (runtime.h: its AVX2 and AVX-512
// rows use the AVX2 sparse kernels, the scalar row the scalar ones). The rows are taken in
// blocks of block_rows; per block, tasks of one parallel_for compute the logits, loss and
// gradient of contiguous runs of its rows, then tasks of a second one add the block's share of
// dwt, each for its own range of columns (ranges of about equal nonzero counts when
// column_offsets is given). Every logit, loss and dW / db element is then computed in one
// fixed order: the result depends on neither the thread count nor block_rows. A stop
// (runtime.h's InterruptScope) ends the call between blocks; it then returns 0 with dW, db and
// loss_rows partly written.
template <class T, class I>
struct SparseLinearCrossEntropyProblem : LinearTerms<T> {
    const I* indptr;   // (n + 1,) non-decreasing, indptr[0] == 0 (checked by the caller)
    const I* indices;  // (indptr[n],) column indices; out of [0, d): an error, never read
    const T* data;     // (indptr[n],)
    bool sorted;       // every row's column indices are non-decreasing
    const int64_t* column_offsets;  // (d + 1,) prefix sums of the entries per column, or nullptr
    T* wt;                          // (d, k) workspace: W transposed
    T* dwt;                         // (d, k) workspace when dw is given: dW transposed
    size_t block_rows;              // >= 1
};

// Returns the sum of the per-row losses (each already times scale and sample_weight). Throws
// std::invalid_argument when a column index is out of range (nothing is written then but
// the workspaces and loss_rows).
template <class T, class I>
double run_sparse_linear_cross_entropy(const SparseLinearCrossEntropyProblem<T, I>& p);

// Checks a CSR structure of n rows and d columns (indptr (n + 1,), indices (nnz,)), throwing
// std::invalid_argument with what is wrong. Returns whether every row's columns are
// non-decreasing and fills column_offsets (d + 1,), the prefix sums of the entries per column.
template <class I>
bool inspect_csr(size_t n, size_t d, size_t nnz, const I* indptr, const I* indices,
                 int64_t* column_offsets);

}  // namespace pysoftmax
