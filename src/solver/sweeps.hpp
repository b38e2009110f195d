// The untruncated operator's ("banded" mode) residual and adjoint in one backward sweep.
//
// Row by row from the chunk's end: the corrected K z = local + a1*k1 + a2*k2 (the local
// recursion in work, the carries k1, k2), the residual K z - y (zero on padded samples,
// which add nothing to the fit), the K s record and the squared error of the iterate,
// then the adjoint recursion v[t] = g1*v[t+1] + g2*v[t+2] + w*r[t] from that residual,
// written over the row it was read from. One pass over the group's arrays instead of
// two; the proximal step (step.hpp, prox_rows) likewise runs the next local forward
// recursion in its own pass. Two rows per loop: the newer adjoint row stays in a
// register, and the squared errors keep the one-row order of additions.
#pragma once

#include <cstdint>

#include "layout.hpp"
#include "operators.hpp"
#include "step.hpp"

namespace calab {
namespace CALAB_ISA {

// One sample of the backward sweep: the residual r of K z (kz) at a row with `tau`
// real-sample test `real`, the K s record, the squared error added to `square`.
#define CALAB_BACK(kz, yt, ks, beta, inv, run, real, r, square)                         \
    do {                                                                              \
        T sq_;                                                                        \
        T conv_;                                                                      \
        CALAB_RESIDUAL(conv_, kz, yt, ks, beta, inv, run, sq_);                        \
        r = !PADDED || (real) ? conv_ : T(0);                                         \
        square = !PADDED || (real) ? sq_ : T(0);                                      \
    } while (0)

// Rows from `top` down to `bottom` (inclusive), two at a time (tau, tau-1) when `pairs`,
// else one. PADDED: some lane of these rows may be past its trace's end (else every
// sample is real and needs no test). The row loop is inside, so the constants are set
// up once per call.
template <class T, bool ONE_CELL, bool PADDED>
void residual_adjoint_rows(const Group<T>& g, Scratch<T>& sc, const Constants<T>& k,
                           int64_t top, int64_t bottom, bool pairs) {
    const int64_t n = g.n_lanes, L = g.chunk_len;
    const T g1 = k.coef[G1], g2 = k.coef[G2], w = k.coef[W];
    const T* k1 = sc.carry1.data();
    const T* k2 = sc.carry2.data();
    const T* valid = sc.lane_valid.data();
    T* squares = sc.partial0.data();
    const T* lb = sc.lane_beta.data();
    const T* li = sc.lane_inv.data();
    const T* lr = sc.lane_running.data();
    const T b0 = lb[0], i0 = li[0];
    for (int64_t tau = top; tau >= bottom; tau -= pairs ? 2 : 1) {
        T* here = sc.work.data() + (GUARD + tau) * n;
        const T* ahead1 = here + n;
        const T* ahead2 = here + 2 * n;
        const T* y_a = g.y + tau * n;
        T* ks_a = g.ks + tau * n;
        const T row_a = T(tau);
        const T a1 = k.tables[FWD_A * L + tau], a2 = k.tables[FWD_A_PREV * L + tau];
        if (pairs) {
            const T b1 = k.tables[FWD_A * L + tau - 1];
            const T b2 = k.tables[FWD_A_PREV * L + tau - 1];
            const T row_b = T(tau - 1);
            T* before = here - n;
            const T* y_b = y_a - n;
            T* ks_b = ks_a - n;
            CALAB_LANES for (int64_t l = 0; l < n; ++l) {
                const T beta = ONE_CELL ? b0 : lb[l], inv = ONE_CELL ? i0 : li[l];
                const T run = ONE_CELL ? T(1) : lr[l];
                const T kz = here[l] + a1 * k1[l] + a2 * k2[l];
                const T kz2 = before[l] + b1 * k1[l] + b2 * k2[l];
                T r, r2, sq, sq2;
                CALAB_BACK(kz, y_a[l], ks_a[l], beta, inv, run, row_a < valid[l], r, sq);
                CALAB_BACK(kz2, y_b[l], ks_b[l], beta, inv, run, row_b < valid[l], r2, sq2);
                squares[l] = (squares[l] + sq) + sq2;  // the one-row order
                const T following = ahead1[l];
                const T value = g1 * following + g2 * ahead2[l] + w * r;
                here[l] = value;
                before[l] = g1 * value + g2 * following + w * r2;
            }
        } else {
            CALAB_LANES for (int64_t l = 0; l < n; ++l) {
                const T beta = ONE_CELL ? b0 : lb[l], inv = ONE_CELL ? i0 : li[l];
                const T run = ONE_CELL ? T(1) : lr[l];
                const T kz = here[l] + a1 * k1[l] + a2 * k2[l];
                T r, sq;
                CALAB_BACK(kz, y_a[l], ks_a[l], beta, inv, run, row_a < valid[l], r, sq);
                squares[l] = squares[l] + sq;
                here[l] = g1 * ahead1[l] + g2 * ahead2[l] + w * r;
            }
        }
    }
}

#undef CALAB_BACK

// The backward sweep of a group: work (local K z, carries in sc) becomes the adjoint
// state of the residual; sc.fit the per-cell fit of the current iterate.
template <class T, bool ONE_CELL>
void residual_adjoint(const Group<T>& g, Scratch<T>& sc, const Constants<T>& k) {
    const int64_t L = g.chunk_len, n = g.n_lanes;
    forward_carries(g.z, sc.work.data(), k.coef, k.tables, L, n, g.n_chunks, sc.carry1.data(),
                    sc.carry2.data());
    fill(sc.partial0.data(), n, T(0));
    int64_t full_rows = L;  // rows below this are real in every lane
    for (int64_t l = 0; l < n; ++l)
        if (g.valid_rows[l] < full_rows) full_rows = g.valid_rows[l];
    // Pairs (tau, tau-1) from the last row down: padded ones first, then the rest.
    const int64_t last_pair = 1 + L % 2;  // the lowest pair's tau (row 0 alone when L is odd)
    int64_t split = L - 1;                // the highest pair's tau, stepping by 2
    while (split >= last_pair && split >= full_rows) split -= 2;
    residual_adjoint_rows<T, ONE_CELL, true>(g, sc, k, L - 1, split + 1, true);
    residual_adjoint_rows<T, ONE_CELL, false>(g, sc, k, split, last_pair, true);
    if (L % 2 == 1) residual_adjoint_rows<T, ONE_CELL, true>(g, sc, k, 0, 0, false);
    cell_sums(sc.partial0.data(), g.width, g.n_chunks, sc.sum0.data());
    for (int64_t c = 0; c < g.width; ++c) sc.fit[c] = 0.5 * sc.sum0[c];
}

}  // namespace CALAB_ISA
}  // namespace calab
