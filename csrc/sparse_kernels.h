// The sparse path's row kernels (sparse.h), written once and compiled once per instruction set:
// by sparse.cpp for the baseline target (plain multiply and add) and by sparse_avx2.cpp inside
// an AVX2 + FMA target region (fused multiply-add). Their loops over the k classes are plain
// loops the compiler vectorises for the target.
//
// Included inside an anonymous namespace of each translation unit, so that each gets its own
// copy of these templates (the linker would otherwise keep one for both targets).
//
// M provides: static T madd(T a, T b, T c) = a * b + c (one rounding when M fuses).

// z (rows, k) = bias + sum over each row's entries of data[p] wt[indices[p], :].
template <class M, class T, class I>
bool sparse_logits(size_t rows, size_t k, size_t d, const I* indptr, const I* indices,
                   const T* data, const T* wt, const T* bias, T* z) {
    bool ok = true;
    for (size_t r = 0; r < rows; ++r) {
        T* zr = z + r * k;
        for (size_t c = 0; c < k; ++c) zr[c] = bias ? bias[c] : T(0);
        for (size_t p = size_t(indptr[r]), e = size_t(indptr[r + 1]); p < e; ++p) {
            const size_t j = size_t(indices[p]);  // a negative index wraps around: caught here
            if (j >= d) {
                ok = false;
                continue;
            }
            const T a = data[p];
            const T* wj = wt + j * k;
            for (size_t c = 0; c < k; ++c) zr[c] = M::madd(a, wj[c], zr[c]);
        }
    }
    return ok;
}

// dwt[j, :] += data[p] g[r, :] for the entries p of each row r whose column j is in [j0, j1).
template <class M, class T, class I>
void sparse_grad(size_t rows, size_t k, size_t j0, size_t j1, bool sorted, const I* indptr,
                 const I* indices, const T* data, const T* g, T* dwt) {
    const size_t span = j1 - j0;
    for (size_t r = 0; r < rows; ++r) {
        const T* gr = g + r * k;
        size_t p = size_t(indptr[r]);
        const size_t e = size_t(indptr[r + 1]);
        if (sorted) {  // the first entry of column >= j0, then up to the first >= j1
            size_t lo = p, hi = e;
            while (lo < hi) {
                const size_t mid = lo + (hi - lo) / 2;
                if (size_t(indices[mid]) < j0)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            for (p = lo; p < e && size_t(indices[p]) < j1; ++p) {
                const T a = data[p];
                T* dj = dwt + size_t(indices[p]) * k;
                for (size_t c = 0; c < k; ++c) dj[c] = M::madd(a, gr[c], dj[c]);
            }
        } else {
            for (; p < e; ++p) {
                const size_t j = size_t(indices[p]);
                if (j - j0 >= span) continue;  // also j < j0 (wraps around)
                const T a = data[p];
                T* dj = dwt + j * k;
                for (size_t c = 0; c < k; ++c) dj[c] = M::madd(a, gr[c], dj[c]);
            }
        }
    }
}

template <class M, class T, class I>
constexpr SparseKernelSet<T, I> sparse_kernel_set() {
    return {sparse_logits<M, T, I>, sparse_grad<M, T, I>};
}

template <class M>
constexpr SparseKernels sparse_kernels_of(const char* name) {
    return {name,
            {sparse_kernel_set<M, float, int32_t>(), sparse_kernel_set<M, float, int64_t>()},
            {sparse_kernel_set<M, double, int32_t>(), sparse_kernel_set<M, double, int64_t>()}};
}
