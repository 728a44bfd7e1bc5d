#pragma once

#include <cstdint>
#include <vector>

#include "rtseg/framework/detections.h"

namespace rtseg::framework::distributed {

/// What one rank found on its shard of a validation split, as it travels to rank 0.
struct ValidationShard {
  struct Image {
    std::int64_t index = 0;  ///< in the split
    ImageDetections detections;
  };
  std::vector<Image> images;          ///< in the order the rank validated them
  std::vector<std::int64_t> failed;   ///< split indices of images that did not load
};

/// A compact, self-contained byte form (little-endian host order; every rank of a run is the
/// same program on the same kind of machine).
std::vector<std::uint8_t> to_bytes(const ValidationShard& shard);

/// Reads to_bytes' form; throws sdk::Error when the bytes are cut short or malformed.
ValidationShard validation_shard_from_bytes(const std::vector<std::uint8_t>& bytes);

}  // namespace rtseg::framework::distributed
