// pysoftmax kernel interface: one table of row kernels per instruction set. The runtime
// (runtime.h) lists the tables in its instruction-set registry and runs the active one.
//
// Dimensions used throughout:
//   n    number of rows (slices); each row is reduced independently
//   k    number of elements in a row (classes), k >= 1
// Layout: row i of x starts at x + i*ldx and its k elements are contiguous (unit stride);
// likewise y (ldy) and the optional mask (ldm, which may be 0 for a mask shared by all rows).
// mask: nullptr, or one byte per element, nonzero = the element takes part ("where=True").
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace pysoftmax {

// softmax / log_softmax over each row:
//   x: (n, k) IN, logits
//   mask: (n, k) IN or nullptr
//   y: (n, k) OUT, probabilities (softmax) or log-probabilities (log_softmax); may alias x
//   temperature: T > 0, finite; the result is that of x / T
template <class T>
using RowsFn = void (*)(size_t n, size_t k, const T* x, ptrdiff_t ldx, const uint8_t* mask,
                        ptrdiff_t ldm, T* y, ptrdiff_t ldy, double temperature);

// logsumexp over each row:
//   x: (n, k) IN; mask: (n, k) IN or nullptr
//   y: (n,) OUT with stride incy (in elements): y[i*incy] = log(sum_j exp(x[i, j]))
template <class T>
using LseFn = void (*)(size_t n, size_t k, const T* x, ptrdiff_t ldx, const uint8_t* mask,
                       ptrdiff_t ldm, T* y, ptrdiff_t incy);

// Cross-entropy between softmax(x) and the targets, fused with its gradient, per row:
//   x: (n, k) IN logits
//   labels: (n,) IN class indices (int64), or nullptr when probs is given
//   probs: (n, k) IN target probabilities (row stride ldt), or nullptr when labels is given
//   weight: (k,) IN class weights, or nullptr (all 1)
//   mask: (n, k) IN or nullptr; masked classes leave the normaliser, the targets and the
//         gradient (which is 0 there)
//   loss: (n,) OUT the weighted, scaled loss of each row (0 for an ignored row)
//   grad: (n, k) OUT or nullptr: d loss_row / d x_row; may alias x
// With label smoothing e over the K' included classes, the target is (1 - e) t + e / K':
//   labels: loss = a (1 - e) w[y] (lse - x_y) + a (e / K') sum_j w_j (lse - x_j)
//   probs:  loss = a sum_j w_j t'_j (lse - x_j)            (terms with t'_j = 0 are 0)
// a = scale: the reduction's factor (1, or 1 / the denominator of "mean").
// lse = log sum_j exp(x_j) over the included classes. Labels equal to ignore_index give a
// zero loss and gradient; the caller has checked every other label is in [0, k) and included.
struct CrossEntropyParams {
    int64_t ignore_index;
    double label_smoothing;
    double scale;
};

template <class T>
using CrossEntropyFn = void (*)(size_t n, size_t k, const T* x, ptrdiff_t ldx,
                                const int64_t* labels, const T* probs, ptrdiff_t ldt,
                                const T* weight, const uint8_t* mask, ptrdiff_t ldm, double* loss,
                                T* grad, ptrdiff_t ldg, const CrossEntropyParams& params);

// The floors of the row kernels (simd/floors.h): what the benchmark times beside them, on one
// thread's part of an array (the runtime splits it):
//   stream_copy(n, x, y)            y = x, stored as the kernels store a streamed output
//   read_max(n, x) -> max of x      every element read once
//   exp_sum(n, x, shift, repeat)    sum of exp(x - shift) by the kernels' exp, repeated
//   exp_store(n, x, shift, y, repeat)  y = exp(x - shift), repeated
// exp_sum and exp_store take n a multiple of 64 and x - shift within the fast exp's range.
template <class T>
struct FloorSet {
    void (*stream_copy)(size_t n, const T* x, T* y);
    T (*read_max)(size_t n, const T* x);
    double (*exp_sum)(size_t n, const T* x, T shift, size_t repeat);
    void (*exp_store)(size_t n, const T* x, T shift, T* y, size_t repeat);
};

// The solvers' vector arithmetic (simd/vector_ops.h), on one thread's part [0, n) of vectors
// of length n:
//   dots(n, rows, r, vecs, c, out)   out[j r + i] = sum_t vecs[j][t] rows[i][t],  c <= 4
//   combine(n, rows, r, coef, out)   out[t] = sum_i coef[i] rows[i][t]; out may be a row
inline constexpr size_t kMaxDotVectors = 4;
template <class T>
struct VectorSet {
    void (*dots)(size_t n, const T* const* rows, size_t r, const T* const* vecs, size_t c,
                 double* out);
    void (*combine)(size_t n, const T* const* rows, size_t r, const T* coef, T* out);
};

template <class T>
struct KernelSet {
    RowsFn<T> softmax;
    RowsFn<T> log_softmax;
    LseFn<T> logsumexp;
    CrossEntropyFn<T> cross_entropy;
    FloorSet<T> floors;
    VectorSet<T> vectors;
};

struct Kernels {
    const char* name;  // the instruction set's name in the registry: "scalar", "avx2", "avx512"
    KernelSet<float> f32;
    KernelSet<double> f64;
};

// The float or the double half of a table (Kernels here, LinearKernels in linear.h).
template <class T, class Table>
const auto& of_type(const Table& table) {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "float or double");
    if constexpr (std::is_same_v<T, float>)
        return table.f32;
    else
        return table.f64;
}

// One table per translation unit; each function is the getter of one registry row. avx2_kernels() /
// avx512_kernels() return nullptr when the compiler could not build that instruction set
// (non-x86 targets, old compilers).
const Kernels* scalar_kernels();
const Kernels* avx2_kernels();
const Kernels* avx512_kernels();
const Kernels* emulated512_kernels();  // AVX-512's lanes on AVX2, for testing

// The runtime's scratch memory (runtime.cpp), one buffer per thread for every kernel: at least
// `bytes` bytes, 64-byte aligned, private to the calling thread and reused by its later calls
// (valid until that thread calls it again); nullptr when memory runs out. The SIMD kernels keep
// a row's exp values there when they stream the results to memory.
void* thread_scratch(size_t bytes);

// Scalar single-row kernels: the readable specification. The SIMD kernels call them for the
// rare rows whose maximum is not finite (all -inf, +inf, NaN, everything masked).
template <class T>
void softmax_row_scalar(size_t k, const T* x, const uint8_t* mask, T* y, double temperature,
                        bool log);
template <class T>
T logsumexp_row_scalar(size_t k, const T* x, const uint8_t* mask);
template <class T>
double cross_entropy_row_scalar(size_t k, const T* x, int64_t label, const T* probs,
                                const T* weight, const uint8_t* mask, T* grad,
                                const CrossEntropyParams& p);

}  // namespace pysoftmax
