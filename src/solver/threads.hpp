// Threads over independent items (groups of cells, rows): std::thread, dynamic order.
// Every item's arithmetic is its own, so results do not depend on the thread count.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace calab {

template <class Body>
void parallel_for(int64_t n_items, int n_threads, const Body& body) {
    if (n_items <= 0) return;
    int64_t threads = n_threads < 1 ? 1 : n_threads;
    if (threads > n_items) threads = n_items;
    std::atomic<int64_t> next{0};
    std::exception_ptr failure;
    std::mutex failure_lock;
    auto work = [&]() {
        try {
            for (int64_t i = next++; i < n_items; i = next++) body(i);
        } catch (...) {
            const std::lock_guard<std::mutex> hold(failure_lock);
            if (!failure) failure = std::current_exception();
            next = n_items;
        }
    };
    std::vector<std::thread> helpers;
    for (int64_t t = 1; t < threads; ++t) helpers.emplace_back(work);
    work();
    for (auto& helper : helpers) helper.join();
    if (failure) std::rethrow_exception(failure);
}

}  // namespace calab
