// The truncated kernel's ("fft" mode) passes of an iteration, fused with their neighbours.
//
// K_trunc z = c[t] - alpha*c[t-K+1] + beta*c[t-K] (c = K_full z) and
// K_trunc^T r = K_full^T u, u[t] = r[t] - alpha*r[t+K-1] + beta*r[t+K]. The lagged samples
// lie in other chunks of the same cell: whole chunks back or ahead, the same lane offset for
// every lane of a row. Each lagged term is read straight from its row at that lane offset
// (guard rows keep every read inside the array) and kept only in lanes whose source chunk
// belongs to the cell; the residual (or the adjoint input) is formed in the same loop as
// the rest of its pass, in the order of operations of the separate passes.
#pragma once

#include <cstdint>

#include "layout.hpp"
#include "operators.hpp"
#include "step.hpp"

namespace calab {
namespace CALAB_ISA {

// One lagged term of a row: the source row at the lane offset, the weight, and the range
// [lo, hi) of chunk indices (within the cell) whose source is inside the cell.
template <class T>
struct Lag {
    const T* src;
    T weight, lo, hi;
};

// rows: row 0 of the chunk rows (guard rows before and after); position: the row of the
// lagged sample counted from the chunk's start (negative: chunks back).
template <class T>
Lag<T> lag_of(const T* rows, int64_t position, T weight, int64_t L, int64_t n, int64_t n_chunks) {
    const int64_t shift = floor_div(position, L);
    if (shift <= -n_chunks || shift >= n_chunks) return Lag<T>{rows, T(0), T(0), T(0)};
    return Lag<T>{rows + (position - shift * L) * n + shift, weight, T(shift < 0 ? -shift : 0),
                  T(shift > 0 ? n_chunks - shift : n_chunks)};
}

#define CALAB_ADD_LAG(v, lag, chunk, l)                                             \
    do {                                                                            \
        const T with_lag = (v) + (lag).weight * (lag).src[l];                       \
        v = (((chunk) >= (lag).lo) & ((chunk) < (lag).hi)) ? with_lag : (v);        \
    } while (0)

// work rows: K_full z uncorrected (local); they become the true K_full z in place.
template <class T>
void correct_in_place(T* work, const T* tables, const T* k1, const T* k2, int64_t L, int64_t n) {
    for (int64_t tau = 0; tau < L; ++tau) {
        const T a1 = tables[FWD_A * L + tau], a2 = tables[FWD_A_PREV * L + tau];
        T* here = work + (GUARD + tau) * n;
        CALAB_LANES for (int64_t l = 0; l < n; ++l) here[l] = here[l] + a1 * k1[l] + a2 * k2[l];
    }
}

// Residual K_trunc z - y into resid (guarded like work), K s record, squared errors.
template <class T, bool ONE_CELL>
void truncated_residual(const Group<T>& g, Scratch<T>& sc, const T* coef) {
    const int64_t L = g.chunk_len, n = g.n_lanes, taps = int64_t(coef[TAPS]);
    const T* rows = sc.work.data() + GUARD * n;
    T* resid = sc.resid.data() + GUARD * n;
    const T* chunk = sc.chunk_of.data();
    T* squares = sc.partial0.data();
    const T* lb = sc.lane_beta.data();
    const T* li = sc.lane_inv.data();
    const T* lr = sc.lane_running.data();
    const T b0 = lb[0], i0 = li[0];
    for (int64_t tau = 0; tau < L; ++tau) {
        const Lag<T> first = lag_of(rows, tau - taps + 1, T(-coef[ALPHA]), L, n, g.n_chunks);
        const Lag<T> second = lag_of(rows, tau - taps, coef[BETA_TAIL], L, n, g.n_chunks);
        const T* c = rows + tau * n;
        const T* y = g.y + tau * n;
        T* ks = g.ks + tau * n;
        T* out = resid + tau * n;
        CALAB_LANES for (int64_t l = 0; l < n; ++l) {
            const T beta = ONE_CELL ? b0 : lb[l], inv = ONE_CELL ? i0 : li[l];
            const T run = ONE_CELL ? T(1) : lr[l];
            T kz = c[l], sq;
            CALAB_ADD_LAG(kz, first, chunk[l], l);
            CALAB_ADD_LAG(kz, second, chunk[l], l);
            CALAB_RESIDUAL(out[l], kz, y[l], ks[l], beta, inv, run, sq);
            squares[l] = squares[l] + sq;
        }
    }
}

// The adjoint recursion of K_full^T with its input u formed from resid on the fly:
// work rows v[t] = g1*v[t+1] + g2*v[t+2] + w*u[t], two rows per loop.
template <class T>
void truncated_adjoint(Scratch<T>& sc, const T* coef, int64_t L, int64_t n, int64_t n_chunks) {
    const T g1 = coef[G1], g2 = coef[G2], w = coef[W];
    const int64_t taps = int64_t(coef[TAPS]);
    const T* resid = sc.resid.data() + GUARD * n;
    T* rows = sc.work.data() + GUARD * n;
    const T* chunk = sc.chunk_of.data();
    const T minus_alpha = T(-coef[ALPHA]), beta_tail = coef[BETA_TAIL];
    int64_t tau = L - 1;
    for (; tau - 1 >= 0; tau -= 2) {
        const Lag<T> a1 = lag_of(resid, tau + taps - 1, minus_alpha, L, n, n_chunks);
        const Lag<T> a2 = lag_of(resid, tau + taps, beta_tail, L, n, n_chunks);
        const Lag<T> b1 = lag_of(resid, tau - 1 + taps - 1, minus_alpha, L, n, n_chunks);
        const Lag<T> b2 = lag_of(resid, tau - 1 + taps, beta_tail, L, n, n_chunks);
        T* here = rows + tau * n;
        T* before = here - n;
        const T* ahead1 = here + n;
        const T* ahead2 = here + 2 * n;
        const T* r_here = resid + tau * n;
        const T* r_before = r_here - n;
        CALAB_LANES for (int64_t l = 0; l < n; ++l) {
            T u = r_here[l], u_before = r_before[l];
            CALAB_ADD_LAG(u, a1, chunk[l], l);
            CALAB_ADD_LAG(u, a2, chunk[l], l);
            CALAB_ADD_LAG(u_before, b1, chunk[l], l);
            CALAB_ADD_LAG(u_before, b2, chunk[l], l);
            const T following = ahead1[l];
            const T value = g1 * following + g2 * ahead2[l] + w * u;
            here[l] = value;
            before[l] = g1 * value + g2 * following + w * u_before;
        }
    }
    if (tau >= 0) {
        const Lag<T> a1 = lag_of(resid, tau + taps - 1, minus_alpha, L, n, n_chunks);
        const Lag<T> a2 = lag_of(resid, tau + taps, beta_tail, L, n, n_chunks);
        T* here = rows + tau * n;
        const T* r_here = resid + tau * n;
        CALAB_LANES for (int64_t l = 0; l < n; ++l) {
            T u = r_here[l];
            CALAB_ADD_LAG(u, a1, chunk[l], l);
            CALAB_ADD_LAG(u, a2, chunk[l], l);
            here[l] = g1 * here[l + n] + g2 * here[l + 2 * n] + w * u;
        }
    }
}

#undef CALAB_ADD_LAG

}  // namespace CALAB_ISA
}  // namespace calab
