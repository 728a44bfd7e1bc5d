#pragma once

#include <cstdint>
#include <string>

#include "rtseg/sdk/errors.h"

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
/// --accum when the batch is halved), and the rungs after it ("Try, in this order: ...").
std::string memory_ladder(const MemorySettings& settings);

/// "the device ran out of memory with --batch N --resolution R ...", then the ladder.
std::string out_of_memory_advice(const MemorySettings& settings);

/// Whether an exception text is an out-of-memory error: CUDA's, LibTorch's CPU allocator's
/// ("can't allocate memory") or std::bad_alloc's.
bool is_out_of_memory(const std::string& what);

/// Training stopped because its memory could not be had (a step out of memory, or a batch whose
/// images alone exceed the device): the advice, with what happened in brackets, and the settings
/// for a fuller report (run_stage adds what the memory planner measures).
class MemoryShortage : public sdk::Error {
 public:
  MemoryShortage(const MemorySettings& settings, const std::string& detail)
      : sdk::Error(out_of_memory_advice(settings) + "\n(" + detail + ")"), settings_(settings), detail_(detail) {}
  const MemorySettings& settings() const { return settings_; }
  /// What happened ("out of memory in step 12", ...), without the advice.
  const std::string& detail() const { return detail_; }

 private:
  MemorySettings settings_;
  std::string detail_;
};

}  // namespace rtseg::framework::train
