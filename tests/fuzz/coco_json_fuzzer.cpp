// Fuzz target: bytes as a COCO annotation file, through the coco plugin's parser.
//
// Every input must either parse or throw rtseg::sdk::Error (DataError); anything else (a crash,
// another exception, a sanitizer report) is a bug.
//
// libFuzzer with ASan/UBSan: `scripts/fuzz.sh [SECONDS] coco_json`. The replay build (ctest
// coco_json_fuzz_replay, see replay.h) runs every seed, its prefixes and seeded mutations.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "coco_json.h"
#include "rtseg/sdk/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const rtseg::plugins::coco::CocoFile file =
        rtseg::plugins::coco::parse_coco_json(text, "fuzz/_annotations.coco.json");
    // Touch what was produced, so that the sanitizers see every element.
    std::size_t labels = 0;
    for (const auto& image : file.images) {
      for (const auto& annotation : image.annotations) labels += annotation.label;
    }
    (void)labels;
  } catch (const rtseg::sdk::Error&) {
    // Expected for bad input.
  }
  return 0;
}

#ifdef RTSEG_FUZZ_REPLAY_MAIN
#include <algorithm>

#include "replay.h"

// Replaces, inserts, deletes and duplicates bytes; favours JSON punctuation so that the
// structure breaks in the ways hand-edited files break.
rtseg::fuzz::Bytes rtseg::fuzz::mutate(Bytes bytes, std::mt19937& random) {
  static const char kInteresting[] = "{}[]\",:0123456789-.eE \\nulltruefalse";
  const auto interesting = [&] { return static_cast<std::uint8_t>(kInteresting[random() % (sizeof(kInteresting) - 1)]); };
  const int edits = 1 + static_cast<int>(random() % 4);
  for (int e = 0; e < edits && !bytes.empty(); ++e) {
    const std::size_t at = random() % bytes.size();
    switch (random() % 4) {
      case 0: bytes[at] = interesting(); break;
      case 1: bytes.insert(bytes.begin() + at, interesting()); break;
      case 2: bytes.erase(bytes.begin() + at, bytes.begin() + std::min(bytes.size(), at + 1 + random() % 8)); break;
      default: {
        const std::size_t length = std::min<std::size_t>(1 + random() % 32, bytes.size() - at);
        const Bytes run(bytes.begin() + at, bytes.begin() + at + length);
        bytes.insert(bytes.begin() + random() % bytes.size(), run.begin(), run.end());
      }
    }
  }
  return bytes;
}
#endif
