// Fuzz target: bytes as a data.yaml file, through the yolo_seg plugin's YAML subset reader and
// its interpretation (splits, class names).
//
// Every input must either be read -- every split named, with entries; one class name per class --
// or throw rtseg::sdk::Error (DataError); anything else (a crash, another exception, a sanitizer
// report) is a bug.
//
// libFuzzer with ASan/UBSan: `scripts/fuzz.sh [SECONDS] data_yaml`. The replay build (ctest
// data_yaml_fuzz_replay, see replay.h) runs every seed, its prefixes and seeded mutations.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "data_yaml.h"
#include "rtseg/sdk/errors.h"
#include "yaml_subset.h"

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  namespace yolo = rtseg::plugins::yolo_seg;
  try {
    const yolo::YamlDocument document = yolo::parse_yaml_subset(text, "fuzz/data.yaml");
    const yolo::DataYaml yaml = yolo::interpret_data_yaml(document, "/fuzz/data.yaml");
    for (const auto& split : yaml.splits) {
      require(split.name == "train" || split.name == "valid" || split.name == "test");
      require(!split.entries.empty());
    }
  } catch (const rtseg::sdk::Error&) {
    // Expected for bad input.
  }
  return 0;
}

#ifdef RTSEG_FUZZ_REPLAY_MAIN
#include <algorithm>

#include "replay.h"

// Replaces, inserts, deletes and duplicates characters, favouring YAML's structure: colons,
// brackets, quotes, dashes, indentation and line breaks.
rtseg::fuzz::Bytes rtseg::fuzz::mutate(Bytes bytes, std::mt19937& random) {
  static const char kInteresting[] = ":[]{},'\"-# \n\t|>&*!01";
  const auto interesting = [&] {
    return static_cast<std::uint8_t>(kInteresting[random() % (sizeof(kInteresting) - 1)]);
  };
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
