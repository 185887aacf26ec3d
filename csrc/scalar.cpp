// Scalar kernels: the readable specification of every kernel, and the portable baseline.
//
// Every row is computed in double precision (float32 rows are widened), from the logits:
//   m        = max over the row's included elements
//   d_j      = x_j - m, carried exactly as hi + lo (TwoSum), so that exp does not see the
//              rounding of the subtraction (it costs up to |d| * 2^-24 relative in float32)
//   t_j      = d_j / T (temperature), again carried as hi + lo
//   q_j      = exp(t_j) = exp(hi) * (1 + lo)
//   s        = sum_j q_j               (s >= 1: the maximum contributes exp(0) = 1)
//   o        = s - 1, summed on its own over every q_j but one occurrence of the maximum's
//   log s    = log1p(o): accurate relative to log s even when s rounds to 1 (a dominant maximum)
//   softmax     y_j = q_j / s
//   log_softmax y_j = t_j - log(s)   (from the logits, never log of a rounded probability)
//   logsumexp   m / T + log(s)       (only T = 1 is exposed for logsumexp)
// Non-finite rows: no included element -> 0 / -inf / -inf (softmax / log_softmax /
// logsumexp); an included NaN -> NaN; an included +inf -> NaN, NaN, +inf; all -inf -> NaN, NaN,
// -inf. Excluded elements (mask 0) get 0 / -inf.
//
// Also the scalar microkernels of the fused linear + cross-entropy path (linear.h).
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels.h"
#include "linear.h"
#include "linear_kernels.h"
#include "numerics.h"

namespace pysoftmax {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

inline bool included(const uint8_t* mask, size_t j) { return mask == nullptr || mask[j] != 0; }

// hi + lo ~= (a_hi + a_lo) / T, with the division's remainder recovered by an FMA.
inline void div_by(double a_hi, double a_lo, double T, double& hi, double& lo) {
    hi = a_hi / T;
    lo = (std::fma(-hi, T, a_hi) + a_lo) / T;
}

// The scaled, shifted logit t_j = (x_j - m) / T as hi + lo.
inline void shifted(double xj, double m, double T, double& hi, double& lo) {
    double d_hi, d_lo;
    two_diff(xj, m, d_hi, d_lo);
    div_by(d_hi, d_lo, T, hi, lo);
}

// exp(hi + lo) for lo tiny: exp(hi) * (1 + lo); exactly 0 once exp(hi) underflows (which
// also covers hi = -inf, where lo is NaN).
inline double exp_hi_lo(double hi, double lo) {
    const double p = std::exp(hi);
    return p == 0.0 ? 0.0 : p + p * lo;
}

// The sums s = sum_j q_j and o = s - 1 over a row's terms (see above): add(q, j) once per
// included element, j its value x_j; the first x_j equal to the maximum m is left out of o.
struct RowSums {
    double m;
    bool seen = false;
    CompensatedSum s, o;
    explicit RowSums(double max) : m(max) {}
    void add(double q, double xj) {
        s.add(q);
        if (!seen && xj == m)
            seen = true;
        else
            o.add(q);
    }
    double log() const { return std::log1p(o.value()); }  // log s
};

// Scans a row: whether any element is included, whether an included element is NaN, and the
// maximum of the included non-NaN elements (-inf if none).
template <class T>
void scan_row(size_t k, const T* x, const uint8_t* mask, bool& any, bool& nan, double& m) {
    any = false;
    nan = false;
    m = -kInf;
    for (size_t j = 0; j < k; ++j) {
        if (!included(mask, j)) continue;
        any = true;
        const double v = x[j];
        if (std::isnan(v))
            nan = true;
        else if (v > m)
            m = v;
    }
}

template <class T, bool Log>
void softmax_rows(size_t n, size_t k, const T* x, ptrdiff_t ldx, const uint8_t* mask, ptrdiff_t ldm,
                  T* y, ptrdiff_t ldy, double temperature) {
    for (size_t i = 0; i < n; ++i)
        softmax_row_scalar<T>(k, x + i * ldx, mask ? mask + i * ldm : nullptr, y + i * ldy,
                              temperature, Log);
}

template <class T>
void logsumexp_rows(size_t n, size_t k, const T* x, ptrdiff_t ldx, const uint8_t* mask,
                    ptrdiff_t ldm, T* y, ptrdiff_t incy) {
    for (size_t i = 0; i < n; ++i)
        y[i * incy] = logsumexp_row_scalar<T>(k, x + i * ldx, mask ? mask + i * ldm : nullptr);
}

template <class T>
void cross_entropy_rows(size_t n, size_t k, const T* x, ptrdiff_t ldx, const int64_t* labels,
                        const T* probs, ptrdiff_t ldt, const T* weight, const uint8_t* mask,
                        ptrdiff_t ldm, double* loss, T* grad, ptrdiff_t ldg,
                        const CrossEntropyParams& p) {
    for (size_t i = 0; i < n; ++i)
        loss[i] = cross_entropy_row_scalar<T>(
            k, x + i * ldx, labels ? labels[i] : 0, probs ? probs + i * ldt : nullptr, weight,
            mask ? mask + i * ldm : nullptr, grad ? grad + i * ldg : nullptr, p);
}

// The floors (kernels.h's FloorSet) on one lane: plain stores (this build has no streamed
// ones), std::exp as the kernels above.
template <class T>
void stream_copy(size_t n, const T* x, T* y) {
    for (size_t i = 0; i < n; ++i) y[i] = x[i];
}

template <class T>
T read_max(size_t n, const T* x) {
    T m = -std::numeric_limits<T>::infinity();
    for (size_t i = 0; i < n; ++i) m = x[i] > m ? x[i] : m;
    return m;
}

template <class T>
double exp_sum(size_t n, const T* x, T shift, size_t repeat) {
    double total = 0.0;
    for (size_t r = 0; r < repeat; ++r)
        for (size_t i = 0; i < n; ++i) total += std::exp(double(x[i]) - double(shift));
    return total;
}

template <class T>
void exp_store(size_t n, const T* x, T shift, T* y, size_t repeat) {
    for (size_t r = 0; r < repeat; ++r)
        for (size_t i = 0; i < n; ++i) y[i] = T(std::exp(double(x[i]) - double(shift)));
}

template <class T>
constexpr FloorSet<T> floors() {
    return {stream_copy<T>, read_max<T>, exp_sum<T>, exp_store<T>};
}

// The solvers' vector arithmetic (kernels.h's VectorSet) on one lane, in blocks of 2048 elements
// as simd/vector_ops.h, with a plain multiply and add.
template <class T>
void dots(size_t n, const T* const* rows, size_t r, const T* const* vecs, size_t c, double* out) {
    constexpr size_t kBlock = 2048;
    for (size_t j = 0; j < c * r; ++j) out[j] = 0.0;
    for (size_t b = 0; b < n; b += kBlock) {
        const size_t e = std::min(n, b + kBlock);
        for (size_t i = 0; i < r; ++i)
            for (size_t j = 0; j < c; ++j) {
                T s = 0;
                for (size_t t = b; t < e; ++t) s += vecs[j][t] * rows[i][t];
                out[j * r + i] += double(s);
            }
    }
}

template <class T>
void combine(size_t n, const T* const* rows, size_t r, const T* coef, T* out) {
    for (size_t t = 0; t < n; ++t) {
        T s = 0;
        for (size_t i = 0; i < r; ++i) s += coef[i] * rows[i][t];
        out[t] = s;
    }
}

const Kernels kScalar = {
    "scalar",
    {softmax_rows<float, false>,
     softmax_rows<float, true>,
     logsumexp_rows<float>,
     cross_entropy_rows<float>,
     floors<float>(),
     {dots<float>, combine<float>}},
    {softmax_rows<double, false>,
     softmax_rows<double, true>,
     logsumexp_rows<double>,
     cross_entropy_rows<double>,
     floors<double>(),
     {dots<double>, combine<double>}},
};

// The linear microkernels (linear_kernels.h) on one lane, with a plain multiply and add (two
// roundings): the readable form, fast without FMA hardware.
template <class TT>
struct ScalarVec {
    using T = TT;
    using vec = TT;
    static constexpr size_t W = 1;
    static vec zero() { return T(0); }
    static vec set1(T a) { return a; }
    static vec loadu(const T* p) { return *p; }
    static void storeu(T* p, vec v) { *p = v; }
    static vec fmadd(vec a, vec b, vec c) { return a * b + c; }
    static T fma1(T a, T b, T c) { return a * b + c; }
    static T hsum(vec v) { return v; }
    static void prefetch(const T*) {}
};

template <class V>
constexpr LinearKernelSet<typename V::T> linear_set() {
    return {&linear::Logits<V>::run, &linear::GradW<V>::run};
}

constexpr LinearKernels kLinearScalar = {"scalar", linear_set<ScalarVec<float>>(),
                                         linear_set<ScalarVec<double>>()};

}  // namespace

template <class T>
void softmax_row_scalar(size_t k, const T* x, const uint8_t* mask, T* y, double temperature,
                        bool log) {
    const T excluded = log ? T(-kInf) : T(0);
    bool any, nan;
    double m;
    scan_row(k, x, mask, any, nan, m);
    if (!any || nan || !std::isfinite(m)) {
        // Nothing included -> the excluded value everywhere; otherwise the row is NaN.
        for (size_t j = 0; j < k; ++j) y[j] = (any && included(mask, j)) ? T(kNaN) : excluded;
        return;
    }
    // Pass 2: q_j = exp(t_j) and their sum; softmax keeps q_j in y.
    RowSums s(m);
    for (size_t j = 0; j < k; ++j) {
        if (!included(mask, j)) continue;
        double hi, lo;
        shifted(x[j], m, temperature, hi, lo);
        const double q = exp_hi_lo(hi, lo);
        s.add(q, x[j]);
        if (!log) y[j] = T(q);
    }
    // Pass 3: normalise.
    if (!log) {
        const double sum = s.s.value();
        for (size_t j = 0; j < k; ++j) y[j] = included(mask, j) ? T(double(y[j]) / sum) : excluded;
        return;
    }
    const double ls = s.log();
    for (size_t j = 0; j < k; ++j) {
        if (!included(mask, j)) {
            y[j] = excluded;
            continue;
        }
        double hi, lo;
        shifted(x[j], m, temperature, hi, lo);
        y[j] = std::isfinite(hi) ? T((hi - ls) + lo) : T(hi);
    }
}

template <class T>
T logsumexp_row_scalar(size_t k, const T* x, const uint8_t* mask) {
    bool any, nan;
    double m;
    scan_row(k, x, mask, any, nan, m);
    if (!any) return T(-kInf);
    if (nan) return T(kNaN);
    if (!std::isfinite(m)) return T(m);  // +inf (an included +inf) or -inf (all -inf)
    RowSums s(m);
    for (size_t j = 0; j < k; ++j) {
        if (!included(mask, j)) continue;
        double hi, lo;
        two_diff(x[j], m, hi, lo);
        s.add(exp_hi_lo(hi, lo), x[j]);
    }
    return T(m + s.log());
}

// Cross-entropy of one row (see kernels.h for the formulas). Pass 1 scans; pass 2 forms
// q_j = exp(t_j), t_j = x_j - m, their sum s and every sum of the loss that needs x (so the
// gradient may overwrite x), keeping q_j in grad; pass 3 turns q_j into the gradient
//   labels: grad_j = a (p_j ((1 - e) w[y] + e W / K') - (1 - e) w[y] [j = y] - e w_j / K')
//   probs:  grad_j = a (p_j sum_i w_i t'_i - w_j t'_j)
// with p_j = q_j / s, W = sum of the included weights, a = scale.
template <class T>
double cross_entropy_row_scalar(size_t k, const T* x, int64_t label, const T* probs,
                                const T* weight, const uint8_t* mask, T* grad,
                                const CrossEntropyParams& p) {
    const bool soft = probs != nullptr;
    const double e = p.label_smoothing;
    auto w = [&](size_t j) { return weight ? double(weight[j]) : 1.0; };
    bool any, nan;
    double m;
    scan_row(k, x, mask, any, nan, m);
    if ((!soft && label == p.ignore_index) || !any) {  // no example, or no class left
        if (grad)
            for (size_t j = 0; j < k; ++j) grad[j] = T(0);
        return 0.0;
    }
    // A NaN or infinite maximum makes the row NaN; so does a label the caller failed to check.
    if (nan || !std::isfinite(m) || (!soft && (label < 0 || uint64_t(label) >= k))) {
        if (grad)
            for (size_t j = 0; j < k; ++j) grad[j] = included(mask, j) ? T(kNaN) : T(0);
        return kNaN;
    }
    double kin = 0;
    for (size_t j = 0; j < k; ++j) kin += included(mask, j);
    auto target = [&](size_t j) {  // t'_j for soft targets
        return (1.0 - e) * double(probs[j]) + e / kin;
    };
    // Pass 2.
    RowSums s(m);                  // sum q (and without the maximum's term)
    CompensatedSum wsum, wt, wtx;  // sum w; sum w t' (soft); sum w t' t or sum w t
    CompensatedSum other;          // sum q over j != label
    double t_label = 0.0, q_label = 0.0;
    for (size_t j = 0; j < k; ++j) {
        if (!included(mask, j)) {
            if (grad) grad[j] = T(0);
            continue;
        }
        double hi, lo;
        two_diff(x[j], m, hi, lo);
        const double q = exp_hi_lo(hi, lo);
        const double t = std::isfinite(hi) ? hi + lo : hi;  // x_j - m
        s.add(q, x[j]);
        wsum.add(w(j));
        if (soft) {
            const double tw = w(j) * target(j);
            wt.add(tw);
            if (tw != 0.0) wtx.add(tw * t);
        } else {
            if (int64_t(j) == label)
                t_label = t, q_label = q;
            else
                other.add(q);
            if (e > 0.0 && w(j) != 0.0) wtx.add(w(j) * t);  // (0 on a -inf logit adds 0)
        }
        if (grad) grad[j] = T(q);
    }
    const double ls = s.log();
    const double a = p.scale;
    // a e / K' v, the smoothing's share of a term: 0 without smoothing, even where v is not
    // finite (a NaN or infinite weight on a class no label uses leaves the row as it is)
    auto smooth = [&](double v) { return e > 0.0 || std::isfinite(v) ? a * e / kin * v : 0.0; };
    const double wsum_v = e > 0.0 || std::isfinite(wsum.value()) ? wsum.value() : 0.0;
    double loss, c1;
    if (soft) {
        loss = a * (wt.value() * ls - wtx.value());
        c1 = a * wt.value();
    } else {
        const double wy = w(size_t(label));
        // log s - t_y = log1p(other / q_y): accurate when p_y is within rounding of 1
        const double nll = q_label > 1e-300 ? std::log1p(other.value() / q_label) : ls - t_label;
        loss = a * (1.0 - e) * wy * nll;
        if (e > 0.0) loss += a * e / kin * (wsum.value() * ls - wtx.value());
        c1 = a * ((1.0 - e) * wy + e / kin * wsum_v);
    }
    // Pass 3.
    if (grad) {
        const double sum = s.s.value();
        for (size_t j = 0; j < k; ++j) {
            if (!included(mask, j)) continue;
            const double pj = double(grad[j]) / sum;
            if (!soft && int64_t(j) == label)  // p_y - 1 = -other / s, without cancellation
                grad[j] =
                    T(-a * (1.0 - e) * w(j) * (other.value() / sum) + smooth(pj * wsum_v - w(j)));
            else
                grad[j] = T(pj * c1 - (soft ? a * w(j) * target(j) : smooth(w(j))));
        }
    }
    return loss;
}

template void softmax_row_scalar<float>(size_t, const float*, const uint8_t*, float*, double, bool);
template void softmax_row_scalar<double>(size_t, const double*, const uint8_t*, double*, double,
                                         bool);
template float logsumexp_row_scalar<float>(size_t, const float*, const uint8_t*);
template double logsumexp_row_scalar<double>(size_t, const double*, const uint8_t*);
template double cross_entropy_row_scalar<float>(size_t, const float*, int64_t, const float*,
                                                const float*, const uint8_t*, float*,
                                                const CrossEntropyParams&);
template double cross_entropy_row_scalar<double>(size_t, const double*, int64_t, const double*,
                                                 const double*, const uint8_t*, double*,
                                                 const CrossEntropyParams&);

const Kernels* scalar_kernels() { return &kScalar; }

const LinearKernels* linear_scalar_kernels() { return &kLinearScalar; }

}  // namespace pysoftmax
