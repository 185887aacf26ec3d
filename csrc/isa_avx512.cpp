// AVX-512 (F, DQ, BW, VL): 16 float / 8 double lanes, mask registers for the tails. This
// translation unit builds the row kernels' table (kernels.h) over the AVX-512 wrappers
// (simd/avx512.h), compiled for that target by a target region; the dispatcher (runtime.cpp)
// calls it only when the CPU and the OS support it. The linear microkernels run on AVX2 there.
#include "kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PYSOFTMAX_HAVE_AVX512 1

#define PYSOFTMAX_TARGET "avx512f,avx512dq,avx512bw,avx512vl,fma"
#include "simd/target_begin.h"

#include "simd/avx512.h"
#include "simd/row_kernels.h"

namespace pysoftmax {
namespace {

constexpr Kernels kAvx512 = {"avx512", simd::row_kernel_set<simd::Avx512F32>(),
                             simd::row_kernel_set<simd::Avx512F64>()};

}  // namespace
}  // namespace pysoftmax

#include "simd/target_end.h"
#endif  // x86-64

namespace pysoftmax {
#ifdef PYSOFTMAX_HAVE_AVX512
const Kernels* avx512_kernels() { return &kAvx512; }
#else
const Kernels* avx512_kernels() { return nullptr; }
#endif
}  // namespace pysoftmax
