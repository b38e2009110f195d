// The operators as one solver iteration applies them, on packed lanes, for tests:
// K x, K^T r, and the fit and gradient of the residual pass (calab.core.fista_sweeps).
#pragma once

#include <cstdint>

#include "layout.hpp"
#include "loop.hpp"
#include "operators.hpp"
#include "step.hpp"

namespace calab {
namespace CALAB_ISA {

// out = K x (lanes (L, n), cells of n_chunks lanes).
template <class T>
void probe_forward(const T* x, T* out, const T* coef, const T* tables, int64_t L, int64_t n,
                   int64_t n_chunks) {
    Buffer<T> work((L + 2 * GUARD) * n), k1(n), k2(n);
    apply_operator(x, out, coef, tables, L, n, n_chunks, work.data(), k1.data(), k2.data());
}

// out = the gradient the proximal step reads, from the adjoint recursion in work.
template <class T>
void read_gradient(const T* work, const T* coef, const T* tables, int64_t L, int64_t n,
                   int64_t n_chunks, T* out) {
    Buffer<T> p1(n), p2(n);
    adjoint_carries(work, coef, tables, L, n, n_chunks, p1.data(), p2.data());
    for (int64_t tau = 0; tau < L; ++tau) {
        const T a1 = tables[ADJ_A * L + tau], a2 = tables[ADJ_A_PREV * L + tau];
        const T* ahead = work + (GUARD + tau + 1) * n;
        for (int64_t l = 0; l < n; ++l) out[tau * n + l] = ahead[l] + a1 * p1[l] + a2 * p2[l];
    }
}

// out = K^T r.
template <class T>
void probe_adjoint(const T* r, T* out, const T* coef, const T* tables, int64_t L, int64_t n,
                   int64_t n_chunks) {
    Buffer<T> work((L + 2 * GUARD) * n);
    if (coef[TAPS] > 0) adjoint_input(r, work.data(), coef, L, n, n_chunks);
    else copy(r, L * n, work.data() + GUARD * n);
    adjoint_pass(work.data(), coef, L, n);
    read_gradient(work.data(), coef, tables, L, n, n_chunks, out);
}

// fit (per cell) = 0.5*||K z - y||**2 over the real samples, gradient = K^T (K z - y),
// through the residual pass of an iteration (momentum 0, so K s = K z).
template <class T>
void probe_fit_gradient(const T* z, const T* y, const int64_t* valid_rows, const T* coef,
                        const T* tables, int64_t L, int64_t n, int64_t width, double* fit,
                        T* gradient) {
    const bool truncated = coef[TAPS] > 0;
    Buffer<T> ks(L * n);
    Buffer<int64_t> iters(width);
    Buffer<uint8_t> done(width), padding(width);
    Buffer<double> floats(N_FLOATS * width);
    const Group<T> g{y, nullptr, const_cast<T*>(z), ks.data(), iters.data(), done.data(),
                     floats.data(), padding.data(), valid_rows, L, n, width, n / width};
    Scratch<T> sc(L, n, width, truncated, valid_rows);
    const Constants<T> k{coef, nullptr, tables};
    local_forward(z, sc.work.data(), coef, L, n);
    lane_weights(g, sc);
    if (truncated) {
        if (width == 1) truncated_pass<T, true>(g, sc, k);
        else truncated_pass<T, false>(g, sc, k);
        truncated_adjoint(sc, coef, L, n, g.n_chunks);
    } else if (width == 1) {
        residual_adjoint<T, true>(g, sc, k);
    } else {
        residual_adjoint<T, false>(g, sc, k);
    }
    read_gradient(sc.work.data(), coef, tables, L, n, g.n_chunks, gradient);
    copy(sc.fit.data(), width, fit);
}

}  // namespace CALAB_ISA
}  // namespace calab
