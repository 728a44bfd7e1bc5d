// Fuzz target: bytes as an Ultralytics label file, through the yolo_seg plugin's row parser.
//
// Input: the class count (byte 0, 1..16), the image's width and height as two little-endian
// uint16 (bytes 1..4, 0 taken as 1), then the file's text. Every row must either become an
// annotation that fits the image -- a known class, a finite box inside it, a positive area -- or
// be listed as a problem; the parser throws nothing. Anything else (a crash, an exception, a
// sanitizer report) is a bug.
//
// libFuzzer with ASan/UBSan: `scripts/fuzz.sh [SECONDS] yolo_label`. The replay build (ctest
// yolo_label_fuzz_replay, see replay.h) runs every seed, its prefixes and seeded mutations.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "label_file.h"

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 5) return 0;
  const std::int64_t classes = 1 + data[0] % 16;
  const std::int64_t width = std::max(1, data[1] | (data[2] << 8));
  const std::int64_t height = std::max(1, data[3] | (data[4] << 8));
  const std::string_view text(reinterpret_cast<const char*>(data + 5), size - 5);
  const auto rows = rtseg::plugins::yolo_seg::parse_label_rows(text, classes, width, height);
  for (const auto& annotation : rows.annotations) {
    require(annotation.label >= 0 && annotation.label < classes);
    const auto& box = annotation.box_xywh;
    for (const double value : box) require(std::isfinite(value) && value >= 0);
    require(box[0] + box[2] <= static_cast<double>(width) * (1 + 1e-9) &&
            box[1] + box[3] <= static_cast<double>(height) * (1 + 1e-9));
    require(std::isfinite(annotation.area) && annotation.area > 0);
    for (const auto& polygon : annotation.segmentation.polygons) {
      require(polygon.size() >= 6 && polygon.size() % 2 == 0);
      for (const double value : polygon) require(std::isfinite(value));
    }
  }
  return 0;
}

#ifdef RTSEG_FUZZ_REPLAY_MAIN
#include <algorithm>

#include "replay.h"

// Changes, inserts and deletes characters of the rows (digits, dots, signs, spaces and line
// breaks, where a row's structure breaks), and sometimes a header byte.
rtseg::fuzz::Bytes rtseg::fuzz::mutate(Bytes bytes, std::mt19937& random) {
  static const char kInteresting[] = "0123456789. -+eE\n\tnaif";
  const auto interesting = [&] {
    return static_cast<std::uint8_t>(kInteresting[random() % (sizeof(kInteresting) - 1)]);
  };
  const int edits = 1 + static_cast<int>(random() % 4);
  for (int e = 0; e < edits && bytes.size() > 5; ++e) {
    const std::size_t at = 5 + random() % (bytes.size() - 5);
    switch (random() % 5) {
      case 0: bytes[at] = interesting(); break;
      case 1: bytes.insert(bytes.begin() + at, interesting()); break;
      case 2: bytes.erase(bytes.begin() + at, bytes.begin() + std::min(bytes.size(), at + 1 + random() % 8)); break;
      case 3: bytes[random() % 5] = static_cast<std::uint8_t>(random()); break;
      default: {
        const std::size_t length = std::min<std::size_t>(1 + random() % 32, bytes.size() - at);
        const Bytes run(bytes.begin() + at, bytes.begin() + at + length);
        bytes.insert(bytes.begin() + 5 + random() % (bytes.size() - 5), run.begin(), run.end());
      }
    }
  }
  return bytes;
}
#endif
