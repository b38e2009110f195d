// The hot code is built once per instruction-set level (the same source, isa.cpp, with
// different compiler flags and namespaces); `kernels()` picks the widest the CPU runs.
// Floating-point contraction is off in every build, so every level gives the same bits.
#pragma once

#include <cstdint>

#include "layout.hpp"

namespace calab {

template <class T>
struct Probes {
    void (*forward)(const T*, T*, const T*, const T*, int64_t, int64_t, int64_t);
    void (*adjoint)(const T*, T*, const T*, const T*, int64_t, int64_t, int64_t);
    void (*fit_gradient)(const T*, const T*, const int64_t*, const T*, const T*, int64_t,
                         int64_t, int64_t, double*, T*);
};

struct Kernels {
    const char* name;
    void (*run_group)(const RoundArgs&, int64_t);
    Probes<float> single;
    Probes<double> twice;
};

namespace baseline { Kernels kernels(); }
#if defined(CALAB_HAVE_AVX2)
namespace avx2 { Kernels kernels(); }
#endif
#if defined(CALAB_HAVE_AVX512)
namespace avx512 { Kernels kernels(); }
#endif

// The kernels for this CPU, or those named by CALAB_ISA ("baseline", "avx2", "avx512")
// when it is set and the CPU runs them.
const Kernels& kernels();
// The names of the levels this CPU runs, narrowest first.
int available_levels(const char** names, int capacity);
const Kernels* kernels_named(const char* name);

}  // namespace calab
