// Opens a target region: every function defined between this header and simd/target_end.h is
// compiled for the instruction set PYSOFTMAX_TARGET (a target string, defined before inclusion),
// so that one translation unit holds one instruction set's kernels while the rest of the module
// keeps the baseline x86-64 target and loads on any CPU.
//
// An inline function that other translation units also use must not get the region's target
// (the linker keeps one copy of it for all of them): this header includes the standard headers
// and numerics.h before it opens the region, and numerics.h refuses to be included inside one.
//
//   #define PYSOFTMAX_TARGET "avx2,fma"
//   #include "simd/target_begin.h"
//   ...wrappers and kernels...
//   #include "simd/target_end.h"
//
// Not a #pragma once header: each region includes it once.
#ifndef PYSOFTMAX_TARGET
#error "define PYSOFTMAX_TARGET (a target string such as \"avx2,fma\") before simd/target_begin.h"
#endif
#ifdef PYSOFTMAX_TARGET_REGION
#error "simd/target_begin.h: a target region is already open (close it with simd/target_end.h)"
#endif

#include <immintrin.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels.h"
#include "numerics.h"

#define PYSOFTMAX_TARGET_REGION 1

// _Pragma takes a string: the target string is expanded first, then the whole pragma stringized.
#define PYSOFTMAX_PRAGMA_TEXT(text) _Pragma(#text)
#define PYSOFTMAX_PRAGMA(text) PYSOFTMAX_PRAGMA_TEXT(text)

#if defined(__clang__)
PYSOFTMAX_PRAGMA(clang attribute push(__attribute__((target(PYSOFTMAX_TARGET))),
                                      apply_to = function))
#else
// GCC 12's AVX-512 headers trip -Wuninitialized on their own _mm512_undefined_*() once inlined
// (GCC bug 105593); the warnings are silenced inside target regions only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC push_options
PYSOFTMAX_PRAGMA(GCC target(PYSOFTMAX_TARGET))
#endif
