// AVX2 + FMA: 8 float / 4 double lanes. This translation unit builds two tables over the AVX2
// wrappers (simd/avx2.h): the row kernels' (kernels.h) and the linear microkernels' (linear.h).
// Its code alone is compiled for that target, by a target region rather than a build-wide -m
// flag, so the module still loads on any x86-64 CPU; the dispatcher (runtime.cpp) calls the row
// kernels only when the CPU and the OS support AVX2 and FMA, and linear.cpp the microkernels
// only along with the AVX2 or AVX-512 row kernels.
#include "kernels.h"
#include "linear.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PYSOFTMAX_HAVE_AVX2 1

#define PYSOFTMAX_TARGET "avx2,fma"
#include "simd/target_begin.h"

#include "simd/avx2.h"
#include "simd/linear_table.h"
#include "simd/row_kernels.h"

namespace pysoftmax {
namespace {

constexpr Kernels kAvx2 = {"avx2", simd::row_kernel_set<simd::Avx2F32>(),
                           simd::row_kernel_set<simd::Avx2F64>()};

constexpr LinearKernels kLinearAvx2 = {"avx2", simd::linear_kernel_set<simd::Avx2F32>(),
                                       simd::linear_kernel_set<simd::Avx2F64>()};

}  // namespace
}  // namespace pysoftmax

#include "simd/target_end.h"
#endif  // x86-64

namespace pysoftmax {
#ifdef PYSOFTMAX_HAVE_AVX2
const Kernels* avx2_kernels() { return &kAvx2; }
const LinearKernels* linear_avx2_kernels() { return &kLinearAvx2; }
#else
const Kernels* avx2_kernels() { return nullptr; }
const LinearKernels* linear_avx2_kernels() { return nullptr; }
#endif
}  // namespace pysoftmax
