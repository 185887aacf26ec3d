// Fused linear + cross-entropy for small k (linear.h): the driver (stripes of rows, partial
// gradients per slot, threads). The microkernels come from the active instruction set.
#include "linear.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "runtime.h"

namespace pysoftmax {
namespace {

// Below this many multiply-adds (n * d * k) a call runs on the calling thread.
constexpr size_t kMinParallelWork = size_t(1) << 18;

// What one slot adds up: its rows' loss, db (in double) and, in `partial`, dW.
struct SlotSums {
    double loss = 0.0;
    std::vector<double> db;
};

// A task's buffers for one stripe: its logits, then their gradient (in place), and losses. Not
// in thread_scratch: the cross-entropy kernel uses that while these are live.
template <class T>
struct StripeBuffers {
    std::vector<T> z;
    std::vector<double> loss;
    StripeBuffers(size_t rows, size_t k) : z(rows * k), loss(rows) {}
};

// The stripes [s0, s1) of one slot, in order, on the calling thread.
template <class T>
void run_slot(const LinearCrossEntropyProblem<T>& p, const LinearKernelSet<T>& lk,
              CrossEntropyFn<T> ce, size_t s0, size_t s1, T* partial, SlotSums& sums,
              StripeBuffers<T>& buf) {
    const size_t k = p.k, d = p.d, R = p.stripe_rows;
    T* z = buf.z.data();
    double* loss = buf.loss.data();
    const bool grad = p.dw != nullptr;
    if (grad) std::fill(partial, partial + k * d, T(0));
    for (size_t s = s0; s < s1 && !stop_requested(); ++s) {
        const size_t i0 = s * R, rows = std::min(R, p.n - i0);
        const T* x = p.x + ptrdiff_t(i0) * p.ldx;
        lk.logits(rows, k, d, x, p.ldx, p.w, p.ldw, p.bias, z, ptrdiff_t(k));
        ce(rows, k, z, ptrdiff_t(k), p.labels ? p.labels + i0 : nullptr,
           p.probs ? p.probs + ptrdiff_t(i0) * p.ldt : nullptr, p.ldt, p.weight, nullptr, 0, loss,
           grad ? z : nullptr, ptrdiff_t(k), p.params);
        if (p.sample_weight) {
            for (size_t r = 0; r < rows; ++r) {
                const T sw = p.sample_weight[i0 + r];
                loss[r] *= double(sw);
                if (grad)
                    for (size_t c = 0; c < k; ++c) z[r * k + c] *= sw;
            }
        }
        for (size_t r = 0; r < rows; ++r) sums.loss += loss[r];
        if (p.loss_rows) std::copy(loss, loss + rows, p.loss_rows + i0);
        if (!grad) continue;
        if (p.db)
            for (size_t r = 0; r < rows; ++r)
                for (size_t c = 0; c < k; ++c) sums.db[c] += double(z[r * k + c]);
        lk.grad_w(rows, k, d, z, ptrdiff_t(k), x, p.ldx, partial, ptrdiff_t(d));
    }
}

}  // namespace

template <class T>
double run_linear_cross_entropy(const LinearCrossEntropyProblem<T>& p) {
    const ActiveIsa isa = active_isa();
    const LinearKernelSet<T>& lk = of_type<T>(isa.linear);
    const CrossEntropyFn<T> ce = of_type<T>(isa.kernels).cross_entropy;
    const size_t R = p.stripe_rows;
    const size_t n_stripes = (p.n + R - 1) / R;
    // Slot q takes the stripes [first(q), first(q + 1)): contiguous blocks, fixed by n, R and
    // the number of slots alone.
    const size_t slots = std::max<size_t>(1, std::min(p.slots, n_stripes));
    auto first = [&](size_t q) { return n_stripes * q / slots; };
    std::vector<SlotSums> sums(slots);
    if (p.dw && p.db)
        for (SlotSums& s : sums) s.db.assign(p.k, 0.0);

    const size_t threads = size_t(std::max(1, get_num_threads()));
    const size_t nt = p.n * p.d * p.k < kMinParallelWork ? 1 : std::min(threads, slots);
    // Allocated here, so that running out of memory raises (MemoryError) instead of ending
    // the process from inside a parallel region.
    std::vector<StripeBuffers<T>> buffers(nt, StripeBuffers<T>(p.stripe_rows, p.k));
    // The slots go to the threads one at a time (each thread's buffers by worker_index); each
    // slot runs on one thread, its stripes in order.
    parallel_for(slots, nt, [&](size_t q) {
        run_slot(p, lk, ce, first(q), first(q + 1), p.dw ? p.partials + q * p.k * p.d : nullptr,
                 sums[q], buffers[worker_index()]);
    });
    if (stop_requested()) return 0.0;  // stopped: the caller raises

    double loss = 0.0;
    for (const SlotSums& s : sums) loss += s.loss;
    if (!p.dw) return loss;
    // dW = the slots' partial gradients added in slot order, one class (row of dW) at a time.
    const size_t kd = p.k * p.d;
    parallel_for(p.k, kd * slots < kMinParallelWork ? 1 : threads, [&](size_t c) {
        T* out = p.dw + ptrdiff_t(c) * p.lddw;
        std::memcpy(out, p.partials + c * p.d, p.d * sizeof(T));
        for (size_t q = 1; q < slots; ++q) {
            const T* part = p.partials + q * kd + c * p.d;
            for (size_t j = 0; j < p.d; ++j) out[j] += part[j];
        }
    });
    if (p.db) {
        for (size_t c = 0; c < p.k; ++c) {
            double s = 0.0;
            for (const SlotSums& q : sums) s += q.db[c];
            p.db[c] = T(s);
        }
    }
    return loss;
}

template double run_linear_cross_entropy<float>(const LinearCrossEntropyProblem<float>&);
template double run_linear_cross_entropy<double>(const LinearCrossEntropyProblem<double>&);

}  // namespace pysoftmax
