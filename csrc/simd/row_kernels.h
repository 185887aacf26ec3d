// The row kernels' entry points, the functions of a KernelSet (kernels.h): loops over the rows
// of a call, each row to the row kernels (simd/row_passes.h, simd/cross_entropy_rows.h) or, for
// short unmasked rows where the wrapper has the short-row group, W rows at a time to the block
// kernels (simd/short_rows.h). Whether the output streams is the cache policy's
// (simd/cache_policy.h).
//
// A translation unit builds its table by constant initialisation, with no code run at load time
// (which could execute instructions the CPU lacks):
//   constexpr Kernels k = {"name", simd::row_kernel_set<F32>(), simd::row_kernel_set<F64>()};
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels.h"
#include "simd/cache_policy.h"
#include "simd/cross_entropy_rows.h"
#include "simd/floors.h"
#include "simd/row_passes.h"
#include "simd/short_rows.h"
#include "simd/vector_ops.h"
#include "simd/wrapper.h"

namespace pysoftmax {
namespace simd {

template <class V>
struct Rows {
    using T = typename V::T;
    using Pass = RowPasses<V>;
    using Ce = CrossEntropyRows<V>;
    using Policy = CachePolicy<V>;
    using Short = ShortRows<V>;  // named only where V::kShortRows
    using Scale = simd::Scale<V>;
    static constexpr size_t W = V::W;

    // ---- rows one at a time ----
    // q: the scratch row of pass 2 when the output streams (Stream), else unused.
    template <bool Log, bool Stream>
    static void rows_of(size_t n, size_t k, const T* x, ptrdiff_t ldx, const uint8_t* m,
                        ptrdiff_t ldm, T* y, ptrdiff_t ldy, T* q, double temperature) {
        const bool temp = temperature != 1.0;
        for (size_t r = 0; r < n; ++r) {
            const T* xr = x + ptrdiff_t(r) * ldx;
            T* yr = y + ptrdiff_t(r) * ldy;
            T* qr = Stream ? q : yr;
            if (m) {
                const uint8_t* mr = m + ptrdiff_t(r) * ldm;
                if (temp)
                    Pass::template softmax_row<true, true, Stream>(k, xr, mr, yr, qr, temperature,
                                                                   Log);
                else
                    Pass::template softmax_row<true, false, Stream>(k, xr, mr, yr, qr, temperature,
                                                                    Log);
            } else {
                if (temp)
                    Pass::template softmax_row<false, true, Stream>(k, xr, nullptr, yr, qr,
                                                                    temperature, Log);
                else
                    Pass::template softmax_row<false, false, Stream>(k, xr, nullptr, yr, qr,
                                                                     temperature, Log);
            }
        }
    }

    // ---- short rows, W at a time ----
    // K::block<U>(r, a...) runs rows [r, r + U W) by the block kernels, false if they refuse
    // (then nothing is written); K::rows(r, a...) runs rows [r, r + W) by the row kernels.

    // Rows [r, r + U W) by the block kernels; a single block they refuse goes to the row kernels.
    template <class K, size_t U, class... A>
    static bool by_blocks(size_t r, A... a) {
        if (K::template block<U>(r, a...)) return true;
        if (U == 1) K::rows(r, a...);
        return false;
    }

    // The first n - n % W rows: groups of kGroup blocks; a group the block kernels refuse goes
    // block by block, and a block they refuse to the row kernels. Returns the rows done.
    template <class K, class... A>
    static PYSOFTMAX_STEP size_t in_blocks(size_t n, A... a) {
        constexpr size_t G = Short::kGroup;
        size_t r = 0;
        for (; r + G * W <= n; r += G * W)
            if (!by_blocks<K, G>(r, a...))
                for (size_t u = r; u < r + G * W; u += W) by_blocks<K, 1>(u, a...);
        for (; r + W <= n; r += W) by_blocks<K, 1>(r, a...);
        return r;
    }

    template <bool Log>
    struct SoftmaxBlocks {
        template <size_t U>
        static PYSOFTMAX_STEP bool block(size_t r, size_t k, const T* x, ptrdiff_t ldx, T* y,
                                         ptrdiff_t ldy, double temperature, bool stream) {
            const T* xr = x + ptrdiff_t(r) * ldx;
            T* yr = y + ptrdiff_t(r) * ldy;
            return temperature != 1.0 ? Short::template softmax_block<U, true>(
                                            k, xr, ldx, yr, ldy, temperature, Log, stream)
                                      : Short::template softmax_block<U, false>(
                                            k, xr, ldx, yr, ldy, temperature, Log, stream);
        }
        static PYSOFTMAX_STEP void rows(size_t r, size_t k, const T* x, ptrdiff_t ldx, T* y,
                                        ptrdiff_t ldy, double temperature, bool) {
            rows_of<Log, false>(W, k, x + ptrdiff_t(r) * ldx, ldx, nullptr, 0,
                                y + ptrdiff_t(r) * ldy, ldy, nullptr, temperature);
        }
    };

    struct LogsumexpBlocks {
        template <size_t U>
        static PYSOFTMAX_STEP bool block(size_t r, size_t k, const T* x, ptrdiff_t ldx, T* y,
                                         ptrdiff_t incy) {
            return Short::template logsumexp_block<U>(k, x + ptrdiff_t(r) * ldx, ldx,
                                                      y + ptrdiff_t(r) * incy, incy);
        }
        static PYSOFTMAX_STEP void rows(size_t r, size_t k, const T* x, ptrdiff_t ldx, T* y,
                                        ptrdiff_t incy) {
            for (size_t i = r; i < r + W; ++i)
                y[ptrdiff_t(i) * incy] =
                    Pass::template logsumexp_row<false>(k, x + ptrdiff_t(i) * ldx, nullptr);
        }
    };

    // p by pointer: the block loop passes its arguments on by value. A refused block goes back
    // to ce_rows (below), the row kernels' loop, with the blocks turned off.
    struct CrossEntropyBlocks {
        template <size_t U>
        static PYSOFTMAX_STEP bool block(size_t r, size_t k, const T* x, ptrdiff_t ldx,
                                         const int64_t* labels, const T* weight, double* loss, T* g,
                                         ptrdiff_t ldg, const CrossEntropyParams* p, bool stream) {
            const ptrdiff_t i = ptrdiff_t(r);
            T* const gr = g ? g + i * ldg : nullptr;
            return Short::template ce_block<U>(k, x + i * ldx, ldx, labels + i, weight, gr, ldg,
                                               loss + i, *p, stream);
        }
        static PYSOFTMAX_STEP void rows(size_t r, size_t k, const T* x, ptrdiff_t ldx,
                                        const int64_t* labels, const T* weight, double* loss, T* g,
                                        ptrdiff_t ldg, const CrossEntropyParams* p, bool) {
            const ptrdiff_t i = ptrdiff_t(r);
            T* const gr = g ? g + i * ldg : nullptr;
            ce_rows(W, k, x + i * ldx, ldx, labels + i, nullptr, 0, weight, nullptr, 0, loss + i,
                    gr, ldg, *p, false);
        }
    };

    // ---- the entry points ----
    template <bool Log>
    static void softmax_rows(size_t n, size_t k, const T* x, ptrdiff_t ldx, const uint8_t* m,
                             ptrdiff_t ldm, T* y, ptrdiff_t ldy, double temperature) {
        if (!Scale::holds(temperature)) {  // an extreme temperature: the scalar specification
            for (size_t r = 0; r < n; ++r)
                softmax_row_scalar<T>(k, x + ptrdiff_t(r) * ldx,
                                      m ? m + ptrdiff_t(r) * ldm : nullptr, y + ptrdiff_t(r) * ldy,
                                      temperature, Log);
            return;
        }
        if constexpr (V::kShortRows) {
            if (m == nullptr && k <= Short::kShortStoreK) {
                const bool st = Policy::stream_blocks(n, k, ldy);
                const size_t r =
                    in_blocks<SoftmaxBlocks<Log>>(n, k, x, ldx, y, ldy, temperature, st);
                if (st) V::fence();
                rows_of<Log, false>(n - r, k, x + ptrdiff_t(r) * ldx, ldx, nullptr, 0,
                                    y + ptrdiff_t(r) * ldy, ldy, nullptr, temperature);
                return;
            }
        }
        T* const q = Policy::stream_scratch(n, k, y, ldy);
        if (q)
            rows_of<Log, true>(n, k, x, ldx, m, ldm, y, ldy, q, temperature);
        else
            rows_of<Log, false>(n, k, x, ldx, m, ldm, y, ldy, nullptr, temperature);
        if (q) V::fence();
    }

    static void logsumexp_rows(size_t n, size_t k, const T* x, ptrdiff_t ldx, const uint8_t* m,
                               ptrdiff_t ldm, T* y, ptrdiff_t incy) {
        size_t r = 0;
        if constexpr (V::kShortRows) {
            if (m == nullptr && k <= Short::kShortK)
                r = in_blocks<LogsumexpBlocks>(n, k, x, ldx, y, incy);
        }
        for (; r < n; ++r) {
            const T* xr = x + ptrdiff_t(r) * ldx;
            y[ptrdiff_t(r) * incy] =
                m ? Pass::template logsumexp_row<true>(k, xr, m + ptrdiff_t(r) * ldm)
                  : Pass::template logsumexp_row<false>(k, xr, nullptr);
        }
    }

    // blocks: whether short rows may take the block kernels.
    static void ce_rows(size_t n, size_t k, const T* x, ptrdiff_t ldx, const int64_t* labels,
                        const T* probs, ptrdiff_t ldt, const T* weight, const uint8_t* m,
                        ptrdiff_t ldm, double* loss, T* g, ptrdiff_t ldg,
                        const CrossEntropyParams& p, bool blocks) {
        size_t r0 = 0;
        if constexpr (V::kShortRows) {
            if (blocks && labels && p.label_smoothing == 0.0 && m == nullptr &&
                k <= Short::kShortStoreK) {
                const bool st = g && Policy::stream_blocks(n, k, ldg);
                r0 = in_blocks<CrossEntropyBlocks>(n, k, x, ldx, labels, weight, loss, g, ldg, &p,
                                                   st);
                if (st) V::fence();
            }
        }
        T* const q = g ? Policy::stream_scratch(n - r0, k, g + ptrdiff_t(r0) * ldg, ldg) : nullptr;
        for (size_t r = r0; r < n; ++r) {
            const ptrdiff_t i = ptrdiff_t(r);
            const T* xr = x + i * ldx;
            const uint8_t* mr = m ? m + i * ldm : nullptr;
            T* gr = g ? g + i * ldg : nullptr;
            if (labels && p.label_smoothing == 0.0) {
                const int64_t y = labels[r];
                if (q)
                    loss[r] =
                        mr ? Ce::template ce_label_row<true, true>(k, xr, y, weight, mr, gr, q, p)
                           : Ce::template ce_label_row<false, true>(k, xr, y, weight, nullptr, gr,
                                                                    q, p);
                else
                    loss[r] =
                        mr ? Ce::template ce_label_row<true, false>(k, xr, y, weight, mr, gr, gr, p)
                           : Ce::template ce_label_row<false, false>(k, xr, y, weight, nullptr, gr,
                                                                     gr, p);
            } else {
                const int64_t y = labels ? labels[r] : 0;
                const T* pr = probs ? probs + i * ldt : nullptr;
                loss[r] =
                    mr ? Ce::template ce_target_row<true>(k, xr, y, pr, weight, mr, gr, p)
                       : Ce::template ce_target_row<false>(k, xr, y, pr, weight, nullptr, gr, p);
            }
        }
        if (q) V::fence();
    }

    static void cross_entropy_rows(size_t n, size_t k, const T* x, ptrdiff_t ldx,
                                   const int64_t* labels, const T* probs, ptrdiff_t ldt,
                                   const T* weight, const uint8_t* m, ptrdiff_t ldm, double* loss,
                                   T* g, ptrdiff_t ldg, const CrossEntropyParams& p) {
        ce_rows(n, k, x, ldx, labels, probs, ldt, weight, m, ldm, loss, g, ldg, p, true);
    }
};

// The KernelSet of wrapper V, checked against the wrapper concept first.
template <class V>
constexpr KernelSet<typename V::T> row_kernel_set() {
    static_assert(check_row_wrapper<V>());
    using R = Rows<V>;
    return {&R::template softmax_rows<false>,
            &R::template softmax_rows<true>,
            &R::logsumexp_rows,
            &R::cross_entropy_rows,
            floor_set<V>(),
            vector_set<V>()};
}

}  // namespace simd
}  // namespace pysoftmax
