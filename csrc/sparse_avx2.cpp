// AVX2 + FMA: the sparse path's row kernels (sparse_kernels.h) compiled for that target, with
// fused multiply-adds; their loops over the classes vectorise to 8 float / 4 double lanes. A
// target region, not a build-wide -m flag, so the module still loads on any x86-64 CPU; the
// driver (sparse.cpp) calls them only when the runtime's active instruction set is AVX2 or
// AVX-512.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "sparse.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PYSOFTMAX_HAVE_SPARSE_AVX2 1

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

namespace pysoftmax {
namespace {

struct FusedMadd {
    static float madd(float a, float b, float c) { return __builtin_fmaf(a, b, c); }
    static double madd(double a, double b, double c) { return __builtin_fma(a, b, c); }
};

#include "sparse_kernels.h"

constexpr SparseKernels kSparseAvx2 = sparse_kernels_of<FusedMadd>("avx2");

}  // namespace
}  // namespace pysoftmax

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif  // x86-64

namespace pysoftmax {
#ifdef PYSOFTMAX_HAVE_SPARSE_AVX2
const SparseKernels* sparse_avx2_kernels() { return &kSparseAvx2; }
#else
const SparseKernels* sparse_avx2_kernels() { return nullptr; }
#endif
}  // namespace pysoftmax
