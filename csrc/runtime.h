// Runtime: the one place that decides which kernels run and on how many threads, for every
// kernel family (the row kernels and their floors of kernels.h, the fused linear kernels of
// linear.h, the sparse ones of sparse.h).
//
// Instruction-set registry (runtime.cpp): one row per instruction set, best first. A row names
// the set, lists the CPU/OS features it needs (cpu_features() names), says them in words for
// errors, and gives the getters of its row-kernel table (kernels.h), its linear-kernel table
// (linear.h) and its sparse table (sparse.h). A set is compiled when every getter returns a
// table. Every list of names
// (compiled_isas, supported_isas, select_isa's checks and messages) is derived from the rows;
// adding an instruction set is one translation unit with its tables plus one row.
//
// The active set is one row: set_isa switches every family together. Until set_isa is called,
// the first use chooses it from the environment variable PYSOFTMAX_ISA (a name of the
// registry, or "auto" / empty / unset: the best this CPU runs; case and surrounding spaces
// ignored).
//
// Threads: parallel_for runs every family's parallel work (the row kernels, the linear
// driver's slots and its dW reduction, the blocks of the Python BLAS path) on one pool, OpenMP
// when the build has it and std::thread otherwise. In the child of a fork (os.fork,
// multiprocessing's "fork" context) every parallel_for runs on the calling thread.
#pragma once

#include <cstddef>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "kernels.h"
#include "linear.h"
#include "sparse.h"

namespace pysoftmax {

// CPU and OS features relevant to dispatch, by name: "avx2", "fma", "avx512f", "avx512dq",
// "avx512bw", "avx512vl", and "os_avx" / "os_avx512" when the OS saves the YMM / ZMM state.
std::set<std::string> cpu_features();

// Instruction sets built into this module, best first (always ends with "scalar").
std::vector<std::string> compiled_isas();

// Instruction sets usable with `features`, best first (always ends with "scalar").
std::vector<std::string> supported_isas(const std::set<std::string>& features);

// The testing rows usable with `features`, each with the row whose results it reproduces bit
// for bit ("emulated512": AVX-512's lanes on AVX2). Never chosen by default; set_isa and
// PYSOFTMAX_ISA accept them.
std::vector<std::pair<std::string, std::string>> testing_isas(
    const std::set<std::string>& features);

// The choice for `features`: the best supported one when `forced` is empty, else `forced`.
// Throws std::invalid_argument for an unknown name or one the CPU cannot run.
std::string select_isa(const std::set<std::string>& features, const std::string& forced);

// The active instruction set: its registry name and its tables, read together (one row) by
// every entry point. Throws std::runtime_error naming PYSOFTMAX_ISA when the first use finds an
// invalid value there (and again on every use until set_isa succeeds).
struct ActiveIsa {
    const char* name;
    const Kernels& kernels;
    const LinearKernels& linear;
    const SparseKernels& sparse;
};
ActiveIsa active_isa();
void set_isa(const std::string& name);  // validated against this CPU, as select_isa

int get_num_threads();
// The most threads set_num_threads accepts: 4 per CPU, or OpenMP's thread limit if smaller.
int max_num_threads();
void set_num_threads(int n);  // 1 <= n <= max_num_threads(), else std::invalid_argument
bool have_openmp();

// Calls body(i) once for every i in [0, n), i going to thread i mod t of
// t = min(n, get_num_threads()) threads, or t = 1 in the child of a fork (the calling thread
// is one of them; with t = 1 all run on it, in order). Returns when every call has. body must not
// throw. Callers choose n and what each index computes so that results do not depend on t.
void parallel_for(size_t n, void (*body)(const void* context, size_t i), const void* context);
template <class F>
void parallel_for(size_t n, const F& body) {
    parallel_for(n, [](const void* f, size_t i) { (*static_cast<const F*>(f))(i); }, &body);
}

// Threaded entry points of the row kernels: rows are split statically across threads (each row
// is computed by exactly one thread, so results do not depend on the thread count); small
// inputs run on the calling thread.
template <class T>
void run_softmax(size_t n, size_t k, const T* x, ptrdiff_t ldx, const uint8_t* mask, ptrdiff_t ldm,
                 T* y, ptrdiff_t ldy, double temperature, bool log);
template <class T>
void run_logsumexp(size_t n, size_t k, const T* x, ptrdiff_t ldx, const uint8_t* mask,
                   ptrdiff_t ldm, T* y, ptrdiff_t incy);

template <class T>
void run_cross_entropy(size_t n, size_t k, const T* x, ptrdiff_t ldx, const int64_t* labels,
                       const T* probs, ptrdiff_t ldt, const T* weight, const uint8_t* mask,
                       ptrdiff_t ldm, double* loss, T* grad, ptrdiff_t ldg,
                       const CrossEntropyParams& params);

// The floors of the active set (kernels.h's FloorSet) over all of x, split across the threads in
// parts of multiples of 64 elements. exp_sum and exp_store take n a multiple of 64.
template <class T>
void run_stream_copy(size_t n, const T* x, T* y);
template <class T>
T run_read_max(size_t n, const T* x);
template <class T>
double run_exp_sum(size_t n, const T* x, T shift, size_t repeat);
template <class T>
void run_exp_store(size_t n, const T* x, T shift, T* y, size_t repeat);

// The solvers' vector arithmetic (kernels.h's VectorSet) on the active set, over vectors of
// length n split into parts of a fixed size, spread across the threads; the parts' dot
// products are added in part order, so the results do not depend on the thread count.
//   run_dots: out (c, r) = vecs . rows, c <= kMaxDotVectors
//   run_combine: out = sum_i coef[i] rows[i]; out may be one of the rows
void run_dots(size_t n, const double* const* rows, size_t r, const double* const* vecs, size_t c,
              double* out);
void run_combine(size_t n, const double* const* rows, size_t r, const double* coef, double* out);

}  // namespace pysoftmax
