// Runtime dispatch and threading (no maths here).
#include "runtime.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#if defined(_OPENMP)
#include <omp.h>
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define PYSOFTMAX_X86 1
#endif

namespace pysoftmax {
namespace {

// Below this many elements a call runs on one thread: fork/join costs microseconds.
constexpr size_t kMinParallelElements = size_t(1) << 15;

const Kernels* table_for(const std::string& name) {
    if (name == "avx512") return avx512_kernels();
    if (name == "avx2") return avx2_kernels();
    if (name == "scalar") return scalar_kernels();
    return nullptr;
}

bool has_all(const std::set<std::string>& f, std::initializer_list<const char*> names) {
    return std::all_of(names.begin(), names.end(), [&](const char* s) { return f.count(s) > 0; });
}

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& e : v) s += (s.empty() ? "" : ", ") + e;
    return s;
}

int default_threads() {
#if defined(_OPENMP)
    return std::max(1, omp_get_max_threads());
#else
    return std::max(1u, std::thread::hardware_concurrency());
#endif
}

std::atomic<const Kernels*> g_active{nullptr};
std::atomic<int> g_threads{default_threads()};

template <class T>
const KernelSet<T>& kernel_set(const Kernels& k);
template <>
const KernelSet<float>& kernel_set<float>(const Kernels& k) {
    return k.f32;
}
template <>
const KernelSet<double>& kernel_set<double>(const Kernels& k) {
    return k.f64;
}

// Thread boundaries fall on multiples of this many rows, so that the kernels that take rows in
// groups (up to 16 rows at a time) group them the same way whatever the thread count: results
// do not depend on it.
constexpr size_t kRowAlign = 16;

// The first row of part t of n rows cut into `parts`.
size_t split(size_t n, size_t t, size_t parts) {
    return t == parts ? n : (n / kRowAlign * t / parts) * kRowAlign;
}

// Calls body(begin, end) on contiguous, static blocks of rows, one per thread.
template <class F>
void parallel_rows(size_t n, size_t k, const F& body) {
    size_t nt = size_t(get_num_threads());
    if (nt > n) nt = n;
    if (nt <= 1 || n * k < kMinParallelElements) {
        body(size_t(0), n);
        return;
    }
#if defined(_OPENMP)
#pragma omp parallel num_threads(int(nt))
    {
        const size_t t = size_t(omp_get_thread_num()), T = size_t(omp_get_num_threads());
        body(split(n, t, T), split(n, t + 1, T));
    }
#else
    std::vector<std::thread> pool;
    for (size_t t = 1; t < nt; ++t) pool.emplace_back(body, split(n, t, nt), split(n, t + 1, nt));
    body(size_t(0), split(n, 1, nt));
    for (auto& th : pool) th.join();
#endif
}

}  // namespace

std::set<std::string> cpu_features() {
    std::set<std::string> f;
#ifdef PYSOFTMAX_X86
    unsigned a, b, c, d;
    if (__get_cpuid(1, &a, &b, &c, &d)) {
        if (c & (1u << 12)) f.insert("fma");
        const bool osxsave = c & (1u << 27), avx = c & (1u << 28);
        if (osxsave && avx) {
            unsigned lo, hi;
            __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
            if ((lo & 0x6u) == 0x6u) f.insert("os_avx");       // XMM and YMM state
            if ((lo & 0xE6u) == 0xE6u) f.insert("os_avx512");  // + opmask, ZMM0-15, ZMM16-31
        }
    }
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        if (b & (1u << 5)) f.insert("avx2");
        if (b & (1u << 16)) f.insert("avx512f");
        if (b & (1u << 17)) f.insert("avx512dq");
        if (b & (1u << 30)) f.insert("avx512bw");
        if (b & (1u << 31)) f.insert("avx512vl");
    }
#endif
    return f;
}

std::vector<std::string> compiled_isas() {
    std::vector<std::string> out;
    for (const char* name : {"avx512", "avx2", "scalar"})
        if (table_for(name)) out.push_back(name);
    return out;
}

std::vector<std::string> supported_isas(const std::set<std::string>& f) {
    std::vector<std::string> out;
    if (avx512_kernels() &&
        has_all(f, {"avx512f", "avx512dq", "avx512bw", "avx512vl", "fma", "os_avx", "os_avx512"}))
        out.push_back("avx512");
    if (avx2_kernels() && has_all(f, {"avx2", "fma", "os_avx"})) out.push_back("avx2");
    out.push_back("scalar");
    return out;
}

std::string select_isa(const std::set<std::string>& features, const std::string& forced) {
    const std::vector<std::string> usable = supported_isas(features);
    if (forced.empty()) return usable.front();
    if (forced != "avx512" && forced != "avx2" && forced != "scalar")
        throw std::invalid_argument("unknown instruction set '" + forced +
                                    "'; expected one of: scalar, avx2, avx512");
    if (!table_for(forced))
        throw std::invalid_argument(
            "instruction set '" + forced +
            "' was not compiled into this build of pysoftmax; compiled: " + join(compiled_isas()));
    if (std::find(usable.begin(), usable.end(), forced) == usable.end()) {
        const char* needs = forced == "avx512"
                                ? "AVX-512 F, DQ, BW and VL with OS support for ZMM state"
                                : "AVX2 and FMA with OS support for YMM state";
        throw std::invalid_argument(
            "instruction set '" + forced + "' needs " + needs +
            ", which this CPU does not offer; usable here: " + join(usable));
    }
    return forced;
}

const Kernels& active_kernels() {
    const Kernels* k = g_active.load(std::memory_order_acquire);
    if (!k) {
        k = table_for(select_isa(cpu_features(), ""));
        g_active.store(k, std::memory_order_release);
    }
    return *k;
}

void set_isa(const std::string& name) {
    g_active.store(table_for(select_isa(cpu_features(), name)), std::memory_order_release);
}

int get_num_threads() { return g_threads.load(std::memory_order_relaxed); }

void* thread_scratch(size_t bytes) {
    struct Buffer {
        void* p = nullptr;
        size_t size = 0;
        ~Buffer() { std::free(p); }
    };
    static thread_local Buffer b;
    if (b.size < bytes) {
        const size_t size = (bytes + 63) / 64 * 64;
        void* p = std::aligned_alloc(64, size);
        if (p == nullptr) return nullptr;  // the caller then writes in place
        std::free(b.p);
        b.p = p;
        b.size = size;
    }
    return b.p;
}

void set_num_threads(int n) {
    if (n < 1)
        throw std::invalid_argument("n: the number of threads must be >= 1, got " +
                                    std::to_string(n));
    g_threads.store(n, std::memory_order_relaxed);
}

bool have_openmp() {
#if defined(_OPENMP)
    return true;
#else
    return false;
#endif
}

template <class T>
void run_softmax(size_t n, size_t k, const T* x, ptrdiff_t ldx, const uint8_t* mask, ptrdiff_t ldm,
                 T* y, ptrdiff_t ldy, double temperature, bool log) {
    const KernelSet<T>& ks = kernel_set<T>(active_kernels());
    const RowsFn<T> f = log ? ks.log_softmax : ks.softmax;
    parallel_rows(n, k, [&](size_t b, size_t e) {
        const ptrdiff_t i = ptrdiff_t(b);
        f(e - b, k, x + i * ldx, ldx, mask ? mask + i * ldm : nullptr, ldm, y + i * ldy, ldy,
          temperature);
    });
}

template <class T>
void run_logsumexp(size_t n, size_t k, const T* x, ptrdiff_t ldx, const uint8_t* mask,
                   ptrdiff_t ldm, T* y, ptrdiff_t incy) {
    const LseFn<T> f = kernel_set<T>(active_kernels()).logsumexp;
    parallel_rows(n, k, [&](size_t b, size_t e) {
        const ptrdiff_t i = ptrdiff_t(b);
        f(e - b, k, x + i * ldx, ldx, mask ? mask + i * ldm : nullptr, ldm, y + i * incy, incy);
    });
}

template <class T>
void run_cross_entropy(size_t n, size_t k, const T* x, ptrdiff_t ldx, const int64_t* labels,
                       const T* probs, ptrdiff_t ldt, const T* weight, const uint8_t* mask,
                       ptrdiff_t ldm, double* loss, T* grad, ptrdiff_t ldg,
                       const CrossEntropyParams& params) {
    const CrossEntropyFn<T> f = kernel_set<T>(active_kernels()).cross_entropy;
    parallel_rows(n, k, [&](size_t b, size_t e) {
        const ptrdiff_t i = ptrdiff_t(b);
        f(e - b, k, x + i * ldx, ldx, labels ? labels + i : nullptr,
          probs ? probs + i * ldt : nullptr, ldt, weight, mask ? mask + i * ldm : nullptr, ldm,
          loss + i, grad ? grad + i * ldg : nullptr, ldg, params);
    });
}

template void run_softmax<float>(size_t, size_t, const float*, ptrdiff_t, const uint8_t*, ptrdiff_t,
                                 float*, ptrdiff_t, double, bool);
template void run_softmax<double>(size_t, size_t, const double*, ptrdiff_t, const uint8_t*,
                                  ptrdiff_t, double*, ptrdiff_t, double, bool);
template void run_logsumexp<float>(size_t, size_t, const float*, ptrdiff_t, const uint8_t*,
                                   ptrdiff_t, float*, ptrdiff_t);
template void run_logsumexp<double>(size_t, size_t, const double*, ptrdiff_t, const uint8_t*,
                                    ptrdiff_t, double*, ptrdiff_t);

template void run_cross_entropy<float>(size_t, size_t, const float*, ptrdiff_t, const int64_t*,
                                       const float*, ptrdiff_t, const float*, const uint8_t*,
                                       ptrdiff_t, double*, float*, ptrdiff_t,
                                       const CrossEntropyParams&);
template void run_cross_entropy<double>(size_t, size_t, const double*, ptrdiff_t, const int64_t*,
                                        const double*, ptrdiff_t, const double*, const uint8_t*,
                                        ptrdiff_t, double*, double*, ptrdiff_t,
                                        const CrossEntropyParams&);

}  // namespace pysoftmax
