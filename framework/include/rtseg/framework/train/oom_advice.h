#pragma once

#include <cstdint>
#include <string>

namespace rtseg::framework::train {

/// The settings the out-of-memory advice looks at.
struct MemorySettings {
  std::int64_t batch = 1;
  std::int64_t accum = 1;
  std::int64_t resolution = 0;
  std::int64_t size_divisibility = 32;  ///< resolutions must stay multiples of this
  bool multi_scale = false;
  std::int64_t workers = 0;
  std::int64_t num_queries = 300;
  bool gradient_checkpointing = false;
  std::string amp = "off";
};

/// The seed's troubleshooting ladder applied to the current settings: the first rung that still
/// applies, with the exact flag and value to use (keeping the effective batch by raising
/// --accum when the batch is halved), and the rungs after it.
std::string out_of_memory_advice(const MemorySettings& settings);

/// Whether an exception text is a device out-of-memory error.
bool is_out_of_memory(const std::string& what);

}  // namespace rtseg::framework::train
