// One FISTA step of a group: the residual and fit, the momentum decision, the projected
// gradient step, the convergence test.
//
// Per-lane quantities are summed lane by lane across the rows (an elementwise update that
// vectorises without reordering any sum) and per cell afterwards in a fixed order, in
// float64. So a cell's arithmetic is the same whatever the group, thread or vector width.
// A group of one cell (a chunked trace) uses the scalar weights of its cell; a group of
// several cells carries them per lane, and a stopped cell's lanes keep their state.
#pragma once

#include <cmath>
#include <cstdint>

#include "layout.hpp"
#include "operators.hpp"

namespace calab {
namespace CALAB_ISA {

// One group's arrays in one dtype (views into the packed NumPy arrays).
template <class T>
struct Group {
    const T* y;
    T* s;
    T* z;
    T* ks;
    int64_t* iters;         // (width,)
    uint8_t* done;          // (width,)
    double* floats;         // (N_FLOATS, width)
    const uint8_t* padding; // (width,)
    const int64_t* valid_rows;  // (n_lanes,) real samples in each lane's chunk
    int64_t chunk_len, n_lanes, width, n_chunks;

    double& cell(int row, int64_t c) const { return floats[row * width + c]; }
};

// Buffers a group reuses every iteration.
template <class T>
struct Scratch {
    Buffer<T> work, resid, carry1, carry2, partial0, partial1, chunk_of;
    Buffer<T> lane_beta, lane_inv, lane_momentum, lane_running, lane_valid;  // per lane
    Buffer<double> fit, sum0, sum1, beta_next;                                // per cell

    Scratch(int64_t L, int64_t n, int64_t width, bool truncated, const int64_t* valid_rows)
        : work((L + 2 * GUARD) * n), resid(truncated ? (L + 2 * GUARD) * n : 0), carry1(n),
          carry2(n), partial0(n), partial1(n), chunk_of(n), lane_beta(n), lane_inv(n),
          lane_momentum(n), lane_running(n), lane_valid(n), fit(width), sum0(width),
          sum1(width), beta_next(width) {
        const int64_t n_chunks = n / width;  // each lane's chunk within its cell
        for (int64_t l = 0; l < n; ++l) {
            chunk_of[l] = T(l % n_chunks);
            lane_valid[l] = T(valid_rows[l]);  // real samples: rows below this
        }
    }
};

// Per cell, the sum of its lanes' partials, in lane order, in float64.
template <class T>
void cell_sums(const T* partials, int64_t width, int64_t n_chunks, double* sums) {
    for (int64_t c = 0; c < width; ++c) {
        double total = 0.0;
        for (int64_t lane = c * n_chunks; lane < (c + 1) * n_chunks; ++lane) total += partials[lane];
        sums[c] = total;
    }
}

// The weights of the residual pass (beta that formed z, 1/(1+beta)) and the running mask,
// per lane, in T.
template <class T>
void lane_weights(const Group<T>& g, Scratch<T>& sc) {
    for (int64_t c = 0; c < g.width; ++c) {
        const double beta = g.cell(BETA, c);
        const T b = T(beta), inv = T(1.0 / (1.0 + beta)), run = g.done[c] ? T(0) : T(1);
        for (int64_t lane = c * g.n_chunks; lane < (c + 1) * g.n_chunks; ++lane) {
            sc.lane_beta[lane] = b;
            sc.lane_inv[lane] = inv;
            sc.lane_running[lane] = run;
        }
    }
}

// One sample: K z becomes the residual K z - y (in conv); K s follows from the K s record;
// the iterate's squared error is added to the lane's partial.
#define CALAB_RESIDUAL(conv, k_z, yt, ks, beta, inv, run, square)                      \
    do {                                                                              \
        const T k_s = ((k_z) + (beta) * (ks)) * (inv);                                \
        const T err = k_s - (yt);                                                     \
        (conv) = (k_z) - (yt);                                                        \
        (ks) = (run) != T(0) ? k_s : (ks);                                            \
        square = err * err;                                                           \
    } while (0)

// Padded samples (after a trace's end) get no residual and no fit; residual rows of
// `resid` start at row `offset`.
template <class T>
void clear_padding(const Group<T>& g, T* resid, int64_t offset, double* fit) {
    const int64_t L = g.chunk_len, n = g.n_lanes;
    for (int64_t c = 0; c < g.width; ++c) {
        if (g.done[c]) continue;
        for (int64_t lane = (c + 1) * g.n_chunks - 1; lane >= c * g.n_chunks; --lane) {
            if (g.valid_rows[lane] == L) break;
            for (int64_t tau = g.valid_rows[lane]; tau < L; ++tau) {
                const T err = g.ks[tau * n + lane] - g.y[tau * n + lane];
                fit[c] -= 0.5 * double(err) * double(err);
                resid[(offset + tau) * n + lane] = T(0);
            }
        }
    }
}

// Function-value restart (O'Donoghue & Candès 2015); the weight of the next z per cell.
template <class T>
void restart_or_advance(const Group<T>& g, const T* settings, const double* fit,
                        double* beta_next) {
    const double lam_gain = settings[LAM_GAIN], handover = settings[HANDOVER];
    for (int64_t c = 0; c < g.width; ++c) {
        beta_next[c] = g.cell(BETA, c);
        if (g.done[c]) continue;
        const double objective = fit[c] + lam_gain * g.cell(SUM_S, c);
        double t_now = g.cell(T_MOMENTUM, c);
        const double previous = g.cell(OBJECTIVE, c);
        if (objective <= previous * (1.0 + RESTART_MARGIN)) {
        } else if (objective <= previous * (1.0 + handover)) {  // too close to call
            g.cell(COUNTDOWN, c) = 1.0;  // stop after this iteration, momentum kept
        } else {
            t_now = 1.0;
            g.cell(SETTLED, c) = 0.0;  // the momentum starts over: so does the test
        }
        const double t_next = 0.5 * (1.0 + std::sqrt(1.0 + 4.0 * t_now * t_now));
        beta_next[c] = (t_now - 1.0) / t_next;
        g.cell(T_MOMENTUM, c) = t_next;
        g.cell(OBJECTIVE, c) = objective;
    }
}

// Projected gradient step from z (gradient: the adjoint state one row later, corrected by
// the carries), next z, and per lane the change's excess over tol and the sum of s; then
// the local forward recursion of the next z over the adjoint rows just read (rows tau+1,
// tau+2 of work). Rows [first, end) two at a time when `pairs` (every forward row written
// lies inside the chunk), else one row (its forward row written when it lies inside).
// The row loop is inside, so the constants are set up once per sweep.
template <class T, bool ONE_CELL>
void prox_rows(const Group<T>& g, Scratch<T>& sc, const Constants<T>& k, int64_t first,
               int64_t end, bool pairs) {
    const int64_t n = g.n_lanes, L = g.chunk_len;
    const T* settings = k.settings;
    const T step = settings[STEP], threshold = settings[THRESHOLD], upper = settings[UPPER];
    const T tol2 = settings[TOL] * settings[TOL];
    const T g1 = k.coef[G1], g2 = k.coef[G2], w = k.coef[W];
    const T* p1 = sc.carry1.data();
    const T* p2 = sc.carry2.data();
    const T* lm = sc.lane_momentum.data();
    const T* lr = sc.lane_running.data();
    const T m0 = lm[0];
    T* excess = sc.partial0.data();
    T* totals = sc.partial1.data();
#define CALAB_PROX(zv, grad, sv, momentum, run, new_value, delta)                      \
    do {                                                                              \
        T v = (zv) - step * (grad) - threshold;                                       \
        v = v > T(0) ? v : T(0);                                                      \
        new_value = v < upper ? v : upper;                                            \
        delta = new_value - (sv);                                                     \
        const T z_next = new_value + (momentum) * delta;                              \
        (sv) = (run) != T(0) ? new_value : (sv);                                      \
        (zv) = (run) != T(0) ? z_next : (zv);                                         \
    } while (0)
    for (int64_t tau = first; tau < end; tau += pairs ? 2 : 1) {
        T* current = sc.work.data() + (GUARD + tau) * n;  // forward row tau (done)
        const T* earlier = current - n;
        T* ahead = current + n;
        T* s_a = g.s + tau * n;
        T* z_a = g.z + tau * n;
        const T a1 = k.tables[ADJ_A * L + tau], a2 = k.tables[ADJ_A_PREV * L + tau];
        if (pairs) {
            const T b1 = k.tables[ADJ_A * L + tau + 1];
            const T b2 = k.tables[ADJ_A_PREV * L + tau + 1];
            T* later = ahead + n;
            T* s_b = s_a + n;
            T* z_b = z_a + n;
            CALAB_LANES for (int64_t l = 0; l < n; ++l) {
                const T momentum = ONE_CELL ? m0 : lm[l], run = ONE_CELL ? T(1) : lr[l];
                const T c1 = p1[l], c2 = p2[l];
                const T grad = ahead[l] + a1 * c1 + a2 * c2;
                const T grad2 = later[l] + b1 * c1 + b2 * c2;
                T new1, delta1, new2, delta2;
                CALAB_PROX(z_a[l], grad, s_a[l], momentum, run, new1, delta1);
                CALAB_PROX(z_b[l], grad2, s_b[l], momentum, run, new2, delta2);
                const T first_excess = excess[l] + (delta1 * delta1 - tol2 * (new1 * new1));
                excess[l] = first_excess + (delta2 * delta2 - tol2 * (new2 * new2));
                totals[l] = (totals[l] + new1) + new2;
                const T previous = current[l];
                const T next = g1 * previous + g2 * earlier[l] + w * z_a[l];
                ahead[l] = next;
                later[l] = g1 * next + g2 * previous + w * z_b[l];
            }
        } else {
            const bool forward = tau + 1 < L;
            CALAB_LANES for (int64_t l = 0; l < n; ++l) {
                const T momentum = ONE_CELL ? m0 : lm[l], run = ONE_CELL ? T(1) : lr[l];
                const T grad = ahead[l] + a1 * p1[l] + a2 * p2[l];
                T new1, delta1;
                CALAB_PROX(z_a[l], grad, s_a[l], momentum, run, new1, delta1);
                excess[l] += delta1 * delta1 - tol2 * (new1 * new1);
                totals[l] += new1;
                if (forward) ahead[l] = g1 * current[l] + g2 * earlier[l] + w * z_a[l];
            }
        }
    }
#undef CALAB_PROX
}

// The forward sweep of a group: the proximal step of every row (prox_rows), leaving the
// local K z of the next z in work. Reads the adjoint state in work and its carries.
template <class T, bool ONE_CELL>
void prox_sweep(const Group<T>& g, Scratch<T>& sc, const Constants<T>& k) {
    const int64_t L = g.chunk_len, n = g.n_lanes;
    adjoint_carries(sc.work.data(), k.coef, k.tables, L, n, g.n_chunks, sc.carry1.data(),
                    sc.carry2.data());
    fill(sc.partial0.data(), n, T(0));
    fill(sc.partial1.data(), n, T(0));
    fill(sc.work.data() + GUARD * n, n, T(0));  // the local recursion starts from zero
    const int64_t pairs_end = L >= 2 ? 2 * ((L - 1) / 2) : 0;  // pairs' forward rows < L
    prox_rows<T, ONE_CELL>(g, sc, k, 0, pairs_end, true);
    prox_rows<T, ONE_CELL>(g, sc, k, pairs_end, L, false);
    cell_sums(sc.partial0.data(), g.width, g.n_chunks, sc.sum0.data());
    cell_sums(sc.partial1.data(), g.width, g.n_chunks, sc.sum1.data());
}

// Count the iteration, store sum(s) and the weight of z, test convergence (sum0: the sum
// of delta**2 - tol**2 * s**2, at most zero when the relative change is at most tol).
template <class T>
void finish_iteration(const Group<T>& g, const T* settings, const Scratch<T>& sc) {
    const double confirm = settings[CONFIRM], max_iters = settings[MAX_ITERS];
    for (int64_t c = 0; c < g.width; ++c) {
        if (g.done[c]) continue;
        g.cell(SUM_S, c) = sc.sum1[c];
        g.cell(BETA, c) = sc.beta_next[c];
        g.iters[c] += 1;
        g.cell(SETTLED, c) += 1.0;
        if (g.cell(COUNTDOWN, c) > 0.0) {  // converged: the confirming iterations
            g.cell(COUNTDOWN, c) -= 1.0;
            g.done[c] = g.cell(COUNTDOWN, c) == 0.0;
        } else if (g.cell(SETTLED, c) >= double(MIN_ITERATIONS) && sc.sum0[c] <= 0.0) {
            g.cell(CONVERGED, c) = 1.0;
            g.cell(COUNTDOWN, c) = confirm;
            g.done[c] = confirm == 0.0;
        }
        if (double(g.iters[c]) >= max_iters) g.done[c] = 1;
    }
}

}  // namespace CALAB_ISA
}  // namespace calab
