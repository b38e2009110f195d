// Runtime choice of the instruction-set level (dispatch.hpp).
#include "dispatch.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace calab {

namespace {

bool cpu_runs(const char* name) {
    if (std::strcmp(name, "baseline") == 0) return true;
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    if (std::strcmp(name, "avx2") == 0) return __builtin_cpu_supports("avx2");
    if (std::strcmp(name, "avx512") == 0)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx2");
#endif
    return false;  // (MSVC builds only the baseline)
}

const Kernels* all_levels(int i) {
    static const Kernels levels[] = {
        baseline::kernels(),
#if defined(CALAB_HAVE_AVX2)
        avx2::kernels(),
#endif
#if defined(CALAB_HAVE_AVX512)
        avx512::kernels(),
#endif
    };
    return i < int(sizeof(levels) / sizeof(levels[0])) ? &levels[i] : nullptr;
}

const Kernels& choose() {
    const char* wanted = std::getenv("CALAB_ISA");
    if (wanted != nullptr && *wanted != '\0') {
        const Kernels* named = kernels_named(wanted);
        if (named != nullptr) return *named;
    }
    const Kernels* best = all_levels(0);
    for (int i = 1; all_levels(i) != nullptr; ++i)
        if (cpu_runs(all_levels(i)->name)) best = all_levels(i);
    return *best;
}

}  // namespace

const Kernels* kernels_named(const char* name) {
    for (int i = 0; all_levels(i) != nullptr; ++i)
        if (std::strcmp(all_levels(i)->name, name) == 0 && cpu_runs(name)) return all_levels(i);
    return nullptr;
}

int available_levels(const char** names, int capacity) {
    int count = 0;
    for (int i = 0; all_levels(i) != nullptr && count < capacity; ++i)
        if (cpu_runs(all_levels(i)->name)) names[count++] = all_levels(i)->name;
    return count;
}

namespace {
std::atomic<bool> stop_flag{false};
}  // namespace

void request_stop() { stop_flag.store(true); }
bool stop_requested() { return stop_flag.load(std::memory_order_relaxed); }

const Kernels& kernels() {
    static const Kernels& chosen = choose();
    return chosen;
}

}  // namespace calab
