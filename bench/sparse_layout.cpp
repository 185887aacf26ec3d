// Which layout of W / dW serves the sparse product X W^T and its gradient G^T X best: the
// time per stored entry of X of the two passes of the sparse path (logits, then the weight
// gradient), single-threaded, with W stored
//   (d, k)  "transposed": an entry (i, j) reads / updates the contiguous row j of k values;
//   (k, d)  W's own:       an entry reads / updates k values d apart (one per class).
// X: text-like, n rows of `per_row` entries whose columns follow a Zipf law over d features,
// float32. Not part of the build:
//   g++ -std=c++17 -O3 -mavx2 -mfma bench/sparse_layout.cpp -o /tmp/sparse_layout
//   /tmp/sparse_layout [n d k per_row]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

using clk = std::chrono::steady_clock;

int main(int argc, char** argv) {
    const size_t n = argc > 1 ? std::atol(argv[1]) : 20000, d = argc > 2 ? std::atol(argv[2]) : 1 << 17,
                 k = argc > 3 ? std::atol(argv[3]) : 20, per_row = argc > 4 ? std::atol(argv[4]) : 100;
    std::mt19937_64 gen(0);
    std::vector<double> cdf(d);
    double s = 0;
    for (size_t j = 0; j < d; ++j) cdf[j] = (s += 1.0 / double(j + 1));
    std::uniform_real_distribution<double> u(0, s);
    std::vector<int32_t> indptr(n + 1), indices;
    std::vector<float> data;
    for (size_t i = 0; i < n; ++i) {
        std::vector<int32_t> row;
        for (size_t q = 0; q < per_row; ++q)
            row.push_back(int32_t(std::lower_bound(cdf.begin(), cdf.end(), u(gen)) - cdf.begin()));
        std::sort(row.begin(), row.end());
        row.erase(std::unique(row.begin(), row.end()), row.end());
        for (int32_t j : row) indices.push_back(j), data.push_back(float(u(gen) / s));
        indptr[i + 1] = int32_t(indices.size());
    }
    const size_t nnz = indices.size();
    std::vector<float> w(d * k, 0.01f), dw(d * k, 0.0f), z(n * k);
    auto time = [&](auto&& pass) {
        double best = 1e30;
        for (int rep = 0; rep < 5; ++rep) {
            auto t0 = clk::now();
            pass();
            best = std::min(best, std::chrono::duration<double>(clk::now() - t0).count());
        }
        return best * 1e9 / double(nnz);
    };
    // (d, k): one row of k per entry.
    const double lt = time([&] {
        for (size_t i = 0; i < n; ++i) {
            float* zr = &z[i * k];
            std::fill(zr, zr + k, 0.0f);
            for (int32_t p = indptr[i]; p < indptr[i + 1]; ++p) {
                const float a = data[p];
                const float* wj = &w[size_t(indices[p]) * k];
                for (size_t c = 0; c < k; ++c) zr[c] = std::fma(a, wj[c], zr[c]);
            }
        }
    });
    const double gt = time([&] {
        for (size_t i = 0; i < n; ++i) {
            const float* gr = &z[i * k];
            for (int32_t p = indptr[i]; p < indptr[i + 1]; ++p) {
                const float a = data[p];
                float* dj = &dw[size_t(indices[p]) * k];
                for (size_t c = 0; c < k; ++c) dj[c] = std::fma(a, gr[c], dj[c]);
            }
        }
    });
    // (k, d): k values d apart per entry.
    const double lk = time([&] {
        for (size_t i = 0; i < n; ++i) {
            for (size_t c = 0; c < k; ++c) {
                const float* wc = &w[c * d];
                float acc = 0.0f;
                for (int32_t p = indptr[i]; p < indptr[i + 1]; ++p) acc = std::fma(data[p], wc[indices[p]], acc);
                z[i * k + c] = acc;
            }
        }
    });
    const double gk = time([&] {
        for (size_t i = 0; i < n; ++i) {
            for (size_t c = 0; c < k; ++c) {
                float* dc = &dw[c * d];
                const float g = z[i * k + c];
                for (int32_t p = indptr[i]; p < indptr[i + 1]; ++p) dc[indices[p]] = std::fma(data[p], g, dc[indices[p]]);
            }
        }
    });
    std::printf("n=%zu d=%zu k=%zu nnz=%zu (%.1f per row), float32, 1 thread, ns per entry:\n", n, d, k, nnz,
                double(nnz) / double(n));
    std::printf("  W as (d, k): logits %.2f  grad %.2f  total %.2f\n", lt, gt, lt + gt);
    std::printf("  W as (k, d): logits %.2f  grad %.2f  total %.2f\n", lk, gk, lk + gk);
    std::printf("checksum %g\n", double(z[0] + dw[0]));
}
