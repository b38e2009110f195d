// The solver's layout and constants: the ONE place that defines its index constants.
//
// A *group* of cells is a set of (chunk_len, n_lanes) arrays, lanes contiguous per time
// step; a lane is one chunk of one cell (lane = cell * n_chunks + chunk). Per-cell
// scalars live in rows of `floats` (N_FLOATS, width), the solver's constants in the
// `settings` vector, the operator's coefficients in `coef`, the homogeneous solutions
// of the chunk fix-up in `tables` (N_TABLES, chunk_len). The Python layer reads every
// one of these indices from the compiled module (calab.core._solver).
#pragma once

// Each build of the hot code (one per instruction set) has its own namespace, so no
// inline function or template of one build can stand in for another's at link time.
#ifndef CALAB_ISA
#define CALAB_ISA baseline
#endif

#include <cstddef>
#include <cstdint>

namespace calab {

// Set once when the interpreter exits (calab.core.fista_threads.native_gate): running
// solves return at their next iteration, their cells not done. Defined in dispatch.cpp
// (baseline flags, out of line: no standard-library template in the per-ISA builds).
void request_stop();
bool stop_requested();

// Rows of the per-cell floats.
enum FloatRow : int {
    T_MOMENTUM = 0,  // FISTA's t
    OBJECTIVE = 1,   // F of the previous iterate
    BETA = 2,        // weight that formed z
    SUM_S = 3,       // sum of the current iterate
    COUNTDOWN = 4,   // iterations left once converged (0 before)
    CONVERGED = 5,   // 1 once the test has been met
    SETTLED = 6,     // iterations since the momentum last started (start, restart, float64)
    N_FLOATS = 7,
};

// Entries of the settings vector (in the phase's dtype).
enum Setting : int {
    STEP = 0, THRESHOLD = 1, LAM_GAIN = 2, UPPER = 3, TOL = 4, CONFIRM = 5, MAX_ITERS = 6,
    HANDOVER = 7, N_SETTINGS = 8,
};

// Operator coefficients (calab.core.convolution.operator_coefficients).
enum Coefficient : int { G1 = 0, G2 = 1, W = 2, ALPHA = 3, BETA_TAIL = 4, TAPS = 5, N_COEF = 6 };

// Rows of the correction tables: A[tau], A[tau-1], A[L-2-tau], A[L-3-tau].
enum TableRow : int { FWD_A = 0, FWD_A_PREV = 1, ADJ_A = 2, ADJ_A_PREV = 3, N_TABLES = 4 };

// Values of a group's phase.
enum Phase : int64_t { SINGLE = 0, DOUBLE = 1 };

// Bytes to which the packed arrays and the solver's buffers are aligned (a cache line).
constexpr size_t ALIGNMENT = 64;
// Zero rows on both sides of a chunk in the work array: recursions need no special ends.
constexpr int64_t GUARD = 2;
// The convergence test counts from this many iterations since the momentum last started
// (the solve's start, a restart, the float64 phase's start). Right after a restart the
// step has no momentum: on a slowly converging cell it is many times shorter than the
// accelerated steps around it (1/(1 - beta), beta near 1), so its change says nothing
// about the distance to the optimum.
constexpr int64_t MIN_ITERATIONS = 5;
// Iterations a converged cell runs before it stops (the default of CONFIRM).
constexpr int64_t CONFIRM_ITERATIONS = 15;
// A rise of the objective smaller than this (relative) is rounding, not a restart.
constexpr double RESTART_MARGIN = 1e-12;

// Loops over lanes whose rows never overlap (distinct rows of one array).
#if defined(__clang__)
#define CALAB_LANES _Pragma("clang loop vectorize(assume_safety)")
#elif defined(__GNUC__)
#define CALAB_LANES _Pragma("GCC ivdep")
#elif defined(_MSC_VER)
#define CALAB_LANES __pragma(loop(ivdep))
#else
#define CALAB_LANES
#endif

// The operator of one phase: coefficients, settings and tables in its dtype.
template <class T>
struct Constants {
    const T* coef;
    const T* settings;
    const T* tables;
};

// Everything `iterate` gets, as raw pointers and sizes (one round over some groups).
struct RoundArgs {
    const double* y; double* s; double* z; double* ks;
    const float* y32; float* s32; float* z32; float* ks32;
    int64_t* iters; uint8_t* done; double* floats; int64_t* phases; const uint8_t* padding;
    Constants<float> single;
    Constants<double> twice;  // the float64 phase ("double" is a keyword)
    int64_t n_steps;
    const int64_t* valid_rows;
    int64_t chunk_len, n_lanes, width;
};

}  // namespace calab
