// Closes the target region opened by simd/target_begin.h.
#ifndef PYSOFTMAX_TARGET_REGION
#error "simd/target_end.h without simd/target_begin.h"
#endif

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#pragma GCC diagnostic pop
#endif

#undef PYSOFTMAX_TARGET_REGION
#undef PYSOFTMAX_TARGET
#undef PYSOFTMAX_PRAGMA
#undef PYSOFTMAX_PRAGMA_TEXT
