// Fuzz target: bytes as a COCO annotation file, through the coco plugin's parser.
//
// Every input must either parse or throw rtseg::sdk::Error (DataError); anything else (a crash,
// another exception, a sanitizer report) is a bug.
//
// libFuzzer (clang): configure with -DCMAKE_CXX_COMPILER=clang++ -DRTSEG_FUZZ=ON, build
// coco_json_fuzzer, run `coco_json_fuzzer tests/fuzz/corpus/coco_json`.
// Without libFuzzer, RTSEG_FUZZ_REPLAY_MAIN builds a replayer (the ctest coco_json_fuzz_replay):
// it runs every seed, every prefix of it (truncated files) and seeded random mutations.
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
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

namespace {

int replay(const std::string& bytes) {
  return LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

// Flips, inserts, deletes and duplicates bytes; favours JSON punctuation so that structure breaks.
std::string mutate(std::string bytes, std::mt19937& random) {
  static const char kInteresting[] = "{}[]\",:0123456789-.eE \\nulltruefalse";
  const int edits = 1 + static_cast<int>(random() % 4);
  for (int e = 0; e < edits && !bytes.empty(); ++e) {
    const std::size_t at = random() % bytes.size();
    switch (random() % 4) {
      case 0:
        bytes[at] = kInteresting[random() % (sizeof(kInteresting) - 1)];
        break;
      case 1:
        bytes.insert(at, 1, kInteresting[random() % (sizeof(kInteresting) - 1)]);
        break;
      case 2:
        bytes.erase(at, 1 + random() % 8);
        break;
      default: {
        const std::size_t length = std::min<std::size_t>(1 + random() % 32, bytes.size() - at);
        bytes.insert(random() % bytes.size(), bytes.substr(at, length));
      }
    }
  }
  return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_FOLDER\n", argv[0]);
    return 2;
  }
  std::vector<std::filesystem::path> seeds;
  for (const auto& entry : std::filesystem::directory_iterator(argv[1]))
    seeds.push_back(entry.path());
  std::sort(seeds.begin(), seeds.end());
  if (seeds.empty()) {
    std::fprintf(stderr, "no seeds in %s\n", argv[1]);
    return 1;
  }
  std::mt19937 random(12345);
  std::size_t runs = 0;
  try {
    for (const auto& seed : seeds) {
      std::ifstream in(seed, std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), {});
      replay(bytes);
      for (std::size_t length = 0; length < bytes.size(); ++length) replay(bytes.substr(0, length));
      for (int i = 0; i < 3000; ++i) replay(mutate(bytes, random));
      runs += 1 + bytes.size() + 3000;
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "escaped exception: %s\n", error.what());
    return 1;
  }
  std::printf("coco_json_fuzz_replay: %zu inputs from %zu seeds, no crash\n", runs, seeds.size());
  return 0;
}
#endif
