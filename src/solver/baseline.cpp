// Order statistics of a sliding window by a cursor walking the sorted samples.
//
// Every sample is replaced by its rank in the sorted trace; a table marks which ranks are
// in the window. The answer's rank, the cursor, moves by a few marked ranks per sample
// (one sample enters, one leaves, and the wanted order changes by at most one), so each
// step costs a short scan, with blocks of 64 ranks skipped by their counts.
#include "baseline.hpp"

#include <vector>

#include "threads.hpp"

namespace calab {

namespace {

struct Window {
    std::vector<uint8_t> marked;
    std::vector<int64_t> block_counts;

    explicit Window(int64_t n) : marked(n, 0), block_counts((n >> 6) + 1, 0) {}

    void set(int64_t rank, bool value) {
        marked[rank] = value ? 1 : 0;
        block_counts[rank >> 6] += value ? 1 : -1;
    }

    int64_t next_marked(int64_t rank) const {  // the smallest marked rank >= rank
        const int64_t n = int64_t(marked.size());
        while (true) {
            const int64_t block = rank >> 6;
            if (block_counts[block] == 0) {
                rank = (block + 1) << 6;
                continue;
            }
            const int64_t end = ((block + 1) << 6) < n ? ((block + 1) << 6) : n;
            for (; rank < end; ++rank)
                if (marked[rank]) return rank;
        }
    }

    int64_t previous_marked(int64_t rank) const {  // the largest marked rank <= rank
        while (true) {
            const int64_t block = rank >> 6;
            if (block_counts[block] == 0) {
                rank = (block << 6) - 1;
                continue;
            }
            const int64_t start = block << 6;
            for (; rank >= start; --rank)
                if (marked[rank]) return rank;
        }
    }
};

void one_row(const double* row, const int64_t* order, int64_t n_time, int64_t window,
             const int64_t* ranks, double* out) {
    std::vector<int64_t> position(n_time);
    for (int64_t i = 0; i < n_time; ++i) position[order[i]] = i;
    Window marks(n_time);
    int64_t cursor = position[0], below = 0;  // the answer's rank; marked ranks under it
    for (int64_t t = 0; t < n_time; ++t) {
        if (t >= window) {  // the cursor stays put (maybe on an unmarked rank)
            const int64_t leaving = position[t - window];
            marks.set(leaving, false);
            below -= leaving < cursor;
        }
        const int64_t rank = position[t];
        marks.set(rank, true);
        below += rank < cursor;
        const int64_t filled = t + 1 < window ? t + 1 : window;
        const int64_t wanted = ranks[filled - 1];
        if (!marks.marked[cursor]) {  // its sample left: step onto a marked neighbour
            if (below < filled) cursor = marks.next_marked(cursor);
            else cursor = marks.previous_marked(cursor), below -= 1;
        }
        while (below < wanted) cursor = marks.next_marked(cursor + 1), below += 1;
        while (below > wanted) cursor = marks.previous_marked(cursor - 1), below -= 1;
        out[t] = row[order[cursor]];
    }
}

}  // namespace

void rolling_order_statistic(const double* matrix, const int64_t* orders, int64_t n_cells,
                             int64_t n_time, int64_t window, const int64_t* ranks, double* out,
                             int n_threads) {
    parallel_for(n_cells, n_threads, [&](int64_t cell) {
        one_row(matrix + cell * n_time, orders + cell * n_time, n_time, window, ranks,
                out + cell * n_time);
    });
}

}  // namespace calab
