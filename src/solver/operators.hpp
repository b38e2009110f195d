// The convolution operator K and its adjoint, on chunked lanes, in O(T).
//
// Both modes start from the untruncated kernel c = K_full z, the AR(2) recursion
// c[t] = g1*c[t-1] + g2*c[t-2] + w*z[t-1]. "fft" truncates the kernel to `taps` samples,
// which is the recursion minus two lagged taps of itself:
//     K_trunc z = c[t] - alpha*c[t-K+1] + beta*c[t-K]
//     K_trunc^T r = K_full^T u,  u[t] = r[t] - alpha*r[t+K-1] + beta*r[t+K].
// Each chunk is first run from zero state (the local recursion, vectorised over lanes);
// the true values differ by a homogeneous solution fixed by the two states carried in from
// the neighbouring chunk (the "carries", found chunk by chunk in float64), added by one
// more vectorised pass. The main recursions take two rows per loop: the newer row stays in
// a register. Every operation runs in the dtype T of the arrays, in a fixed order.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#if defined(_WIN32)
#include <malloc.h>
#endif

#include "layout.hpp"

namespace calab {
namespace CALAB_ISA {

// No standard-library templates in the hot code: their instances are shared between the
// builds of every instruction set at link time (layout.hpp), so these small ones stand in.
// Buffers start on a cache line (ALIGNMENT), as the packed arrays do (fista_state.py):
// a row of lanes then never splits a wide vector load across two lines.
template <class T>
struct Buffer {  // zeroed, owned, not copyable
    T* ptr = nullptr;
    int64_t size = 0;
    explicit Buffer(int64_t n) : size(n) {
        const size_t bytes = size_t(n > 0 ? n : 1) * sizeof(T);
        const size_t rounded = (bytes + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
#if defined(_WIN32)
        ptr = static_cast<T*>(_aligned_malloc(rounded, ALIGNMENT));
#else
        void* raw = nullptr;
        ptr = posix_memalign(&raw, ALIGNMENT, rounded) == 0 ? static_cast<T*>(raw) : nullptr;
#endif
        if (ptr == nullptr) throw std::bad_alloc();
        std::memset(static_cast<void*>(ptr), 0, rounded);
    }
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
#if defined(_WIN32)
    ~Buffer() { _aligned_free(ptr); }
#else
    ~Buffer() { std::free(ptr); }
#endif
    T* data() { return ptr; }
    const T* data() const { return ptr; }
    T& operator[](int64_t i) { return ptr[i]; }
    const T& operator[](int64_t i) const { return ptr[i]; }
};

template <class T>
inline void fill(T* out, int64_t count, T value) {
    for (int64_t i = 0; i < count; ++i) out[i] = value;
}

template <class T, class U>
inline void copy(const T* from, int64_t count, U* out) {
    for (int64_t i = 0; i < count; ++i) out[i] = U(from[i]);
}

inline int64_t floor_div(int64_t a, int64_t b) {
    const int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// work (chunk_len + 2*GUARD rows) = the local K_full z of every chunk (zero carries).
template <class T>
void local_forward(const T* z, T* work, const T* coef, int64_t L, int64_t n) {
    const T g1 = coef[G1], g2 = coef[G2], w = coef[W];
    fill(work, (GUARD + 1) * n, T(0));
    int64_t tau = 1;
    for (; tau + 1 < L; tau += 2) {
        T* here = work + (GUARD + tau) * n;
        T* next = here + n;
        const T* back1 = here - n;
        const T* back2 = here - 2 * n;
        const T* source = z + (tau - 1) * n;
        const T* next_source = source + n;
        CALAB_LANES for (int64_t l = 0; l < n; ++l) {
            const T previous = back1[l];
            const T value = g1 * previous + g2 * back2[l] + w * source[l];
            here[l] = value;
            next[l] = g1 * value + g2 * previous + w * next_source[l];
        }
    }
    if (tau < L) {
        T* here = work + (GUARD + tau) * n;
        const T* source = z + (tau - 1) * n;
        CALAB_LANES for (int64_t l = 0; l < n; ++l)
            here[l] = g1 * here[l - n] + g2 * here[l - 2 * n] + w * source[l];
    }
}

// The carries of the chunk fix-up, per cell along its lanes, in float64: c[0] = 0,
// c[j+1] = M c[j] + b[j] (M from the tables' last two rows, b[j] = entry(lane j)), lane j
// taking c[j] in T; `lane_of(j)` orders the lanes. Two lanes a step: c[j+2] =
// M*M c[j] + (M b[j] + b[j+1]), so the serial chain (the latency) is one 2x2 product and
// one addition per two lanes; c[j+1] is formed beside it from c[j].
template <class T, class Entry, class LaneOf>
void carry_chain(const T* tables, double g2, int64_t L, int64_t n, int64_t n_chunks,
                 const Entry& entry, const LaneOf& lane_of, T* k1, T* k2) {
    if (n_chunks == 1) {  // whole traces: nothing carried (and maybe no two rows to read)
        fill(k1, n, T(0));
        fill(k2, n, T(0));
        return;
    }
    const double m11 = tables[FWD_A * L + L - 1], m12 = tables[FWD_A_PREV * L + L - 1];
    const double m21 = g2 * double(tables[FWD_A * L + L - 2]);
    const double m22 = g2 * double(tables[FWD_A_PREV * L + L - 2]);
    const double q11 = m11 * m11 + m12 * m21, q12 = m11 * m12 + m12 * m22;
    const double q21 = m21 * m11 + m22 * m21, q22 = m21 * m12 + m22 * m22;
    for (int64_t first = 0; first < n; first += n_chunks) {
        double c1 = 0.0, c2 = 0.0;
        int64_t j = 0;
        for (; j + 1 < n_chunks; j += 2) {
            const int64_t here = first + lane_of(j), next = first + lane_of(j + 1);
            double u1, u2, v1, v2;
            entry(here, u1, u2);
            entry(next, v1, v2);
            k1[here] = T(c1);
            k2[here] = T(c2);
            k1[next] = T((m11 * c1 + m12 * c2) + u1);
            k2[next] = T((m21 * c1 + m22 * c2) + u2);
            const double e1 = (m11 * u1 + m12 * u2) + v1, e2 = (m21 * u1 + m22 * u2) + v2;
            const double d1 = (q11 * c1 + q12 * c2) + e1, d2 = (q21 * c1 + q22 * c2) + e2;
            c1 = d1;
            c2 = d2;
        }
        if (j < n_chunks) {
            k1[first + lane_of(j)] = T(c1);
            k2[first + lane_of(j)] = T(c2);
        }
    }
}

// Per lane (k1, k2): the true state entering each chunk, chunk by chunk, in float64.
template <class T>
void forward_carries(const T* z, const T* work, const T* coef, const T* tables, int64_t L,
                     int64_t n, int64_t n_chunks, T* k1, T* k2) {
    const double g2 = coef[G2];
    const T w = coef[W];
    const T* last = work + (GUARD + L - 1) * n;
    const T* second = work + (GUARD + L - 2) * n;
    const T* z_last = z + (L - 1) * n;
    carry_chain(tables, g2, L, n, n_chunks,
                [&](int64_t lane, double& b1, double& b2) {
                    b1 = double(last[lane]);
                    b2 = g2 * double(second[lane]) + double(w * z_last[lane]);
                },
                [](int64_t j) { return j; }, k1, k2);
}

// The local K_full z in work becomes the true one, in work and in copy (chunk_len rows).
template <class T>
void correct_forward(T* work, T* copy, const T* tables, const T* k1, const T* k2, int64_t L,
                     int64_t n) {
    for (int64_t tau = 0; tau < L; ++tau) {
        const T a1 = tables[FWD_A * L + tau], a2 = tables[FWD_A_PREV * L + tau];
        T* here = work + (GUARD + tau) * n;
        T* out = copy + tau * n;
        CALAB_LANES for (int64_t l = 0; l < n; ++l) {
            const T value = here[l] + a1 * k1[l] + a2 * k2[l];
            here[l] = value;
            out[l] = value;
        }
    }
}

// out[lane] += weight * x[t0(lane) + position] for every lane, within its cell; x is held
// in chunk rows of `source` from row `offset`. Samples outside the lane's cell count as zero.
template <class T>
void add_shifted(T* out, const T* source, int64_t offset, int64_t position, T weight, int64_t L,
                 int64_t n, int64_t n_chunks) {
    const int64_t shift = floor_div(position, L);  // whole chunks back (< 0) or ahead (> 0)
    const T* src = source + (offset + position - shift * L) * n;
    if (shift == 0) {
        CALAB_LANES for (int64_t l = 0; l < n; ++l) out[l] += weight * src[l];
        return;
    }
    if (shift <= -n_chunks || shift >= n_chunks) return;
    const int64_t low = shift < 0 ? -shift : 0, high = shift > 0 ? n_chunks - shift : n_chunks;
    for (int64_t first = 0; first < n; first += n_chunks) {
        T* target = out + first;
        const T* from = src + first + shift;
        CALAB_LANES for (int64_t c = low; c < high; ++c) target[c] += weight * from[c];
    }
}

// Row tau of K_trunc z: `out` holds K_full z; the tail comes from work (GUARD offset).
template <class T>
void truncate_row(T* out, const T* work, int64_t tau, const T* coef, int64_t L, int64_t n,
                  int64_t n_chunks) {
    const int64_t taps = int64_t(coef[TAPS]);
    add_shifted(out, work, GUARD, tau - taps + 1, T(-coef[ALPHA]), L, n, n_chunks);
    add_shifted(out, work, GUARD, tau - taps, coef[BETA_TAIL], L, n, n_chunks);
}

// work rows = u = r - alpha*r[t+K-1] + beta*r[t+K], the input of K_full^T.
template <class T>
void adjoint_input(const T* resid, T* work, const T* coef, int64_t L, int64_t n,
                   int64_t n_chunks) {
    const int64_t taps = int64_t(coef[TAPS]);
    for (int64_t tau = 0; tau < L; ++tau) {
        T* out = work + (GUARD + tau) * n;
        copy(resid + tau * n, n, out);
        add_shifted(out, resid, 0, tau + taps - 1, T(-coef[ALPHA]), L, n, n_chunks);
        add_shifted(out, resid, 0, tau + taps, coef[BETA_TAIL], L, n, n_chunks);
    }
}

// In place: v[t] = g1*v[t+1] + g2*v[t+2] + w*u[t] within each chunk (the local adjoint).
template <class T>
void adjoint_pass(T* work, const T* coef, int64_t L, int64_t n) {
    const T g1 = coef[G1], g2 = coef[G2], w = coef[W];
    int64_t row = GUARD + L - 1;
    for (; row - 1 >= GUARD; row -= 2) {
        T* here = work + row * n;
        T* before = here - n;
        const T* ahead1 = here + n;
        const T* ahead2 = here + 2 * n;
        CALAB_LANES for (int64_t l = 0; l < n; ++l) {
            const T following = ahead1[l];
            const T value = g1 * following + g2 * ahead2[l] + w * here[l];
            here[l] = value;
            before[l] = g1 * value + g2 * following + w * before[l];
        }
    }
    if (row >= GUARD) {
        T* here = work + row * n;
        CALAB_LANES for (int64_t l = 0; l < n; ++l)
            here[l] = g1 * here[l + n] + g2 * here[l + 2 * n] + w * here[l];
    }
}

// Per lane (p1, p2): the true adjoint state after each chunk, last chunk first, in float64.
template <class T>
void adjoint_carries(const T* work, const T* coef, const T* tables, int64_t L, int64_t n,
                     int64_t n_chunks, T* p1, T* p2) {
    const double g2 = coef[G2];
    const T* start_row = work + GUARD * n;
    const T* after_row = work + (GUARD + 1) * n;
    carry_chain(tables, g2, L, n, n_chunks,
                [&](int64_t lane, double& b1, double& b2) {
                    b1 = double(start_row[lane]);
                    b2 = g2 * double(after_row[lane]);
                },
                [n_chunks](int64_t j) { return n_chunks - 1 - j; }, p1, p2);
}

// out = K x for lanes x (chunk_len, n), the operator of coef; work: scratch of
// (chunk_len + 2*GUARD, n), k1 and k2: scratch of n.
template <class T>
void apply_operator(const T* x, T* out, const T* coef, const T* tables, int64_t L, int64_t n,
                    int64_t n_chunks, T* work, T* k1, T* k2) {
    local_forward(x, work, coef, L, n);
    forward_carries(x, work, coef, tables, L, n, n_chunks, k1, k2);
    correct_forward(work, out, tables, k1, k2, L, n);
    if (coef[TAPS] > 0)
        for (int64_t tau = 0; tau < L; ++tau) truncate_row(out + tau * n, work, tau, coef, L, n,
                                                           n_chunks);
}

}  // namespace CALAB_ISA
}  // namespace calab
