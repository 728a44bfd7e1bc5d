#pragma once

// Checks shared by the masks_*.cpp files (not part of the SDK's public headers).

#include <cstdint>
#include <limits>
#include <string>

#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/masks.h"

namespace rtseg::sdk::masks::detail {

/// pycocotools keeps counts and pixel indices in 32-bit `uint`, so a mask may hold at most
/// 2^32 - 1 pixels. Returns height * width, or throws DataError naming `what`.
inline std::uint64_t pixel_count(std::int64_t height, std::int64_t width, const char* what) {
  constexpr auto kMaxPixels = std::uint64_t{std::numeric_limits<std::uint32_t>::max()};
  if (height < 0 || width < 0 ||
      (width > 0 &&
       static_cast<std::uint64_t>(height) > kMaxPixels / static_cast<std::uint64_t>(width))) {
    throw DataError(std::string(what) + ": a mask of " + std::to_string(height) + " x " +
                    std::to_string(width) +
                    " pixels is not possible (sizes must be >= 0 and height * width < 2^32, as "
                    "COCO run-length counts are 32-bit)");
  }
  return static_cast<std::uint64_t>(height) * static_cast<std::uint64_t>(width);
}

inline std::uint64_t sum_of(const RunLengths& rle) {
  std::uint64_t total = 0;
  for (const std::uint32_t count : rle.counts) total += count;
  return total;
}

/// Throws DataError unless the runs of `rle` cover exactly its height * width pixels. The run
/// walks (decode, merge, iou) rely on it: pycocotools reads past the end or loops forever
/// otherwise.
inline void check_runs(const RunLengths& rle, const char* what) {
  const std::uint64_t pixels = pixel_count(rle.height, rle.width, what);
  const std::uint64_t total = sum_of(rle);
  if (total != pixels) {
    throw DataError(std::string(what) + ": the " + std::to_string(rle.counts.size()) +
                    " run-length counts add up to " + std::to_string(total) + " pixels, but a " +
                    std::to_string(rle.height) + " x " + std::to_string(rle.width) + " mask has " +
                    std::to_string(pixels));
  }
}

}  // namespace rtseg::sdk::masks::detail
