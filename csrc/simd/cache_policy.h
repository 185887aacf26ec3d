// When the kernels stream their output past the caches and when they prefetch. These decide
// speed only: a streamed or prefetched row gets the same results as any other.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels.h"
#include "simd/wrapper.h"

namespace pysoftmax {
namespace simd {

constexpr size_t kLine = 64;  // bytes in a cache line

// Streaming (non-temporal) stores skip the read-for-ownership of the output's cache lines and
// leave the caches to the input. They pay when the call's output is well beyond the caches
// (kStreamBytes), a row's exp values fit in L2 to wait there for pass 3 (kScratchBytes), and
// few output cache lines are partly written: a streamed partial line costs a full memory
// transaction (129 floats per row streamed take about 3x the time of 128). So streamed rows
// start on cache lines or are long (kLongRowBytes).
constexpr size_t kStreamBytes = size_t(2) << 20, kScratchBytes = size_t(256) << 10;
constexpr size_t kLongRowBytes = 4096;

// Short rows of at least kSpanRowBytes: their blocks prefetch the next rows and stream their
// output beyond the caches. Shorter rows need neither: the hardware prefetcher keeps up.
constexpr size_t kSpanRowBytes = 128;

template <class V>
struct CachePolicy {
    using T = typename V::T;

    static bool beyond_caches(size_t n, size_t k) { return n * k * sizeof(T) >= kStreamBytes; }

    // Whether the block kernels' output streams (store_blocks): rows contiguous and at least
    // kSpanRowBytes long, the call's output beyond the caches.
    static bool stream_blocks(size_t n, size_t k, ptrdiff_t ldy) {
        return ldy == ptrdiff_t(k) && k * sizeof(T) >= kSpanRowBytes && beyond_caches(n, k);
    }

    // Where a row kernel keeps a row's exp values while its output streams (pass 3 re-reads
    // them), or nullptr: the output does not stream and the values wait in y itself.
    static T* stream_scratch(size_t n, size_t k, const T* y, ptrdiff_t ldy) {
        const bool lines =
            reinterpret_cast<uintptr_t>(y) % kLine == 0 && (size_t(ldy) * sizeof(T)) % kLine == 0;
        if (k < 4 * V::W || !beyond_caches(n, k) || k * sizeof(T) > kScratchBytes ||
            !(lines || k * sizeof(T) >= kLongRowBytes))
            return nullptr;
        return static_cast<T*>(thread_scratch(k * sizeof(T)));
    }
};

}  // namespace simd
}  // namespace pysoftmax
