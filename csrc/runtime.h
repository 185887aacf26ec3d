// Runtime: which kernel table runs (CPU feature detection and selection), how many threads,
// and the entry points that split rows across threads and call the active table.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "kernels.h"

namespace pysoftmax {

// CPU and OS features relevant to dispatch, by name: "avx2", "fma", "avx512f", "avx512dq",
// "avx512bw", "avx512vl", and "os_avx" / "os_avx512" when the OS saves the YMM / ZMM state.
std::set<std::string> cpu_features();

// Instruction sets built into this module, best first (always ends with "scalar").
std::vector<std::string> compiled_isas();

// Instruction sets usable with `features`, best first (always ends with "scalar").
std::vector<std::string> supported_isas(const std::set<std::string>& features);

// The choice for `features`: the best supported one, or `forced` (PYSOFTMAX_ISA) when given.
// Throws std::invalid_argument for an unknown name or one the CPU cannot run.
std::string select_isa(const std::set<std::string>& features, const std::string& forced);

const Kernels& active_kernels();
void set_isa(const std::string& name);  // validated against this CPU, as select_isa

int get_num_threads();
void set_num_threads(int n);  // n >= 1
bool have_openmp();

// Threaded entry points: rows are split statically across threads (each row is computed by
// exactly one thread, so results do not depend on the thread count); small inputs run on
// the calling thread.
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

}  // namespace pysoftmax
