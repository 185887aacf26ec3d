// AddressSanitizer / UBSan check of the sparse path's kernels on bad index arrays (not part of
// the build; a .cc file, which setup.py does not compile): columns out of range (too large,
// negative), a wrong "sorted" flag and a decreasing indptr must raise or stay in bounds.
//   g++ -std=c++17 -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -Icsrc \
//       csrc/tools/sparse_asan.cc csrc/sparse.cpp csrc/sparse_avx2.cpp csrc/runtime.cpp \
//       csrc/scalar.cpp csrc/isa_avx2.cpp csrc/isa_avx512.cpp -o /tmp/sparse_asan -lpthread
//   /tmp/sparse_asan
#include <cstdio>
#include <stdexcept>
#include <vector>
#include "sparse.h"
using namespace pysoftmax;
int main() {
    const size_t n = 3, d = 4, k = 3;
    std::vector<int32_t> indptr{0, 2, 2, 5};
    std::vector<float> data{1, 2, 3, 4, 5}, w(k * d, 0.1f), wt(d * k), dwt(d * k), dw(k * d), db(k);
    std::vector<int64_t> labels{0, 1, 2}, offs(d + 1);
    for (std::vector<int32_t> idx : {std::vector<int32_t>{0, 3, 1, 3, 2}, {0, 4, 1, 2, 3},
                                     {0, -1, 1, 2, 3}, {3, 0, 1, 3, 1}}) {
        for (bool sorted : {true, false}) {
            SparseLinearCrossEntropyProblem<float, int32_t> p{};
            p.n = n; p.d = d; p.k = k; p.indptr = indptr.data(); p.indices = idx.data();
            p.data = data.data(); p.sorted = sorted; p.w = w.data(); p.ldw = d;
            p.labels = labels.data(); p.params = {-100, 0.0, 1.0}; p.dw = dw.data(); p.lddw = d;
            p.db = db.data(); p.wt = wt.data(); p.dwt = dwt.data(); p.block_rows = 2;
            try {
                double l = run_sparse_linear_cross_entropy<float, int32_t>(p);
                std::printf("ok loss %g\n", l);
            } catch (const std::invalid_argument& e) { std::printf("raised: %s\n", e.what()); }
            try {
                bool s = inspect_csr<int32_t>(n, d, idx.size(), indptr.data(), idx.data(), offs.data());
                std::printf("inspect ok sorted=%d\n", int(s));
            } catch (const std::invalid_argument& e) { std::printf("inspect raised: %s\n", e.what()); }
        }
    }
    std::vector<int32_t> bad_ptr{0, 3, 2, 9}, idx{0, 1, 2, 3, 0};
    try { inspect_csr<int32_t>(n, d, idx.size(), bad_ptr.data(), idx.data(), offs.data()); }
    catch (const std::invalid_argument& e) { std::printf("inspect raised: %s\n", e.what()); }
}
