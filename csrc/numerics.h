// Scalar numerical building blocks shared by every kernel (no instruction-set specific code).
#pragma once

// Included by scalar and SIMD translation units alike, so its inline functions must keep the
// baseline target: never inside a target region (simd/target_begin.h includes it first).
#ifdef PYSOFTMAX_TARGET_REGION
#error "numerics.h: include it before the target region opens"
#endif

#include <cmath>

namespace pysoftmax {

// hi + lo = a - b exactly (Knuth's TwoSum applied to a and -b).
inline void two_diff(double a, double b, double& hi, double& lo) {
    hi = a - b;
    const double bb = hi - a;
    lo = (a - (hi - bb)) - (b + bb);
}

// Neumaier's compensated sum: accurate to about one rounding however many terms are added.
// An infinite sum is the sum (the compensation of an infinite term is NaN); NaN stays NaN.
struct CompensatedSum {
    double sum = 0.0, err = 0.0;
    void add(double v) {
        const double t = sum + v;
        err += std::fabs(sum) >= std::fabs(v) ? (sum - t) + v : (v - t) + sum;
        sum = t;
    }
    double value() const { return std::isinf(sum) ? sum : sum + err; }
};

// A row's sum of exp values s = sum_j exp(x_j - max) and other = s - 1, the sum without (one
// occurrence of) the maximum's own term exp(0) = 1, kept to its own relative precision: log s =
// log1p(other) is then accurate relative to log s even when s is within rounding of 1 (a
// dominant maximum, where logsumexp - max and the maximum's log_softmax are tiny).
struct RowSum {
    double s, other;
    double log() const { return std::log1p(other); }
};

// 1 / a as an unevaluated sum hi + lo of two values of type T, so that v / a can be formed
// to about one rounding as v * hi + v * lo, without a division per element.
template <class T>
inline void inverse_hi_lo(double a, T& hi, T& lo) {
    hi = T(1.0 / a);
    lo = T(std::fma(-double(hi), a, 1.0) / a);
}

}  // namespace pysoftmax
