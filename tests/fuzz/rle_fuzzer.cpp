// Fuzz target: pycocotools' compressed RLE strings through rtseg::sdk::masks::from_string
// (seeds: corpus/rle/).
//
// Input: height and width as two little-endian uint16 (bytes 0..3), then the counts string.
// Every input must either throw DataError or give run lengths that survive every other mask
// operation consistently: the string form round-trips to equal counts, the area fits the image,
// the box lies inside it, and (for images up to 2^20 pixels) the decoded pixels agree with area,
// bbox, merge and iou, and re-encoding gives the same pixels. Anything else (a crash, a hang,
// another exception, a sanitizer report) is a bug.
//
// libFuzzer with ASan/UBSan: `scripts/fuzz.sh [SECONDS] rle`. The replay build (ctest
// rle_fuzz_replay, see replay.h) runs every seed, its prefixes and seeded mutations.
#include <ATen/core/Tensor.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "rtseg/sdk/errors.h"
#include "rtseg/sdk/masks.h"

namespace {

using rtseg::sdk::RunLengths;
namespace masks = rtseg::sdk::masks;

constexpr std::uint64_t kDecodeLimit = std::uint64_t{1} << 20;

void require(bool condition) {
  if (!condition) std::abort();
}

// Pixel-level checks, for masks small enough to decode quickly.
void check_pixels(const RunLengths& rle, std::uint64_t area) {
  const at::Tensor dense = masks::decode(rle);
  require(dense.dim() == 2 && dense.size(0) == rle.height && dense.size(1) == rle.width);
  const auto* pixels = static_cast<const std::uint8_t*>(dense.data_ptr());
  std::uint64_t ones = 0;
  std::int64_t x_min = rle.width, x_max = -1, y_min = rle.height, y_max = -1;
  for (std::int64_t y = 0; y < rle.height; ++y) {
    for (std::int64_t x = 0; x < rle.width; ++x) {
      const std::uint8_t value = pixels[y * rle.width + x];
      require(value <= 1);
      if (value == 0) continue;
      ++ones;
      x_min = std::min(x_min, x), x_max = std::max(x_max, x);
      y_min = std::min(y_min, y), y_max = std::max(y_max, y);
    }
  }
  require(ones == area);
  const std::array<double, 4> box = masks::bbox(rle);
  if (ones == 0) {
    require(box == (std::array<double, 4>{0, 0, 0, 0}));
  } else {
    require(box[0] == double(x_min) && box[1] == double(y_min) &&
            box[2] == double(x_max - x_min + 1) && box[3] == double(y_max - y_min + 1));
  }
  // Re-encoding gives canonical runs (no empty run inside) with the same pixels.
  const RunLengths canonical = masks::encode(dense);
  require(masks::decode(canonical).equal(dense));
  for (std::size_t i = 1; i < canonical.counts.size(); ++i) require(canonical.counts[i] > 0);
  // Merging a mask with itself (or its canonical twin) changes no pixel.
  require(masks::decode(masks::merge({rle, canonical})).equal(dense));
  require(masks::decode(masks::merge({rle, canonical}, true)).equal(dense));
  const std::vector<double> self = masks::iou({rle}, {canonical}, {false});
  require(self.size() == 1 && self[0] == (ones > 0 ? 1.0 : 0.0));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  const std::int64_t height = data[0] | (data[1] << 8);
  const std::int64_t width = data[2] | (data[3] << 8);
  const std::string_view text(reinterpret_cast<const char*>(data + 4), size - 4);
  RunLengths rle;
  try {
    rle = masks::from_string(text, height, width);
  } catch (const rtseg::sdk::DataError&) {
    return 0;  // expected for malformed strings
  }
  const std::uint64_t pixels =
      static_cast<std::uint64_t>(height) * static_cast<std::uint64_t>(width);
  require(rle.height == height && rle.width == width);
  require(masks::from_string(masks::to_string(rle), height, width) == rle);
  require(masks::from_counts(rle.counts, height, width) == rle);
  const std::uint64_t area = masks::area(rle);
  require(area <= pixels);
  const std::array<double, 4> box = masks::bbox(rle);
  require(box[0] >= 0 && box[1] >= 0 && box[2] >= 0 && box[3] >= 0 &&
          box[0] + box[2] <= double(width) && box[1] + box[3] <= double(height));
  if (pixels <= kDecodeLimit) check_pixels(rle, area);
  return 0;
}

#ifdef RTSEG_FUZZ_REPLAY_MAIN
#include <algorithm>

#include "replay.h"

// Changes characters of the string (keeping most inside '0'..'o', where the parser gets far),
// inserts, deletes and duplicates runs, and sometimes the size bytes.
rtseg::fuzz::Bytes rtseg::fuzz::mutate(Bytes bytes, std::mt19937& random) {
  const int edits = 1 + static_cast<int>(random() % 4);
  for (int e = 0; e < edits && bytes.size() > 4; ++e) {
    const std::size_t at = 4 + random() % (bytes.size() - 4);
    switch (random() % 6) {
      case 0:
        bytes[at] = static_cast<std::uint8_t>('0' + random() % 64);
        break;
      case 1:
        bytes[at] = static_cast<std::uint8_t>(random());
        break;
      case 2:
        bytes.insert(bytes.begin() + at, static_cast<std::uint8_t>('0' + random() % 64));
        break;
      case 3:
        bytes.erase(bytes.begin() + at,
                    bytes.begin() + std::min(bytes.size(), at + 1 + random() % 4));
        break;
      case 4:
        bytes[random() % 4] ^= static_cast<std::uint8_t>(1u << (random() % 8));
        break;
      default: {
        const std::size_t length = std::min<std::size_t>(1 + random() % 8, bytes.size() - at);
        const Bytes run(bytes.begin() + at, bytes.begin() + at + length);
        bytes.insert(bytes.begin() + 4 + random() % (bytes.size() - 4), run.begin(), run.end());
      }
    }
  }
  return bytes;
}
#endif
