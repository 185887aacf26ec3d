// The linear microkernels (linear_kernels.h) over a SIMD wrapper's linear group: the
// LinearKernelSet (linear.h) of a wrapper, checked against the wrapper concept first.
#pragma once

#include "linear.h"
#include "linear_kernels.h"
#include "simd/wrapper.h"

namespace pysoftmax {
namespace simd {

// The microkernels' view of wrapper V: their hsum is V's hsum_t, the lanes added in T in the
// microkernels' own order (V's hsum, the row kernels', adds in double).
template <class V>
struct LinearLanes : V {
    static typename V::T hsum(typename V::vec v) { return V::hsum_t(v); }
};

template <class V>
constexpr LinearKernelSet<typename V::T> linear_kernel_set() {
    static_assert(check_linear_wrapper<V>());
    using L = LinearLanes<V>;
    return {&linear::Logits<L>::run, &linear::GradW<L>::run};
}

}  // namespace simd
}  // namespace pysoftmax
