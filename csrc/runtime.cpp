// Runtime: the instruction-set registry, dispatch and threads (no maths here).
#include "runtime.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>

#if __has_include(<pthread.h>)
#include <pthread.h>
#define PYSOFTMAX_ATFORK 1
#endif

#if defined(_OPENMP)
#include <omp.h>
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define PYSOFTMAX_X86 1
#endif

namespace pysoftmax {
namespace {

// One instruction set (runtime.h).
struct Isa {
    const char* name;
    std::vector<std::string> features;  // the cpu_features() it needs, all of them
    const char* needs;                  // the same in words, for errors
    const Kernels* (*kernels)();        // nullptr when not compiled
    const LinearKernels* (*linear)();   // nullptr when not compiled
    const SparseKernels* (*sparse)();   // nullptr when not compiled
    const char* emulates;               // a testing row: the row whose results it reproduces
    bool compiled() const {
        return kernels() != nullptr && linear() != nullptr && sparse() != nullptr;
    }
    bool testing() const { return emulates != nullptr; }
};

// The registry, in priority order (best first); the last of the real rows needs nothing. AVX-512
// has no linear or sparse kernels of its own: the AVX2 ones serve it. Testing rows come last: they
// are never chosen by default nor listed with the real ones, only named (set_isa, PYSOFTMAX_ISA).
const Isa kRegistry[] = {
    {"avx512",
     {"avx512f", "avx512dq", "avx512bw", "avx512vl", "fma", "os_avx", "os_avx512"},
     "AVX-512 F, DQ, BW and VL with OS support for ZMM state",
     avx512_kernels,
     linear_avx2_kernels,
     sparse_avx2_kernels,
     nullptr},
    {"avx2",
     {"avx2", "fma", "os_avx"},
     "AVX2 and FMA with OS support for YMM state",
     avx2_kernels,
     linear_avx2_kernels,
     sparse_avx2_kernels,
     nullptr},
    {"scalar",
     {},
     "nothing",
     scalar_kernels,
     linear_scalar_kernels,
     sparse_scalar_kernels,
     nullptr},
    // AVX-512's 16 float / 8 double lanes, each 512-bit vector as two AVX2 halves
    {"emulated512",
     {"avx2", "fma", "os_avx"},
     "AVX2 and FMA with OS support for YMM state",
     emulated512_kernels,
     linear_avx2_kernels,
     sparse_avx2_kernels,
     "avx512"},
};

const Isa* find_isa(const std::string& name) {
    for (const Isa& isa : kRegistry)
        if (name == isa.name) return &isa;
    return nullptr;
}

bool runs_on(const Isa& isa, const std::set<std::string>& f) {
    return std::all_of(isa.features.begin(), isa.features.end(),
                       [&](const std::string& s) { return f.count(s) > 0; });
}

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& e : v) s += (s.empty() ? "" : ", ") + e;
    return s;
}

// PYSOFTMAX_ISA without surrounding white space, in lower case; "" when unset or "auto".
std::string forced_by_environment() {
    const char* value = std::getenv("PYSOFTMAX_ISA");
    std::string s = value ? value : "";
    const char* space = " \t\n\v\f\r";
    const size_t b = s.find_first_not_of(space);
    s = b == std::string::npos ? "" : s.substr(b, s.find_last_not_of(space) + 1 - b);
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s == "auto" ? "" : s;
}

int default_threads() {
#if defined(_OPENMP)
    const int n = omp_get_max_threads();
#else
    const int n = int(std::thread::hardware_concurrency());
#endif
    return std::min(std::max(1, n), max_num_threads());
}

// Set in the child of a fork: the parent's pool does not exist there (libgomp would wait for
// it forever), so the child runs every parallel region on its calling thread.
std::atomic<bool> g_forked{false};
#ifdef PYSOFTMAX_ATFORK
[[maybe_unused]] const int g_atfork =
    pthread_atfork(nullptr, nullptr, [] { g_forked.store(true); });
#endif

std::atomic<const Isa*> g_active{nullptr};
std::atomic<int> g_threads{default_threads()};

// The active row; the first use without set_isa chooses it from PYSOFTMAX_ISA.
const Isa& active_row() {
    const Isa* active = g_active.load(std::memory_order_acquire);
    if (active) return *active;
    const std::string forced = forced_by_environment();
    const Isa* chosen;
    try {
        chosen = find_isa(select_isa(cpu_features(), forced));
    } catch (const std::invalid_argument& e) {
        throw std::runtime_error("PYSOFTMAX_ISA=" + forced + ": " + e.what());
    }
    // A set_isa that ran meanwhile wins.
    if (g_active.compare_exchange_strong(active, chosen, std::memory_order_acq_rel)) return *chosen;
    return *active;
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
    for (const Isa& isa : kRegistry)
        if (isa.compiled() && !isa.testing()) out.push_back(isa.name);
    return out;
}

std::vector<std::string> supported_isas(const std::set<std::string>& f) {
    std::vector<std::string> out;
    for (const Isa& isa : kRegistry)
        if (isa.compiled() && !isa.testing() && runs_on(isa, f)) out.push_back(isa.name);
    return out;
}

std::vector<std::pair<std::string, std::string>> testing_isas(const std::set<std::string>& f) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const Isa& isa : kRegistry)
        if (isa.compiled() && isa.testing() && runs_on(isa, f))
            out.emplace_back(isa.name, isa.emulates);
    return out;
}

std::string select_isa(const std::set<std::string>& features, const std::string& forced) {
    const std::vector<std::string> usable = supported_isas(features);
    if (forced.empty()) return usable.front();
    const Isa* isa = find_isa(forced);
    if (!isa) {
        std::vector<std::string> names, testing;
        for (const Isa& row : kRegistry) (row.testing() ? testing : names).push_back(row.name);
        throw std::invalid_argument("unknown instruction set '" + forced + "'; expected one of: " +
                                    join(names) + " (for testing: " + join(testing) + ")");
    }
    if (!isa->compiled())
        throw std::invalid_argument(
            "instruction set '" + forced +
            "' was not compiled into this build of pysoftmax; compiled: " + join(compiled_isas()));
    if (!runs_on(*isa, features))
        throw std::invalid_argument(
            "instruction set '" + forced + "' needs " + isa->needs +
            ", which this CPU does not offer; usable here: " + join(usable));
    return forced;
}

ActiveIsa active_isa() {
    const Isa& isa = active_row();
    return {isa.name, *isa.kernels(), *isa.linear(), *isa.sparse()};
}

void set_isa(const std::string& name) {
    g_active.store(find_isa(select_isa(cpu_features(), name)), std::memory_order_release);
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

int max_num_threads() {
    int n = 4 * int(std::max(1u, std::thread::hardware_concurrency()));
#if defined(_OPENMP)
    n = std::min(n, std::max(1, omp_get_thread_limit()));
#endif
    return n;
}

void set_num_threads(int n) {
    if (n < 1 || n > max_num_threads())
        throw std::invalid_argument("n: the number of threads must be from 1 to " +
                                    std::to_string(max_num_threads()) + ", got " +
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

// ---- threads -----------------------------------------------------------------------------

namespace {

using Body = void (*)(const void*, size_t);
using Clock = std::chrono::steady_clock;

long long now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
        .count();
}

// How often a scope's thread polls it, and how long an idle worker spins before it sleeps (so
// that back-to-back calls find it awake: waking a sleeping thread takes tens of microseconds).
constexpr long long kPollNs = 25'000'000, kSpinNs = 200'000;

void pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    std::this_thread::yield();
#endif
}

thread_local InterruptScope* t_scope = nullptr;      // the innermost scope of this thread
thread_local InterruptScope* t_job_scope = nullptr;  // a worker's: the scope of its call
thread_local size_t t_worker = 0;                    // worker_index()

// The workers and the one call they serve at a time. A call (run) posts its body and block
// count, then claims blocks itself; a worker that wakes claims blocks too. Once the counter
// passes n, the caller closes the call and waits only for the workers inside it (each on the
// block it claimed). The job's plain fields are written before `state` opens the call and read
// by a worker only after it counted itself in `users` and saw the call still open, so the next
// call cannot overwrite them under it.
class Pool {
public:
    // Runs body on up to `threads` threads (the caller one of them); false when another call
    // holds the pool or the pool is shutting down (the caller then runs the blocks alone).
    bool run(size_t n, size_t threads, Body body, const void* context) {
        if (busy_.exchange(true, std::memory_order_acquire)) return false;
        const size_t helpers = grow(threads - 1);
        if (helpers == 0) {
            busy_.store(false, std::memory_order_release);
            return false;
        }
        n_ = n;
        body_ = body;
        context_ = context;
        scope_ = t_scope;
        helpers_ = helpers;
        next_.store(0, std::memory_order_relaxed);
        const uint64_t epoch = (state_.load(std::memory_order_relaxed) >> 1) + 1;
        state_.store(epoch << 1 | 1);  // open
        if (sleepers_.load() > 0) {
            pass_mutex();
            wake_.notify_all();
        }
        claim(true);
        state_.store(epoch << 1);  // closed: no worker enters any more
        wait_for_users();
        busy_.store(false, std::memory_order_release);
        return true;
    }

    // At exit: the workers leave, and are joined unless a call is still running (from a thread
    // the interpreter left behind, whose work may wait for the GIL forever): then they are
    // left to the end of the process. Later calls run on their calling threads.
    void shut_down() {
        std::vector<std::thread> threads;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            shutdown_.store(true);
            threads.swap(threads_);
        }
        wake_.notify_all();
        const bool running = busy_.load();
        for (std::thread& t : threads) running ? t.detach() : t.join();
    }

private:
    // Takes and releases the mutex: a thread that checked its wait's condition under it is
    // then waiting, so the notification that follows reaches it.
    void pass_mutex() { std::lock_guard<std::mutex> lock(mutex_); }

    // Makes sure `helpers` workers exist (as many as can be created); returns how many serve.
    size_t grow(size_t helpers) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (shutdown_.load()) return 0;
        while (threads_.size() < helpers) {
            const size_t w = threads_.size();
            const uint64_t epoch = state_.load() >> 1;
            try {
                threads_.emplace_back([this, w, epoch] { work(w, epoch); });
            } catch (const std::system_error&) {
                break;  // the OS refused a thread: the existing ones serve
            }
        }
        return std::min(helpers, threads_.size());
    }

    // The blocks this thread claims until none is left (or the call's scope stopped it).
    void claim(bool caller) {
        for (;;) {
            const bool stop = caller ? stop_requested() : scope_ && scope_->stopped();
            if (stop) {
                next_.store(n_, std::memory_order_relaxed);
                return;
            }
            const size_t i = next_.fetch_add(1, std::memory_order_relaxed);
            if (i >= n_) return;
            body_(context_, i);
        }
    }

    // The caller's wait for the workers still inside the call: a short spin, then sleeps of at
    // most the poll interval (so that the scope is polled meanwhile).
    void wait_for_users() {
        for (int spin = 0; spin < 2000; ++spin) {
            if (users_.load() == 0) return;
            pause();
        }
        while (users_.load() != 0) {
            stop_requested();
            std::unique_lock<std::mutex> lock(mutex_);
            waiting_.store(true);
            done_.wait_for(lock, std::chrono::nanoseconds(kPollNs),
                           [this] { return users_.load() == 0; });
            waiting_.store(false);
        }
    }

    // Worker w: waits for each call after the one with `seen`, serves it if it is among the
    // call's helpers.
    void work(size_t w, uint64_t seen) {
        t_worker = w + 1;
        for (;;) {
            const uint64_t epoch = wait_for_call(seen);
            if (epoch == 0) return;  // shutting down
            seen = epoch;
            users_.fetch_add(1);
            if (state_.load() == (epoch << 1 | 1) && w < helpers_) {
                t_job_scope = scope_;
                claim(false);
                t_job_scope = nullptr;
            }
            if (users_.fetch_sub(1) == 1 && waiting_.load()) {
                pass_mutex();
                done_.notify_all();
            }
        }
    }

    // The epoch of the first call after `seen`, or 0 at shutdown: spins for kSpinNs, then
    // sleeps until run() wakes it.
    uint64_t wait_for_call(uint64_t seen) {
        const long long until = now_ns() + kSpinNs;
        for (unsigned spin = 1;; ++spin) {
            const uint64_t epoch = state_.load(std::memory_order_acquire) >> 1;
            if (epoch != seen) return epoch;
            if (shutdown_.load(std::memory_order_relaxed)) return 0;
            pause();
            if (spin % 64 == 0 && now_ns() > until) break;
        }
        std::unique_lock<std::mutex> lock(mutex_);
        sleepers_.fetch_add(1);
        wake_.wait(lock, [&] { return (state_.load() >> 1) != seen || shutdown_.load(); });
        sleepers_.fetch_sub(1);
        return shutdown_.load() ? 0 : state_.load() >> 1;
    }

    std::mutex mutex_;
    std::condition_variable wake_, done_;
    std::vector<std::thread> threads_;
    std::atomic<bool> busy_{false}, shutdown_{false}, waiting_{false};
    std::atomic<int> sleepers_{0};
    alignas(64) std::atomic<uint64_t> state_{0};  // the call's epoch << 1 | whether it is open
    alignas(64) std::atomic<int> users_{0};       // workers inside the call
    alignas(64) std::atomic<size_t> next_{0};     // the next block to claim
    size_t n_ = 0, helpers_ = 0;
    Body body_ = nullptr;
    const void* context_ = nullptr;
    InterruptScope* scope_ = nullptr;
};

// The pool, made on first use and never freed: at exit its workers are joined (Reaper), but a
// thread still inside a call may use it until the process ends. In the child of a fork the
// parent's workers do not exist: nothing is joined there.
std::atomic<Pool*> g_pool{nullptr};
std::mutex g_pool_mutex;

Pool& pool() {
    Pool* p = g_pool.load(std::memory_order_acquire);
    if (p) return *p;
    std::lock_guard<std::mutex> lock(g_pool_mutex);
    p = g_pool.load(std::memory_order_relaxed);
    if (!p) {
        p = new Pool;
        g_pool.store(p, std::memory_order_release);
    }
    return *p;
}

struct Reaper {
    ~Reaper() {
        Pool* p = g_pool.load();
        if (p && !g_forked.load()) p->shut_down();
    }
} g_reaper;

void serial_for(size_t n, Body body, const void* context) {
    const size_t worker = t_worker;
    t_worker = 0;
    for (size_t i = 0; i < n && !stop_requested(); ++i) body(context, i);
    t_worker = worker;
}

// Below this many elements a row call runs on one thread: handing out blocks costs
// microseconds.
constexpr size_t kMinParallelElements = size_t(1) << 15;

// Row blocks start on multiples of this many rows, so that the kernels that take rows in
// groups (up to 16 rows at a time) group them the same way whatever the blocks: results do not
// depend on them.
constexpr size_t kRowAlign = 16;

// A block's elements: few enough that several blocks per thread balance the load when a thread
// is descheduled; for rows of at least 128 bytes whose output is beyond the caches, 2 MB, which
// the kernels stream (simd/cache_policy.h: kSpanRowBytes, kStreamBytes).
constexpr size_t kBlockElements = size_t(1) << 14;
constexpr size_t kStreamRowBytes = 128, kStreamBlockBytes = size_t(2) << 20;

// Calls body(begin, end) on the blocks of rows of an (n, k) array of T, on the threads.
template <class T, class F>
void parallel_rows(size_t n, size_t k, const F& body) {
    const bool stream = k * sizeof(T) >= kStreamRowBytes && n * k * sizeof(T) >= kStreamBlockBytes;
    const size_t elements = stream ? kStreamBlockBytes / sizeof(T) : kBlockElements;
    const size_t rows =
        std::max(kRowAlign, elements / std::max<size_t>(1, k) / kRowAlign * kRowAlign);
    const size_t blocks = (n + rows - 1) / rows;
    const size_t threads = n * k < kMinParallelElements ? 1 : size_t(get_num_threads());
    parallel_for(blocks, threads, [&](size_t b) { body(b * rows, std::min(n, (b + 1) * rows)); });
}

}  // namespace

InterruptScope::InterruptScope(bool (*poll)(void*), void* context)
    : poll_(poll), context_(context), next_poll_ns_(now_ns() + kPollNs), outer_(t_scope) {
    t_scope = this;
}

InterruptScope::~InterruptScope() { t_scope = outer_; }

bool InterruptScope::stopped() const { return stop_.load(std::memory_order_relaxed); }

bool InterruptScope::poll_if_due() {
    if (stopped()) return true;
    const long long now = now_ns();
    if (now < next_poll_ns_) return false;
    next_poll_ns_ = now + kPollNs;
    if (!poll_(context_)) return false;
    stop_.store(true, std::memory_order_relaxed);
    return true;
}

bool stop_requested() {
    if (InterruptScope* s = t_scope) return s->poll_if_due();
    if (InterruptScope* s = t_job_scope) return s->stopped();
    return false;
}

size_t worker_index() { return t_worker; }

void parallel_for(size_t n, size_t threads, Body body, const void* context) {
    const size_t nt = g_forked.load() ? 1 : std::min(n, threads);
    if (nt <= 1 || !pool().run(n, nt, body, context)) serial_for(n, body, context);
}

void parallel_for(size_t n, Body body, const void* context) {
    parallel_for(n, size_t(get_num_threads()), body, context);
}

template <class T>
void run_softmax(size_t n, size_t k, const T* x, ptrdiff_t ldx, const uint8_t* mask, ptrdiff_t ldm,
                 T* y, ptrdiff_t ldy, double temperature, bool log) {
    const KernelSet<T>& ks = of_type<T>(active_isa().kernels);
    const RowsFn<T> f = log ? ks.log_softmax : ks.softmax;
    parallel_rows<T>(n, k, [&](size_t b, size_t e) {
        const ptrdiff_t i = ptrdiff_t(b);
        f(e - b, k, x + i * ldx, ldx, mask ? mask + i * ldm : nullptr, ldm, y + i * ldy, ldy,
          temperature);
    });
}

template <class T>
void run_logsumexp(size_t n, size_t k, const T* x, ptrdiff_t ldx, const uint8_t* mask,
                   ptrdiff_t ldm, T* y, ptrdiff_t incy) {
    const LseFn<T> f = of_type<T>(active_isa().kernels).logsumexp;
    parallel_rows<T>(n, k, [&](size_t b, size_t e) {
        const ptrdiff_t i = ptrdiff_t(b);
        f(e - b, k, x + i * ldx, ldx, mask ? mask + i * ldm : nullptr, ldm, y + i * incy, incy);
    });
}

template <class T>
void run_cross_entropy(size_t n, size_t k, const T* x, ptrdiff_t ldx, const int64_t* labels,
                       const T* probs, ptrdiff_t ldt, const T* weight, const uint8_t* mask,
                       ptrdiff_t ldm, double* loss, T* grad, ptrdiff_t ldg,
                       const CrossEntropyParams& params) {
    const CrossEntropyFn<T> f = of_type<T>(active_isa().kernels).cross_entropy;
    parallel_rows<T>(n, k, [&](size_t b, size_t e) {
        const ptrdiff_t i = ptrdiff_t(b);
        f(e - b, k, x + i * ldx, ldx, labels ? labels + i : nullptr,
          probs ? probs + i * ldt : nullptr, ldt, weight, mask ? mask + i * ldm : nullptr, ldm,
          loss + i, grad ? grad + i * ldg : nullptr, ldg, params);
    });
}

// The floors' parts: part i of at most t (the thread count) takes [b, e), b and e multiples of
// 64 elements (the last e is n), so that each part starts aligned as the array does.
template <class F>
void parallel_parts(size_t n, size_t t, const F& part) {
    const size_t per = ((n + t - 1) / t + 63) / 64 * 64;
    const size_t parts = per ? (n + per - 1) / per : 0;
    parallel_for(parts, t, [&](size_t i) { part(i, i * per, std::min(n, (i + 1) * per)); });
}

template <class T>
void run_stream_copy(size_t n, const T* x, T* y) {
    const auto f = of_type<T>(active_isa().kernels).floors.stream_copy;
    parallel_parts(n, size_t(get_num_threads()),
                   [&](size_t, size_t b, size_t e) { f(e - b, x + b, y + b); });
}

template <class T>
T run_read_max(size_t n, const T* x) {
    const auto f = of_type<T>(active_isa().kernels).floors.read_max;
    const size_t t = size_t(get_num_threads());
    std::vector<T> part_max(t, -std::numeric_limits<T>::infinity());
    parallel_parts(n, t, [&](size_t i, size_t b, size_t e) { part_max[i] = f(e - b, x + b); });
    return *std::max_element(part_max.begin(), part_max.end());
}

template <class T>
double run_exp_sum(size_t n, const T* x, T shift, size_t repeat) {
    const auto f = of_type<T>(active_isa().kernels).floors.exp_sum;
    const size_t t = size_t(get_num_threads());
    std::vector<double> part_sum(t, 0.0);
    parallel_parts(
        n, t, [&](size_t i, size_t b, size_t e) { part_sum[i] = f(e - b, x + b, shift, repeat); });
    double s = 0.0;
    for (double v : part_sum) s += v;
    return s;
}

template <class T>
void run_exp_store(size_t n, const T* x, T shift, T* y, size_t repeat) {
    const auto f = of_type<T>(active_isa().kernels).floors.exp_store;
    parallel_parts(n, size_t(get_num_threads()),
                   [&](size_t, size_t b, size_t e) { f(e - b, x + b, shift, y + b, repeat); });
}

#define PYSOFTMAX_FLOORS(T)                                      \
    template void run_stream_copy<T>(size_t, const T*, T*);      \
    template T run_read_max<T>(size_t, const T*);                \
    template double run_exp_sum<T>(size_t, const T*, T, size_t); \
    template void run_exp_store<T>(size_t, const T*, T, T*, size_t);
PYSOFTMAX_FLOORS(float)
PYSOFTMAX_FLOORS(double)
#undef PYSOFTMAX_FLOORS

// The vector arithmetic's parts: a multiple of the kernels' blocks (simd/vector_ops.h), fixed,
// so that each dot product is the same sum of the same blocks on any thread count.
constexpr size_t kVectorPart = size_t(1) << 15;

void run_dots(size_t n, const double* const* rows, size_t r, const double* const* vecs, size_t c,
              double* out) {
    const auto f = active_isa().kernels.f64.vectors.dots;
    const size_t parts = std::max<size_t>(1, (n + kVectorPart - 1) / kVectorPart);
    std::vector<double> sums(parts * c * r);
    parallel_for(parts, [&](size_t p) {
        const size_t b = p * kVectorPart, e = std::min(n, b + kVectorPart);
        std::vector<const double*> rp(r), vp(c);
        for (size_t i = 0; i < r; ++i) rp[i] = rows[i] + b;
        for (size_t j = 0; j < c; ++j) vp[j] = vecs[j] + b;
        f(e - b, rp.data(), r, vp.data(), c, sums.data() + p * c * r);
    });
    for (size_t j = 0; j < c * r; ++j) {
        double s = 0.0;
        for (size_t p = 0; p < parts; ++p) s += sums[p * c * r + j];
        out[j] = s;
    }
}

void run_combine(size_t n, const double* const* rows, size_t r, const double* coef, double* out) {
    const auto f = active_isa().kernels.f64.vectors.combine;
    const size_t parts = (n + kVectorPart - 1) / kVectorPart;
    parallel_for(parts, [&](size_t p) {
        const size_t b = p * kVectorPart, e = std::min(n, b + kVectorPart);
        std::vector<const double*> rp(r);
        for (size_t i = 0; i < r; ++i) rp[i] = rows[i] + b;
        f(e - b, rp.data(), r, coef, out + b);
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

extern "C" int pysoftmax_get_num_threads(void) { return pysoftmax::get_num_threads(); }

extern "C" int pysoftmax_set_num_threads(int n) {
    pysoftmax::set_num_threads(std::min(std::max(n, 1), pysoftmax::max_num_threads()));
    return pysoftmax::get_num_threads();
}
