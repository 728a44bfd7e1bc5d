#pragma once

// The body both image fuzz targets share: decode, and check that what comes out is what the
// header promised. Bad input may only raise sdk::DataError.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/image_io.h"

namespace rtseg::fuzz {

inline void fuzz_decode_image(const std::vector<std::uint8_t>& bytes, const std::string& name, bool apply_orientation) {
  try {
    const sdk::DecodedImage image = sdk::decode_image(bytes, name, apply_orientation, 1 << 22);
    const sdk::ImageInfo& info = image.info;
    const std::int64_t height = apply_orientation ? info.height : info.raw_height;
    const std::int64_t width = apply_orientation ? info.width : info.raw_width;
    if (image.pixels.dim() != 3 || image.pixels.size(0) != height || image.pixels.size(1) != width ||
        image.pixels.size(2) != 3 || info.orientation < 1 || info.orientation > 8 ||
        info.width * info.height != info.raw_width * info.raw_height) {
      std::abort();
    }
  } catch (const sdk::DataError&) {
    // Expected for bad input.
  }
}

}  // namespace rtseg::fuzz
