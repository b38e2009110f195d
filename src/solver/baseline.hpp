// The causal rolling order statistic of calab.core.preprocess.rolling_baseline.
#pragma once

#include <cstdint>

namespace calab {

// For every row of `matrix` (n_cells, n_time) and sample t, the sample of rank
// ranks[min(t+1, window) - 1] among the window [t-window+1, t]; `orders` is the argsort
// of each row. Rows are split over n_threads threads.
void rolling_order_statistic(const double* matrix, const int64_t* orders, int64_t n_cells,
                             int64_t n_time, int64_t window, const int64_t* ranks, double* out,
                             int n_threads);

}  // namespace calab
