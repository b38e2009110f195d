// The loop: rounds of FISTA iterations of one group, in two precisions.
//
// One iteration: (1) the backward sweep: the forward carries, the residual K z - y and
// fit of the current iterate, the local adjoint recursion, in one pass for "banded"
// (sweeps.hpp); for "fft" the correction, the lagged taps and the adjoint are separate
// passes (truncated.hpp); (2) the momentum decision per cell; (3) the forward sweep: the
// adjoint carries, the projected gradient step and the local K z of the new point, in
// one pass (step.hpp); (4) the convergence test per cell.
#pragma once

#include <cstdint>

#include "layout.hpp"
#include "operators.hpp"
#include "step.hpp"
#include "sweeps.hpp"
#include "truncated.hpp"

namespace calab {
namespace CALAB_ISA {

// The truncated operator's residual pass (forward carries, corrected K_full z, lagged taps,
// residual into sc.resid, fit of the current iterate).
template <class T, bool ONE_CELL>
void truncated_pass(const Group<T>& g, Scratch<T>& sc, const Constants<T>& k) {
    const int64_t L = g.chunk_len, n = g.n_lanes;
    T* work = sc.work.data();
    forward_carries(g.z, work, k.coef, k.tables, L, n, g.n_chunks, sc.carry1.data(),
                    sc.carry2.data());
    fill(sc.partial0.data(), n, T(0));
    correct_in_place(work, k.tables, sc.carry1.data(), sc.carry2.data(), L, n);
    truncated_residual<T, ONE_CELL>(g, sc, k.coef);
    cell_sums(sc.partial0.data(), g.width, g.n_chunks, sc.sum0.data());
    for (int64_t c = 0; c < g.width; ++c) sc.fit[c] = 0.5 * sc.sum0[c];
    clear_padding(g, sc.resid.data(), GUARD, sc.fit.data());
}

inline bool all_done(const uint8_t* done, int64_t width) {
    for (int64_t c = 0; c < width; ++c)
        if (done[c] == 0) return false;
    return true;
}

// One iteration of a group.
template <class T, bool ONE_CELL>
void step(const Group<T>& g, Scratch<T>& sc, const Constants<T>& k, bool truncated) {
    const int64_t L = g.chunk_len, n = g.n_lanes;
    if (!ONE_CELL) lane_weights(g, sc);
    else {
        sc.lane_beta[0] = T(g.cell(BETA, 0));
        sc.lane_inv[0] = T(1.0 / (1.0 + g.cell(BETA, 0)));
    }
    if (truncated) {
        truncated_pass<T, ONE_CELL>(g, sc, k);
        truncated_adjoint(sc, k.coef, L, n, g.n_chunks);
    } else {
        residual_adjoint<T, ONE_CELL>(g, sc, k);
    }
    restart_or_advance(g, k.settings, sc.fit.data(), sc.beta_next.data());
    for (int64_t c = 0; c < g.width; ++c) {
        const T momentum = T(sc.beta_next[c]);
        for (int64_t lane = c * g.n_chunks; lane < (c + 1) * g.n_chunks; ++lane)
            sc.lane_momentum[lane] = momentum;
    }
    prox_sweep<T, ONE_CELL>(g, sc, k);
    finish_iteration(g, k.settings, sc);
}

// Up to n_steps iterations of one group in the dtype of its arrays; the iterations run.
// A request to stop (interpreter exit, stop_requested()) ends it early, cells not done.
template <class T>
int64_t run(const Group<T>& g, const Constants<T>& k, int64_t n_steps) {
    const bool truncated = k.coef[TAPS] > 0;
    Scratch<T> sc(g.chunk_len, g.n_lanes, g.width, truncated, g.valid_rows);
    local_forward(g.z, sc.work.data(), k.coef, g.chunk_len, g.n_lanes);
    for (int64_t i = 0; i < n_steps; ++i) {
        if (all_done(g.done, g.width)) return i;
        if (stop_requested()) return i;
        if (g.width == 1) step<T, true>(g, sc, k, truncated);
        else step<T, false>(g, sc, k, truncated);
    }
    return n_steps;
}

// Continue a group whose cells have all left the float32 phase in float64 (g: its float64
// arrays, s and z already holding the float32 values). The iterate, extrapolated point and
// momentum carry over. The K s record is recomputed with the float64 operator, and so is
// the objective record, the float64 objective of the iterate before s: the first float64
// iteration compares it with the objective of s and restarts if it rose. The convergence
// test starts over, so float64 alone decides convergence.
inline void switch_to_double(const Group<double>& g, const Constants<double>& k) {
    const int64_t L = g.chunk_len, n = g.n_lanes;
    Buffer<double> previous(L * n);
    copy(g.s, L * n, previous.data());  // from z = s + beta*(s - previous)
    for (int64_t c = 0; c < g.width; ++c) {
        const double beta = g.cell(BETA, c);
        if (!(beta > 0.0)) continue;
        for (int64_t tau = 0; tau < L; ++tau)
            for (int64_t lane = c * g.n_chunks; lane < (c + 1) * g.n_chunks; ++lane) {
                const int64_t i = tau * n + lane;
                previous[i] = ((1.0 + beta) * g.s[i] - g.z[i]) / beta;
            }
    }
    Buffer<double> work((L + 2 * GUARD) * n), k1(n), k2(n);
    apply_operator(previous.data(), g.ks, k.coef, k.tables, L, n, g.n_chunks, work.data(),
                   k1.data(), k2.data());
    const double lam_gain = k.settings[LAM_GAIN];
    for (int64_t c = 0; c < g.width; ++c) {
        double squares = 0.0, total = 0.0;
        for (int64_t lane = c * g.n_chunks; lane < (c + 1) * g.n_chunks; ++lane)
            for (int64_t tau = 0; tau < g.valid_rows[lane]; ++tau) {
                const double err = g.ks[tau * n + lane] - g.y[tau * n + lane];
                squares += err * err;
                total += previous[tau * n + lane];
            }
        g.cell(OBJECTIVE, c) = 0.5 * squares + lam_gain * total;
        g.cell(COUNTDOWN, c) = g.cell(CONVERGED, c) = g.cell(SETTLED, c) = 0.0;
        g.done[c] = g.padding[c] || double(g.iters[c]) >= k.settings[MAX_ITERS];
    }
}

// The per-cell state of one group (iterations, done, floats), held by the thread running
// it: in the packed per-cell arrays several groups share a cache line, which two threads
// updating their groups every iteration would pass back and forth between cores.
struct CellState {
    Buffer<int64_t> iters;
    Buffer<uint8_t> done;
    Buffer<double> floats;
    const RoundArgs& a;
    int64_t g;

    CellState(const RoundArgs& args, int64_t group)
        : iters(args.width), done(args.width), floats(N_FLOATS * args.width), a(args), g(group) {
        copy(a.iters + g * a.width, a.width, iters.data());
        copy(a.done + g * a.width, a.width, done.data());
        copy(a.floats + g * N_FLOATS * a.width, N_FLOATS * a.width, floats.data());
    }
    void write_back() {
        copy(iters.data(), a.width, a.iters + g * a.width);
        copy(done.data(), a.width, a.done + g * a.width);
        copy(floats.data(), N_FLOATS * a.width, a.floats + g * N_FLOATS * a.width);
    }
};

// Group g of a round's arrays (one dtype), its per-cell state in `cells`.
template <class T>
Group<T> group_of(const RoundArgs& a, int64_t g, const T* y, T* s, T* z, T* ks,
                  CellState& cells) {
    const int64_t size = a.chunk_len * a.n_lanes;
    return Group<T>{y + g * size, s + g * size, z + g * size, ks + g * size,
                    cells.iters.data(), cells.done.data(), cells.floats.data(),
                    a.padding + g * a.width, a.valid_rows,
                    a.chunk_len, a.n_lanes, a.width, a.n_lanes / a.width};
}

// A round of group g: the float32 phase while it lasts, then float64, n_steps in all.
inline void run_phases(const RoundArgs& a, int64_t g, CellState& cells) {
    int64_t steps = a.n_steps;
    const Group<double> twice = group_of<double>(a, g, a.y, a.s, a.z, a.ks, cells);
    if (a.phases[g] == SINGLE) {
        const Group<float> single = group_of<float>(a, g, a.y32, a.s32, a.z32, a.ks32, cells);
        steps -= run(single, a.single, steps);
        if (all_done(single.done, single.width)) {
            const int64_t size = a.chunk_len * a.n_lanes;
            copy(single.s, size, twice.s);
            copy(single.z, size, twice.z);
            switch_to_double(twice, a.twice);
            a.phases[g] = DOUBLE;
        }
    }
    if (a.phases[g] == DOUBLE && steps > 0) run(twice, a.twice, steps);
}

inline void run_group(const RoundArgs& a, int64_t g) {
    CellState cells(a, g);
    run_phases(a, g, cells);
    cells.write_back();
}

}  // namespace CALAB_ISA
}  // namespace calab
