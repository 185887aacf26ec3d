// The Python module pysoftmax._core. Bindings validate, take raw pointers, release the GIL
// and call the runtime; no maths here. The Python layer (pysoftmax/_native.py) arranges any
// axis and layout into the (n, k) row views these functions take; pysoftmax/_linear.py drives
// the fused linear path and runs its BLAS blocks through parallel_for.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <exception>
#include <string>
#include <type_traits>

#include "linear.h"
#include "runtime.h"
#include "sparse.h"

namespace py = pybind11;
using namespace pysoftmax;

namespace {

// Python's signal handlers, run by a long call's calling thread (its InterruptScope polls this
// about every 25 ms): true once a handler raised, its exception (KeyboardInterrupt) then set.
bool python_signals(void*) {
    py::gil_scoped_acquire gil;
    return PyErr_CheckSignals() != 0;
}

// The main thread (Python runs signal handlers there only), set when the module is imported.
unsigned long g_main_thread = 0;

// f() with the GIL released; on the main thread, stopped by a signal handler that raises: the
// exception is then raised here, once the threads have left the blocks they were on. Other
// threads never take the GIL meanwhile (at exit a daemon thread that does is ended).
template <class F>
auto interruptible(const F& f) -> decltype(f()) {
    if (PyThread_get_thread_ident() != g_main_thread) {
        py::gil_scoped_release nogil;
        return f();
    }
    bool stopped = false;
    if constexpr (std::is_void_v<decltype(f())>) {
        {
            py::gil_scoped_release nogil;
            InterruptScope scope(python_signals, nullptr);
            f();
            stopped = scope.stopped();
        }
        if (stopped) throw py::error_already_set();
    } else {
        decltype(f()) result{};
        {
            py::gil_scoped_release nogil;
            InterruptScope scope(python_signals, nullptr);
            result = f();
            stopped = scope.stopped();
        }
        if (stopped) throw py::error_already_set();
        return result;
    }
}

std::string describe(const py::array& a) {
    std::string s = "(";
    for (py::ssize_t i = 0; i < a.ndim(); ++i)
        s += std::to_string(a.shape(i)) + (a.ndim() == 1 ? "," : (i + 1 < a.ndim() ? ", " : ""));
    return s + ") " + std::string(py::str(a.dtype()));
}

// The kernels read and write every element at its natural alignment (the Python layer copies
// misaligned arrays): refuse any other.
void check_aligned(const py::array& a, const std::string& name) {
    if (!(a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_))
        throw py::value_error(name + ": the data is not aligned to its itemsize: " + describe(a));
}

// A 2-D array whose rows are unit-stride: its row stride in elements.
ptrdiff_t row_stride(const py::array& a, const char* name, py::ssize_t n, py::ssize_t k) {
    const py::ssize_t item = a.itemsize();
    check_aligned(a, name);
    if (a.ndim() != 2 || a.shape(0) != n || a.shape(1) != k)
        throw py::value_error(std::string(name) + ": expected shape (" + std::to_string(n) + ", " +
                              std::to_string(k) + "), got " + describe(a));
    if (n > 0 && ((k > 1 && a.strides(1) != item) || a.strides(0) % item != 0))
        throw py::value_error(std::string(name) + ": rows must be contiguous, got strides (" +
                              std::to_string(a.strides(0)) + ", " + std::to_string(a.strides(1)) +
                              ") for " + describe(a));
    return ptrdiff_t(a.strides(0) / item);
}

const uint8_t* mask_rows(const py::object& where, py::ssize_t n, py::ssize_t k, ptrdiff_t& ldm) {
    ldm = 0;
    if (where.is_none()) return nullptr;
    if (!py::isinstance<py::array>(where))
        throw py::type_error("where: expected a boolean numpy array or None");
    py::array m = py::reinterpret_borrow<py::array>(where);
    if (m.dtype().kind() != 'b' || m.itemsize() != 1)
        throw py::type_error("where: expected a boolean array, got " + describe(m));
    ldm = row_stride(m, "where", n, k);
    return static_cast<const uint8_t*>(m.data());
}

template <class T>
void softmax_typed(const py::array& x, py::array& out, const py::object& where, double temperature,
                   bool log) {
    const py::ssize_t n = x.shape(0), k = x.shape(1);
    const ptrdiff_t ldx = row_stride(x, "x", n, k), ldy = row_stride(out, "out", n, k);
    ptrdiff_t ldm;
    const uint8_t* m = mask_rows(where, n, k, ldm);
    const T* xp = static_cast<const T*>(x.data());
    T* yp = static_cast<T*>(out.mutable_data());
    interruptible(
        [&] { run_softmax<T>(size_t(n), size_t(k), xp, ldx, m, ldm, yp, ldy, temperature, log); });
}

template <class T>
void logsumexp_typed(const py::array& x, py::array& out, const py::object& where) {
    const py::ssize_t n = x.shape(0), k = x.shape(1);
    const ptrdiff_t ldx = row_stride(x, "x", n, k);
    if (out.ndim() != 1 || out.shape(0) != n || out.strides(0) % py::ssize_t(sizeof(T)) != 0)
        throw py::value_error("out: expected a 1-D array of length " + std::to_string(n) +
                              ", got " + describe(out));
    check_aligned(out, "out");
    ptrdiff_t ldm;
    const uint8_t* m = mask_rows(where, n, k, ldm);
    const T* xp = static_cast<const T*>(x.data());
    T* yp = static_cast<T*>(out.mutable_data());
    const ptrdiff_t incy = ptrdiff_t(out.strides(0) / py::ssize_t(sizeof(T)));
    interruptible([&] { run_logsumexp<T>(size_t(n), size_t(k), xp, ldx, m, ldm, yp, incy); });
}

void check_x(const py::array& x, const py::array& out) {
    if (x.ndim() != 2 || x.shape(1) < 1)
        throw py::value_error("x: expected a 2-D array with at least one column, got " +
                              describe(x));
    if (!out.dtype().equal(x.dtype()))
        throw py::value_error("out: dtype " + describe(out) + " does not match x: " + describe(x));
    if (!out.writeable()) throw py::value_error("out: array is read-only: " + describe(out));
}

// A 1-D contiguous array of n elements of dtype D, or throws naming `name`.
template <class D>
const D* vector_of(const py::object& obj, const char* name, py::ssize_t n, bool writeable = false) {
    if (!py::isinstance<py::array>(obj))
        throw py::type_error(std::string(name) + ": expected an ndarray");
    py::array a = py::reinterpret_borrow<py::array>(obj);
    if (!a.dtype().equal(py::dtype::of<D>()) || a.ndim() != 1 || a.shape(0) != n ||
        (n > 1 && a.strides(0) != py::ssize_t(sizeof(D))))
        throw py::value_error(std::string(name) + ": expected a contiguous 1-D array of " +
                              std::to_string(n) + " " + std::string(py::str(py::dtype::of<D>())) +
                              ", got " + describe(a));
    if (writeable && !a.writeable())
        throw py::value_error(std::string(name) + ": array is read-only");
    check_aligned(a, name);
    return static_cast<const D*>(a.data());
}

template <class T>
void cross_entropy_typed(const py::array& x, const py::object& labels, const py::object& probs,
                         const py::object& weight, const py::object& where, const py::object& loss,
                         const py::object& grad, const CrossEntropyParams& params) {
    const py::ssize_t n = x.shape(0), k = x.shape(1);
    const ptrdiff_t ldx = row_stride(x, "x", n, k);
    if (labels.is_none() == probs.is_none())
        throw py::value_error("target: give exactly one of labels and probs");
    const int64_t* lp = labels.is_none() ? nullptr : vector_of<int64_t>(labels, "labels", n);
    const T* pp = nullptr;
    ptrdiff_t ldt = 0;
    if (!probs.is_none()) {
        py::array pa = py::reinterpret_borrow<py::array>(probs);
        if (!py::isinstance<py::array>(probs) || !pa.dtype().equal(x.dtype()))
            throw py::value_error("probs: expected an array of x's dtype");
        ldt = row_stride(pa, "probs", n, k);
        pp = static_cast<const T*>(pa.data());
    }
    const T* wp = weight.is_none() ? nullptr : vector_of<T>(weight, "weight", k);
    double* lo = const_cast<double*>(vector_of<double>(loss, "loss", n, true));
    T* gp = nullptr;
    ptrdiff_t ldg = 0;
    if (!grad.is_none()) {
        py::array ga = py::reinterpret_borrow<py::array>(grad);
        if (!py::isinstance<py::array>(grad)) throw py::type_error("grad: expected an ndarray");
        check_x(x, ga);
        ldg = row_stride(ga, "grad", n, k);
        gp = static_cast<T*>(ga.mutable_data());
    }
    ptrdiff_t ldm;
    const uint8_t* m = mask_rows(where, n, k, ldm);
    const T* xp = static_cast<const T*>(x.data());
    interruptible([&] {
        run_cross_entropy<T>(size_t(n), size_t(k), xp, ldx, lp, pp, ldt, wp, m, ldm, lo, gp, ldg,
                             params);
    });
}

// The reduction's factor (pysoftmax._common): finite, or NaN for a mean whose weights sum
// to 0 (the loss and the counted rows' gradients are then NaN, as torch's).
void check_scale(double scale) {
    if (std::isinf(scale)) throw py::value_error("scale: must be finite or NaN");
}

bool is_f32(const py::array& x) { return x.dtype().equal(py::dtype::of<float>()); }
bool is_f64(const py::array& x) { return x.dtype().equal(py::dtype::of<double>()); }

void softmax_rows(const py::array& x, py::array out, const py::object& where, double temperature,
                  bool log) {
    check_x(x, out);
    if (!(temperature > 0.0 && std::isfinite(temperature)))
        throw py::value_error("temperature: must be a positive finite number");
    if (is_f32(x))
        softmax_typed<float>(x, out, where, temperature, log);
    else if (is_f64(x))
        softmax_typed<double>(x, out, where, temperature, log);
    else
        throw py::type_error("x: expected float32 or float64, got " + describe(x));
}

void cross_entropy_rows(const py::array& x, const py::object& labels, const py::object& probs,
                        const py::object& weight, const py::object& where, const py::object& loss,
                        const py::object& grad, int64_t ignore_index, double label_smoothing,
                        double scale) {
    if (x.ndim() != 2 || x.shape(1) < 1)
        throw py::value_error("logits: expected a 2-D array with at least one column, got " +
                              describe(x));
    if (!(label_smoothing >= 0.0 && label_smoothing <= 1.0))
        throw py::value_error("label_smoothing: must be in [0, 1]");
    check_scale(scale);
    const CrossEntropyParams params{ignore_index, label_smoothing, scale};
    if (is_f32(x))
        cross_entropy_typed<float>(x, labels, probs, weight, where, loss, grad, params);
    else if (is_f64(x))
        cross_entropy_typed<double>(x, labels, probs, weight, where, loss, grad, params);
    else
        throw py::type_error("logits: expected float32 or float64, got " + describe(x));
}

// The optional 1-D array `obj` of n elements of dtype D, contiguous; nullptr for None.
template <class D>
const D* optional_vector(const py::object& obj, const char* name, py::ssize_t n,
                         bool writeable = false) {
    return obj.is_none() ? nullptr : vector_of<D>(obj, name, n, writeable);
}

// The optional 2-D array `obj` of shape (n, k) and dtype T with unit-stride rows.
template <class T>
T* optional_rows(const py::object& obj, const char* name, py::ssize_t n, py::ssize_t k,
                 ptrdiff_t& ld, bool writeable) {
    ld = 0;
    if (obj.is_none()) return nullptr;
    if (!py::isinstance<py::array>(obj))
        throw py::type_error(std::string(name) + ": expected an ndarray");
    py::array a = py::reinterpret_borrow<py::array>(obj);
    if (!a.dtype().equal(py::dtype::of<T>()))
        throw py::value_error(std::string(name) + ": expected dtype " +
                              std::string(py::str(py::dtype::of<T>())) + ", got " + describe(a));
    if (writeable && !a.writeable())
        throw py::value_error(std::string(name) + ": array is read-only");
    ld = row_stride(a, name, n, k);
    return static_cast<T*>(const_cast<void*>(a.data()));  // written only when `writeable`
}

// The fields the dense and the sparse problem share (LinearTerms, linear.h), validated.
template <class T>
void set_terms(LinearTerms<T>& p, py::ssize_t n, py::ssize_t d, py::ssize_t k, const py::array& w,
               const py::object& bias, const py::object& labels, const py::object& probs,
               const py::object& weight, const py::object& sample_weight,
               const CrossEntropyParams& params, const py::object& loss_rows, const py::object& dw,
               const py::object& db) {
    p.n = size_t(n), p.d = size_t(d), p.k = size_t(k);
    p.w = static_cast<const T*>(w.data());
    p.ldw = row_stride(w, "w", k, d);
    p.bias = optional_vector<T>(bias, "bias", k);
    if (labels.is_none() == probs.is_none())
        throw py::value_error("target: give exactly one of labels and probs");
    p.labels = optional_vector<int64_t>(labels, "labels", n);
    p.probs = optional_rows<T>(probs, "probs", n, k, p.ldt, false);
    p.weight = optional_vector<T>(weight, "weight", k);
    p.sample_weight = optional_vector<T>(sample_weight, "sample_weight", n);
    p.params = params;
    p.loss_rows = const_cast<double*>(optional_vector<double>(loss_rows, "loss_rows", n, true));
    p.dw = optional_rows<T>(dw, "dw", k, d, p.lddw, true);
    if (p.dw == nullptr && !db.is_none()) throw py::value_error("db: needs dw");
    p.db = const_cast<T*>(optional_vector<T>(db, "db", k, true));
}

template <class T>
double linear_cross_entropy_typed(const py::array& x, const py::array& w, const py::object& bias,
                                  const py::object& labels, const py::object& probs,
                                  const py::object& weight, const py::object& sample_weight,
                                  const py::object& loss_rows, const py::object& dw,
                                  const py::object& db, const py::object& partials,
                                  const CrossEntropyParams& params, size_t stripe_rows,
                                  size_t slots) {
    if (w.ndim() != 2 || w.shape(1) != x.shape(1) || w.shape(0) < 1)
        throw py::value_error("w: expected shape (k, " + std::to_string(x.shape(1)) +
                              ") with k >= 1 for x of shape " + describe(x) + ", got " +
                              describe(w));
    const py::ssize_t n = x.shape(0), d = x.shape(1), k = w.shape(0);
    LinearCrossEntropyProblem<T> p{};
    p.x = static_cast<const T*>(x.data());
    p.ldx = row_stride(x, "x", n, d);
    set_terms<T>(p, n, d, k, w, bias, labels, probs, weight, sample_weight, params, loss_rows, dw,
                 db);
    p.stripe_rows = stripe_rows;
    if (stripe_rows < 16 || stripe_rows % 16 != 0)
        throw py::value_error("stripe_rows: expected a positive multiple of 16, got " +
                              std::to_string(stripe_rows));
    if (slots < 1) throw py::value_error("slots: expected at least 1");
    p.slots = slots;
    if (p.dw) {
        if (!py::isinstance<py::array>(partials))
            throw py::type_error("partials: expected an ndarray");
        py::array a = py::reinterpret_borrow<py::array>(partials);
        if (!a.dtype().equal(py::dtype::of<T>()) || a.ndim() != 3 || size_t(a.shape(0)) != slots ||
            a.shape(1) != k || a.shape(2) != d || !(a.flags() & py::array::c_style) ||
            !a.writeable())
            throw py::value_error("partials: expected a writeable C-contiguous (" +
                                  std::to_string(slots) + ", " + std::to_string(k) + ", " +
                                  std::to_string(d) + ") array of x's dtype, got " + describe(a));
        p.partials = static_cast<T*>(a.mutable_data());
    }
    return interruptible([&] { return run_linear_cross_entropy<T>(p); });
}

double linear_cross_entropy_rows(const py::array& x, const py::array& w, const py::object& bias,
                                 const py::object& labels, const py::object& probs,
                                 const py::object& weight, const py::object& sample_weight,
                                 const py::object& loss_rows, const py::object& dw,
                                 const py::object& db, const py::object& partials,
                                 int64_t ignore_index, double label_smoothing, double scale,
                                 size_t stripe_rows, size_t slots) {
    if (x.ndim() != 2) throw py::value_error("x: expected a 2-D array, got " + describe(x));
    if (!w.dtype().equal(x.dtype()))
        throw py::value_error("w: dtype " + describe(w) + " does not match x: " + describe(x));
    if (!(label_smoothing >= 0.0 && label_smoothing <= 1.0))
        throw py::value_error("label_smoothing: must be in [0, 1]");
    check_scale(scale);
    const CrossEntropyParams params{ignore_index, label_smoothing, scale};
    if (is_f32(x))
        return linear_cross_entropy_typed<float>(x, w, bias, labels, probs, weight, sample_weight,
                                                 loss_rows, dw, db, partials, params, stripe_rows,
                                                 slots);
    if (is_f64(x))
        return linear_cross_entropy_typed<double>(x, w, bias, labels, probs, weight, sample_weight,
                                                  loss_rows, dw, db, partials, params, stripe_rows,
                                                  slots);
    throw py::type_error("x: expected float32 or float64, got " + describe(x));
}

void logsumexp_rows(const py::array& x, py::array out, const py::object& where) {
    check_x(x, out);
    if (is_f32(x))
        logsumexp_typed<float>(x, out, where);
    else if (is_f64(x))
        logsumexp_typed<double>(x, out, where);
    else
        throw py::type_error("x: expected float32 or float64, got " + describe(x));
}

// fn(i) for every i in [0, n) on the runtime's threads, each call holding the GIL. Once a call
// raises, the calls not yet started are skipped and its exception is raised here.
void parallel_for_python(size_t n, const py::object& fn) {
    std::exception_ptr error;  // read and written with the GIL held
    {
        py::gil_scoped_release nogil;
        parallel_for(n, [&](size_t i) {
            py::gil_scoped_acquire gil;
            if (error) return;
            try {
                fn(i);
            } catch (...) {
                error = std::current_exception();
            }
        });
    }
    if (error) std::rethrow_exception(error);
}

// ---- floors (the benchmark's) ---------------------------------------------------------------

// A C-contiguous float32 or float64 array; its element count.
size_t contiguous_elements(const py::array& a, const char* name) {
    if (!(is_f32(a) || is_f64(a)))
        throw py::type_error(std::string(name) + ": expected float32 or float64, got " +
                             describe(a));
    if (!(a.flags() & py::array::c_style))
        throw py::value_error(std::string(name) + ": expected a C-contiguous array, got " +
                              describe(a));
    return size_t(a.size());
}

void check_out_like(const py::array& x, const py::array& out) {
    if (!out.dtype().equal(x.dtype()) || out.size() != x.size() ||
        !(out.flags() & py::array::c_style) || !out.writeable())
        throw py::value_error(
            "out: expected a writeable C-contiguous array of x's size and "
            "dtype " +
            describe(x) + ", got " + describe(out));
}

size_t exp_floor_elements(const py::array& x, size_t repeat) {
    const size_t n = contiguous_elements(x, "x");
    if (n % 64 != 0)
        throw py::value_error("x: expected a multiple of 64 elements, got " + describe(x));
    if (repeat < 1) throw py::value_error("repeat: expected at least 1, got 0");
    return n;
}

template <class F>
auto by_dtype(const py::array& x, const F& f) {
    return is_f32(x) ? f(float()) : f(double());
}

void floor_stream_copy(const py::array& x, py::array out) {
    const size_t n = contiguous_elements(x, "x");
    check_out_like(x, out);
    by_dtype(x, [&](auto t) {
        using T = decltype(t);
        const T* xp = static_cast<const T*>(x.data());
        T* yp = static_cast<T*>(out.mutable_data());
        py::gil_scoped_release nogil;
        run_stream_copy<T>(n, xp, yp);
    });
}

double floor_read_max(const py::array& x) {
    const size_t n = contiguous_elements(x, "x");
    return by_dtype(x, [&](auto t) {
        using T = decltype(t);
        const T* xp = static_cast<const T*>(x.data());
        py::gil_scoped_release nogil;
        return double(run_read_max<T>(n, xp));
    });
}

double floor_exp_sum(const py::array& x, double shift, size_t repeat) {
    const size_t n = exp_floor_elements(x, repeat);
    return by_dtype(x, [&](auto t) {
        using T = decltype(t);
        const T* xp = static_cast<const T*>(x.data());
        py::gil_scoped_release nogil;
        return run_exp_sum<T>(n, xp, T(shift), repeat);
    });
}

void floor_exp_store(const py::array& x, double shift, py::array out, size_t repeat) {
    const size_t n = exp_floor_elements(x, repeat);
    check_out_like(x, out);
    by_dtype(x, [&](auto t) {
        using T = decltype(t);
        const T* xp = static_cast<const T*>(x.data());
        T* yp = static_cast<T*>(out.mutable_data());
        py::gil_scoped_release nogil;
        run_exp_store<T>(n, xp, T(shift), yp, repeat);
    });
}

// ---- sparse X (CSR) -------------------------------------------------------------------------

// indptr (n + 1,) and indices of one integer dtype D, contiguous; data (at least indptr[n],)
// contiguous. indptr is checked here on every call (O(n)); the column indices by the kernel.
template <class D>
void check_csr_arrays(const py::array& indptr, const py::array& indices, py::ssize_t n) {
    if (indptr.ndim() != 1 || indptr.shape(0) != n + 1 ||
        (n > 0 && indptr.strides(0) != py::ssize_t(sizeof(D))))
        throw py::value_error("X: indptr must be a contiguous 1-D array of " +
                              std::to_string(n + 1) + " elements, got " + describe(indptr));
    if (!indices.dtype().equal(indptr.dtype()) || indices.ndim() != 1 ||
        (indices.shape(0) > 1 && indices.strides(0) != py::ssize_t(sizeof(D))))
        throw py::value_error("X: indices must be a contiguous 1-D array of indptr's dtype, got " +
                              describe(indices) + " and indptr " + describe(indptr));
    check_aligned(indptr, "X: indptr");
    check_aligned(indices, "X: indices");
    const D* ip = static_cast<const D*>(indptr.data());
    if (ip[0] != 0) throw py::value_error("X: indptr[0] must be 0");
    for (py::ssize_t i = 0; i < n; ++i)
        if (ip[i + 1] < ip[i])
            throw py::value_error("X: indptr must be non-decreasing (at row " + std::to_string(i) +
                                  ")");
    if (py::ssize_t(ip[n]) > indices.shape(0))
        throw py::value_error("X: indptr[-1] = " + std::to_string(ip[n]) + " exceeds the " +
                              std::to_string(indices.shape(0)) + " column indices");
}

template <class T, class D>
double sparse_linear_cross_entropy_typed(
    const py::array& indptr, const py::array& indices, const py::array& data, py::ssize_t n,
    py::ssize_t d, bool sorted, const py::object& column_offsets, const py::array& w,
    const py::object& bias, const py::object& labels, const py::object& probs,
    const py::object& weight, const py::object& sample_weight, const py::object& loss_rows,
    const py::object& dw, const py::object& db, const py::object& wt, const py::object& dwt,
    const CrossEntropyParams& params, size_t block_rows) {
    check_csr_arrays<D>(indptr, indices, n);
    const D* ip = static_cast<const D*>(indptr.data());
    if (data.ndim() != 1 || data.shape(0) < py::ssize_t(ip[n]) ||
        (data.shape(0) > 1 && data.strides(0) != py::ssize_t(sizeof(T))))
        throw py::value_error("X: data must be a contiguous 1-D array of at least " +
                              std::to_string(ip[n]) + " elements, got " + describe(data));
    check_aligned(data, "X: data");
    if (w.ndim() != 2 || w.shape(1) != d || w.shape(0) < 1)
        throw py::value_error("w: expected shape (k, " + std::to_string(d) + ") with k >= 1, got " +
                              describe(w));
    const py::ssize_t k = w.shape(0);
    SparseLinearCrossEntropyProblem<T, D> p{};
    p.indptr = ip;
    p.indices = static_cast<const D*>(indices.data());
    p.data = static_cast<const T*>(data.data());
    p.sorted = sorted;
    p.column_offsets = optional_vector<int64_t>(column_offsets, "column_offsets", d + 1);
    set_terms<T>(p, n, d, k, w, bias, labels, probs, weight, sample_weight, params, loss_rows, dw,
                 db);
    ptrdiff_t ld = 0;
    p.wt = optional_rows<T>(wt, "wt", d, k, ld, true);
    if (p.wt == nullptr || (d > 0 && ld != k))
        throw py::value_error("wt: expected a writeable C-contiguous (d, k) workspace");
    if (p.dw) {
        p.dwt = optional_rows<T>(dwt, "dwt", d, k, ld, true);
        if (p.dwt == nullptr || (d > 0 && ld != k))
            throw py::value_error("dwt: expected a writeable C-contiguous (d, k) workspace");
    }
    if (block_rows < 1) throw py::value_error("block_rows: expected at least 1");
    p.block_rows = block_rows;
    return interruptible([&] { return run_sparse_linear_cross_entropy<T, D>(p); });
}

template <class T>
double sparse_linear_cross_entropy_index(
    const py::array& indptr, const py::array& indices, const py::array& data, py::ssize_t n,
    py::ssize_t d, bool sorted, const py::object& column_offsets, const py::array& w,
    const py::object& bias, const py::object& labels, const py::object& probs,
    const py::object& weight, const py::object& sw, const py::object& loss_rows,
    const py::object& dw, const py::object& db, const py::object& wt, const py::object& dwt,
    const CrossEntropyParams& params, size_t block_rows) {
    if (indptr.dtype().equal(py::dtype::of<int32_t>()))
        return sparse_linear_cross_entropy_typed<T, int32_t>(
            indptr, indices, data, n, d, sorted, column_offsets, w, bias, labels, probs, weight, sw,
            loss_rows, dw, db, wt, dwt, params, block_rows);
    if (indptr.dtype().equal(py::dtype::of<int64_t>()))
        return sparse_linear_cross_entropy_typed<T, int64_t>(
            indptr, indices, data, n, d, sorted, column_offsets, w, bias, labels, probs, weight, sw,
            loss_rows, dw, db, wt, dwt, params, block_rows);
    throw py::type_error("X: indptr must be int32 or int64, got " + describe(indptr));
}

double sparse_linear_cross_entropy_rows(
    const py::array& indptr, const py::array& indices, const py::array& data, py::ssize_t n,
    py::ssize_t d, bool sorted, const py::object& column_offsets, const py::array& w,
    const py::object& bias, const py::object& labels, const py::object& probs,
    const py::object& weight, const py::object& sample_weight, const py::object& loss_rows,
    const py::object& dw, const py::object& db, const py::object& wt, const py::object& dwt,
    int64_t ignore_index, double label_smoothing, double scale, size_t block_rows) {
    if (n < 0 || d < 0) throw py::value_error("X: the shape must not be negative");
    if (!w.dtype().equal(data.dtype()))
        throw py::value_error("w: dtype " + describe(w) +
                              " does not match X's data: " + describe(data));
    if (!(label_smoothing >= 0.0 && label_smoothing <= 1.0))
        throw py::value_error("label_smoothing: must be in [0, 1]");
    check_scale(scale);
    const CrossEntropyParams params{ignore_index, label_smoothing, scale};
    if (is_f32(data))
        return sparse_linear_cross_entropy_index<float>(
            indptr, indices, data, n, d, sorted, column_offsets, w, bias, labels, probs, weight,
            sample_weight, loss_rows, dw, db, wt, dwt, params, block_rows);
    if (is_f64(data))
        return sparse_linear_cross_entropy_index<double>(
            indptr, indices, data, n, d, sorted, column_offsets, w, bias, labels, probs, weight,
            sample_weight, loss_rows, dw, db, wt, dwt, params, block_rows);
    throw py::type_error("X: expected float32 or float64 data, got " + describe(data));
}

// Checks the CSR structure (n rows, d columns); returns whether every row's columns are
// non-decreasing and fills column_offsets (int64, d + 1).
bool inspect_csr_rows(const py::array& indptr, const py::array& indices, py::ssize_t n,
                      py::ssize_t d, const py::object& column_offsets) {
    if (n < 0 || d < 0) throw py::value_error("X: the shape must not be negative");
    int64_t* co =
        const_cast<int64_t*>(vector_of<int64_t>(column_offsets, "column_offsets", d + 1, true));
    if (indptr.dtype().equal(py::dtype::of<int32_t>())) {
        check_csr_arrays<int32_t>(indptr, indices, n);
        const auto* ip = static_cast<const int32_t*>(indptr.data());
        const auto* ix = static_cast<const int32_t*>(indices.data());
        py::gil_scoped_release nogil;
        return inspect_csr<int32_t>(size_t(n), size_t(d), size_t(indices.shape(0)), ip, ix, co);
    }
    if (indptr.dtype().equal(py::dtype::of<int64_t>())) {
        check_csr_arrays<int64_t>(indptr, indices, n);
        const auto* ip = static_cast<const int64_t*>(indptr.data());
        const auto* ix = static_cast<const int64_t*>(indices.data());
        py::gil_scoped_release nogil;
        return inspect_csr<int64_t>(size_t(n), size_t(d), size_t(indices.shape(0)), ip, ix, co);
    }
    throw py::type_error("X: indptr must be int32 or int64, got " + describe(indptr));
}

// ---- the solvers' vector arithmetic ----------------------------------------------------------

// The data pointers of a list of 1-D C-contiguous float64 arrays of one length n (n set by the
// first array seen when n < 0), named `name`[i] in errors.
std::vector<const double*> vector_pointers(const std::vector<py::array>& arrays, const char* name,
                                           py::ssize_t& n) {
    std::vector<const double*> p;
    for (size_t i = 0; i < arrays.size(); ++i) {
        const py::array& a = arrays[i];
        const std::string which = std::string(name) + "[" + std::to_string(i) + "]";
        if (!is_f64(a) || a.ndim() != 1 || !(a.flags() & py::array::c_style))
            throw py::type_error(which + ": expected a 1-D C-contiguous float64 array, got " +
                                 describe(a));
        if (n < 0) n = a.shape(0);
        if (a.shape(0) != n)
            throw py::value_error(which + ": expected length " + std::to_string(n) + ", got " +
                                  describe(a));
        p.push_back(static_cast<const double*>(a.data()));
    }
    return p;
}

py::array_t<double> vector_dots(const std::vector<py::array>& rows,
                                const std::vector<py::array>& vecs) {
    if (vecs.empty() || vecs.size() > kMaxDotVectors)
        throw py::value_error("vecs: expected 1 to " + std::to_string(kMaxDotVectors) +
                              " vectors, got " + std::to_string(vecs.size()));
    py::ssize_t n = -1;
    const std::vector<const double*> vp = vector_pointers(vecs, "vecs", n);
    const std::vector<const double*> rp = vector_pointers(rows, "rows", n);
    py::array_t<double> out({py::ssize_t(vecs.size()), py::ssize_t(rows.size())});
    double* o = out.mutable_data();
    {
        py::gil_scoped_release nogil;
        run_dots(size_t(n), rp.data(), rp.size(), vp.data(), vp.size(), o);
    }
    return out;
}

void vector_combine(const std::vector<py::array>& rows, const std::vector<double>& coef,
                    py::array out) {
    if (coef.size() != rows.size())
        throw py::value_error("coef: expected one coefficient per row (" +
                              std::to_string(rows.size()) + "), got " +
                              std::to_string(coef.size()));
    py::ssize_t n = -1;
    const std::vector<const double*> op = vector_pointers({out}, "out", n);
    if (!out.writeable()) throw py::value_error("out: expected a writeable array");
    const std::vector<const double*> rp = vector_pointers(rows, "rows", n);
    double* o = static_cast<double*>(out.mutable_data());
    py::gil_scoped_release nogil;
    run_combine(size_t(n), rp.data(), rp.size(), coef.data(), o);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "pysoftmax native kernels (internal; use the functions in the pysoftmax package)";
    m.attr("__version__") = PYSOFTMAX_VERSION;
    g_main_thread =
        py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>();

    m.def("softmax_rows", &softmax_rows, py::arg("x"), py::arg("out"), py::arg("where"),
          py::arg("temperature"), py::arg("log"),
          "Row-wise softmax (log=False) or log_softmax (log=True) of a 2-D array with contiguous "
          "rows into out (same shape and dtype; may be x). where: None or a bool array.");
    m.def("logsumexp_rows", &logsumexp_rows, py::arg("x"), py::arg("out"), py::arg("where"),
          "Row-wise logsumexp of a 2-D array with contiguous rows into the 1-D array out.");

    m.def("cross_entropy_rows", &cross_entropy_rows, py::arg("x"), py::arg("labels"),
          py::arg("probs"), py::arg("weight"), py::arg("where"), py::arg("loss"), py::arg("grad"),
          py::arg("ignore_index"), py::arg("label_smoothing"), py::arg("scale"),
          "Row-wise cross-entropy of softmax(x) against int64 labels or probs (one of them None) "
          "into loss (float64, n) and, unless None, its gradient into grad (see kernels.h).");

    m.def("linear_cross_entropy_rows", &linear_cross_entropy_rows, py::arg("x"), py::arg("w"),
          py::arg("bias"), py::arg("labels"), py::arg("probs"), py::arg("weight"),
          py::arg("sample_weight"), py::arg("loss_rows"), py::arg("dw"), py::arg("db"),
          py::arg("partials"), py::arg("ignore_index"), py::arg("label_smoothing"),
          py::arg("scale"), py::arg("stripe_rows"), py::arg("slots"),
          "Fused x @ w.T + bias and cross-entropy (see linear.h): returns the summed loss; fills "
          "loss_rows (float64, n) and dw (k, d) / db (k,) unless None, using partials "
          "(slots, k, d) as workspace. Stripes of stripe_rows rows, added up in `slots` parts.");
    m.def("parallel_for", &parallel_for_python, py::arg("n"), py::arg("fn"),
          "fn(i) for i in range(n) on pysoftmax's threads (each call takes the GIL; fn may "
          "release it, as NumPy's matmul does); the first exception fn raises is raised here.");

    m.def("floor_stream_copy", &floor_stream_copy, py::arg("x"), py::arg("out"),
          "out = x (C-contiguous, same size and dtype) with the active set's streamed stores, "
          "on pysoftmax's threads: the benchmark's memory floor.");
    m.def("floor_read_max", &floor_read_max, py::arg("x"),
          "The maximum of x (C-contiguous), read once on pysoftmax's threads: the read floor.");
    m.def("floor_exp_sum", &floor_exp_sum, py::arg("x"), py::arg("shift"), py::arg("repeat"),
          "Sum of exp(x - shift) by the kernels' exp, over x (a multiple of 64 elements, split "
          "across the threads) `repeat` times: the exp floor. x - shift must lie in the fast "
          "exp's range ([-80, 0] float32, [-700, 0] float64).");
    m.def("floor_exp_store", &floor_exp_store, py::arg("x"), py::arg("shift"), py::arg("out"),
          py::arg("repeat"), "out = exp(x - shift), `repeat` times, as floor_exp_sum.");

    m.def("vector_dots", &vector_dots, py::arg("rows"), py::arg("vecs"),
          "(len(vecs), len(rows)) float64: vecs[j] . rows[i], for 1-D C-contiguous float64 "
          "arrays of one length (1 to 4 vecs), on pysoftmax's threads; the same on any thread "
          "count.");
    m.def("vector_combine", &vector_combine, py::arg("rows"), py::arg("coef"), py::arg("out"),
          "out = sum_i coef[i] rows[i] (float64 vectors of one length; out may be one of "
          "rows), on pysoftmax's threads.");

    m.def("cpu_features", &cpu_features, "CPU/OS features relevant to dispatch.");
    m.def("compiled_isas", &compiled_isas, "Instruction sets built into this module, best first.");
    m.def(
        "available_isas", [] { return supported_isas(cpu_features()); },
        "Instruction sets this CPU can run, best first.");
    m.def(
        "testing_isas", [] { return testing_isas(cpu_features()); },
        "Testing instruction sets this CPU runs, as (name, the set whose results it reproduces).");
    m.def("supported_isas", &supported_isas, py::arg("features"),
          "Instruction sets usable with the given feature names, best first.");
    m.def("select_isa", &select_isa, py::arg("features"), py::arg("forced") = "",
          "The dispatch decision for a feature set and an optional forced choice.");
    m.def(
        "get_isa", [] { return std::string(active_isa().name); },
        "The active instruction set; the first use chooses it (PYSOFTMAX_ISA, or the best).");
    m.def("set_isa", &set_isa, py::arg("name"), "Switch the active instruction set.");
    m.def("get_num_threads", &get_num_threads);
    m.def("set_num_threads", &set_num_threads, py::arg("n"));
    m.def("max_num_threads", &max_num_threads, "The most threads set_num_threads accepts.");
    m.attr("openmp") = have_openmp();

    m.def("sparse_linear_cross_entropy_rows", &sparse_linear_cross_entropy_rows, py::arg("indptr"),
          py::arg("indices"), py::arg("data"), py::arg("n"), py::arg("d"), py::arg("sorted"),
          py::arg("column_offsets"), py::arg("w"), py::arg("bias"), py::arg("labels"),
          py::arg("probs"), py::arg("weight"), py::arg("sample_weight"), py::arg("loss_rows"),
          py::arg("dw"), py::arg("db"), py::arg("wt"), py::arg("dwt"), py::arg("ignore_index"),
          py::arg("label_smoothing"), py::arg("scale"), py::arg("block_rows"),
          "Fused X @ w.T + bias and cross-entropy for a CSR X (n, d) given by indptr, indices "
          "and data (see sparse.h): returns the summed loss; fills loss_rows and dw / db unless "
          "None, using wt and dwt (d, k) as workspaces. Blocks of block_rows rows.");
    m.def("inspect_csr", &inspect_csr_rows, py::arg("indptr"), py::arg("indices"), py::arg("n"),
          py::arg("d"), py::arg("column_offsets"),
          "Checks a CSR structure of n rows and d columns (ValueError naming what is wrong); "
          "returns whether each row's columns are non-decreasing and fills column_offsets "
          "(int64, d + 1) with the prefix sums of the entries per column.");
}
