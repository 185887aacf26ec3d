// The Python module pysoftmax._core. Bindings validate, take raw pointers, release the GIL
// and call the runtime; no maths here. The Python layer (pysoftmax/_native.py) arranges any
// axis and layout into the (n, k) row views these functions take.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <string>

#include "runtime.h"

namespace py = pybind11;
using namespace pysoftmax;

namespace {

std::string describe(const py::array& a) {
    std::string s = "(";
    for (py::ssize_t i = 0; i < a.ndim(); ++i)
        s += std::to_string(a.shape(i)) + (a.ndim() == 1 ? "," : (i + 1 < a.ndim() ? ", " : ""));
    return s + ") " + std::string(py::str(a.dtype()));
}

// A 2-D array whose rows are unit-stride: its row stride in elements.
ptrdiff_t row_stride(const py::array& a, const char* name, py::ssize_t n, py::ssize_t k) {
    const py::ssize_t item = a.itemsize();
    if (a.ndim() != 2 || a.shape(0) != n || a.shape(1) != k)
        throw py::value_error(std::string(name) + ": expected shape (" + std::to_string(n) + ", " +
                              std::to_string(k) + "), got " + describe(a));
    if ((k > 1 && a.strides(1) != item) || a.strides(0) % item != 0)
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
    py::gil_scoped_release nogil;
    run_softmax<T>(size_t(n), size_t(k), xp, ldx, m, ldm, yp, ldy, temperature, log);
}

template <class T>
void logsumexp_typed(const py::array& x, py::array& out, const py::object& where) {
    const py::ssize_t n = x.shape(0), k = x.shape(1);
    const ptrdiff_t ldx = row_stride(x, "x", n, k);
    if (out.ndim() != 1 || out.shape(0) != n || out.strides(0) % py::ssize_t(sizeof(T)) != 0)
        throw py::value_error("out: expected a 1-D array of length " + std::to_string(n) +
                              ", got " + describe(out));
    ptrdiff_t ldm;
    const uint8_t* m = mask_rows(where, n, k, ldm);
    const T* xp = static_cast<const T*>(x.data());
    T* yp = static_cast<T*>(out.mutable_data());
    const ptrdiff_t incy = ptrdiff_t(out.strides(0) / py::ssize_t(sizeof(T)));
    py::gil_scoped_release nogil;
    run_logsumexp<T>(size_t(n), size_t(k), xp, ldx, m, ldm, yp, incy);
}

void check_x(const py::array& x, const py::array& out) {
    if (x.ndim() != 2 || x.shape(1) < 1)
        throw py::value_error("x: expected a 2-D array with at least one column, got " + describe(x));
    if (!out.dtype().is(x.dtype()))
        throw py::value_error("out: dtype " + describe(out) + " does not match x: " + describe(x));
    if (!out.writeable()) throw py::value_error("out: array is read-only: " + describe(out));
}

bool is_f32(const py::array& x) { return x.dtype().is(py::dtype::of<float>()); }
bool is_f64(const py::array& x) { return x.dtype().is(py::dtype::of<double>()); }

void softmax_rows(const py::array& x, py::array out, const py::object& where, double temperature,
                  bool log) {
    check_x(x, out);
    if (!(temperature > 0.0 && std::isfinite(temperature)))
        throw py::value_error("temperature: must be a positive finite number");
    if (is_f32(x)) softmax_typed<float>(x, out, where, temperature, log);
    else if (is_f64(x)) softmax_typed<double>(x, out, where, temperature, log);
    else throw py::type_error("x: expected float32 or float64, got " + describe(x));
}

void logsumexp_rows(const py::array& x, py::array out, const py::object& where) {
    check_x(x, out);
    if (is_f32(x)) logsumexp_typed<float>(x, out, where);
    else if (is_f64(x)) logsumexp_typed<double>(x, out, where);
    else throw py::type_error("x: expected float32 or float64, got " + describe(x));
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "pysoftmax native kernels (internal; use the functions in the pysoftmax package)";
    m.attr("__version__") = PYSOFTMAX_VERSION;

    m.def("softmax_rows", &softmax_rows, py::arg("x"), py::arg("out"), py::arg("where"),
          py::arg("temperature"), py::arg("log"),
          "Row-wise softmax (log=False) or log_softmax (log=True) of a 2-D array with contiguous "
          "rows into out (same shape and dtype; may be x). where: None or a bool array.");
    m.def("logsumexp_rows", &logsumexp_rows, py::arg("x"), py::arg("out"), py::arg("where"),
          "Row-wise logsumexp of a 2-D array with contiguous rows into the 1-D array out.");

    m.def("cpu_features", &cpu_features, "CPU/OS features relevant to dispatch.");
    m.def("compiled_isas", &compiled_isas, "Instruction sets built into this module, best first.");
    m.def("available_isas", [] { return supported_isas(cpu_features()); },
          "Instruction sets this CPU can run, best first.");
    m.def("supported_isas", &supported_isas, py::arg("features"),
          "Instruction sets usable with the given feature names, best first.");
    m.def("select_isa", &select_isa, py::arg("features"), py::arg("forced") = "",
          "The dispatch decision for a feature set and an optional forced choice.");
    m.def("get_isa", [] { return std::string(active_kernels().name); }, "The active instruction set.");
    m.def("set_isa", &set_isa, py::arg("name"), "Switch the active instruction set.");
    m.def("get_num_threads", &get_num_threads);
    m.def("set_num_threads", &set_num_threads, py::arg("n"));
    m.attr("openmp") = have_openmp();

    active_kernels();  // choose the instruction set once, at import
}
