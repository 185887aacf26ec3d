// Measures the largest error of the vector exp, log and log1p (csrc/simd/vector_math.h) on the
// AVX2 wrappers (and the float64 table exp of AVX-512 through its emulation, which computes it
// bit for bit), against long double, in units in the last place of the result's type (for
// float rows: of float, which their logs, taken in double lanes, need only). Prints one line per
// function; vector_math.h quotes the results. Not part of the module (named .cc, not .cpp, so
// that setup.py leaves it out):
//
//   g++ -O2 -std=c++17 -mavx2 -mfma -Icsrc csrc/tools/vector_math_error.cc -o vector_math_error
//   ./vector_math_error [samples per function, default 4000000]
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>

#define PYSOFTMAX_TARGET "avx2,fma"
#include "simd/target_begin.h"

#include "simd/avx2.h"
#include "simd/emulated512.h"
#include "simd/vector_math.h"

namespace pysoftmax {
namespace simd {
namespace {

// ulp of R at |v| (the spacing of R's numbers there, subnormals included)
template <class R>
long double ulp(long double v) {
    const int digits = std::numeric_limits<R>::digits;
    const int min_exp = std::numeric_limits<R>::min_exponent;  // 2^(min_exp - 1) = smallest normal
    int e;
    std::frexp(double(std::fabs(v)), &e);  // |v| in [2^(e-1), 2^e)
    if (e < min_exp) e = min_exp;
    return std::ldexp(1.0L, e - digits);
}

template <class V, class R, class F, class Ref, class Gen>
double max_ulps(size_t n, F f, Ref ref, Gen gen, double* worst) {
    using T = typename V::T;
    double mx = 0.0;
    alignas(64) T in[V::W], out[V::W];
    for (size_t i = 0; i < n; i += V::W) {
        for (size_t l = 0; l < V::W; ++l) in[l] = gen();
        V::storeu(out, f(V::loadu(in)));
        for (size_t l = 0; l < V::W; ++l) {
            const long double r = ref(in[l]);
            const double e = double(std::fabs((long double)out[l] - r) / ulp<R>(r));
            if (e > mx) mx = e, *worst = double(in[l]);
        }
    }
    return mx;
}

}  // namespace
}  // namespace simd
}  // namespace pysoftmax

#include "simd/target_end.h"

using namespace pysoftmax::simd;

template <class V, bool Wide>
void exp_error(const char* name, size_t n, double lo_t, std::mt19937_64& rng) {
    using T = typename V::T;
    std::uniform_real_distribution<double> u(lo_t, 0.0);
    double worst = 0;
    const double e = max_ulps<V, T>(
        n, [](typename V::vec t) { return exp_lo<V, Wide>(t, V::set1(T(0))); },
        [](T t) { return std::exp((long double)t); }, [&] { return T(u(rng)); }, &worst);
    std::printf("%-28s t in [%g, 0]: %.3f ulp (at t = %.9g)\n", name, lo_t, e, worst);
}

// f over double lanes D, its result needed to R's precision; x = gen(u), u uniform in [0, 1).
template <class D, class R, class F, class Ref, class Gen>
void lanes_error(const char* name, const char* range, F f, Ref ref, Gen gen, size_t n,
                 std::mt19937_64& rng) {
    std::uniform_real_distribution<double> u(0.0, 1.0);
    double worst = 0;
    const double e = max_ulps<D, R>(n, f, ref, [&] { return gen(u(rng)); }, &worst);
    std::printf("%-28s %s: %.3f ulp (at %.17g)\n", name, range, e, worst);
}

// s = 1 + 2^(-60 .. 1000): near 1 and far from it alike; u = 2^(-1000 .. 1000)
template <class D, class R>
void log_error(const char* name, size_t n, std::mt19937_64& rng) {
    lanes_error<D, R>(
        name, "s in [1, 2^1000]", [](typename D::vec s) { return log_ge1<D, R>(s); },
        [](double s) { return std::log((long double)s); },
        [](double u) { return 1.0 + std::exp2(-60.0 + 1060.0 * u); }, n, rng);
}

template <class D, class R>
void log1p_error(const char* name, size_t n, std::mt19937_64& rng) {
    lanes_error<D, R>(
        name, "u in [2^-1000, 2^1000]", [](typename D::vec x) { return log1p_ge0<D, R>(x); },
        [](double x) { return std::log1p((long double)x); },
        [](double u) { return std::exp2(-1000.0 + 2000.0 * u); }, n, rng);
}

int main(int argc, char** argv) {
    const size_t n = argc > 1 ? size_t(std::atoll(argv[1])) : size_t(4000000);
    std::mt19937_64 rng(1);
    exp_error<Avx2F32, false>("exp float32 fast", n, ExpConsts<float>::fast_min, rng);
    exp_error<Avx2F32, true>("exp float32 wide", n, ExpConsts<float>::cutoff, rng);
    exp_error<Avx2F64, false>("exp float64 fast", n, ExpConsts<double>::fast_min, rng);
    exp_error<Avx2F64, true>("exp float64 wide", n, ExpConsts<double>::cutoff, rng);
    exp_error<Emulated512F64, false>("exp float64 table fast", n, ExpConsts<double>::fast_min,
                                     rng);
    exp_error<Emulated512F64, true>("exp float64 table wide", n, ExpConsts<double>::cutoff, rng);
    log_error<Avx2F64, float>("log (float rows, double)", n, rng);
    log_error<Avx2F64, double>("log float64", n, rng);
    log1p_error<Avx2F64, float>("log1p (float rows, double)", n, rng);
    log1p_error<Avx2F64, double>("log1p float64", n, rng);
    return 0;
}
