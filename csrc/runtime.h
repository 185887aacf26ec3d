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
// driver's slots and its dW reduction, the blocks of the Python BLAS path) on one pool of
// std::threads. Work goes out in fixed blocks that the threads claim one at a time (an atomic
// counter), so a thread the OS has descheduled holds up only the block it is on; the calling
// thread works too and takes every block no other thread has claimed. Workers are created on
// first need, spin briefly after a call and then sleep; they are joined at exit. In the child of
// a fork (os.fork, multiprocessing's "fork" context) every parallel_for runs on the calling
// thread.
//
// Interrupts: while an InterruptScope lives on the calling thread, the parallel_for calls made
// there (and the drivers' loops, through stop_requested) poll it between blocks, about every
// 25 ms, and stop starting blocks once it says so. The runtime knows nothing of what the poll
// does (the bindings run Python's signal handlers).
#pragma once

#include <atomic>
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
// Whether the build has OpenMP: it gives the default count (OMP_NUM_THREADS) and the thread
// limit; the threads themselves are the runtime's own either way.
bool have_openmp();

// Calls body(i) once for every i in [0, n), on t = min(n, threads) threads (t = 1 in the child
// of a fork, or when another parallel_for holds the pool): the calling thread and t - 1
// workers take the indices one at a time, in increasing order, as each finishes its previous
// one; with t = 1 all run on the calling thread, in order. Returns when every call has, or, once
// an InterruptScope asked to stop, when the calls already started have (the others are
// skipped). body must not throw. Callers choose n and what each index computes so that results
// do not depend on which thread runs it.
void parallel_for(size_t n, size_t threads, void (*body)(const void* context, size_t i),
                  const void* context);
template <class F>
void parallel_for(size_t n, size_t threads, const F& body) {
    parallel_for(
        n, threads, [](const void* f, size_t i) { (*static_cast<const F*>(f))(i); }, &body);
}
// The same on get_num_threads() threads.
void parallel_for(size_t n, void (*body)(const void* context, size_t i), const void* context);
template <class F>
void parallel_for(size_t n, const F& body) {
    parallel_for(n, size_t(get_num_threads()), body);
}

// Inside a parallel_for's body: which of its t threads runs the call, from 0 (the calling
// thread) to t - 1, for per-thread buffers. 0 outside parallel_for.
size_t worker_index();

// A stop request for the parallel work started on the thread that creates it (runtime.h's
// header). That thread calls poll(context) at most every 25 ms from stop_requested() (which
// parallel_for calls between blocks, and while it waits for the other threads); once poll
// returns true it is not called again and stopped() stays true. Scopes nest (the innermost
// polls).
class InterruptScope {
public:
    InterruptScope(bool (*poll)(void* context), void* context);
    ~InterruptScope();
    InterruptScope(const InterruptScope&) = delete;
    InterruptScope& operator=(const InterruptScope&) = delete;
    bool stopped() const;

private:
    friend bool stop_requested();
    bool poll_if_due();
    bool (*poll_)(void*);
    void* context_;
    long long next_poll_ns_;
    InterruptScope* outer_;
    alignas(64) std::atomic<bool> stop_{false};
};

// Whether the parallel work this thread is part of was asked to stop: on the thread that holds
// an InterruptScope, polls it when due; on a worker, the flag of the scope of the call it runs.
// False when no scope is live. Long loops inside a body check it to end early.
bool stop_requested();

// Threaded entry points of the row kernels: the rows go out in blocks (a multiple of 16 rows,
// fixed by n, k and the type alone: about 16K elements, or 2 MB of long rows beyond the caches
// so that the kernels stream their output), each computed by exactly one thread, so results do
// not depend on the thread count; inputs of fewer than 32K elements run on the calling thread.
// After an InterruptScope's stop, the rows of the blocks not started are left as they were.
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

// The thread count for threadpoolctl (pysoftmax/_threadpool.py reads and sets it through
// ctypes): the count, and set_num_threads with n clamped to [1, max_num_threads()], returning
// the count set.
extern "C" {
__attribute__((visibility("default"))) int pysoftmax_get_num_threads(void);
__attribute__((visibility("default"))) int pysoftmax_set_num_threads(int n);
}
