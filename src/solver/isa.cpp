// One build of the hot code (compiled once per instruction-set level, see dispatch.hpp).
#include "dispatch.hpp"
#include "layout.hpp"
#include "loop.hpp"
#include "probes.hpp"

namespace calab {
namespace CALAB_ISA {

namespace {
template <class T>
Probes<T> probes() {
    return Probes<T>{&probe_forward<T>, &probe_adjoint<T>, &probe_fit_gradient<T>};
}
}  // namespace

#define CALAB_STR2(x) #x
#define CALAB_STR(x) CALAB_STR2(x)

Kernels kernels() {
    return Kernels{CALAB_STR(CALAB_ISA), &run_group, probes<float>(), probes<double>()};
}

}  // namespace CALAB_ISA
}  // namespace calab
