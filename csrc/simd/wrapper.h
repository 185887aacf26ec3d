// The wrapper concept: what a SIMD wrapper V must provide for the kernels written over it.
// A wrapper is a struct of static members for one element type T (float or double) and one
// register width (simd/avx2.h, simd/avx512.h); the kernels are templates over it, compiled once
// per instruction set inside a target region (simd/target_begin.h). Every member the templates
// use is listed below, by group, and checked: building a kernel table over a wrapper that lacks
// one fails to compile with the member's name (check_row_wrapper, check_linear_wrapper), rather
// than losing a path.
//
// Row kernels (every wrapper; simd/row_passes.h, simd/cross_entropy_rows.h):
//   T  vec (W lanes of T)  mask (W booleans)  W (lanes)
//   Wide       the wrapper of double lanes of the same register width (V itself for double); a
//              wrapper in its own right
//   kShortRows bool: whether V provides the short-row group below
//   set1(a)  loadu(p)  storeu(p, v)  stream(p, v) (non-temporal, p aligned to W elements)
//   load_tail(p, n, fill): lanes [0, n) from p, the rest fill; store_tail(p, n, v): lanes
//              [0, n) to p. 0 < n < W; neither touches memory past p + n
//   add sub mul  fmadd(a, b, c) = a*b + c in one rounding  max min (either NaN: b)
//   select(m, a, b) = m ? a : b  keep(m, a) = m ? a : 0
//   not_lt(a, b) (true for NaN)  gt(a, b) (false for NaN)
//   load_mask(bytes): W bytes, nonzero = true; load_mask_tail(bytes, n): n < W bytes
//   hmax hmin (-> T)  hsum (-> double: the lanes added in double, in a fixed order)
//   pow2(z) = 2^(the low bits of z): z's bits shifted into the exponent field
//   kExpTableBits int: 0, or 4 for the table-driven float64 exp (vector_math.h), which then
//              needs lookup(table, z): lanes table[the low 4 bits of z's lane], of 16 entries
//              64-byte aligned, as bits; and add_exponent(a, z): a's bits plus z's bits shifted
//              left by 52 - kExpTableBits
//   widen(v, i) -> Wide::vec: lanes [i Wide::W, (i + 1) Wide::W) of v in double
//   fence(): orders the streamed stores before the kernel returns
// Short-row group (where kShortRows; simd/short_rows.h), also in Wide:
//   transpose(r): r[W] vectors, r[i] lane j <-> r[j] lane i
//   narrow(h) -> vec: W / Wide::W vectors of double rounded to T
//   div  eq(a, b) (false for NaN)  lanes(m) -> int: bit i = lane i
//   split_exp(s, e) -> m: m in [1, 2) and e with s = m 2^e, for s > 0 normal
//   prefetch(p): a hint; p may point anywhere
// Linear group (the linear microkernels, linear_kernels.h, through LinearLanes in
// simd/linear_table.h):
//   zero()  fma1(a, b, c) -> T: a*b + c in one rounding  prefetch(p)
//   hsum_t(v) -> T: the lanes added in T, in a fixed order (not hsum's)
//   and from the row group: T vec W set1 loadu storeu fmadd
//
// csrc/tools/check_wrapper_members.py checks that this list holds every member the templates
// name.
#pragma once

// Every header of csrc/simd/ includes this one: the guard keeps them all inside target regions.
#ifndef PYSOFTMAX_TARGET_REGION
#error "the headers of csrc/simd/ belong inside a target region (simd/target_begin.h)"
#endif

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace pysoftmax {
namespace simd {

// The per-vector steps of the hot loops: GCC does not always inline them into the large
// kernels (an out-of-line call per vector costs more than the step).
#define PYSOFTMAX_STEP inline __attribute__((always_inline))

namespace wrapper_detail {

// The checks name vector types as template arguments, whose attributes (alignment, may_alias)
// do not matter there.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"

// Values of the wrapper's types, for the checks below (unevaluated: never defined).
template <class V>
typename V::T t_();
template <class V>
const typename V::T* in_();
template <class V>
typename V::T* out_();
template <class V>
typename V::vec v_();
template <class V>
typename V::vec& vref_();
template <class V>
typename V::vec* vptr_();
template <class V>
typename V::mask m_();
template <class V>
const typename V::Wide::vec* wide_in_();

// has_NAME<V>: V::NAME exists (a type), or the call compiles and gives that result.
#define PYSOFTMAX_WRAPPER_TYPE(name)        \
    template <class V, class = void>        \
    struct has_##name : std::false_type {}; \
    template <class V>                      \
    struct has_##name<V, std::void_t<typename V::name>> : std::true_type {};
#define PYSOFTMAX_WRAPPER_MEMBER(name, result, ...)          \
    template <class V, class = void>                         \
    struct has_##name : std::false_type {};                  \
    template <class V>                                       \
    struct has_##name<V, std::void_t<decltype(__VA_ARGS__)>> \
        : std::is_same<std::remove_cv_t<decltype(__VA_ARGS__)>, result> {};

PYSOFTMAX_WRAPPER_TYPE(T)
PYSOFTMAX_WRAPPER_TYPE(vec)
PYSOFTMAX_WRAPPER_TYPE(mask)
PYSOFTMAX_WRAPPER_TYPE(Wide)
PYSOFTMAX_WRAPPER_MEMBER(W, size_t, V::W)
PYSOFTMAX_WRAPPER_MEMBER(kShortRows, bool, V::kShortRows)
// row kernels
PYSOFTMAX_WRAPPER_MEMBER(set1, typename V::vec, V::set1(t_<V>()))
PYSOFTMAX_WRAPPER_MEMBER(loadu, typename V::vec, V::loadu(in_<V>()))
PYSOFTMAX_WRAPPER_MEMBER(storeu, void, V::storeu(out_<V>(), v_<V>()))
PYSOFTMAX_WRAPPER_MEMBER(stream, void, V::stream(out_<V>(), v_<V>()))
PYSOFTMAX_WRAPPER_MEMBER(load_tail, typename V::vec, V::load_tail(in_<V>(), size_t(), t_<V>()))
PYSOFTMAX_WRAPPER_MEMBER(store_tail, void, V::store_tail(out_<V>(), size_t(), v_<V>()))
PYSOFTMAX_WRAPPER_MEMBER(add, typename V::vec, V::add(v_<V>(), v_<V>()))
PYSOFTMAX_WRAPPER_MEMBER(sub, typename V::vec, V::sub(v_<V>(), v_<V>()))
PYSOFTMAX_WRAPPER_MEMBER(mul, typename V::vec, V::mul(v_<V>(), v_<V>()))
PYSOFTMAX_WRAPPER_MEMBER(fmadd, typename V::vec, V::fmadd(v_<V>(), v_<V>(), v_<V>()))
PYSOFTMAX_WRAPPER_MEMBER(max, typename V::vec, V::max(v_<V>(), v_<V>()))
PYSOFTMAX_WRAPPER_MEMBER(min, typename V::vec, V::min(v_<V>(), v_<V>()))
PYSOFTMAX_WRAPPER_MEMBER(select, typename V::vec, V::select(m_<V>(), v_<V>(), v_<V>()))
PYSOFTMAX_WRAPPER_MEMBER(keep, typename V::vec, V::keep(m_<V>(), v_<V>()))
PYSOFTMAX_WRAPPER_MEMBER(not_lt, typename V::mask, V::not_lt(v_<V>(), v_<V>()))
PYSOFTMAX_WRAPPER_MEMBER(gt, typename V::mask, V::gt(v_<V>(), v_<V>()))
PYSOFTMAX_WRAPPER_MEMBER(load_mask, typename V::mask, V::load_mask((const uint8_t*)nullptr))
PYSOFTMAX_WRAPPER_MEMBER(load_mask_tail, typename V::mask,
                         V::load_mask_tail((const uint8_t*)nullptr, size_t()))
PYSOFTMAX_WRAPPER_MEMBER(hmax, typename V::T, V::hmax(v_<V>()))
PYSOFTMAX_WRAPPER_MEMBER(hmin, typename V::T, V::hmin(v_<V>()))
PYSOFTMAX_WRAPPER_MEMBER(hsum, double, V::hsum(v_<V>()))
PYSOFTMAX_WRAPPER_MEMBER(pow2, typename V::vec, V::pow2(v_<V>()))
PYSOFTMAX_WRAPPER_MEMBER(kExpTableBits, int, V::kExpTableBits)
PYSOFTMAX_WRAPPER_MEMBER(lookup, typename V::vec, V::lookup((const uint64_t*)nullptr, v_<V>()))
PYSOFTMAX_WRAPPER_MEMBER(add_exponent, typename V::vec, V::add_exponent(v_<V>(), v_<V>()))
PYSOFTMAX_WRAPPER_MEMBER(widen, typename V::Wide::vec, V::widen(v_<V>(), int()))
PYSOFTMAX_WRAPPER_MEMBER(fence, void, V::fence())
// short-row group
PYSOFTMAX_WRAPPER_MEMBER(transpose, void, V::transpose(vptr_<V>()))
PYSOFTMAX_WRAPPER_MEMBER(narrow, typename V::vec, V::narrow(wide_in_<V>()))
PYSOFTMAX_WRAPPER_MEMBER(div, typename V::vec, V::div(v_<V>(), v_<V>()))
PYSOFTMAX_WRAPPER_MEMBER(eq, typename V::mask, V::eq(v_<V>(), v_<V>()))
PYSOFTMAX_WRAPPER_MEMBER(lanes, int, V::lanes(m_<V>()))
PYSOFTMAX_WRAPPER_MEMBER(split_exp, typename V::vec, V::split_exp(v_<V>(), vref_<V>()))
PYSOFTMAX_WRAPPER_MEMBER(prefetch, void, V::prefetch(in_<V>()))
// linear group
PYSOFTMAX_WRAPPER_MEMBER(zero, typename V::vec, V::zero())
PYSOFTMAX_WRAPPER_MEMBER(fma1, typename V::T, V::fma1(t_<V>(), t_<V>(), t_<V>()))
PYSOFTMAX_WRAPPER_MEMBER(hsum_t, typename V::T, V::hsum_t(v_<V>()))

#pragma GCC diagnostic pop
#undef PYSOFTMAX_WRAPPER_TYPE
#undef PYSOFTMAX_WRAPPER_MEMBER

#define PYSOFTMAX_REQUIRE(name) \
    static_assert(has_##name<V>::value, "SIMD wrapper lacks member `" #name "` (simd/wrapper.h)")

template <class V>
constexpr bool has_short_row_group() {
    return has_transpose<V>::value && has_narrow<V>::value && has_div<V>::value &&
           has_eq<V>::value && has_lanes<V>::value && has_split_exp<V>::value &&
           has_prefetch<V>::value;
}

}  // namespace wrapper_detail

// True, or a compile error naming the first member V lacks. Checks Wide too.
template <class V>
constexpr bool check_row_wrapper() {
    using namespace wrapper_detail;
    PYSOFTMAX_REQUIRE(T);
    PYSOFTMAX_REQUIRE(vec);
    PYSOFTMAX_REQUIRE(mask);
    PYSOFTMAX_REQUIRE(Wide);
    PYSOFTMAX_REQUIRE(W);
    PYSOFTMAX_REQUIRE(kShortRows);
    PYSOFTMAX_REQUIRE(set1);
    PYSOFTMAX_REQUIRE(loadu);
    PYSOFTMAX_REQUIRE(storeu);
    PYSOFTMAX_REQUIRE(stream);
    PYSOFTMAX_REQUIRE(load_tail);
    PYSOFTMAX_REQUIRE(store_tail);
    PYSOFTMAX_REQUIRE(add);
    PYSOFTMAX_REQUIRE(sub);
    PYSOFTMAX_REQUIRE(mul);
    PYSOFTMAX_REQUIRE(fmadd);
    PYSOFTMAX_REQUIRE(max);
    PYSOFTMAX_REQUIRE(min);
    PYSOFTMAX_REQUIRE(select);
    PYSOFTMAX_REQUIRE(keep);
    PYSOFTMAX_REQUIRE(not_lt);
    PYSOFTMAX_REQUIRE(gt);
    PYSOFTMAX_REQUIRE(load_mask);
    PYSOFTMAX_REQUIRE(load_mask_tail);
    PYSOFTMAX_REQUIRE(hmax);
    PYSOFTMAX_REQUIRE(hmin);
    PYSOFTMAX_REQUIRE(hsum);
    PYSOFTMAX_REQUIRE(pow2);
    PYSOFTMAX_REQUIRE(kExpTableBits);
    if constexpr (has_kExpTableBits<V>::value) {
        if constexpr (V::kExpTableBits != 0) {
            static_assert(V::kExpTableBits == 4 && std::is_same_v<typename V::T, double>,
                          "kExpTableBits: 4 (float64 lanes), or 0");
            PYSOFTMAX_REQUIRE(lookup);
            PYSOFTMAX_REQUIRE(add_exponent);
        }
    }
    PYSOFTMAX_REQUIRE(widen);
    PYSOFTMAX_REQUIRE(fence);
    if constexpr (has_Wide<V>::value && has_W<V>::value && has_kShortRows<V>::value) {
        using D = typename V::Wide;
        static_assert(std::is_same_v<typename D::T, double> && V::W % D::W == 0,
                      "Wide: double lanes, a whole number of vectors per vector of V");
        if constexpr (!std::is_same_v<D, V>) static_assert(check_row_wrapper<D>());
        if constexpr (V::kShortRows) {
            PYSOFTMAX_REQUIRE(transpose);
            PYSOFTMAX_REQUIRE(narrow);
            PYSOFTMAX_REQUIRE(div);
            PYSOFTMAX_REQUIRE(eq);
            PYSOFTMAX_REQUIRE(lanes);
            PYSOFTMAX_REQUIRE(split_exp);
            PYSOFTMAX_REQUIRE(prefetch);
            static_assert(D::kShortRows, "Wide lacks the short-row group, which V's blocks use");
        } else {
            static_assert(!has_short_row_group<V>(),
                          "the wrapper provides the whole short-row group: set kShortRows = true");
        }
    }
    return true;
}

// True, or a compile error naming the first member of the linear group V lacks.
template <class V>
constexpr bool check_linear_wrapper() {
    using namespace wrapper_detail;
    PYSOFTMAX_REQUIRE(T);
    PYSOFTMAX_REQUIRE(vec);
    PYSOFTMAX_REQUIRE(W);
    PYSOFTMAX_REQUIRE(set1);
    PYSOFTMAX_REQUIRE(loadu);
    PYSOFTMAX_REQUIRE(storeu);
    PYSOFTMAX_REQUIRE(fmadd);
    PYSOFTMAX_REQUIRE(zero);
    PYSOFTMAX_REQUIRE(fma1);
    PYSOFTMAX_REQUIRE(hsum_t);
    PYSOFTMAX_REQUIRE(prefetch);
    return true;
}

#undef PYSOFTMAX_REQUIRE

}  // namespace simd
}  // namespace pysoftmax
