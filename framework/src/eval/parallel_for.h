#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace rtseg::framework::eval::detail {

/// Calls body(i) for i in [0, count) on `threads` threads (the caller's included), handing out
/// small chunks so uneven items (an image with 100 masks vs one with none) balance out. The
/// first exception is rethrown here after every thread has stopped.
template <class Body>
void parallel_for(std::size_t count, int threads, Body&& body) {
  constexpr std::size_t kChunk = 8;
  const std::size_t workers = std::min<std::size_t>(std::max(threads, 1), (count + kChunk - 1) / kChunk);
  if (workers <= 1) {
    for (std::size_t i = 0; i < count; ++i) body(i);
    return;
  }
  std::atomic<std::size_t> next{0};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  auto work = [&] {
    try {
      for (std::size_t begin = next.fetch_add(kChunk); begin < count; begin = next.fetch_add(kChunk)) {
        const std::size_t end = std::min(count, begin + kChunk);
        for (std::size_t i = begin; i < end; ++i) body(i);
      }
    } catch (...) {
      const std::lock_guard<std::mutex> lock(failure_mutex);
      if (!failure) failure = std::current_exception();
      next = count;  // the others stop at their next chunk
    }
  };
  std::vector<std::thread> pool;
  for (std::size_t w = 1; w < workers; ++w) pool.emplace_back(work);
  work();
  for (auto& thread : pool) thread.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace rtseg::framework::eval::detail
