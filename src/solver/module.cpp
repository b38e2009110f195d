// calab.core._solver: the compiled solver core, a thin binding over the hot code.
// Every entry point checks shapes, releases the GIL and runs on raw pointers.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "baseline.hpp"
#include "dispatch.hpp"
#include "layout.hpp"
#include "threads.hpp"

namespace nb = nanobind;
using namespace calab;

template <class T>
using Array = nb::ndarray<T, nb::c_contig, nb::device::cpu>;
template <class T>
using NumPy = nb::ndarray<nb::numpy, T>;

namespace {

void require(bool condition, const char* message) {
    if (!condition) throw std::invalid_argument(message);
}

template <class T>
Constants<T> constants(const Array<T>& coef, const Array<T>& settings, const Array<T>& tables,
                       int64_t chunk_len) {
    require(coef.size() == N_COEF && settings.size() == N_SETTINGS, "bad coef or settings");
    require(tables.ndim() == 2 && tables.shape(0) == N_TABLES &&
            int64_t(tables.shape(1)) == chunk_len, "tables must be (4, chunk_len)");
    return Constants<T>{coef.data(), settings.data(), tables.data()};
}

void iterate(Array<double> y, Array<double> s, Array<double> z, Array<double> ks,
             Array<float> y32, Array<float> s32, Array<float> z32, Array<float> ks32,
             Array<int64_t> iters, Array<bool> done, Array<double> floats, Array<int64_t> phases,
             Array<bool> padding, Array<int64_t> groups, Array<float> coef32,
             Array<float> settings32, Array<float> tables32, Array<double> coef,
             Array<double> settings, Array<double> tables, int64_t n_steps,
             Array<int64_t> valid_rows, int n_threads) {
    require(y.ndim() == 3, "packed arrays must be (groups, chunk_len, lanes)");
    const int64_t n_groups = y.shape(0), chunk_len = y.shape(1), n_lanes = y.shape(2);
    const int64_t width = iters.ndim() == 2 ? int64_t(iters.shape(1)) : 0;
    require(s.size() == y.size() && z.size() == y.size() && ks.size() == y.size(),
            "s, z, ks must have y's shape");
    require(width > 0 && n_lanes % width == 0 && int64_t(iters.shape(0)) == n_groups,
            "iters must be (groups, width)");
    require(done.size() == iters.size() && padding.size() == iters.size() &&
            floats.size() == iters.size() * N_FLOATS && int64_t(phases.size()) == n_groups,
            "per-cell arrays do not match iters");
    require(int64_t(valid_rows.size()) == n_lanes, "valid_rows must have one entry a lane");
    const bool have_single = y32.ndim() == 3 && y32.shape(0) > 0;
    require(!have_single || (y32.size() == y.size() && s32.size() == y.size() &&
                             z32.size() == y.size() && ks32.size() == y.size()),
            "float32 arrays must have y's shape");
    const int64_t* phase = phases.data();
    const int64_t* group = groups.data();
    for (size_t i = 0; i < groups.size(); ++i) {
        require(group[i] >= 0 && group[i] < n_groups, "group index out of range");
        require(phase[group[i]] == DOUBLE || have_single, "float32 phase without float32 arrays");
    }
    RoundArgs args{y.data(), s.data(), z.data(), ks.data(),
                   have_single ? y32.data() : nullptr, have_single ? s32.data() : nullptr,
                   have_single ? z32.data() : nullptr, have_single ? ks32.data() : nullptr,
                   iters.data(), reinterpret_cast<uint8_t*>(done.data()), floats.data(),
                   phases.data(), reinterpret_cast<const uint8_t*>(padding.data()),
                   constants(coef32, settings32, tables32, chunk_len),
                   constants(coef, settings, tables, chunk_len), n_steps, valid_rows.data(),
                   chunk_len, n_lanes, width};
    const Kernels& k = kernels();
    const int64_t n_run = int64_t(groups.size());
    nb::gil_scoped_release unlocked;
    parallel_for(n_run, n_threads, [&](int64_t i) { k.run_group(args, group[i]); });
}

template <class T>
const Probes<T>& probes_of(const Kernels& k);
template <>
const Probes<float>& probes_of<float>(const Kernels& k) { return k.single; }
template <>
const Probes<double>& probes_of<double>(const Kernels& k) { return k.twice; }

template <class T>
NumPy<T> new_array(std::vector<size_t> shape) {
    size_t size = 1;
    for (size_t extent : shape) size *= extent;
    T* data = new T[size]();
    nb::capsule owner(data, [](void* p) noexcept { delete[] static_cast<T*>(p); });
    return NumPy<T>(data, shape.size(), shape.data(), owner);
}

template <class T>
NumPy<T> operator_probe(Array<T> x, Array<T> coef, Array<T> tables, int64_t n_chunks,
                        bool adjoint) {
    require(x.ndim() == 2 && n_chunks > 0 && x.shape(1) % n_chunks == 0, "bad lanes");
    require(coef.size() == N_COEF && tables.ndim() == 2 && tables.shape(1) == x.shape(0),
            "bad coef or tables");
    NumPy<T> out = new_array<T>({x.shape(0), x.shape(1)});
    const Probes<T>& p = probes_of<T>(kernels());
    (adjoint ? p.adjoint : p.forward)(x.data(), out.data(), coef.data(), tables.data(),
                                      x.shape(0), x.shape(1), n_chunks);
    return out;
}

template <class T>
std::tuple<NumPy<double>, NumPy<T>> fit_gradient(Array<T> z, Array<T> y,
                                                 Array<int64_t> valid_rows, Array<T> coef,
                                                 Array<T> tables, int64_t width) {
    require(z.ndim() == 2 && y.size() == z.size() && width > 0 && z.shape(1) % width == 0,
            "bad lanes");
    require(valid_rows.size() == z.shape(1) && coef.size() == N_COEF &&
            tables.ndim() == 2 && tables.shape(1) == z.shape(0), "bad valid_rows, coef or tables");
    NumPy<double> fit = new_array<double>({size_t(width)});
    NumPy<T> gradient = new_array<T>({z.shape(0), z.shape(1)});
    probes_of<T>(kernels()).fit_gradient(z.data(), y.data(), valid_rows.data(), coef.data(),
                                         tables.data(), z.shape(0), z.shape(1), width,
                                         fit.data(), gradient.data());
    return {fit, gradient};
}

void rolling(Array<double> matrix, Array<int64_t> orders, int64_t window, Array<int64_t> ranks,
             Array<double> out, int n_threads) {
    require(matrix.ndim() == 2 && orders.size() == matrix.size() && out.size() == matrix.size(),
            "matrix, orders and out must have one shape");
    require(window >= 1 && int64_t(ranks.size()) >= window, "ranks must cover the window");
    const int64_t n_cells = matrix.shape(0), n_time = matrix.shape(1);
    nb::gil_scoped_release unlocked;
    rolling_order_statistic(matrix.data(), orders.data(), n_cells, n_time, window, ranks.data(),
                            out.data(), n_threads);
}

// out[t] = w*x[t-1] + g1*out[t-1] + g2*out[t-2] along each row (the untruncated kernel's
// recursion, zero state before the first sample), rows over threads. The operations of
// scipy.signal.lfilter([0, w], [1, -g1, -g2]) (direct form II transposed), in that order.
void ar2_recursion(Array<double> x, double g1, double g2, double w, Array<double> out,
                   int n_threads) {
    require(x.ndim() == 2 && out.size() == x.size(), "x must be 2-D and out of its shape");
    const int64_t n_rows = x.shape(0), n_time = x.shape(1);
    const double* in = x.data();
    double* result = out.data();
    nb::gil_scoped_release unlocked;
    parallel_for(n_rows, n_threads, [&](int64_t row) {
        const double* xr = in + row * n_time;
        double* yr = result + row * n_time;
        double z0 = 0.0, z1 = 0.0;
        for (int64_t t = 0; t < n_time; ++t) {
            const double y = z0;  // + 0 * x[t]
            z0 = z1 + xr[t] * w - y * (-g1);
            z1 = xr[t] * 0.0 - y * (-g2);
            yr[t] = y;
        }
    });
}

std::vector<std::string> levels() {
    const char* names[8];
    const int count = available_levels(names, 8);
    return std::vector<std::string>(names, names + count);
}

}  // namespace

NB_MODULE(_solver, m) {
    m.doc() = "The compiled core of calab's FISTA solver (see calab.core.fista).";
    m.def("iterate", &iterate, "Run up to n_steps iterations of each listed group.");
    m.def("forward", &operator_probe<double>, nb::arg("x"), nb::arg("coef"), nb::arg("tables"),
          nb::arg("n_chunks"), nb::arg("adjoint") = false);
    m.def("forward", &operator_probe<float>, nb::arg("x"), nb::arg("coef"), nb::arg("tables"),
          nb::arg("n_chunks"), nb::arg("adjoint") = false);
    m.def("fit_gradient", &fit_gradient<double>);
    m.def("fit_gradient", &fit_gradient<float>);
    m.def("rolling_order_statistic", &rolling);
    m.def("ar2_recursion", &ar2_recursion,
          "out = the AR(2) recursion of the untruncated kernel along each row of x.");
    m.def("isa", []() { return std::string(kernels().name); },
          "The instruction-set level the solver runs (CALAB_ISA may name a narrower one).");
    m.def("available_isas", &levels, "The levels this CPU runs, narrowest first.");
    m.def("request_stop", &request_stop,
          "Make running and later solves return at their next iteration (interpreter exit).");
    m.attr("T_MOMENTUM") = int(T_MOMENTUM);
    m.attr("OBJECTIVE") = int(OBJECTIVE);
    m.attr("BETA") = int(BETA);
    m.attr("SUM_S") = int(SUM_S);
    m.attr("COUNTDOWN") = int(COUNTDOWN);
    m.attr("CONVERGED") = int(CONVERGED);
    m.attr("SETTLED") = int(SETTLED);
    m.attr("N_FLOATS") = int(N_FLOATS);
    m.attr("STEP") = int(STEP);
    m.attr("THRESHOLD") = int(THRESHOLD);
    m.attr("LAM_GAIN") = int(LAM_GAIN);
    m.attr("UPPER") = int(UPPER);
    m.attr("TOL") = int(TOL);
    m.attr("CONFIRM") = int(CONFIRM);
    m.attr("MAX_ITERS") = int(MAX_ITERS);
    m.attr("HANDOVER") = int(HANDOVER);
    m.attr("N_SETTINGS") = int(N_SETTINGS);
    m.attr("G1") = int(G1);
    m.attr("G2") = int(G2);
    m.attr("W") = int(W);
    m.attr("ALPHA") = int(ALPHA);
    m.attr("BETA_TAIL") = int(BETA_TAIL);
    m.attr("TAPS") = int(TAPS);
    m.attr("N_TABLES") = int(N_TABLES);
    m.attr("SINGLE") = int(SINGLE);
    m.attr("DOUBLE") = int(DOUBLE);
    m.attr("GUARD") = int(GUARD);
    m.attr("ALIGNMENT") = int(ALIGNMENT);
    m.attr("MIN_ITERATIONS") = int(MIN_ITERATIONS);
    m.attr("CONFIRM_ITERATIONS") = int(CONFIRM_ITERATIONS);
    m.attr("RESTART_MARGIN") = RESTART_MARGIN;
}
