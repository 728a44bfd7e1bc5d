#include "rtseg/framework/train/oom_advice.h"

#include <vector>

namespace rtseg::framework::train {

bool is_out_of_memory(const std::string& what) {
  for (const char* sign : {"out of memory", "OutOfMemoryError", "can't allocate memory", "bad_alloc",
                           "Cannot allocate memory"}) {
    if (what.find(sign) != std::string::npos) return true;
  }
  return false;
}

std::string memory_ladder(const MemorySettings& s) {
  std::vector<std::string> rungs;
  if (s.batch > 1) {
    const std::int64_t batch = s.batch / 2;
    rungs.push_back("--batch " + std::to_string(batch) + " --accum " + std::to_string(s.accum * 2) +
                    " (same effective batch of " + std::to_string(s.batch * s.accum) + ")");
  }
  const std::int64_t step = s.size_divisibility > 0 ? s.size_divisibility : 32;
  if (s.resolution - step >= 2 * step) {
    // About 15 % fewer pixels per rung, kept a multiple of the backbone's block.
    std::int64_t lower = (s.resolution * 85 / 100) / step * step;
    if (lower >= s.resolution) lower = s.resolution - step;
    rungs.push_back("--resolution " + std::to_string(lower) + " (from " + std::to_string(s.resolution) + ")");
  }
  if (s.multi_scale) rungs.push_back("--multi_scale 0 (multi-scale trains up to ~40 % above --resolution)");
  if (s.workers > 0) rungs.push_back("--workers 0 (frees host memory)");
  if (s.num_queries > 200) rungs.push_back("--num_queries 200 (minimal help)");
  if (!s.gradient_checkpointing) rungs.push_back("--gradient_checkpointing (the backbone keeps only layer inputs: about 15 % less at nano 384, a few % slower)");
  if (s.amp == "off") rungs.push_back("--amp bf16 (or fp16 on GPUs before Ampere)");

  if (rungs.empty()) return "Every memory setting is already at its lowest: use a smaller --size or a larger GPU.";
  std::string text = "Try, in this order:";
  for (std::size_t i = 0; i < rungs.size(); ++i) text += "\n  " + std::to_string(i + 1) + ". " + rungs[i];
  return text;
}

std::string out_of_memory_advice(const MemorySettings& s) {
  const std::string ladder = memory_ladder(s);
  return "the device ran out of memory with --batch " + std::to_string(s.batch) + " --resolution " +
         std::to_string(s.resolution) + (s.multi_scale ? " --multi_scale 1" : " --multi_scale 0") + "." +
         (ladder.rfind("Try", 0) == 0 ? "\n" : " ") + ladder;
}

}  // namespace rtseg::framework::train
