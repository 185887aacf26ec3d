// Fused linear + cross-entropy on CSR input (sparse.h): the driver (blocks of rows, the two
// parallel phases per block, the transposes) and the baseline table of row kernels.
#include "sparse.h"

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime.h"

namespace pysoftmax {
namespace {

struct PlainMadd {
    template <class T>
    static T madd(T a, T b, T c) {
        return a * b + c;
    }
};

#include "sparse_kernels.h"

constexpr SparseKernels kSparseScalar = sparse_kernels_of<PlainMadd>("scalar");

// Below this many multiply-adds (nnz * k) a call runs on the calling thread.
constexpr size_t kMinParallelWork = size_t(1) << 17;

// The parts of phase 1 (the logits, loss and gradient of a block's rows) of a multithreaded
// call.
constexpr size_t kParts = 16;

template <class I>
const SparseKernelSet<float, I>& of_index(const SparseKernelsOf<float>& s) {
    if constexpr (std::is_same_v<I, int32_t>)
        return s.i32;
    else
        return s.i64;
}
template <class I>
const SparseKernelSet<double, I>& of_index(const SparseKernelsOf<double>& s) {
    if constexpr (std::is_same_v<I, int32_t>)
        return s.i32;
    else
        return s.i64;
}

// out (cols, rows) = in (rows, cols) transposed, row strides ldi and ldo, for the input
// columns [c0, c1), in tiles that keep both sides in cache.
template <class T>
void transpose(size_t rows, size_t c0, size_t c1, const T* in, ptrdiff_t ldi, T* out,
               ptrdiff_t ldo) {
    constexpr size_t tile = 32;
    for (size_t cb = c0; cb < c1; cb += tile) {
        const size_t ce = std::min(c1, cb + tile);
        for (size_t r = 0; r < rows; ++r)
            for (size_t c = cb; c < ce; ++c)
                out[ptrdiff_t(c) * ldo + ptrdiff_t(r)] = in[ptrdiff_t(r) * ldi + ptrdiff_t(c)];
    }
}

// The first row r in [i0, i1] with indptr[r] - indptr[i0] >= target (indptr non-decreasing).
template <class I>
size_t row_at(const I* indptr, size_t i0, size_t i1, int64_t target) {
    const int64_t base = int64_t(indptr[i0]);
    size_t lo = i0, hi = i1;
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if (int64_t(indptr[mid]) - base < target)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

}  // namespace

const SparseKernels* sparse_scalar_kernels() { return &kSparseScalar; }

template <class T, class I>
double run_sparse_linear_cross_entropy(const SparseLinearCrossEntropyProblem<T, I>& p) {
    const ActiveIsa isa = active_isa();
    const SparseKernelSet<T, I>& sk = of_index<I>(of_type<T>(isa.sparse));
    const CrossEntropyFn<T> ce = of_type<T>(isa.kernels).cross_entropy;
    const size_t n = p.n, d = p.d, k = p.k, nnz = size_t(p.indptr[n]);
    const bool grad = p.dw != nullptr;
    size_t nt = size_t(std::max(1, get_num_threads()));
    if ((nnz + n + d) * k < kMinParallelWork) nt = 1;
    // Phase 1's tasks: a fixed number of parts that the threads claim one at a time (a
    // descheduled thread holds up one part only). Phase 2 keeps one task per thread: without
    // sorted rows each task reads every entry of the block.
    const size_t parts = nt == 1 ? 1 : kParts;
    // Blocks and the tasks' parts of them start on multiples of kRowGroup rows from the first
    // row: the row kernels take short rows in groups of up to that many, so a row's result does
    // not depend on the thread count or the block size.
    constexpr size_t kRowGroup = 16;
    const size_t B =
        std::max<size_t>(1, std::min(std::max(kRowGroup, p.block_rows / kRowGroup * kRowGroup), n));
    // Allocated here, so that running out of memory raises (MemoryError) instead of ending
    // the process from inside a parallel region.
    std::vector<T> z(B * k);
    std::vector<double> loss(B);
    std::vector<double> db(grad && p.db ? k : 0, 0.0);
    // Task t's columns: [cols[t], cols[t + 1]), about nnz / nt entries each.
    std::vector<size_t> cols(nt + 1, d);
    for (size_t t = 0; t < nt; ++t) {
        if (p.column_offsets) {
            const int64_t target = int64_t(nnz * t / nt);
            cols[t] = size_t(std::lower_bound(p.column_offsets, p.column_offsets + d + 1, target) -
                             p.column_offsets);
            cols[t] = std::min(cols[t], d);
        } else {
            cols[t] = d * t / nt;
        }
    }
    cols[0] = 0;

    // wt = W^T and dwt = 0, the columns split evenly.
    parallel_for(nt, [&](size_t t) {
        const size_t j0 = d * t / nt, j1 = d * (t + 1) / nt;
        transpose(k, j0, j1, p.w, p.ldw, p.wt, ptrdiff_t(k));
        if (grad) std::fill(p.dwt + j0 * k, p.dwt + j1 * k, T(0));
    });

    double total = 0.0;
    std::atomic<bool> bad{false};
    for (size_t i0 = 0; i0 < n && !stop_requested(); i0 += B) {
        const size_t rows = std::min(B, n - i0);
        const int64_t block_nnz = int64_t(p.indptr[i0 + rows]) - int64_t(p.indptr[i0]);
        // Phase 1: logits, loss and gradient of the rows [r0, r1) of the block, per part.
        parallel_for(parts, nt, [&](size_t t) {
            const auto at = [&](size_t u) {
                if (u == parts) return i0 + rows;
                const size_t r =
                    row_at(p.indptr, i0, i0 + rows, block_nnz * int64_t(u) / int64_t(parts));
                return i0 + (r - i0) / kRowGroup * kRowGroup;
            };
            const size_t r0 = at(t), r1 = at(t + 1);
            if (r1 <= r0) return;
            const size_t m = r1 - r0, off = r0 - i0;
            T* zb = z.data() + off * k;
            if (!sk.logits(m, k, d, p.indptr + r0, p.indices, p.data, p.wt, p.bias, zb)) {
                bad.store(true, std::memory_order_relaxed);
                return;
            }
            ce(m, k, zb, ptrdiff_t(k), p.labels ? p.labels + r0 : nullptr,
               p.probs ? p.probs + ptrdiff_t(r0) * p.ldt : nullptr, p.ldt, p.weight, nullptr, 0,
               loss.data() + off, grad ? zb : nullptr, ptrdiff_t(k), p.params);
            if (p.sample_weight) {
                for (size_t r = 0; r < m; ++r) {
                    const T sw = p.sample_weight[r0 + r];
                    loss[off + r] *= double(sw);
                    if (grad)
                        for (size_t c = 0; c < k; ++c) zb[r * k + c] *= sw;
                }
            }
        });
        if (bad.load()) break;
        for (size_t r = 0; r < rows; ++r) total += loss[r];
        if (p.loss_rows) std::copy(loss.data(), loss.data() + rows, p.loss_rows + i0);
        if (!grad) continue;
        if (p.db)
            for (size_t r = 0; r < rows; ++r)
                for (size_t c = 0; c < k; ++c) db[c] += double(z[r * k + c]);
        // Phase 2: the block's share of dwt, each task for its own columns.
        parallel_for(nt, [&](size_t t) {
            if (cols[t] < cols[t + 1])
                sk.grad(rows, k, cols[t], cols[t + 1], p.sorted, p.indptr + i0, p.indices, p.data,
                        z.data(), p.dwt);
        });
    }
    if (bad.load())
        throw std::invalid_argument("X: a column index is out of range for " + std::to_string(d) +
                                    " columns");
    if (stop_requested()) return 0.0;  // stopped: the caller raises
    if (!grad) return total;
    // dW = dwt^T, the classes split across tasks.
    parallel_for(nt, [&](size_t t) {
        transpose(d, k * t / nt, k * (t + 1) / nt, p.dwt, ptrdiff_t(k), p.dw, p.lddw);
    });
    if (p.db)
        for (size_t c = 0; c < k; ++c) p.db[c] = T(db[c]);
    return total;
}

template <class I>
bool inspect_csr(size_t n, size_t d, size_t nnz, const I* indptr, const I* indices,
                 int64_t* column_offsets) {
    if (int64_t(indptr[0]) != 0)
        throw std::invalid_argument("X: indptr[0] must be 0, got " + std::to_string(indptr[0]));
    for (size_t i = 0; i < n; ++i)
        if (indptr[i + 1] < indptr[i])
            throw std::invalid_argument("X: indptr must be non-decreasing; indptr[" +
                                        std::to_string(i + 1) +
                                        "] = " + std::to_string(indptr[i + 1]) + " < indptr[" +
                                        std::to_string(i) + "] = " + std::to_string(indptr[i]));
    if (size_t(indptr[n]) > nnz)
        throw std::invalid_argument("X: indptr[-1] = " + std::to_string(indptr[n]) +
                                    " exceeds the " + std::to_string(nnz) + " stored entries");
    std::fill(column_offsets, column_offsets + d + 1, int64_t(0));
    bool sorted = true;
    for (size_t i = 0; i < n; ++i) {
        for (size_t q = size_t(indptr[i]), e = size_t(indptr[i + 1]); q < e; ++q) {
            const int64_t j = int64_t(indices[q]);
            if (j < 0 || uint64_t(j) >= d)
                throw std::invalid_argument("X: column index " + std::to_string(j) + " of row " +
                                            std::to_string(i) + " is out of range for " +
                                            std::to_string(d) + " columns");
            column_offsets[j + 1] += 1;
            if (q > size_t(indptr[i]) && indices[q] < indices[q - 1]) sorted = false;
        }
    }
    for (size_t j = 0; j < d; ++j) column_offsets[j + 1] += column_offsets[j];
    return sorted;
}

template double run_sparse_linear_cross_entropy<float, int32_t>(
    const SparseLinearCrossEntropyProblem<float, int32_t>&);
template double run_sparse_linear_cross_entropy<float, int64_t>(
    const SparseLinearCrossEntropyProblem<float, int64_t>&);
template double run_sparse_linear_cross_entropy<double, int32_t>(
    const SparseLinearCrossEntropyProblem<double, int32_t>&);
template double run_sparse_linear_cross_entropy<double, int64_t>(
    const SparseLinearCrossEntropyProblem<double, int64_t>&);
template bool inspect_csr<int32_t>(size_t, size_t, size_t, const int32_t*, const int32_t*,
                                   int64_t*);
template bool inspect_csr<int64_t>(size_t, size_t, size_t, const int64_t*, const int64_t*,
                                   int64_t*);

}  // namespace pysoftmax
