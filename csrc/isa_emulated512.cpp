// AVX-512's lanes emulated on AVX2 + FMA, for testing: the row kernels' table (kernels.h) over
// the wrappers of simd/emulated512.h, 16 float / 8 double lanes as two 256-bit halves. Its
// results are the AVX-512 table's, bit for bit; the registry lists it as a testing row, so it
// runs only when named (PYSOFTMAX_ISA=emulated512, set_isa), on any CPU with AVX2 and FMA.
#include "kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PYSOFTMAX_HAVE_EMULATED512 1

#define PYSOFTMAX_TARGET "avx2,fma"
#include "simd/target_begin.h"

#include "simd/avx2.h"
#include "simd/emulated512.h"
#include "simd/row_kernels.h"

namespace pysoftmax {
namespace {

constexpr Kernels kEmulated512 = {"emulated512", simd::row_kernel_set<simd::Emulated512F32>(),
                                  simd::row_kernel_set<simd::Emulated512F64>()};

}  // namespace
}  // namespace pysoftmax

#include "simd/target_end.h"
#endif  // x86-64

namespace pysoftmax {
#ifdef PYSOFTMAX_HAVE_EMULATED512
const Kernels* emulated512_kernels() { return &kEmulated512; }
#else
const Kernels* emulated512_kernels() { return nullptr; }
#endif
}  // namespace pysoftmax
